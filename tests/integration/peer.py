#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Small probes for egress tests:
#   peer.py serve tcp|udp ADDR PORT   answer each TCP connection (or UDP
#                                     datagram) with the peer's address
#   peer.py ask tcp|udp ADDR PORT     print what the server answered, or
#                                     "fail: reason" (2 s)
import socket, sys

mode, proto, addr, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
s = socket.socket(fam, kind)
if mode == "serve":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    if proto == "tcp":
        s.listen(16)
    print("ready", flush=True)
    while True:
        if proto == "tcp":
            c, a = s.accept()
            c.sendall(a[0].encode() + b"\n")
            c.close()
        else:
            _, a = s.recvfrom(100)
            s.sendto(a[0].encode() + b"\n", a)
s.settimeout(2)
try:
    if proto == "tcp":
        s.connect((addr, port))
        print(s.recv(100).decode().strip())
    else:
        s.sendto(b"hi", (addr, port))
        print(s.recv(100).decode().strip())
except OSError as e:
    print("fail:", e)
