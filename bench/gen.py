#!/usr/bin/env python3
"""Writes the same N-rule policy as a VNS3 rules file (and, with --iptables, as iptables-save
input): DNAT port forwards, FORWARD accepts, masquerades, a COPY. Deterministic."""
import sys


def rules(n):
    out = ["MACRO_CUST -j COPY --from tun0 --to 198.51.100.2 --bidirectional"]
    i = 0
    while len(out) < n:
        k = i % 4
        j = i // 4  # distinct per kind: no rule repeats another (the lints would say so)
        host = 2 + j % 12
        if k == 0:
            out.append(f"PREROUTING_CUST -i eth0 -p tcp --dport {1024 + j % 64000} -j DNAT --to 198.51.100.{host}:{22 + j % 100}")
        elif k == 1:
            out.append(f"FORWARD_CUST -i tun0 -o plugin0 -s 100.64.{j % 256}.0/24 -d 198.51.100.{host} -p tcp --dport {1 + j % 65000} -j ACCEPT")
        elif k == 2:
            out.append(f"POSTROUTING_CUST -o eth0 -s 10.{(j // 256) % 256}.{j % 256}.0/24 -j MASQUERADE")
        else:
            out.append(f"FORWARD_CUST -i eth0 -s 203.{(j // 65536) % 256}.{(j // 256) % 256}.{j % 256} -p udp --dport {1 + j % 65000} -j DROP")
        i += 1
    return out


def iptables_save(lines):
    nat, flt = [], []
    for l in lines:
        chain, rest = l.split(" ", 1)
        if "COPY" in l:
            continue  # no iptables equivalent (VNS3 macro)
        base = chain.replace("_CUST", "")
        (nat if base in ("PREROUTING", "POSTROUTING") else flt).append(f"-A {base} {rest}")
    return "\n".join(["*nat", ":PREROUTING ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]", *nat, "COMMIT",
                      "*filter", ":FORWARD ACCEPT [0:0]", *flt, "COMMIT", ""])


if __name__ == "__main__":
    n = int(sys.argv[1])
    lines = rules(n)
    if "--iptables" in sys.argv:
        sys.stdout.write(iptables_save(lines))
    else:
        sys.stdout.write("\n".join(lines) + "\n")
