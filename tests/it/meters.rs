//! `-m hashlimit` and `-m connlimit` in the kernel: the same packets pass our rules (dynamic
//! sets with a limit or a connection count per element) and iptables-nft's own (the kernel's
//! xt_hashlimit and xt_connlimit), and each rule counts the packets iptables counts.

use crate::netns::{self, Netns};

/// Rules without a target (they only count), all in OUTPUT.
const RULES: [&str; 5] = [
    "-p udp --dport 9103 -m hashlimit --hashlimit-upto 2/minute --hashlimit-burst 3 --hashlimit-mode dstport --hashlimit-name up",
    "-p udp --dport 9103 -m hashlimit --hashlimit-above 2/minute --hashlimit-burst 2 --hashlimit-mode srcip,dstip --hashlimit-srcmask 24 --hashlimit-name above",
    "-p tcp --syn --dport 9104 -m connlimit --connlimit-above 2",
    "-p tcp --syn --dport 9104 -m connlimit --connlimit-upto 1 --connlimit-mask 16 --connlimit-daddr",
    "-p tcp --syn --dport 9104 -m connlimit ! --connlimit-upto 3",
];

/// Six datagrams to one port, then four TCP connections held open to a listener.
const SEND: &str = r#"
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(6):
    u.sendto(b"x", ("127.0.0.1", 9103))
l = socket.socket()
l.bind(("127.0.0.1", 9104))
l.listen(8)
held = []
for _ in range(4):
    c = socket.create_connection(("127.0.0.1", 9104))
    held.append((c, l.accept()[0]))
"#;

#[test]
fn meters_count_the_packets_xt_hashlimit_and_xt_connlimit_count() {
    if !netns::require_root() {
        return;
    }
    let rules: String = RULES.iter().map(|m| format!("OUTPUT_CUST {m}\n")).collect();
    let ns = Netns::new();
    ns.exec(&["ip", "link", "set", "lo", "up"]).unwrap_or_else(|e| panic!("{e}"));
    let compiled = netns::compile_with_warnings("meters.rules", &rules);
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    let rs = compiled.ruleset.expect("compiles");
    ns.nft_load(&overlayfw::emit::nft_script(&rs)).unwrap_or_else(|e| panic!("{e}"));
    ns.exec(&["python3", "-c", SEND]).unwrap_or_else(|e| panic!("{e}"));
    let listing = ns.list_json();
    let ours: Vec<u64> = (1..=RULES.len() as u32)
        .map(|line| netns::packets_at(&listing, &rs, "meters.rules", line).expect("a counter"))
        .collect();
    // Buckets of 3 and 2 tokens: 3 datagrams within the first, 4 over the second; the 3rd
    // and 4th connections are over 2, the 1st alone is at most 1 per /16, the 4th over 3.
    assert_eq!(ours, [3, 4, 2, 1, 1], "{listing}");

    if !netns::have("iptables-nft", "--version") {
        return;
    }
    let theirs = Netns::new();
    theirs.exec(&["ip", "link", "set", "lo", "up"]).unwrap_or_else(|e| panic!("{e}"));
    for m in RULES {
        let mut args = vec!["iptables-nft", "-A", "OUTPUT"];
        args.extend(m.split(' '));
        theirs.exec(&args).unwrap_or_else(|e| panic!("{e}"));
    }
    theirs.exec(&["python3", "-c", SEND]).unwrap_or_else(|e| panic!("{e}"));
    let (counts, out) = theirs.iptables_packets("iptables-nft", "OUTPUT");
    assert_eq!(counts, ours, "iptables-nft counts differ:\n{out}");
}

/// 200 datagrams of 29 bytes (20 + 8 + 1) to 127.0.0.1:9105; prints how many arrived.
const SEND_SMALL: &str = r#"
import socket
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("127.0.0.1", 9105)); r.settimeout(0.3)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(200):
    try:
        s.sendto(b"x", ("127.0.0.1", 9105))
    except PermissionError:
        pass
got = 0
try:
    while True:
        r.recv(64)
        got += 1
except socket.timeout:
    pass
print(got)
"#;

/// Why a byte rate is refused: at `--hashlimit-upto 1kb/s` xt_hashlimit charges a 29-byte
/// datagram two 16-byte chunks and passes 32 of a quick 200 (a one-second bucket of 1024 bytes
/// in 65 chunks); nft's `limit rate 1 kbytes/second`, as iptables-translate writes it, charges
/// 29 bytes and passes 35. overlayfw refuses the line (E008).
#[test]
fn a_byte_rate_passes_other_packets_through_xt_hashlimit_than_through_nft() {
    if !netns::require_root() {
        return;
    }
    let line = "OUTPUT_CUST -p udp --dport 9105 -m hashlimit --hashlimit-upto 1kb/s \
                --hashlimit-mode dstport --hashlimit-name b -j ACCEPT\n";
    let compiled = netns::compile_with_warnings("bytes.rules", line);
    let codes: Vec<_> = compiled.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["E008"], "{:?}", compiled.diagnostics);

    // The translator's reading of the line, with a drop after it.
    let nft = Netns::new();
    nft.exec(&["ip", "link", "set", "lo", "up"]).unwrap_or_else(|e| panic!("{e}"));
    nft.nft_load(
        "table ip t {\n chain o {\n  type filter hook output priority 0;\n  \
         udp dport 9105 meter b { udp dport timeout 15s limit rate 1 kbytes/second } accept\n  \
         udp dport 9105 drop\n }\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let by_nft: u32 =
        nft.exec(&["python3", "-c", SEND_SMALL]).expect("send").trim().parse().expect("a count");
    // One second's 1024 bytes over 29-byte datagrams, a token or two more if the sending is slow.
    assert!((35..=37).contains(&by_nft), "nft passed {by_nft}");

    if !netns::have("iptables-nft", "--version") {
        return;
    }
    let xt = Netns::new();
    xt.exec(&["ip", "link", "set", "lo", "up"]).unwrap_or_else(|e| panic!("{e}"));
    let rule = "-p udp --dport 9105 -m hashlimit --hashlimit-upto 1kb/s --hashlimit-mode dstport \
                --hashlimit-name b -j ACCEPT";
    let mut args = vec!["iptables-nft", "-A", "OUTPUT"];
    args.extend(rule.split(' '));
    xt.exec(&args).unwrap_or_else(|e| panic!("{e}"));
    xt.exec(&["iptables-nft", "-A", "OUTPUT", "-p", "udp", "--dport", "9105", "-j", "DROP"])
        .unwrap_or_else(|e| panic!("{e}"));
    let by_xt: u32 =
        xt.exec(&["python3", "-c", SEND_SMALL]).expect("send").trim().parse().expect("a count");
    // 65 chunks of 16 bytes, two per datagram.
    assert!((32..=34).contains(&by_xt), "xt_hashlimit passed {by_xt}");
    assert!(by_xt < by_nft, "xt_hashlimit {by_xt}, nft {by_nft}");
}
