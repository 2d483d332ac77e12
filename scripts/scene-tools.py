#!/usr/bin/env python3
"""Small actors for the NIDS scene (scripts/nids-scene.sh): standard library only.

  sniff IFACE FASTLOG READYFILE SECONDS   the "NIDS": raw-socket sniffer writing Suricata-style alerts
  http-serve PORT SECONDS                 the todo app: answers every POST by echoing its body
  http-post URL TEXT                      the overlay client: POSTs a todo item, prints the answer
  banner-serve PORT BANNER SECONDS        a stand-in sshd: sends BANNER to whoever connects
  peer-serve PORT SECONDS                 "the internet": tells each peer the address it came from
  connect HOST PORT                       prints the first line the server sends

Every actor has a deadline, so nothing outlives a failed run for long.
"""

import datetime
import http.server
import re
import socket
import struct
import sys
import threading
import time
import urllib.request

# The seed's Suricata rule: sid 9000001, a MasterCard number in clear text.
PATTERN = re.compile(rb"5\d{3}(\s|-)?\d{4}(\s|-)?\d{4}(\s|-)?\d{4}")
SID = "1:9000001:1"
MSG = "MasterCard number detected in clear text"
CLASSIFICATION = "Potential Corporate Privacy Violation"

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
PACKET_OTHERHOST = 3


def fast_log_line(src, sport, dst, dport):
    now = datetime.datetime.now()
    stamp = now.strftime("%m/%d/%Y-%H:%M:%S.%f")
    return (f"{stamp}  [**] [{SID}] {MSG} [**] [Classification: {CLASSIFICATION}] "
            f"[Priority: 1] {{TCP}} {src}:{sport} -> {dst}:{dport}")


def sniff(iface, fast_log, ready_file, seconds):
    """Alerts on TCP payloads matching PATTERN in frames addressed to this host's MAC (the
    mirror's clones are). Frames merely flooded by the bridge (PACKET_OTHERHOST) and our own
    outgoing frames are ignored, so an alert proves that something sent us a copy."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((iface, 0))
    sock.settimeout(0.2)
    open(ready_file, "w").close()
    deadline = time.monotonic() + seconds
    seen = set()
    with open(fast_log, "a", buffering=1) as log:
        while time.monotonic() < deadline:
            try:
                frame, addr = sock.recvfrom(65535)
            except socket.timeout:
                continue
            if addr[2] in (PACKET_OUTGOING, PACKET_OTHERHOST) or len(frame) < 34:
                continue
            if struct.unpack("!H", frame[12:14])[0] != 0x0800:
                continue
            ip = frame[14:]
            ihl = (ip[0] & 0x0F) * 4
            total = struct.unpack("!H", ip[2:4])[0]
            if ip[9] != 6 or len(ip) < ihl + 20:
                continue
            src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
            tcp = ip[ihl:total]
            sport, dport = struct.unpack("!HH", tcp[0:4])
            payload = tcp[(tcp[12] >> 4) * 4:]
            if PATTERN.search(payload):
                line = fast_log_line(src, sport, dst, dport)
                log.write(line + "\n")
                print(line, flush=True)
                seen.add((src, dst))
                if len(seen) >= 2 and any((d, s) in seen for (s, d) in seen):
                    return  # both directions of a flow: done early


class Echo(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (the stdlib's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        answer = b'{"saved": ' + body + b"}"
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def serve_for(server, seconds):
    threading.Timer(seconds, server.shutdown).start()
    server.serve_forever()


def http_serve(port, seconds):
    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Echo)
    serve_for(server, seconds)


def http_post(url, text):
    body = ('{"item": "%s"}' % text).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        print(resp.read().decode())


def tcp_serve(port, seconds, answer):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(8)
    srv.settimeout(0.5)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn, peer = srv.accept()
        except socket.timeout:
            continue
        with conn:
            conn.sendall(answer(peer).encode())


def connect(host, port):
    with socket.create_connection((host, port), timeout=3) as s:
        s.settimeout(3)
        print(s.makefile().readline().strip())


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "sniff":
        sniff(args[0], args[1], args[2], float(args[3]))
    elif cmd == "http-serve":
        http_serve(int(args[0]), float(args[1]))
    elif cmd == "http-post":
        http_post(args[0], args[1])
    elif cmd == "banner-serve":
        tcp_serve(int(args[0]), float(args[2]), lambda _peer: args[1] + "\r\n")
    elif cmd == "peer-serve":
        tcp_serve(int(args[0]), float(args[1]), lambda peer: f"peer {peer[0]}:{peer[1]}\n")
    elif cmd == "connect":
        connect(args[0], int(args[1]))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
