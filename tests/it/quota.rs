//! `-m quota` in the kernel: the same datagrams pass iptables-nft's own quota match (the
//! kernel's xt_quota, which passes a packet while what is left covers it) and our `quota N
//! bytes` (nft's, which passes it while the bytes consumed with it are not over N), up to the
//! datagram that fills the quota exactly.

use crate::netns::{self, Netns};

/// Three datagrams fill a quota of 87 bytes exactly: both pass all three; of 86, two.
#[test]
fn quota_passes_the_datagrams_xt_quota_passes() {
    if !netns::require_root() {
        return;
    }
    if !netns::have("iptables-nft", "--version") {
        return;
    }
    for (rules, passed) in [
        (&["-p udp --dport 9100 -m quota ! --quota 87 -j DROP"][..], "0 1 2"),
        (&["-p udp --dport 9100 -m quota ! --quota 86 -j DROP"][..], "0 1"),
        (
            &["-p udp --dport 9100 -m quota --quota 87 -j ACCEPT", "-p udp --dport 9100 -j DROP"][..],
            "0 1 2",
        ),
        (
            &["-p udp --dport 9100 -m quota --quota 0x56 -j ACCEPT", "-p udp --dport 9100 -j DROP"]
                [..],
            "0 1",
        ),
    ] {
        let ours = Netns::new();
        let text: String = rules.iter().map(|r| format!("OUTPUT_CUST {r}\n")).collect();
        ours.load_rules("quota.rules", &text);
        let got_ours = crate::netns::numbered_datagrams(&ours, 6);
        let theirs = Netns::new();
        for r in rules {
            let mut args = vec!["iptables-nft", "-A", "OUTPUT"];
            args.extend(r.split(' '));
            theirs.exec(&args).unwrap_or_else(|e| panic!("{e}"));
        }
        let got_theirs = crate::netns::numbered_datagrams(&theirs, 6);
        assert_eq!(got_theirs.trim(), passed, "xt_quota with {rules:?}");
        assert_eq!(got_ours.trim(), got_theirs.trim(), "{rules:?}");
    }
}
