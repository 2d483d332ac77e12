//! MARK, CONNMARK and the mark matches in the kernel: a datagram's marks after each rule are
//! the ones iptables' targets would leave (counted by the match rules after them), and for a
//! masked CONNMARK, where `iptables-translate` 1.8.9 is wrong, iptables-nft's own target (the
//! kernel's xt_CONNMARK) leaves the same connection mark as our translation.

use crate::netns::{self, Netns};

const RULES: &str = "\
OUTPUT_CUST -p udp --dport 9001 -j CONNMARK --set-xmark 5/0xf
OUTPUT_CUST -p udp --dport 9001 -m connmark --mark 5
OUTPUT_CUST -p udp --dport 9001 -m connmark --mark 0
OUTPUT_CUST -p udp --dport 9002 -j MARK --set-mark 0x100/0xff
OUTPUT_CUST -p udp --dport 9002 -j MARK --or-mark 0x3
OUTPUT_CUST -p udp --dport 9002 -j MARK --xor-mark 0x1
OUTPUT_CUST -p udp --dport 9002 -j MARK --and-mark 0xff0f
OUTPUT_CUST -p udp --dport 9002 -j CONNMARK --save-mark
OUTPUT_CUST -p udp --dport 9002 -j MARK --set-mark 0
OUTPUT_CUST -p udp --dport 9002 -m mark --mark 0
OUTPUT_CUST -p udp --dport 9002 -j CONNMARK --restore-mark
OUTPUT_CUST -p udp --dport 9002 -m mark --mark 0x102 -m connmark --mark 0x102
OUTPUT_CUST -p udp --dport 9002 -m mark ! --mark 0x2/0xf
OUTPUT_CUST -p udp --dport 9002 -m mark --mark 0x2/0xf
";

/// Sends one datagram over lo to each port of argv.
const SEND: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in sys.argv[1:]:
    s.sendto(b"x", ("127.0.0.1", int(p)))
"#;

#[test]
fn marks_after_each_rule_are_the_ones_iptables_leaves() {
    if !netns::require_root() {
        return;
    }
    let ns = Netns::new();
    let rs = ns.load_rules("marks.rules", RULES);
    ns.exec(&["python3", "-c", SEND, "9001", "9002"]).unwrap_or_else(|e| panic!("{e}"));
    let listing = ns.list_json();
    let count = |line: u32| netns::packets_at(&listing, &rs, "marks.rules", line);
    // (ct mark 0 & !0xf) ^ 5 = 5: the value is kept, not cleared by the mask.
    assert_eq!(count(2), Some(1), "ct mark 5 after --set-xmark 5/0xf: {listing}");
    assert_eq!(count(3), Some(0));
    // 0 → 0x100 → 0x103 → 0x102 → 0x102, saved; cleared (line 10 sees 0), restored.
    assert_eq!(count(10), Some(1), "mark 0 after --set-mark 0");
    assert_eq!(count(12), Some(1), "mark and ct mark 0x102 after the restore");
    assert_eq!(count(13), Some(0));
    assert_eq!(count(14), Some(1));

    // The same CONNMARK through iptables-nft (its xt target, the kernel's own code).
    if !netns::have("iptables-nft", "--version") {
        return;
    }
    let theirs = Netns::new();
    for rule in [
        "-p udp --dport 9001 -j CONNMARK --set-xmark 5/0xf",
        "-p udp --dport 9001 -m connmark --mark 5",
        "-p udp --dport 9001 -m connmark --mark 0",
    ] {
        let mut args = vec!["iptables-nft", "-A", "OUTPUT"];
        args.extend(rule.split(' '));
        theirs.exec(&args).unwrap_or_else(|e| panic!("{e}"));
    }
    theirs.exec(&["python3", "-c", SEND, "9001"]).unwrap_or_else(|e| panic!("{e}"));
    let (counts, out) = theirs.iptables_packets("iptables-nft", "OUTPUT");
    assert_eq!(counts, [1, 1, 0], "iptables-nft's CONNMARK leaves ct mark 5:\n{out}");
}

/// `-m statistic --mode nth` drops the same datagrams through iptables-nft's own statistic
/// match (the kernel's xt_statistic) as through our `numgen inc mod N`, for every `--packet`.
#[test]
fn nth_statistic_picks_the_packets_iptables_picks() {
    if !netns::require_root() {
        return;
    }
    if !netns::have("iptables-nft", "--version") {
        return;
    }
    for packet in 0..3 {
        let rule = format!(
            "-p udp --dport 9100 -m statistic --mode nth --every 3 --packet {packet} -j DROP"
        );
        let ours = Netns::new();
        ours.load_rules("nth.rules", &format!("OUTPUT_CUST {rule}\n"));
        let got_ours = crate::netns::numbered_datagrams(&ours, 9);
        let theirs = Netns::new();
        let mut args = vec!["iptables-nft", "-A", "OUTPUT"];
        args.extend(rule.split(' '));
        theirs.exec(&args).unwrap_or_else(|e| panic!("{e}"));
        let got_theirs = crate::netns::numbered_datagrams(&theirs, 9);
        assert_eq!(got_ours.trim(), got_theirs.trim(), "--packet {packet}");
        assert_eq!(got_ours.split_whitespace().count(), 6, "--packet {packet}: {got_ours}");
    }
}
