//! `ipv6: drop` in a real kernel, through both backends: IPv6 between two namespaces' veth
//! ends is dropped but for neighbour discovery and replies, `diff` sees the `ip6` table's
//! drift, `--confirm` puts it back, the persisted file carries it, switching the setting off
//! removes it, and an `ip6` table overlayfw did not make is left alone.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use crate::netns::{self, Netns};

const RULES: &str = "INPUT_CUST -p tcp --dport 22 -j ACCEPT\n";
const DROP: &str = "interfaces:\n  public: eth0\nipv6: drop\n";
const OFF: &str = "interfaces:\n  public: eth0\n";

/// The rules, both inventories, and state and persist directories of one test.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in [("a.rules", RULES), ("drop.yaml", DROP), ("off.yaml", OFF)] {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        Files { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn persist_dir(&self) -> PathBuf {
        self.dir.path().join("persist")
    }

    /// `overlayfw COMMAND a.rules --inventory INV.yaml [extra…]` in the namespace.
    fn ofw(&self, ns: &Netns, command: &str, inv: &str, extra: &[&str]) -> Output {
        let (rules, inv) = (self.path("a.rules"), self.path(&format!("{inv}.yaml")));
        Command::new("ip")
            .args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_overlayfw"), command])
            .args([rules.as_str(), "--inventory", inv.as_str()])
            .args(extra)
            .env("OVERLAYFW_STATE_DIR", self.dir.path().join("state"))
            .env("OVERLAYFW_PERSIST_DIR", self.persist_dir())
            .stdin(Stdio::null())
            .output()
            .expect("run overlayfw")
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn backends() -> &'static [&'static str] {
    if cfg!(feature = "netlink") { &["nft", "netlink"] } else { &["nft"] }
}

/// The tables of a namespace, as `FAMILY NAME`, sorted.
fn tables(ns: &Netns) -> Vec<String> {
    let listing = ns.list_json();
    let mut found: Vec<String> = netns::objects(&listing, "table")
        .map(|t| {
            format!("{} {}", t["family"].as_str().unwrap_or(""), t["name"].as_str().unwrap_or(""))
        })
        .collect();
    found.sort();
    found
}

const SERVER: &str = "\
import socket, sys
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('::', int(sys.argv[1])))
s.listen(16)
while True:
    c, _ = s.accept()
    c.sendall(b'hi')
    c.close()
";

/// Exit 0 when a TCP connection to ADDR PORT is answered within 2 s.
const CLIENT: &str = "\
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
    sys.exit(0 if c.recv(2) == b'hi' else 3)
except OSError:
    sys.exit(1)
";

/// Exit 0 when an ICMPv6 echo request to ADDR is answered within 2 s.
const ECHO: &str = "\
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.settimeout(0.5)
s.sendto(b'\\x80\\x00\\x00\\x00\\x12\\x34\\x00\\x01overlayfw', (sys.argv[1], 0))
end = time.time() + 2
while time.time() < end:
    try:
        d, _ = s.recvfrom(1500)
    except socket.timeout:
        continue
    if d[0] == 129 and d[4:6] == b'\\x12\\x34':
        sys.exit(0)
sys.exit(1)
";

const ROUTER_ADDR: &str = "2001:db8:6::1";
const PEER_ADDR: &str = "2001:db8:6::2";

/// A router namespace and a peer namespace joined by a veth pair (`v6r` / `v6p`), with
/// 2001:db8:6::1 and ::2, and a TCP server (port 8080) on each side.
struct Pair {
    router: Netns,
    peer: Netns,
    servers: Vec<Child>,
}

impl Pair {
    fn new() -> Pair {
        let (router, peer) = (Netns::new(), Netns::new());
        for ns in [&router, &peer] {
            // No duplicate-address detection: the addresses are usable at once.
            ns.exec(&["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"]).expect("sysctl");
            ns.exec(&["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"]).expect("sysctl");
        }
        let (r, p) = (router.name(), peer.name());
        let steps: &[&[&str]] = &[
            &["-n", r, "link", "add", "v6r", "type", "veth", "peer", "name", "v6p", "netns", p],
            &["-n", r, "addr", "add", "2001:db8:6::1/64", "dev", "v6r", "nodad"],
            &["-n", p, "addr", "add", "2001:db8:6::2/64", "dev", "v6p", "nodad"],
            &["-n", r, "link", "set", "v6r", "up"],
            &["-n", p, "link", "set", "v6p", "up"],
        ];
        for args in steps {
            netns::run("ip", args).unwrap_or_else(|e| panic!("{e}"));
        }
        let servers = [&router, &peer]
            .iter()
            .map(|ns| {
                Command::new("ip")
                    .args(["netns", "exec", ns.name(), "python3", "-c", SERVER, "8080"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("server")
            })
            .collect();
        let pair = Pair { router, peer, servers };
        // Both servers listen and both ends talk before any table is there.
        let up = (0..20).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            pair.connects(&pair.peer, ROUTER_ADDR) && pair.connects(&pair.router, PEER_ADDR)
        });
        assert!(up, "IPv6 between the namespaces does not work without a table");
        pair
    }

    /// Whether `from` reaches the server at `to` over TCP, neighbour caches emptied first
    /// (so neighbour discovery must pass too).
    fn connects(&self, from: &Netns, to: &str) -> bool {
        self.flush_neighbours();
        let o = Command::new("ip")
            .args(["netns", "exec", from.name(), "python3", "-c", CLIENT, to, "8080"])
            .output()
            .expect("client");
        o.status.success()
    }

    /// Whether `from`'s echo request to `to` is answered.
    fn echoes(&self, from: &Netns, to: &str) -> bool {
        self.flush_neighbours();
        let o = Command::new("ip")
            .args(["netns", "exec", from.name(), "python3", "-c", ECHO, to])
            .output()
            .expect("echo");
        o.status.success()
    }

    fn flush_neighbours(&self) {
        for (ns, dev) in [(&self.router, "v6r"), (&self.peer, "v6p")] {
            let _ = ns.exec(&["ip", "-6", "neigh", "flush", "dev", dev]);
        }
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for s in &mut self.servers {
            let _ = s.kill();
            let _ = s.wait();
        }
    }
}

/// What `ipv6: drop` lets through, and what not: the router's own connections and pings work
/// (neighbour discovery and replies pass), nothing from the peer reaches the router.
fn assert_dropping(pair: &Pair, backend: &str) {
    assert!(pair.connects(&pair.router, PEER_ADDR), "{backend}: the router's own connection");
    assert!(pair.echoes(&pair.router, PEER_ADDR), "{backend}: the router's own ping");
    assert!(!pair.connects(&pair.peer, ROUTER_ADDR), "{backend}: a connection to the router");
    assert!(!pair.echoes(&pair.peer, ROUTER_ADDR), "{backend}: a ping to the router");
}

#[test]
fn ipv6_drop_filters_ipv6_is_diffed_persisted_and_removed_when_switched_off() {
    if !netns::require_root() {
        return;
    }
    for backend in backends() {
        let files = Files::new();
        let pair = Pair::new();
        let ns = &pair.router;
        let b = ["--backend", backend];
        assert!(pair.echoes(&pair.peer, ROUTER_ADDR), "{backend}: a ping before the table");

        let o = files.ofw(ns, "apply", "drop", &b);
        assert_eq!(code(&o), 0, "{backend}: {}", text(&o));
        assert!(text(&o).contains("table ip6 (ipv6: drop)"), "{backend}: {}", text(&o));
        assert_eq!(tables(ns), ["ip overlayfw", "ip6 overlayfw"], "{backend}");
        assert_dropping(&pair, backend);
        // Either backend's ip6 table is the other's: an incremental apply keeps it.
        if cfg!(feature = "netlink") {
            let o = files.ofw(ns, "apply", "drop", &["--backend", "netlink"]);
            assert!(text(&o).contains("(nothing to change)"), "{backend}: {}", text(&o));
        }

        // Kept for the next boot: the persisted file makes both tables in a fresh namespace.
        let kept =
            std::fs::read_to_string(files.persist_dir().join("overlayfw.nft")).expect("persisted");
        assert!(kept.contains("table ip6 overlayfw {\n"), "{backend}: {kept}");
        let boot = Netns::new();
        boot.nft_load(&kept).expect("the persisted file loads");
        assert_eq!(tables(&boot), ["ip overlayfw", "ip6 overlayfw"], "{backend}");

        // Diffed with the rest, through either backend.
        for diff_backend in backends() {
            let o = files.ofw(ns, "diff", "drop", &["--backend", diff_backend]);
            assert_eq!(code(&o), 0, "{backend}/{diff_backend}: {}", text(&o));
            assert!(text(&o).contains("table ip6 overlayfw: live table matches"), "{}", text(&o));
        }
        // A foreign change in the ip6 table is drift; an apply undoes it.
        ns.exec(&[
            "nft",
            "add",
            "rule",
            "ip6",
            "overlayfw",
            "input",
            "tcp",
            "dport",
            "8080",
            "accept",
        ])
        .expect("foreign rule");
        assert!(pair.connects(&pair.peer, ROUTER_ADDR), "{backend}: the foreign rule works");
        for diff_backend in backends() {
            let o = files.ofw(ns, "diff", "drop", &["--backend", diff_backend]);
            assert_eq!(code(&o), 1, "{backend}/{diff_backend}: {}", text(&o));
            let shown = text(&o);
            assert!(
                shown.contains("table ip6 overlayfw: 0 set(s) and 1 chain(s) differ"),
                "{shown}"
            );
            assert!(shown.contains("- [13] tcp dport 8080 accept"), "{shown}");
        }
        let o = files.ofw(ns, "apply", "drop", &b);
        assert_eq!(code(&o), 0, "{backend}: {}", text(&o));
        let o = files.ofw(ns, "diff", "drop", &b);
        assert_eq!(code(&o), 0, "{backend}: {}", text(&o));
        assert_dropping(&pair, backend);

        // Switched off: the diff says the ip6 table goes, the apply deletes it (saying that
        // this machine's IPv6 is now unfiltered), and IPv6 passes again.
        let o = files.ofw(ns, "diff", "off", &b);
        assert_eq!(code(&o), 1, "{backend}: {}", text(&o));
        assert!(
            text(&o).contains(
                "table ip6 overlayfw: overlayfw's, but the inventory does not set `ipv6: drop`"
            ),
            "{}",
            text(&o)
        );
        let o = files.ofw(ns, "apply", "off", &b);
        assert_eq!(code(&o), 0, "{backend}: {}", text(&o));
        assert!(
            text(&o).contains("note: this machine has IPv6 addresses (v6r: 2001:db8:6::1)"),
            "{}",
            text(&o)
        );
        assert_eq!(tables(ns), ["ip overlayfw"], "{backend}");
        let o = files.ofw(ns, "diff", "off", &b);
        assert_eq!(code(&o), 0, "{backend}: {}", text(&o));
        assert!(pair.connects(&pair.peer, ROUTER_ADDR), "{backend}: unfiltered again");
        let kept =
            std::fs::read_to_string(files.persist_dir().join("overlayfw.nft")).expect("persisted");
        assert!(!kept.contains("ip6"), "{backend}: {kept}");
        // Said explicitly, the setting silences the note.
        std::fs::write(files.dir.path().join("off.yaml"), format!("{OFF}ipv6: unmanaged\n"))
            .expect("write");
        let o = files.ofw(ns, "apply", "off", &b);
        assert_eq!(code(&o), 0, "{backend}: {}", text(&o));
        assert!(!text(&o).contains("note:"), "{backend}: {}", text(&o));
    }
}

/// A third namespace behind the router (`v7r` / `v7q`, 2001:db8:7::/64), with a TCP server,
/// and the router forwarding IPv6 between the peer and it.
fn far_side(pair: &mut Pair) -> Netns {
    let far = Netns::new();
    far.exec(&["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"]).expect("sysctl");
    let (r, p, q) = (pair.router.name(), pair.peer.name(), far.name());
    let steps: &[&[&str]] = &[
        &["-n", r, "link", "add", "v7r", "type", "veth", "peer", "name", "v7q", "netns", q],
        &["-n", r, "addr", "add", "2001:db8:7::1/64", "dev", "v7r", "nodad"],
        &["-n", q, "addr", "add", "2001:db8:7::2/64", "dev", "v7q", "nodad"],
        &["-n", r, "link", "set", "v7r", "up"],
        &["-n", q, "link", "set", "v7q", "up"],
        &["-n", p, "-6", "route", "add", "2001:db8:7::/64", "via", "2001:db8:6::1"],
        &["-n", q, "-6", "route", "add", "2001:db8:6::/64", "via", "2001:db8:7::1"],
    ];
    for args in steps {
        netns::run("ip", args).unwrap_or_else(|e| panic!("{e}"));
    }
    pair.router.exec(&["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]).expect("forwarding");
    let server = Command::new("ip")
        .args(["netns", "exec", far.name(), "python3", "-c", SERVER, "8080"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("server");
    pair.servers.push(server);
    far
}

#[test]
fn ipv6_drop_drops_what_the_router_forwards() {
    if !netns::require_root() {
        return;
    }
    for backend in backends() {
        let files = Files::new();
        let mut pair = Pair::new();
        let far = far_side(&mut pair);
        let forwards = |pair: &Pair| {
            (0..10).any(|_| {
                std::thread::sleep(std::time::Duration::from_millis(100));
                pair.connects(&pair.peer, "2001:db8:7::2")
            })
        };
        assert!(forwards(&pair), "{backend}: forwarding without a table");
        let o = files.ofw(&pair.router, "apply", "drop", &["--backend", backend]);
        assert_eq!(code(&o), 0, "{backend}: {}", text(&o));
        assert!(!pair.connects(&pair.peer, "2001:db8:7::2"), "{backend}: forwarded");
        assert!(!pair.connects(&far, PEER_ADDR), "{backend}: forwarded back");
        assert!(pair.connects(&pair.router, "2001:db8:7::2"), "{backend}: the router's own");
        let o = files.ofw(&pair.router, "apply", "off", &["--backend", backend]);
        assert_eq!(code(&o), 0, "{backend}: {}", text(&o));
        assert!(forwards(&pair), "{backend}: forwarding again once switched off");
    }
}

#[test]
fn ipv6_drop_under_confirm_is_undone_with_the_ip_table() {
    if !netns::require_root() {
        return;
    }
    for backend in backends() {
        let files = Files::new();
        let ns = Netns::new();
        let b = ["--backend", backend];
        // Unconfirmed, the ip6 table made goes again.
        let o = files.ofw(&ns, "apply", "drop", &["--backend", backend, "--confirm", "1"]);
        assert_eq!(code(&o), 1, "{backend}: {}", text(&o));
        assert!(tables(&ns).is_empty(), "{backend}: {:?}", tables(&ns));
        // Unconfirmed, the ip6 table deleted comes back as it was.
        let o = files.ofw(&ns, "apply", "drop", &b);
        assert_eq!(code(&o), 0, "{backend}: {}", text(&o));
        let before = ns.list_table_json("ip6", "overlayfw");
        let o = files.ofw(&ns, "apply", "off", &["--backend", backend, "--confirm", "1"]);
        assert_eq!(code(&o), 1, "{backend}: {}", text(&o));
        assert_eq!(tables(&ns), ["ip overlayfw", "ip6 overlayfw"], "{backend}");
        assert_eq!(
            netns::rule_counts(&ns.list_table_json("ip6", "overlayfw"), "ip6", "overlayfw"),
            netns::rule_counts(&before, "ip6", "overlayfw"),
            "{backend}"
        );
        let o = files.ofw(&ns, "diff", "drop", &b);
        assert_eq!(code(&o), 0, "{backend}: {}", text(&o));
    }
}

#[test]
fn an_ip6_table_overlayfw_did_not_make_is_left_alone() {
    if !netns::require_root() {
        return;
    }
    for backend in backends() {
        let files = Files::new();
        let ns = Netns::new();
        let b = ["--backend", backend];
        ns.nft_load("table ip6 overlayfw {\n\tchain c {\n\t}\n}\n").expect("foreign table");
        // Without the setting it is not ours to delete, nor a difference.
        let o = files.ofw(&ns, "apply", "off", &b);
        assert_eq!(code(&o), 0, "{backend}: {}", text(&o));
        assert_eq!(tables(&ns), ["ip overlayfw", "ip6 overlayfw"], "{backend}");
        let o = files.ofw(&ns, "diff", "off", &b);
        assert_eq!(code(&o), 0, "{backend}: {}", text(&o));
        // With it, replacing it is refused (nothing changes) unless forced.
        let o = files.ofw(&ns, "apply", "drop", &b);
        assert_eq!(code(&o), 2, "{backend}: {}", text(&o));
        assert!(
            text(&o).contains("table ip6 overlayfw was not made by overlayfw (it has no comment)"),
            "{backend}: {}",
            text(&o)
        );
        let listing = ns.list_table_json("ip6", "overlayfw");
        assert_eq!(netns::objects(&listing, "chain").count(), 1, "{backend}: untouched");
        let o = files.ofw(&ns, "apply", "drop", &["--backend", backend, "--force"]);
        assert_eq!(code(&o), 0, "{backend}: {}", text(&o));
        let o = files.ofw(&ns, "diff", "drop", &b);
        assert_eq!(code(&o), 0, "{backend}: {}", text(&o));
    }
}

#[test]
fn check_help_says_rules_are_ipv4_and_names_ipv6_drop() {
    let o = Command::new(env!("CARGO_BIN_EXE_overlayfw"))
        .args(["check", "--help"])
        .output()
        .expect("run overlayfw");
    assert_eq!(code(&o), 0, "{}", text(&o));
    let help = text(&o);
    assert!(help.contains("Rules are IPv4 (`table ip`)"), "{help}");
    assert!(help.contains("`ipv6: drop` in the inventory"), "{help}");
}
