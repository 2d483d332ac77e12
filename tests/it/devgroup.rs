//! Forwarded packets in the kernel. `-m devgroup`: a datagram forwarded from and to a device of group 12 meets
//! `! --src-group 2 --dst-group 0xc/0xc` through iptables-nft's own match (the kernel's
//! xt_devgroup) and through our translation alike, where `iptables-translate` 1.8.9 carries the
//! `!` over to `--dst-group` and the datagram misses. `! --tcp-option`: a non-first TCP
//! fragment never meets iptables-nft's tcp match nor ours, where the translator's `tcp option
//! N missing` takes it.

use crate::netns::{self, Netns};

/// Injects one UDP datagram 10.0.1.50 -> 10.9.9.9 on `eth0p`: it arrives on `eth0` and is
/// forwarded out of `eth0` again (the default route), crossing the forward hook.
const INJECT: &str = r#"
import socket, struct, sys
frag = len(sys.argv) > 1
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(("eth0p", 0))
mac = lambda d: bytes.fromhex(open("/sys/class/net/%s/address" % d).read().strip().replace(":", ""))
udp = struct.pack("!HHHH", 5000, 5001, 9, 0) + b"x"
def csum(b):
    n = sum(struct.unpack("!10H", b)); n = (n >> 16) + (n & 0xffff); n += n >> 16
    return ~n & 0xffff
proto, off = (6, 1) if frag else (17, 0)
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, off, 64, proto, 0,
                 socket.inet_aton("10.0.1.50"), socket.inet_aton("10.9.9.9"))
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
s.send(mac("eth0") + mac("eth0p") + b"\x08\x00" + ip + udp)
"#;

const RULE: &str = "-m devgroup ! --src-group 0x2 --dst-group 0xc/0xc -j ACCEPT";

fn prepare(ns: &Netns) {
    for cmd in [
        &["ip", "link", "set", "eth0", "group", "12"][..],
        &["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0"],
        &["sysctl", "-qw", "net.ipv4.conf.eth0.rp_filter=0"],
    ] {
        ns.exec(cmd).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The packet count of the first rule of `listing` holding a counter.
fn first_counter(listing: &serde_json::Value) -> Option<u64> {
    listing["nftables"].as_array()?.iter().filter_map(|o| o.get("rule")).find_map(|r| {
        r["expr"].as_array()?.iter().find_map(|e| e.pointer("/counter/packets")?.as_u64())
    })
}

#[test]
fn devgroup_negates_only_the_option_after_the_bang() {
    if !netns::require_root() {
        return;
    }
    if !netns::have("iptables-nft", "--version") {
        return;
    }
    let theirs = Netns::new();
    prepare(&theirs);
    let mut args = vec!["iptables-nft", "-A", "FORWARD"];
    args.extend(RULE.split(' '));
    theirs.exec(&args).unwrap_or_else(|e| panic!("{e}"));
    theirs.exec(&["python3", "-c", INJECT]).unwrap_or_else(|e| panic!("{e}"));
    let (counts, out) = theirs.iptables_packets("iptables-nft", "FORWARD");
    assert_eq!(counts, [1], "xt_devgroup matches the datagram:\n{out}");

    let ours = Netns::new();
    prepare(&ours);
    let rs = ours.load_rules("dg.rules", &format!("FORWARD_CUST {RULE}\n"));
    ours.exec(&["python3", "-c", INJECT]).unwrap_or_else(|e| panic!("{e}"));
    let listing = ours.list_json();
    assert_eq!(netns::packets_at(&listing, &rs, "dg.rules", 1), Some(1), "{listing}");

    // The translator's rule misses it.
    let translated = Netns::new();
    prepare(&translated);
    translated
        .nft_load(
            "table ip t {\n chain f {\n type filter hook forward priority 0;\n iifgroup != 0x2 \
             oifgroup and 0xc != 0xc counter accept\n }\n}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    translated.exec(&["python3", "-c", INJECT]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first_counter(&translated.list_json()), Some(0));
}

/// A non-first TCP fragment (offset 8) forwarded through `! --tcp-option 23`.
#[test]
fn a_negated_tcp_option_never_meets_a_fragment() {
    if !netns::require_root() {
        return;
    }
    if !netns::have("iptables-nft", "--version") {
        return;
    }
    let rule = "-p tcp ! --tcp-option 23 -j ACCEPT";
    let theirs = Netns::new();
    let mut args = vec!["iptables-nft", "-A", "FORWARD"];
    args.extend(rule.split(' '));
    theirs.exec(&args).unwrap_or_else(|e| panic!("{e}"));
    theirs.exec(&["python3", "-c", INJECT, "frag"]).unwrap_or_else(|e| panic!("{e}"));
    let (counts, out) = theirs.iptables_packets("iptables-nft", "FORWARD");
    assert_eq!(counts, [0], "xt_tcpudp skips the fragment:\n{out}");

    let ours = Netns::new();
    let rs = ours.load_rules("fr.rules", &format!("FORWARD_CUST {rule}\n"));
    ours.exec(&["python3", "-c", INJECT, "frag"]).unwrap_or_else(|e| panic!("{e}"));
    let listing = ours.list_json();
    assert_eq!(netns::packets_at(&listing, &rs, "fr.rules", 1), Some(0), "{listing}");

    let translated = Netns::new();
    translated
        .nft_load(
            "table ip t {\n chain f {\n type filter hook forward priority 0;\n tcp option 23 \
             missing counter accept\n }\n}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    translated.exec(&["python3", "-c", INJECT, "frag"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first_counter(&translated.list_json()), Some(1), "the translator's rule");
}
