//! What we print, the kernel takes: every example and every ok case, compiled, loads with the
//! real `nft -f` into a throw-away namespace, and the seed scene lands where VNS3.md says.

use std::path::{Path, PathBuf};

use overlayfw::diagnostic::Sources;
use overlayfw::pipeline::{self, Text};

use crate::netns::{self, Netns};

/// Compiles a rules file with `NAME.yaml` or `topology.yaml` beside it, if any.
pub fn compile_ruleset(path: &Path) -> overlayfw::ir::Ruleset {
    let inv = [path.with_extension("yaml"), path.with_file_name("topology.yaml")]
        .into_iter()
        .find(|p| p.exists())
        .map(|p| Text {
            name: p.display().to_string(),
            bytes: std::fs::read(&p).expect("inventory"),
        });
    let text =
        Text { name: path.display().to_string(), bytes: std::fs::read(path).expect("rules") };
    let mut sources = Sources::new();
    let compiled = pipeline::compile(&mut sources, vec![text], inv, "overlayfw");
    compiled.ruleset.unwrap_or_else(|| panic!("{} does not compile", path.display()))
}

fn compile(path: &Path) -> String {
    overlayfw::emit::nft_script(&compile_ruleset(path))
}

/// The `*.rules` files in `dir` (and `depth` levels below) that this kernel can load
/// ([`netns::loadable`]), sorted. For kernel tests: call after `require_root`.
pub fn rules_files(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let mut out = all_rules_files(dir, depth);
    out.retain(|p| netns::loadable(p));
    out
}

/// The `*.rules` files in `dir` (and `depth` levels below), sorted.
fn all_rules_files(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read dir") {
        let p = e.expect("entry").path();
        if p.is_dir() && depth > 0 {
            out.extend(all_rules_files(&p, depth - 1));
        } else if p.extension().is_some_and(|x| x == "rules") {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn every_example_and_ok_case_loads_into_the_kernel() {
    if !netns::require_root() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = rules_files(&root.join("examples"), 1);
    files.extend(rules_files(&root.join("tests/cases/ok"), 0));
    assert!(files.len() >= 10, "found only {files:?}");
    let ns = Netns::new();
    let mut failures = Vec::new();
    for f in &files {
        let script = compile(f);
        // Each load replaces the table of the one before: the idiom must work either way.
        if let Err(e) = ns.nft_load(&script) {
            failures.push(format!("{}: {e}", f.display()));
            continue;
        }
        let listing = ns.list_table_json("ip", "overlayfw");
        let listed: usize = netns::rule_counts(&listing, "ip", "overlayfw").values().sum();
        // The `ip6` table of `ipv6: drop` follows the `ip` table: counted on its own.
        let (script, ip6) = match script.split_once("\ntable ip6 ") {
            Some((ip, ip6)) => (ip, Some(ip6)),
            None => (script.as_str(), None),
        };
        if let Some(ip6) = ip6 {
            let listing6 = ns.list_table_json("ip6", "overlayfw");
            let listed6: usize = netns::rule_counts(&listing6, "ip6", "overlayfw").values().sum();
            let printed6 = ip6.lines().filter(|l| l.contains(" accept comment \"")).count();
            if (listed6, printed6) != (overlayfw::ip6::RULES.len(), overlayfw::ip6::RULES.len()) {
                failures
                    .push(format!("{}: ip6: {listed6} listed, {printed6} printed", f.display()));
            }
        }
        let printed = script
            .lines()
            .filter(|l| l.contains(" comment \"") && !l.trim_start().starts_with("comment"))
            .count();
        let jumps = script.lines().filter(|l| l.trim_start().starts_with("jump ")).count();
        if listed != printed + jumps {
            failures.push(format!(
                "{}: {listed} rules listed, {printed} + {jumps} printed",
                f.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Finds the base chain (type, hook) whose regular chains hold a rule with `statement`.
fn hook_of(listing: &serde_json::Value, statement: &str) -> Vec<(String, String)> {
    let chains: Vec<&serde_json::Value> = netns::objects(listing, "chain").collect();
    let rules: Vec<&serde_json::Value> = netns::objects(listing, "rule").collect();
    let holds = |chain: &str| {
        rules.iter().any(|r| {
            r["chain"] == chain
                && r["expr"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|x| x.get(statement).is_some()))
        })
    };
    let mut found = Vec::new();
    for base in chains.iter().filter(|c| c.get("hook").is_some()) {
        let name = base["name"].as_str().expect("name");
        let jumps_to: Vec<String> = rules
            .iter()
            .filter(|r| r["chain"] == name)
            .flat_map(|r| r["expr"].as_array().into_iter().flatten())
            .filter_map(|x| x.get("jump")?.get("target")?.as_str().map(str::to_owned))
            .collect();
        if holds(name) || jumps_to.iter().any(|t| holds(t)) {
            found.push((
                base["type"].as_str().expect("type").to_owned(),
                base["hook"].as_str().expect("hook").to_owned(),
            ));
        }
    }
    found.sort();
    found
}

#[test]
fn the_seed_scene_lands_in_the_right_hooks() {
    if !netns::require_root() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in ["examples/blog/blog.rules", "examples/nids-demo/nids.rules"] {
        let ns = Netns::new();
        ns.nft_load(&compile(&root.join(f))).unwrap_or_else(|e| panic!("{f}: {e}"));
        let listing = ns.list_table_json("ip", "overlayfw");
        let pair = |t: &str, h: &str| (t.to_owned(), h.to_owned());
        assert_eq!(
            hook_of(&listing, "dup"),
            vec![pair("filter", "postrouting"), pair("filter", "prerouting")],
            "{f}"
        );
        assert_eq!(hook_of(&listing, "dnat"), vec![pair("nat", "prerouting")], "{f}");
        assert_eq!(hook_of(&listing, "masquerade"), vec![pair("nat", "postrouting")], "{f}");
    }
}
