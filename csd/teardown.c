/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Endpoints torn down off the event loop. Deleting an endpoint's link
 * makes the kernel wait for an RCU grace period (about 30 ms here, on a
 * real-time kernel), so a connection closing with 1,000 ephemeral
 * endpoints held csd for 30 s. Their documents are deleted by the loop in
 * slices (ops_endpoint.c); the kernel objects go through this queue, which
 * a thread of its own empties while the loop answers everyone else.
 *
 * Ordering: an endpoint queued or being torn down is never realized
 * again before its teardown ends (realize waits for it: a name reused at
 * once gets a fresh namespace, not one about to be deleted), and the
 * reconciler leaves queued names alone. A teardown that fails leaves a
 * namespace its store no longer declares, which the next reconciliation
 * removes. The thread touches only the backend, which is made for
 * threads (it enters namespaces per thread).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csd.h"
#include "names.h"
#include "teardown.h"

#define NAME_LEN (3 * (CS_NAME_MAX + 1))

struct teardown {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work, idle;
	char (*q)[NAME_LEN];     /* "t/v/e" names, a ring */
	size_t head, n, cap;
	char busy[NAME_LEN];     /* the one being torn down now */
	bool stop;
	unsigned long done, failed;
	struct csd *d;
};

static void *worker(void *arg)
{
	struct teardown *td = arg;
	char p[3][CS_NAME_MAX + 1], err[64];

	pthread_mutex_lock(&td->mu);
	for (;;) {
		while (!td->n && !td->stop)
			pthread_cond_wait(&td->work, &td->mu);
		if (td->stop)
			break;
		memcpy(td->busy, td->q[td->head], NAME_LEN);
		td->head = (td->head + 1) % td->cap;
		td->n--;
		pthread_mutex_unlock(&td->mu);
		int r = cs_path_split(td->busy, 3, p, err, sizeof(err));
		/* its vnet may be gone: each backend removes what it holds (the
		 * list is only appended to, so it may be read here) */
		struct vnet_backend **bs;
		for (size_t i = 0, n = r == 0 ? csd_backends(td->d, &bs) : 0; i < n; i++) {
			int ri = vb_endpoint_destroy(bs[i], p[0], p[1], p[2]);
			if (ri < 0)
				r = ri;
		}
		pthread_mutex_lock(&td->mu);
		td->busy[0] = '\0';
		td->done++;
		td->failed += r < 0;
		pthread_cond_broadcast(&td->idle);
	}
	pthread_mutex_unlock(&td->mu);
	return NULL;
}

static struct teardown *get(struct csd *d)
{
	struct teardown *td = d->teardown;

	if (td)
		return td;
	if (!(td = calloc(1, sizeof(*td))))
		return NULL;
	pthread_mutex_init(&td->mu, NULL);
	pthread_cond_init(&td->work, NULL);
	pthread_cond_init(&td->idle, NULL);
	td->d = d;
	if (pthread_create(&td->thread, NULL, worker, td) != 0) {
		free(td);
		return NULL;
	}
	d->teardown = td;
	return td;
}

static bool queued_locked(const struct teardown *td, const char *name)
{
	if (!strcmp(td->busy, name))
		return true;
	for (size_t i = 0; i < td->n; i++)
		if (!strcmp(td->q[(td->head + i) % td->cap], name))
			return true;
	return false;
}

int teardown_queue(struct csd *d, const char *t, const char *v, const char *e)
{
	struct teardown *td = get(d);
	char name[NAME_LEN];

	if (!td)
		return CS_ENOMEM;
	snprintf(name, sizeof(name), "%s/%s/%s", t, v, e);
	pthread_mutex_lock(&td->mu);
	if (td->n == td->cap) {
		size_t cap = td->cap ? 2 * td->cap : 64;
		char (*q)[NAME_LEN] = malloc(cap * NAME_LEN);
		if (!q) {
			pthread_mutex_unlock(&td->mu);
			return CS_ENOMEM;
		}
		for (size_t i = 0; i < td->n; i++)
			memcpy(q[i], td->q[(td->head + i) % td->cap], NAME_LEN);
		free(td->q);
		td->q = q;
		td->head = 0;
		td->cap = cap;
	}
	memcpy(td->q[(td->head + td->n) % td->cap], name, NAME_LEN);
	td->n++;
	pthread_cond_signal(&td->work);
	pthread_mutex_unlock(&td->mu);
	return 0;
}

bool teardown_pending(struct csd *d, const char *t, const char *v, const char *e)
{
	struct teardown *td = d->teardown;
	char name[NAME_LEN];
	bool q;

	if (!td)
		return false;
	snprintf(name, sizeof(name), "%s/%s/%s", t, v, e);
	pthread_mutex_lock(&td->mu);
	q = queued_locked(td, name);
	pthread_mutex_unlock(&td->mu);
	return q;
}

void teardown_wait(struct csd *d, const char *t, const char *v, const char *e)
{
	struct teardown *td = d->teardown;
	char name[NAME_LEN];

	if (!td)
		return;
	snprintf(name, sizeof(name), "%s/%s/%s", t, v, e);
	pthread_mutex_lock(&td->mu);
	while (queued_locked(td, name) && !td->stop)
		pthread_cond_wait(&td->idle, &td->mu);
	pthread_mutex_unlock(&td->mu);
}

size_t teardown_backlog(struct csd *d)
{
	struct teardown *td = d->teardown;
	size_t n;

	if (!td)
		return 0;
	pthread_mutex_lock(&td->mu);
	n = td->n + (td->busy[0] != '\0');
	pthread_mutex_unlock(&td->mu);
	return n;
}

void teardown_stop(struct csd *d)
{
	struct teardown *td = d->teardown;

	if (!td)
		return;
	/* what is still queued stays in the kernel, undeclared: the next
	 * start's reconciliation removes it */
	pthread_mutex_lock(&td->mu);
	td->stop = true;
	pthread_cond_broadcast(&td->work);
	pthread_cond_broadcast(&td->idle);
	pthread_mutex_unlock(&td->mu);
	pthread_join(td->thread, NULL);
	if (td->n)
		log_info("%zu endpoint teardowns left for the next start's reconciliation", td->n);
	pthread_mutex_destroy(&td->mu);
	pthread_cond_destroy(&td->work);
	pthread_cond_destroy(&td->idle);
	free(td->q);
	free(td);
	d->teardown = NULL;
}
