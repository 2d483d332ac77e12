//! The shipped systemd unit (`packaging/overlayfw.service`): it verifies clean with
//! `systemd-analyze`, and its ExecStart, run in a namespace whose ruleset was flushed (a boot),
//! brings back exactly the applied table, while a corrupt file fails and changes nothing.

use std::path::Path;
use std::process::Command;

use crate::netns::{self, Netns};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn unit() -> String {
    std::fs::read_to_string(root().join("packaging/overlayfw.service")).expect("the unit")
}

/// The values of `key=` lines in the unit, in order.
fn values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .map(str::to_owned)
        .collect()
}

const PERSISTED: &str = "/var/lib/overlayfw/overlayfw.nft";

#[test]
fn the_unit_loads_before_the_network_after_nftables_and_never_flushes() {
    let u = unit();
    let words = |key| values(&u, key).join(" ");
    assert!(words("Before").split(' ').any(|w| w == "network-pre.target"), "{u}");
    assert!(words("Wants").split(' ').any(|w| w == "network-pre.target"), "{u}");
    assert!(words("After").split(' ').any(|w| w == "nftables.service"), "{u}");
    assert_eq!(values(&u, "ExecStart"), [format!("/usr/sbin/nft -f {PERSISTED}")]);
    assert!(values(&u, "ExecStop").is_empty(), "stopping the unit must not take the table down");
    assert!(values(&u, "ExecReload").is_empty());
    let settings = u.lines().filter(|l| !l.starts_with('#'));
    assert!(!settings.clone().any(|l| l.contains("flush")), "the unit must never flush: {u}");
}

#[test]
fn systemd_analyze_verify_is_clean() {
    if !crate::slow_tier("systemd-analyze verify") {
        return;
    }
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    if !analyze.is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "systemd-analyze is missing under CI=true"
        );
        eprintln!("skipping: systemd-analyze is not installed");
        return;
    }
    // Documentation=man:overlayfw(1) is checked against the page the binary writes.
    let dir = tempfile::tempdir().expect("tempdir");
    let man1 = dir.path().join("man1");
    std::fs::create_dir_all(&man1).expect("man1");
    let page = Command::new(env!("CARGO_BIN_EXE_overlayfw")).arg("man").output().expect("man");
    assert!(page.status.success());
    std::fs::write(man1.join("overlayfw.1"), page.stdout).expect("write the page");
    let out = Command::new("systemd-analyze")
        .args(["verify", root().join("packaging/overlayfw.service").to_str().expect("path")])
        .env("MANPATH", dir.path())
        .output()
        .expect("systemd-analyze");
    let said =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "systemd-analyze verify: {said}");
}

/// Runs the unit's ExecStart in the namespace with the persisted file's path replaced by `file`.
fn exec_start(ns: &Netns, file: &Path) -> Result<String, String> {
    let cmd = values(&unit(), "ExecStart").pop().expect("ExecStart");
    let cmd = cmd.replace(PERSISTED, file.to_str().expect("path"));
    let args: Vec<&str> = cmd.split_whitespace().collect();
    ns.exec(&args)
}

#[test]
fn a_boot_brings_back_the_applied_table_and_a_corrupt_file_changes_nothing() {
    if !netns::require_root() {
        return;
    }
    let ns = Netns::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = root().join("examples/nids-demo/nids.rules");
    let inventory = root().join("examples/nids-demo/topology.yaml");
    let persisted = dir.path().join("overlayfw.nft");
    let ofw = |args: &[&str]| {
        Command::new("ip")
            .args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_overlayfw")])
            .args(args)
            .env("OVERLAYFW_STATE_DIR", dir.path().join("state"))
            .output()
            .expect("run overlayfw")
    };
    let (r, i, p) = (
        rules.to_str().expect("path"),
        inventory.to_str().expect("path"),
        persisted.to_str().expect("path"),
    );
    let o = ofw(&["compile", r, "--inventory", i, "-o", p]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A boot: nothing in the kernel (nftables.service's own file flushed it), then the unit.
    ns.exec(&["nft", "flush", "ruleset"]).expect("flush");
    ns.nft_load("table ip other {\n\tchain c {\n\t\ttype filter hook input priority 0;\n\t}\n}\n")
        .expect("a table of someone else's");
    exec_start(&ns, &persisted).expect("the unit's ExecStart");
    let o = ofw(&["diff", r, "--inventory", i]);
    assert_eq!(o.status.code(), Some(0), "diff after boot: {}", String::from_utf8_lossy(&o.stdout));

    // A corrupt file (cut in the middle) fails loudly and touches no table.
    let before = ns.exec(&["nft", "list", "ruleset"]).expect("listing");
    let text = std::fs::read_to_string(&persisted).expect("persisted");
    std::fs::write(&persisted, &text[..text.len() / 2]).expect("corrupt it");
    assert!(exec_start(&ns, &persisted).is_err(), "a corrupt file must fail the unit");
    assert_eq!(ns.exec(&["nft", "list", "ruleset"]).expect("listing"), before);
}
