# SPDX-License-Identifier: GPL-2.0-or-later
# execstall.py SOCK CGDIR ENDPOINT: a caller that freezes its own cgroup
# while csd starts a program for it (test_hostile). This process parks
# itself in CGDIR/a after connecting; its child, in CGDIR/b, freezes a and
# sends endpoint.exec on the parent's connection (csd takes the parent's
# cgroup and limits). Prints how long csd took to answer, then thaws.
import json, os, socket, struct, sys, time

sock, cg, ep = sys.argv[1], sys.argv[2], sys.argv[3]

def send(c, obj, fds=()):
    body = json.dumps(obj).encode()
    msg = struct.pack("<BBHI", 0xC5, 0, 0, len(body)) + body
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("%di" % len(fds), *fds))] if fds else []
    c.sendmsg([msg], anc)

def recv(c, timeout):
    c.settimeout(timeout)
    data = c.recv(1 << 16)
    return json.loads(data[8:])

def put(pid, sub):
    with open(os.path.join(cg, sub, "cgroup.procs"), "w") as f:
        f.write(str(pid))

c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
c.connect(sock)
send(c, {"id": 1, "op": "hello", "args": {"version": 1}})
recv(c, 5)
r, w = os.pipe()
if os.fork() == 0:
    os.close(r)
    put(os.getpid(), "b")
    time.sleep(0.3)
    with open(os.path.join(cg, "a", "cgroup.freeze"), "w") as f:
        f.write("1")
    sp = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    t = time.time()
    send(c, {"id": 9, "op": "endpoint.exec", "args": {"name": ep, "argv": ["/bin/true"],
                                                      "env": ["A=b"], "cwd": "/"}},
         [0, 1, 2, sp[1].fileno()])
    try:
        reply = recv(c, 30)
        ok = reply.get("ok")
    except Exception as e:
        ok = "no reply: %s" % e
    print("answered in %d ms ok=%s" % ((time.time() - t) * 1000, ok), flush=True)
    with open(os.path.join(cg, "a", "cgroup.freeze"), "w") as f:
        f.write("0")
    os.write(w, b"x")
    os._exit(0)
os.close(w)
put(os.getpid(), "a")
os.read(r, 1)
os.wait()
