//! The incremental apply through nft (`apply --backend nft` without `--replace`): only chains
//! and sets that differ are rewritten, counters are carried, and the table lists exactly as a
//! fresh replace of the same files, whatever was done to it meanwhile.

use std::path::Path;

use overlayfw::diagnostic::Sources;
use overlayfw::ir::Ruleset;
use overlayfw::pipeline::{self, Text};
use serde_json::Value;

use crate::edits::{
    INVENTORY, Lcg, canonical, random_edits, random_inventory, random_line, rules_text,
};
use crate::netns::{self, Netns, require_root};

const TABLE: &str = "overlayfw";

fn compile(text: &str, inventory: &str) -> Ruleset {
    let mut sources = Sources::new();
    let file = Text { name: "edit.rules".into(), bytes: text.as_bytes().to_vec() };
    let inv = Text { name: "inv.yaml".into(), bytes: inventory.as_bytes().to_vec() };
    let compiled = pipeline::compile(&mut sources, vec![file], Some(inv), TABLE);
    compiled.ruleset.unwrap_or_else(|| panic!("{:?}\n{text}", compiled.diagnostics))
}

/// What a fresh replace of `rs` lists (loaded by nft in a namespace of its own).
fn fresh(rs: &Ruleset) -> Value {
    let ns = Netns::new();
    ns.nft_load(&overlayfw::emit::nft_script(rs)).unwrap_or_else(|e| panic!("{e}"));
    canonical(&ns)
}

/// Writes the files and runs `overlayfw apply --backend nft` on them inside the namespace;
/// its message (standard error).
fn apply(ns: &Netns, dir: &Path, text: &str, inventory: &str) -> String {
    std::fs::write(dir.join("edit.rules"), text).expect("rules");
    std::fs::write(dir.join("inv.yaml"), inventory).expect("inventory");
    let out = netns::overlayfw_in(
        ns,
        dir,
        &["apply", "--backend", "nft", "--inventory", "inv.yaml", "edit.rules"],
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "apply failed: {err}");
    let diff = netns::overlayfw_in(
        ns,
        dir,
        &["diff", "--backend", "nft", "--inventory", "inv.yaml", "edit.rules"],
    );
    assert_eq!(diff.status.code(), Some(0), "{}", String::from_utf8_lossy(&diff.stdout));
    err
}

/// Each chain's rule handles, by chain.
fn handles(ns: &Netns) -> std::collections::BTreeMap<String, Vec<u64>> {
    let v = ns.list_table_json("ip", TABLE);
    let mut out = std::collections::BTreeMap::<String, Vec<u64>>::new();
    for r in netns::objects(&v, "rule") {
        let chain = r["chain"].as_str().unwrap_or("").to_string();
        out.entry(chain).or_default().push(r["handle"].as_u64().unwrap_or(0));
    }
    out
}

#[test]
fn an_nft_apply_rewrites_only_what_differs_and_keeps_counters() {
    if !require_root() {
        return;
    }
    let ns = Netns::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut lines = vec![
        "OUTPUT_CUST -p udp --dport 5001 -j ACCEPT".to_string(),
        "OUTPUT_CUST -p udp --dport 5002 -j ACCEPT".to_string(),
        "FORWARD_CUST -s blocked -j DROP".to_string(),
        "FORWARD_CUST -i tun0 -j FWD_C_a".to_string(),
        "FWD_C_a -p tcp --dport 443 -j ACCEPT".to_string(),
        "PREROUTING_CUST -i eth0 -p tcp --dport 2222 -j DNAT --to 198.51.100.2:22".to_string(),
    ];
    let said = apply(&ns, dir.path(), &rules_text(&lines), INVENTORY);
    assert!(said.contains("replaced whole"), "{said}");
    let said = apply(&ns, dir.path(), &rules_text(&lines), INVENTORY);
    assert!(said.contains("nothing to change"), "{said}");
    let script = "for i in 1 2 3; do echo x > /dev/udp/10.0.1.5/5001; done";
    ns.exec(&["bash", "-c", script]).expect("send");
    let before = handles(&ns);

    // One line of OUTPUT_CUST changed: that chain is rewritten (its other rule keeps its
    // count), every other chain keeps its rules' handles.
    lines[1] = "OUTPUT_CUST -p udp --dport 5003 -j ACCEPT".to_string();
    let said = apply(&ns, dir.path(), &rules_text(&lines), INVENTORY);
    assert!(said.contains("1 rules added, 1 deleted"), "{said}");
    let rs = compile(&rules_text(&lines), INVENTORY);
    assert_eq!(canonical(&ns), fresh(&rs));
    let listing = ns.list_table_json("ip", TABLE);
    assert_eq!(netns::packets_at(&listing, &rs, "edit.rules", 1), Some(3), "counter carried");
    let after = handles(&ns);
    for (chain, hs) in &before {
        if chain != "OUTPUT_CUST" {
            assert_eq!(after.get(chain), Some(hs), "{chain} untouched");
        }
    }

    // Someone else's rule, chain and set in our table; a changed FWset; a subgroup gone.
    let t = TABLE;
    ns.exec(&["nft", "insert", "rule", "ip", t, "FORWARD_CUST", "counter", "accept"])
        .expect("insert");
    ns.exec(&["nft", "add", "chain", "ip", t, "stray"]).expect("chain");
    ns.exec(&["nft", "add", "rule", "ip", t, "stray", "counter"]).expect("rule");
    ns.exec(&["nft", "add", "set", "ip", t, "stray_set", "{ type ipv4_addr; }"]).expect("set");
    let inv2 = INVENTORY.replace("198.51.100.7]", "198.51.100.7, 203.0.113.0/24]");
    lines.retain(|l| !l.contains("FWD_C_a"));
    let said = apply(&ns, dir.path(), &rules_text(&lines), &inv2);
    assert!(!said.contains("replaced whole"), "{said}");
    assert_eq!(canonical(&ns), fresh(&compile(&rules_text(&lines), &inv2)));
    let listing = ns.list_table_json("ip", TABLE);
    let rs = compile(&rules_text(&lines), &inv2);
    assert_eq!(netns::packets_at(&listing, &rs, "edit.rules", 1), Some(3), "still counted");

    // A chain whose name nft cannot be given in a script: the table is replaced whole.
    let odd = r#"{"nftables": [{"add": {"chain": {"family": "ip", "table": "overlayfw", "name": "odd name"}}}]}"#;
    ns.nft_load_json(odd).expect("odd chain");
    let said = apply(&ns, dir.path(), &rules_text(&lines), &inv2);
    assert!(said.contains("replaced whole"), "{said}");
    assert_eq!(canonical(&ns), fresh(&rs));
}

#[test]
fn random_edit_sequences_through_nft_end_as_a_fresh_replace() {
    if !require_root() {
        return;
    }
    let ns = Netns::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut g = Lcg(0x51_7e_22_90);
    let mut lines: Vec<String> = (0..40).map(|_| random_line(&mut g)).collect();
    let mut inventory = random_inventory(&mut g);
    let mut rewrites = 0;
    for step in 0..20 {
        random_edits(&mut g, &mut lines, &mut inventory, 4);
        match g.below(5) {
            0 => {
                let _ = ns.exec(&["nft", "insert", "rule", "ip", TABLE, "FORWARD_CUST", "drop"]);
            }
            1 => {
                let _ = ns.exec(&["nft", "flush", "chain", "ip", TABLE, "INPUT_CUST"]);
            }
            2 => {
                let _ = ns.exec(&["nft", "add", "table", "inet", &format!("other{step}")]);
            }
            _ => {}
        }
        let text = rules_text(&lines);
        let said = apply(&ns, dir.path(), &text, &inventory);
        rewrites += usize::from(!said.contains("replaced whole"));
        let rs = compile(&text, &inventory);
        assert_eq!(canonical(&ns), fresh(&rs), "step {step}: {said}\n{text}");
    }
    assert!(rewrites >= 15, "changed in place in {rewrites} of 20 steps");
}

#[test]
fn applying_the_same_ruleset_again_through_nft_changes_nothing_for_every_case() {
    if !require_root() {
        return;
    }
    // Every rule must compare equal to nft's listing of it, or the second apply would rewrite.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = crate::load::rules_files(&root.join("examples"), 1);
    files.extend(crate::load::rules_files(&root.join("tests/cases/ok"), 0));
    let ns = Netns::new();
    let mut failures = Vec::new();
    for f in files {
        let rs = crate::load::compile_ruleset(&f);
        let mut optimized = rs.clone();
        overlayfw::optimize::optimize(&mut optimized);
        for (name, rs) in
            [(f.display().to_string(), rs), (format!("{} --optimize", f.display()), optimized)]
        {
            ns.nft_load(&overlayfw::emit::nft_script(&rs))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let c = netns::in_netns(&ns, || overlayfw::live::refill::apply(&rs))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            if !c.as_ref().is_ok_and(|c| c.nothing()) {
                failures.push(format!("{name}: {c:?}"));
            }
        }
    }
    ns.exec(&["nft", "delete", "table", "ip", TABLE]).expect("delete table");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_change_between_plan_and_commit_through_nft_is_seen_and_undone() {
    if !require_root() {
        return;
    }
    let ns = Netns::new();
    let v1 = compile(
        "INPUT_CUST -p tcp --dport 22 -j ACCEPT\nFORWARD_CUST -p udp --dport 53 -j ACCEPT\n",
        INVENTORY,
    );
    ns.nft_load(&overlayfw::emit::nft_script(&v1)).unwrap_or_else(|e| panic!("{e}"));
    let v2 = compile(
        "INPUT_CUST -p tcp --dport 22 -j ACCEPT\nFORWARD_CUST -p udp --dport 54 -j ACCEPT\n",
        INVENTORY,
    );
    // Another process changes a chain the plan leaves alone, in the moment before nft
    // commits (nft sends no generation, so the kernel cannot refuse the stale plan): the
    // monitor sees it, and a second round reads the table again and undoes it.
    for meddling in [
        vec!["insert", "rule", "ip", TABLE, "INPUT_CUST", "counter", "drop"],
        vec!["add", "table", "inet", "elsewhere"],
    ] {
        ns.nft_load(&overlayfw::emit::nft_script(&v1)).unwrap_or_else(|e| panic!("{e}"));
        let mut calls = 0;
        let c = netns::in_netns(&ns, || {
            overlayfw::live::refill::apply_observed(&v2, &mut || {
                if calls == 0 {
                    netns::run("nft", &meddling).unwrap_or_else(|e| panic!("{e}"));
                }
                calls += 1;
            })
        })
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|why| panic!("replaced: {why}"));
        assert_eq!(c.replans, 1, "{meddling:?}: {c:?}");
        // The rule in a chain the plan left alone needs a second transaction to go.
        assert!(calls == 2 || meddling[0] == "add", "{meddling:?}: {calls} transactions");
        assert_eq!(canonical(&ns), fresh(&v2), "{meddling:?}");
    }
    ns.exec(&["nft", "list", "table", "inet", "elsewhere"]).expect("the other table is left alone");
}

/// A quota's used bytes are its state, as a counter's values are: a chain rewritten in place
/// (another line of it changed) writes its quota rule again with what the quota had used, so a
/// spent quota stays spent, as a netlink apply leaves it.
#[test]
fn an_nft_apply_keeps_a_spent_quota_in_a_rewritten_chain() {
    if !require_root() {
        return;
    }
    let ns = Netns::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut lines = vec![
        "OUTPUT_CUST -p udp --dport 9100 -m quota ! --quota 87 -j DROP".to_string(),
        "OUTPUT_CUST -p udp --dport 5001 -j ACCEPT".to_string(),
    ];
    let said = apply(&ns, dir.path(), &rules_text(&lines), INVENTORY);
    assert!(said.contains("replaced whole"), "{said}");
    let first = crate::netns::numbered_datagrams(&ns, 3);
    assert_eq!(first.trim(), "0 1 2", "three datagrams fill the quota");

    lines[1] = "OUTPUT_CUST -p udp --dport 5002 -j ACCEPT".to_string();
    let said = apply(&ns, dir.path(), &rules_text(&lines), INVENTORY);
    assert!(said.contains("1 rules added, 1 deleted"), "{said}");
    assert_eq!(canonical(&ns), fresh(&compile(&rules_text(&lines), INVENTORY)));
    let listing = ns.exec(&["nft", "list", "chain", "ip", TABLE, "OUTPUT_CUST"]).expect("list");
    assert!(listing.contains("quota over 87 bytes used 87 bytes"), "{listing}");
    let after = crate::netns::numbered_datagrams(&ns, 3);
    assert_eq!(after.trim(), "", "the rewrite reset the quota");
}
