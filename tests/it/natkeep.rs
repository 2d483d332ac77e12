//! An established NATed connection survives an apply that removes the last NAT line: the kernel
//! translates an existing connection's packets on a hook only while some nat chain is
//! registered there, so overlayfw keeps an (empty) nat base chain on every NAT hook.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::netns::{self, Netns};

/// A bare namespace (no links but `lo`), deleted on drop.
struct Bare(String);

impl Bare {
    fn new(tag: &str) -> Bare {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "ofw-nat-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        netns::run("ip", &["netns", "add", &name]).unwrap_or_else(|e| panic!("{e}"));
        let ns = Bare(name);
        netns::run("ip", &["-n", &ns.0, "link", "set", "lo", "up"]).expect("lo up");
        ns
    }
}

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = netns::run("ip", &["netns", "del", &self.0]);
    }
}

fn ip(args: &[&str]) {
    netns::run("ip", args).unwrap_or_else(|e| panic!("{e}"));
}

fn apply(router: &Netns, rules: &str, dir: &std::path::Path) -> std::process::Output {
    let file = dir.join("rules");
    std::fs::write(&file, rules).expect("write rules");
    Command::new("ip")
        .args(["netns", "exec", router.name(), env!("CARGO_BIN_EXE_overlayfw"), "apply"])
        .arg(&file)
        .env("OVERLAYFW_STATE_DIR", dir.join("state"))
        .stdin(Stdio::null())
        .output()
        .expect("run overlayfw apply")
}

/// The client's side of one TCP connection through the router's port forward: it sends a line,
/// prints the echo, then waits for a line on its standard input before sending the next one.
const CLIENT: &str = r#"
import socket, sys
s = socket.create_connection(("10.0.1.120", 2222), timeout=5)
for word in ("before", "after"):
    if word == "after":
        sys.stdin.readline()
    try:
        s.sendall(word.encode() + b"\n")
        reply = s.recv(100).decode().strip()
        print(reply or "closed", flush=True)
    except OSError as e:
        print("error " + type(e).__name__, flush=True)
"#;

const SERVER: &str = r#"
import socket
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("198.51.100.2", 22))
l.listen(1)
print("listening", flush=True)
c, _ = l.accept()
while True:
    data = c.recv(100)
    if not data:
        break
    c.sendall(b"echo " + data)
"#;

#[test]
fn an_established_dnat_connection_survives_removing_the_last_nat_line() {
    if !netns::require_root() {
        return;
    }
    // The router is shaped like a VNS3 manager; its eth0 peer goes to a client namespace and a
    // new veth on the plugin0 bridge to a server (the "container" at 198.51.100.2).
    let router = Netns::new();
    let client = Bare::new("client");
    let server = Bare::new("server");
    let r = router.name();
    ip(&["-n", r, "link", "set", "eth0p", "netns", &client.0]);
    ip(&["-n", &client.0, "addr", "add", "10.0.1.50/24", "dev", "eth0p"]);
    ip(&["-n", &client.0, "link", "set", "eth0p", "up"]);
    ip(&["-n", r, "link", "add", "srv0", "type", "veth", "peer", "name", "srvp"]);
    ip(&["-n", r, "link", "set", "srv0", "master", "plugin0", "up"]);
    ip(&["-n", r, "link", "set", "srvp", "netns", &server.0]);
    ip(&["-n", &server.0, "addr", "add", "198.51.100.2/28", "dev", "srvp"]);
    ip(&["-n", &server.0, "link", "set", "srvp", "up"]);
    ip(&["-n", &server.0, "route", "add", "default", "via", "198.51.100.1"]);
    // The host's own rules keep connection tracking on, as VNS3's do on a real manager.
    router
        .nft_load(
            "table ip host {\n\tchain f {\n\t\ttype filter hook forward priority 10; policy \
             accept;\n\t\tct state established accept\n\t}\n}\n",
        )
        .expect("host table");

    let dir = tempfile::tempdir().expect("tempdir");
    let o = apply(
        &router,
        "PREROUTING_CUST -i eth0 -p tcp --dport 2222 -j DNAT --to 198.51.100.2:22\n",
        dir.path(),
    );
    assert!(o.status.success(), "first apply: {}", String::from_utf8_lossy(&o.stderr));

    let mut srv = Command::new("ip")
        .args(["netns", "exec", &server.0, "python3", "-c", SERVER])
        .stdout(Stdio::piped())
        .spawn()
        .expect("server");
    let mut ready = String::new();
    BufReader::new(srv.stdout.as_mut().expect("piped")).read_line(&mut ready).expect("ready");
    assert_eq!(ready.trim(), "listening");
    let mut cli = Command::new("ip")
        .args(["netns", "exec", &client.0, "python3", "-c", CLIENT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("client");
    let mut out = BufReader::new(cli.stdout.take().expect("piped"));
    let mut line = String::new();
    out.read_line(&mut line).expect("first reply");
    assert_eq!(line.trim(), "echo before", "the port forward does not work at all");

    // The new policy has no NAT line left.
    let o = apply(&router, "FORWARD_CUST -p udp --dport 9 -j DROP\n", dir.path());
    assert!(o.status.success(), "second apply: {}", String::from_utf8_lossy(&o.stderr));
    let listing = router.exec(&["nft", "list", "table", "ip", "overlayfw"]).expect("listing");
    assert!(!listing.contains("dnat"), "{listing}");

    cli.stdin.as_mut().expect("piped").write_all(b"go\n").expect("tell the client");
    line.clear();
    out.read_line(&mut line).expect("second reply");
    let _ = cli.wait();
    let _ = srv.kill();
    let _ = srv.wait();
    assert_eq!(line.trim(), "echo after", "the established connection broke: {listing}");
}
