#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Multicast as an ordinary program does it, naming no interface:
#   mcast.py recv GROUP   join GROUP on port 5000, print "joined", then the
#                         first datagram's text, or "nothing" after 5 s
#   mcast.py send GROUP TEXT   send TEXT to GROUP:5000 20 times, print "sent"
import socket, struct, sys, time

mode, group = sys.argv[1], sys.argv[2]
fam = socket.AF_INET6 if ":" in group else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
if mode == "send":
    for i in range(20):
        s.sendto(sys.argv[3].encode(), (group, 5000))
        time.sleep(0.1)
    print("sent")
    sys.exit(0)
s.bind(("", 5000))
if fam == socket.AF_INET:
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                 socket.inet_aton(group) + socket.inet_aton("0.0.0.0"))
else:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                 socket.inet_pton(fam, group) + struct.pack("@I", 0))
print("joined", flush=True)
s.settimeout(5)
try:
    print(s.recv(100).decode(), flush=True)
except socket.timeout:
    print("nothing", flush=True)
