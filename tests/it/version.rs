//! Which version of the rules is live: the table's version chain (`version_HASH[_optimized]`),
//! kept true by every apply, in place or not, through both backends.

use std::process::Output;

use crate::netns::{self, Netns, require_root};

const TABLE: &str = "overlayfw";

fn ok(out: &Output) -> String {
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    text
}

/// The live table's version chains (there must be one) and its comment line.
fn live_version(ns: &Netns) -> String {
    let listing = ns.list_table_json("ip", TABLE);
    let versions: Vec<String> = netns::objects(&listing, "chain")
        .filter_map(|c| c["name"].as_str())
        .filter(|n| n.starts_with("version_"))
        .map(str::to_string)
        .collect();
    assert_eq!(versions.len(), 1, "{versions:?}");
    let text = ns.exec(&["nft", "list", "table", "ip", TABLE]).expect("list");
    assert_eq!(text.lines().nth(1).map(str::trim), Some("comment \"overlayfw\""), "{text}");
    versions[0].clone()
}

#[test]
fn the_version_chain_says_which_rules_are_live_through_every_apply() {
    if !require_root() {
        return;
    }
    let backends: &[&str] = if cfg!(feature = "netlink") { &["nft", "netlink"] } else { &["nft"] };
    for backend in backends {
        let ns = Netns::new();
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        let v1 =
            "FORWARD_CUST -p tcp --dport 22 -j ACCEPT\nINPUT_CUST -p udp --dport 53 -j ACCEPT\n";
        std::fs::write(dir.path().join("edit.rules"), v1).expect("write");
        let apply = |path: &str, extra: &[&str]| {
            let mut args = vec!["apply", "--backend", backend, path];
            args.extend_from_slice(extra);
            ok(&netns::overlayfw_in(&ns, dir.path(), &args))
        };
        let diff = |path: &str, extra: &[&str]| {
            let mut args = vec!["diff", "--backend", backend, path];
            args.extend_from_slice(extra);
            netns::overlayfw_in(&ns, dir.path(), &args)
        };
        apply("edit.rules", &[]);
        let first = live_version(&ns);
        // The same bytes read through another path are the same version (the rules' comments
        // name the file as typed, so they change).
        apply("./sub/../edit.rules", &[]);
        assert_eq!(live_version(&ns), first, "{backend}");
        apply("edit.rules", &[]);
        // A comment added: the same rules, another version; diff says just that, and the
        // in-place apply changes the version chain alone.
        std::fs::write(dir.path().join("edit.rules"), format!("# reviewed\n{v1}")).expect("write");
        let d = diff("edit.rules", &[]);
        let shown = String::from_utf8_lossy(&d.stdout).into_owned();
        assert_eq!(d.status.code(), Some(1), "{shown}");
        assert!(shown.contains("only the version differs"), "{backend}: {shown}");
        assert!(shown.contains(&format!("~ {}  ->  ", &first["version_".len()..])), "{shown}");
        let said = apply("edit.rules", &[]);
        assert!(!said.contains("replaced whole"), "{backend}: {said}");
        let second = live_version(&ns);
        assert_ne!(second, first);
        // Said as the version, not as a chain added and one deleted.
        assert!(said.contains(&format!("now {second}")), "{backend}: {said}");
        assert!(said.contains("0 chains added, 0 deleted"), "{backend}: {said}");
        assert!(diff("edit.rules", &[]).status.success());
        // The optimized form says so.
        apply("edit.rules", &["--optimize"]);
        assert_eq!(live_version(&ns), format!("{second}_optimized"), "{backend}");
        assert!(diff("edit.rules", &["--optimize"]).status.success());
        assert_eq!(diff("edit.rules", &[]).status.code(), Some(1));
    }
}
