//! The conntrack matches beyond `--ctstate` in the kernel: two datagrams of one UDP flow pass
//! our rules and iptables-nft's own (the kernel's xt_conntrack); each rule counts the packets
//! iptables counts. (`--ctexpire`: xt_conntrack compares whole seconds left, 29.99 s is 29; a
//! packet refreshes its connection's timeout before the filter hooks, so here it reads 30.)
//! Also `-m helper` against xt_helper, on an FTP exchange.

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
    let rs = ns.load_rules("ct.rules", &rules);
    ns.exec(&["python3", "-c", SEND]).unwrap_or_else(|e| panic!("{e}"));
    let listing = ns.list_json();
    let ours: Vec<u64> = (1..=MATCHES.len() as u32)
        .map(|line| netns::packets_at(&listing, &rs, "ct.rules", line).expect("a counter"))
        .collect();
    // The first datagram's connection is not confirmed yet (no expiry, no CONFIRMED bit).
    assert_eq!(ours, [1, 1, 2, 0, 2, 0], "{listing}");

    if !netns::have("iptables-nft", "--version") {
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
    let (counts, out) = theirs.iptables_packets("iptables-nft", "OUTPUT");
    assert_eq!(counts, ours, "iptables-nft (xt_conntrack) counts:\n{out}");
}

/// An FTP exchange on loopback: a control connection to 2121 (given the kernel's `ftp` helper
/// by a rule of its own), a `227` passive reply naming 127.0.0.1:2122, and a data connection
/// there, which the helper expected.
const FTP: &str = r#"
import socket, time
def listen(port):
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", port)); l.listen(1); return l
ctl, data = listen(2121), listen(2122)
c = socket.create_connection(("127.0.0.1", 2121)); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s, _ = ctl.accept(); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
# The helper reads a reply only after a line it has seen end.
s.sendall(b"220 ready\r\n"); c.recv(64)
c.sendall(b"PASV\r\n"); s.recv(64)
s.sendall(b"227 Entering Passive Mode (127,0,0,1,8,74).\r\n"); c.recv(128)
d = socket.create_connection(("127.0.0.1", 2122)); a, _ = data.accept()
d.sendall(b"data"); a.recv(16)
for x in (d, a, c, s):
    x.close()
time.sleep(0.2)
"#;

/// The control connection's helper, assigned after conntrack (as `-j CT --helper ftp` would in
/// the raw table, which overlayfw does not manage).
const ASSIGN_FTP: &str = "table ip assign {\n ct helper ftp-h { type \"ftp\" protocol tcp; }\n \
                          chain out {\n  type filter hook output priority -10;\n  \
                          tcp dport 2121 ct helper set \"ftp-h\"\n }\n}\n";

/// `-m helper --helper ftp` matches the data connection the ftp helper expected, not the
/// control connection that has the helper: xt_helper and nft's `ct helper` both read the
/// master connection's helper. Our rules count the packets iptables-nft's (xt_helper) count.
#[test]
fn a_helper_match_counts_the_related_connection_as_xt_helper() {
    if !netns::require_root() {
        return;
    }
    let lines = [
        "-p tcp --dport 2121 -m helper --helper ftp",
        "-p tcp --dport 2122 -m helper --helper ftp",
        "-p tcp --dport 2122 -m helper --helper sip",
    ];
    let rules: String = lines.iter().map(|m| format!("OUTPUT_CUST {m}\n")).collect();
    let rs = netns::compile("helper.rules", &rules);
    let ns = Netns::new();
    ns.exec(&["ip", "link", "set", "lo", "up"]).unwrap_or_else(|e| panic!("{e}"));
    ns.nft_load(ASSIGN_FTP).unwrap_or_else(|e| panic!("{e}"));
    ns.nft_load(&overlayfw::emit::nft_script(&rs)).unwrap_or_else(|e| panic!("{e}"));
    ns.exec(&["python3", "-c", FTP]).unwrap_or_else(|e| panic!("{e}"));
    let listing = ns.list_json();
    let ours: Vec<u64> = (1..=lines.len() as u32)
        .map(|line| netns::packets_at(&listing, &rs, "helper.rules", line).expect("a counter"))
        .collect();
    assert!(ours[0] == 0 && ours[1] >= 3 && ours[2] == 0, "{ours:?}\n{listing}");

    if !netns::have("iptables-nft", "--version") {
        return;
    }
    let theirs = Netns::new();
    theirs.exec(&["ip", "link", "set", "lo", "up"]).unwrap_or_else(|e| panic!("{e}"));
    theirs.nft_load(ASSIGN_FTP).unwrap_or_else(|e| panic!("{e}"));
    for m in lines {
        let mut args = vec!["iptables-nft", "-A", "OUTPUT"];
        args.extend(m.split(' '));
        theirs.exec(&args).unwrap_or_else(|e| panic!("{e}"));
    }
    theirs.exec(&["python3", "-c", FTP]).unwrap_or_else(|e| panic!("{e}"));
    let (counts, out) = theirs.iptables_packets("iptables-nft", "OUTPUT");
    assert_eq!(counts, ours, "iptables-nft (xt_helper) counts:\n{out}");
}

/// `-m connlabel --label N` is `ct label N`, which tests the bit xt_connlabel sets: iptables'
/// own `--label 40 --set` (iptables-legacy, mangle OUTPUT, before our filter chain) labels the
/// connection, and of our rules only the one for label 40 counts its packets.
#[test]
fn a_label_match_reads_the_bit_xt_connlabel_sets() {
    if !netns::require_root() {
        return;
    }
    if !netns::have("iptables-legacy", "--version") {
        return;
    }
    let labels = [40, 41, 39, 32, 47, 8, 0, 127];
    let rules: String = labels
        .iter()
        .map(|n| format!("OUTPUT_CUST -p udp --dport 9100 -m connlabel --label {n}\n"))
        .collect();
    let ns = Netns::new();
    let set =
        "iptables-legacy -t mangle -A OUTPUT -p udp --dport 9100 -m connlabel --label 40 --set";
    ns.exec(&set.split(' ').collect::<Vec<_>>()).unwrap_or_else(|e| panic!("{e}"));
    let rs = ns.load_rules("label.rules", &rules);
    assert_eq!(netns::numbered_datagrams(&ns, 2), "0 1");
    let listing = ns.list_table_json("ip", "overlayfw");
    let ours: Vec<u64> = (1..=labels.len() as u32)
        .map(|line| netns::packets_at(&listing, &rs, "label.rules", line).expect("a counter"))
        .collect();
    assert_eq!(ours, [2, 0, 0, 0, 0, 0, 0, 0], "{listing}");
    let _ = ns.exec(&["iptables-legacy", "-t", "mangle", "-F"]);
}
