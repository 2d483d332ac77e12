//! The conntrack matches beyond `--ctstate` in the kernel: two datagrams of one UDP flow pass
//! our rules and iptables-nft's own (the kernel's xt_conntrack); each rule counts the packets
//! iptables counts. (`--ctexpire`: xt_conntrack compares whole seconds left, 29.99 s is 29; a
//! packet refreshes its connection's timeout before the filter hooks, so here it reads 30.)

use overlayfw::diagnostic::Sources;
use overlayfw::pipeline::{self, Text};

use crate::netns::{self, Netns};

/// One option set per line, all on the flow to 127.0.0.1:9101.
const MATCHES: [&str; 6] = [
    "--ctexpire 30",
    "--ctdir ORIGINAL --ctstatus CONFIRMED",
    "--ctproto udp --ctorigdstport 9101 --ctreplsrc 127.0.0.1",
    "--ctstate DNAT",
    "! --ctstatus SEEN_REPLY --ctorigsrc 127.0.0.0/255.0.0.0",
    "--ctdir REPLY",
];

/// Two datagrams of one flow: the first creates the connection, the second finds it confirmed
/// with the unreplied UDP timeout (30 s) left.
const SEND: &str = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(2):
    s.sendto(b"x", ("127.0.0.1", 9101))
"#;

#[test]
fn conntrack_matches_count_the_packets_xt_conntrack_counts() {
    if !netns::require_root() {
        return;
    }
    let rules: String = MATCHES
        .iter()
        .map(|m| format!("OUTPUT_CUST -p udp --dport 9101 -m conntrack {m}\n"))
        .collect();
    let ns = Netns::new();
    let mut sources = Sources::new();
    let text = Text { name: "ct.rules".into(), bytes: rules.into_bytes() };
    let compiled = pipeline::compile(&mut sources, vec![text], None, "overlayfw");
    assert!(compiled.diagnostics.is_empty(), "{:?}", compiled.diagnostics);
    let rs = compiled.ruleset.expect("compiles");
    ns.nft_load(&overlayfw::emit::nft_script(&rs)).unwrap_or_else(|e| panic!("{e}"));
    ns.exec(&["python3", "-c", SEND]).unwrap_or_else(|e| panic!("{e}"));
    let listing = ns.list_json();
    let ours: Vec<u64> = (1..=MATCHES.len() as u32)
        .map(|line| netns::packets_at(&listing, &rs, "ct.rules", line).expect("a counter"))
        .collect();
    // The first datagram's connection is not confirmed yet (no expiry, no CONFIRMED bit).
    assert_eq!(ours, [1, 1, 2, 0, 2, 0], "{listing}");

    let have = netns::run("iptables-nft", &["--version"]).is_ok();
    if !have {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "iptables-nft is missing under CI");
        return;
    }
    let theirs = Netns::new();
    for m in MATCHES {
        let mut args = vec!["iptables-nft", "-A", "OUTPUT", "-p", "udp", "--dport", "9101"];
        args.extend(["-m", "conntrack"]);
        args.extend(m.split(' '));
        theirs.exec(&args).unwrap_or_else(|e| panic!("{e}"));
    }
    theirs.exec(&["python3", "-c", SEND]).unwrap_or_else(|e| panic!("{e}"));
    let out = theirs
        .exec(&["iptables-nft", "-L", "OUTPUT", "-v", "-x", "-n"])
        .unwrap_or_else(|e| panic!("{e}"));
    // Header lines, then one line per rule starting with its packet count.
    let counts: Vec<u64> =
        out.lines().skip(2).filter_map(|l| l.split_whitespace().next()?.parse().ok()).collect();
    assert_eq!(counts, ours, "iptables-nft (xt_conntrack) counts:\n{out}");
}
