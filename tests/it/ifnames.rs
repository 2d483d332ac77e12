//! Interface names with `*` in the kernel: iptables reads `-o *` as the interface named `*`
//! (only a last `+` is its wildcard), and nft's `oifname "*"` would be every interface; the
//! compiled rule (`oifname "\*"`) counts only what leaves through `*`.

use overlayfw::diagnostic::Sources;
use overlayfw::pipeline::{self, Text};

use crate::netns::{self, Netns};

/// One datagram out of `*` (10.77.0.0/24) and one out of `eth0` (the default route).
const SEND: &str = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for dst in ("10.77.0.2", "10.9.9.9"):
    s.sendto(b"x", (dst, 9))
"#;

#[test]
fn an_interface_named_star_is_matched_literally() {
    if !netns::require_root() {
        return;
    }
    let ns = Netns::new();
    for cmd in [
        &["ip", "link", "add", "*", "type", "veth", "peer", "name", "starp"][..],
        &["ip", "link", "set", "*", "up"],
        &["ip", "link", "set", "starp", "up"],
        &["ip", "addr", "add", "10.77.0.1/24", "dev", "*"],
        &["ip", "neigh", "add", "10.77.0.2", "lladdr", "02:00:00:00:00:02", "dev", "*"],
        &["ip", "neigh", "add", "10.0.1.1", "lladdr", "02:00:00:00:00:01", "dev", "eth0"],
    ] {
        ns.exec(cmd).unwrap_or_else(|e| panic!("{e}"));
    }
    let rules = "OUTPUT_CUST -p udp -o * -j ACCEPT\nOUTPUT_CUST -p udp -o eth+ -j ACCEPT\n";
    let inventory = "interfaces:\n  public: eth0\n  star: \"*\"\n";
    let mut sources = Sources::new();
    let compiled = pipeline::compile(
        &mut sources,
        vec![Text { name: "star.rules".into(), bytes: rules.into() }],
        Some(Text { name: "star.yaml".into(), bytes: inventory.into() }),
        "overlayfw",
    );
    assert!(compiled.diagnostics.is_empty(), "{:?}", compiled.diagnostics);
    let rs = compiled.ruleset.expect("compiles");
    let script = overlayfw::emit::nft_script(&rs);
    assert!(script.contains(r#"oifname "\*""#), "{script}");
    ns.nft_load(&script).unwrap_or_else(|e| panic!("{e}"));
    ns.exec(&["python3", "-c", SEND]).unwrap_or_else(|e| panic!("{e}"));
    let listing = ns.list_table_json("ip", "overlayfw");
    assert_eq!(netns::packets_at(&listing, &rs, "star.rules", 1), Some(1), "only out of `*`");
    assert_eq!(netns::packets_at(&listing, &rs, "star.rules", 2), Some(1), "the other, eth0");
}
