#!/usr/bin/env python3
"""Sends probe packets into a router and reports where each one lands (tests/it/probes.rs).

Runs inside the probing namespace. Reads one probe per line on stdin:
    ID IFNAME DSTMAC SADDR DADDR PROTO SPORT DPORT FLAGS
(PROTO 6 or 17; FLAGS `S` or `A` for TCP, `-` for UDP) and sends it as an Ethernet frame out of
IFNAME with the IP id ID. Meanwhile it captures every IPv4 TCP/UDP frame that arrives on any
interface of the namespace and, once the probes are sent and the links have been quiet for a
while, prints one line per probe id seen:
    ID IFNAME SADDR DADDR PROTO SPORT DPORT
An ICMP destination-unreachable about a probe (a REJECT) is reported under the probe's id as
    ID IFNAME SADDR DADDR 1 0 CODE
Other frames the router made itself are ignored.
"""
import os
import select
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
PACKET_OUTGOING = 4


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(pid, dmac, smac, saddr, daddr, proto, sport, dport, flags):
    src, dst = socket.inet_aton(saddr), socket.inet_aton(daddr)
    payload = b"probe"
    if proto == 6:
        bits = 0x02 if flags == "S" else 0x10
        l4 = struct.pack("!HHIIBBHHH", sport, dport, 1, 0 if flags == "S" else 1, 5 << 4, bits, 65535, 0, 0)
    else:
        l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    l4 += payload
    pseudo = src + dst + struct.pack("!BBH", 0, proto, len(l4))
    c = csum(pseudo + l4)
    at = 16 if proto == 6 else 6
    l4 = l4[:at] + struct.pack("!H", c if c or proto == 6 else 0xFFFF) + l4[at + 2:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), pid, 0, 64, proto, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dmac + smac + struct.pack("!H", ETH_P_IP) + ip + l4


def mac(text):
    return bytes(int(b, 16) for b in text.split(":"))


def main():
    probes = [line.split() for line in sys.stdin if line.strip()]
    ids = {int(p[0]) for p in probes}
    cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    cap.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
    senders, seen = {}, set()

    def drain(quiet):
        # Reads frames until none has come for `quiet` seconds.
        while select.select([cap], [], [], quiet)[0]:
            data, addr = cap.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING or len(data) < 14 + 20:
                continue
            ip = data[14:]
            ihl = (ip[0] & 15) * 4
            pid, proto = struct.unpack("!H", ip[4:6])[0], ip[9]
            src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
            if proto == 1 and len(ip) >= ihl + 8 + 20 and ip[ihl] == 3:
                # Destination unreachable about a probe: the quoted header carries its id.
                quoted = struct.unpack("!H", ip[ihl + 8 + 4:ihl + 8 + 6])[0]
                if quoted in ids:
                    seen.add((quoted, addr[0], src, dst, 1, 0, ip[ihl + 1]))
                continue
            if pid not in ids or proto not in (6, 17) or len(ip) < ihl + 4:
                continue
            sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
            seen.add((pid, addr[0], src, dst, proto, sport, dport))

    for n, (pid, ifname, dmac, saddr, daddr, proto, sport, dport, flags) in enumerate(probes):
        if ifname not in senders:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            s.bind((ifname, 0))
            smac = open(f"/sys/class/net/{ifname}/address").read().strip()
            senders[ifname] = (s, mac(smac))
        s, smac = senders[ifname]
        s.send(frame(int(pid), mac(dmac), smac, saddr, daddr, int(proto), int(sport), int(dport), flags))
        if n % 64 == 63:
            drain(0)  # keep the capture buffer short; the router works synchronously anyway
    drain(1.0)
    for entry in sorted(seen):
        print(*entry)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
