#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# A raw DNS query, for tests that look at what the gateway answers beyond
# what getent shows (rcodes, TCP, garbage): dnsq.py SERVER NAME [TYPE] [udp|tcp]
# prints "RCODE N" and one "ANSWER TYPE DATA" line per record.
import socket, struct, sys

TYPES = {"A": 1, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "ANY": 255}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}

def query(server, name, qtype, proto):
    q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", TYPES[qtype], 1)
    fam = socket.AF_INET6 if ":" in server else socket.AF_INET
    if proto == "tcp":
        s = socket.create_connection((server, 53), timeout=3)
        s.sendall(struct.pack(">H", len(q)) + q)
        buf = b""
        while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        return buf[2:]
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(q, (server, 53))
    return s.recv(4096)

def skip_name(r, i):
    while r[i]:
        if r[i] & 0xC0 == 0xC0:
            return i + 2
        i += r[i] + 1
    return i + 1

def read_name(r, i):
    labels = []
    while r[i]:
        if r[i] & 0xC0 == 0xC0:
            labels.append(read_name(r, struct.unpack(">H", r[i:i + 2])[0] & 0x3FFF))
            break
        labels.append(r[i + 1:i + 1 + r[i]].decode())
        i += r[i] + 1
    return ".".join(labels)

def main():
    server, name = sys.argv[1], sys.argv[2]
    qtype = sys.argv[3] if len(sys.argv) > 3 else "A"
    proto = sys.argv[4] if len(sys.argv) > 4 else "udp"
    try:
        r = query(server, name, qtype, proto)
    except OSError as e:
        print("ERROR", e)
        return 1
    print("RCODE", RCODES.get(r[3] & 15, r[3] & 15))
    an = struct.unpack(">H", r[6:8])[0]
    i = skip_name(r, 12) + 4
    for _ in range(an):
        i = skip_name(r, i)
        t, _, _, ln = struct.unpack(">HHIH", r[i:i + 10])
        data = r[i + 10:i + 10 + ln]
        if t == 1:
            print("ANSWER A", socket.inet_ntop(socket.AF_INET, data))
        elif t == 28:
            print("ANSWER AAAA", socket.inet_ntop(socket.AF_INET6, data))
        elif t == 12:
            print("ANSWER PTR", read_name(r, i + 10))
        i += 10 + ln
    return 0

sys.exit(main())
