//! `-m policy` in the kernel. This kernel has no IPsec transform (no ESP, AH or IPcomp), so
//! no packet here carries a security path: datagrams on loopback pass our rules and
//! iptables-nft's own (the kernel's xt_policy), and each `--pol none` rule counts them while
//! each `--pol ipsec` rule does not, on both sides, in both directions.

use crate::netns::{self, Netns};

/// (VNS3 chain, iptables chain, policy options), all on UDP to 127.0.0.1:9102.
const RULES: [(&str, &str, &str); 6] = [
    ("OUTPUT_CUST", "OUTPUT", "--dir out --pol ipsec"),
    ("OUTPUT_CUST", "OUTPUT", "--dir out --pol none"),
    ("OUTPUT_CUST", "OUTPUT", "--dir out"),
    ("INPUT_CUST", "INPUT", "--dir in --pol ipsec"),
    ("INPUT_CUST", "INPUT", "--dir in --pol none"),
    ("INPUT_CUST", "INPUT", "--dir in"),
];

const SEND: &str = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    s.sendto(b"x", ("127.0.0.1", 9102))
"#;

#[test]
fn policy_matches_count_the_packets_xt_policy_counts() {
    if !netns::require_root() {
        return;
    }
    let rules: String = RULES
        .iter()
        .map(|(chain, _, m)| format!("{chain} -p udp --dport 9102 -m policy {m}\n"))
        .collect();
    let ns = Netns::new();
    ns.exec(&["ip", "link", "set", "lo", "up"]).unwrap_or_else(|e| panic!("{e}"));
    let compiled = netns::compile_with_warnings("ipsec.rules", &rules);
    // `--dir out` is `--dir out --pol ipsec` (W102, a duplicate): warnings only.
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    let rs = compiled.ruleset.expect("compiles");
    ns.nft_load(&overlayfw::emit::nft_script(&rs)).unwrap_or_else(|e| panic!("{e}"));
    ns.exec(&["python3", "-c", SEND]).unwrap_or_else(|e| panic!("{e}"));
    let listing = ns.list_json();
    let ours: Vec<u64> = (1..=RULES.len() as u32)
        .map(|line| netns::packets_at(&listing, &rs, "ipsec.rules", line).expect("a counter"))
        .collect();
    assert_eq!(ours, [0, 3, 0, 0, 3, 0], "{listing}");

    if !netns::have("iptables-nft", "--version") {
        return;
    }
    let theirs = Netns::new();
    theirs.exec(&["ip", "link", "set", "lo", "up"]).unwrap_or_else(|e| panic!("{e}"));
    for (_, chain, m) in RULES {
        let mut args = vec!["iptables-nft", "-A", chain, "-p", "udp", "--dport", "9102"];
        args.extend(["-m", "policy"]);
        args.extend(m.split(' '));
        theirs.exec(&args).unwrap_or_else(|e| panic!("{e}"));
    }
    theirs.exec(&["python3", "-c", SEND]).unwrap_or_else(|e| panic!("{e}"));
    let mut counts = Vec::new();
    for chain in ["OUTPUT", "INPUT"] {
        counts.extend(theirs.iptables_packets("iptables-nft", chain).0);
    }
    assert_eq!(counts, ours, "iptables-nft (xt_policy) counts differ");
}
