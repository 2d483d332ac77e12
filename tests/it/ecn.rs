//! `! --ecn-tcp-ece` in the kernel: a segment with ECE and ACK set is not matched by
//! iptables-nft's own ecn match (the kernel's xt_ecn tests the ECE bit), nor by our
//! `tcp flags & ecn == 0`; `iptables-translate` 1.8.9's `tcp flags != ecn` would match it (the
//! corpus lists that line as a deviation).

use crate::netns::{self, Netns};

/// Sends one raw TCP segment to 127.0.0.1:9 with the flags of argv[1] (a number).
const SEND: &str = r#"
import socket, struct, sys
flags = int(sys.argv[1])
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0,
                 socket.inet_aton("127.0.0.1"), socket.inet_aton("127.0.0.1"))
tcp = struct.pack("!HHIIBBHHH", 40000, 9, 1, 1, 5 << 4, flags, 1024, 0, 0)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.sendto(ip + tcp, ("127.0.0.1", 0))
"#;

#[test]
fn a_segment_with_ece_is_not_matched_by_not_ece() {
    if !netns::require_root() {
        return;
    }
    let rules = "OUTPUT_CUST -p tcp --dport 9 -m ecn ! --ecn-tcp-ece\n\
                 OUTPUT_CUST -p tcp --dport 9 -m ecn --ecn-tcp-ece\n";
    let ours = Netns::new();
    let rs = ours.load_rules("ecn.rules", rules);
    // iptables-translate's form beside it.
    let xlate = "table ip xlate {\n chain o {\n  type filter hook output priority 0;\n  \
                 tcp dport 9 tcp flags != ecn counter\n }\n}\n";
    ours.nft_load(xlate).unwrap_or_else(|e| panic!("{e}"));
    // ACK|ECE, then a plain ACK.
    for flags in ["80", "16"] {
        ours.exec(&["python3", "-c", SEND, flags]).unwrap_or_else(|e| panic!("{e}"));
    }
    let listing = ours.list_json();
    let count = |line: u32| netns::packets_at(&listing, &rs, "ecn.rules", line);
    assert_eq!((count(1), count(2)), (Some(1), Some(1)), "{listing}");
    let translated =
        netns::objects(&listing, "rule").find(|r| r["table"] == "xlate").and_then(|r| {
            r["expr"].as_array()?.iter().find_map(|e| e.pointer("/counter/packets")?.as_u64())
        });
    assert_eq!(translated, Some(2), "`tcp flags != ecn` matches the ECE segment too");

    if !netns::have("iptables-nft", "--version") {
        return;
    }
    let theirs = Netns::new();
    for rule in ["-p tcp --dport 9 -m ecn ! --ecn-tcp-ece", "-p tcp --dport 9 -m ecn --ecn-tcp-ece"]
    {
        let mut args = vec!["iptables-nft", "-A", "OUTPUT"];
        args.extend(rule.split(' '));
        theirs.exec(&args).unwrap_or_else(|e| panic!("{e}"));
    }
    for flags in ["80", "16"] {
        theirs.exec(&["python3", "-c", SEND, flags]).unwrap_or_else(|e| panic!("{e}"));
    }
    let (counts, out) = theirs.iptables_packets("iptables-nft", "OUTPUT");
    assert_eq!(counts, [1, 1], "iptables-nft's ecn match:\n{out}");
}
