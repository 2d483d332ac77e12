//! DSCP and CLASSIFY in the kernel: a datagram's DSCP after `-j DSCP` is the one set, with its
//! ECN bits kept (xt_DSCP rewrites the six DSCP bits only), as the dscp and ecn matches after
//! it count.

use crate::netns::{self, Netns};

const RULES: &str = "\
OUTPUT_CUST -p udp --dport 9003 -j DSCP --set-dscp-class AF41
OUTPUT_CUST -p udp --dport 9003 -m dscp --dscp 0x22
OUTPUT_CUST -p udp --dport 9003 -m dscp --dscp 0x08
OUTPUT_CUST -p udp --dport 9003 -m ecn --ecn-ip-ect 1
OUTPUT_CUST -p udp --dport 9003 -j CLASSIFY --set-class 1:10
OUTPUT_CUST -p udp --dport 9003 -j DSCP --set-dscp 0
OUTPUT_CUST -p udp --dport 9003 -m dscp --dscp 0
";

/// Sends one datagram over lo to port 9003 with TOS 0x21 (DSCP 8, ECN ECT(1)).
const SEND: &str = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0x21)
s.sendto(b"x", ("127.0.0.1", 9003))
"#;

#[test]
fn dscp_rewrites_the_dscp_bits_and_keeps_ecn() {
    if !netns::require_root() {
        return;
    }
    let ns = Netns::new();
    let rs = ns.load_rules("qos.rules", RULES);
    ns.exec(&["python3", "-c", SEND]).unwrap_or_else(|e| panic!("{e}"));
    let listing = ns.list_json();
    let count = |line: u32| netns::packets_at(&listing, &rs, "qos.rules", line);
    assert_eq!(count(1), Some(1), "the DSCP rule saw the datagram: {listing}");
    assert_eq!(count(2), Some(1), "DSCP AF41 (0x22) after --set-dscp-class AF41");
    assert_eq!(count(3), Some(0), "the DSCP the sender wrote is gone");
    assert_eq!(count(4), Some(1), "ECN ECT(1) kept");
    assert_eq!(count(5), Some(1));
    assert_eq!(count(7), Some(1), "DSCP 0 after --set-dscp 0");
}
