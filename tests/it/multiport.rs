//! `-m multiport --ports` in the kernel: the source or the destination port is listed (a packet
//! with both listed counts once), and `! --ports` is neither, as iptables' own xt_multiport
//! (iptables-legacy) counts them. iptables-translate 1.8.9 and iptables-nft 1.8.9 make a range
//! of `--ports` its two ends and drop the `!`, so they are no oracle here (the corpus lists
//! those lines as deviations).

use crate::netns::{self, Netns};

const RULES: [&str; 3] = [
    "-p udp -m multiport --ports 10,20:30",
    "-p udp -m multiport ! --ports 10,20:30",
    "-p udp -m multiport --ports 22",
];

/// (source port, destination port) of the datagrams sent.
const SENT: [(u16, u16); 8] =
    [(10, 5000), (5000, 25), (25, 10), (5000, 5001), (40000, 30), (31, 19), (22, 22), (9, 22)];

/// Sends one UDP datagram from 127.0.0.1:argv[1] to 127.0.0.1:argv[2].
const SEND: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.sendto(b"x", ("127.0.0.1", int(sys.argv[2])))
"#;

fn send_all(ns: &Netns) {
    for (sport, dport) in SENT {
        ns.exec(&["python3", "-c", SEND, &sport.to_string(), &dport.to_string()])
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn either_port_matches_as_xt_multiport_counts() {
    if !netns::require_root() {
        return;
    }
    let ours = Netns::new();
    let rules: String = RULES.iter().map(|r| format!("OUTPUT_CUST {r}\n")).collect();
    let rs = ours.load_rules("ports.rules", &rules);
    send_all(&ours);
    let listing = ours.list_json();
    let count = |line: u32| netns::packets_at(&listing, &rs, "ports.rules", line).unwrap_or(0);
    let got = [count(1), count(2), count(3)];
    // Either port in 10 or 20–30: all but (5000, 5001) and (31, 19); (22, 22) once.
    assert_eq!(got, [6, 2, 2], "{listing}");

    if !netns::have("iptables-legacy", "--version") {
        return;
    }
    let theirs = Netns::new();
    for rule in RULES {
        let mut args = vec!["iptables-legacy", "-A", "OUTPUT"];
        args.extend(rule.split(' '));
        theirs.exec(&args).unwrap_or_else(|e| panic!("{e}"));
    }
    send_all(&theirs);
    let (counts, out) = theirs.iptables_packets("iptables-legacy", "OUTPUT");
    assert_eq!(counts, got, "xt_multiport (iptables-legacy):\n{out}");
}
