//! What nft and the kernel refuse, `check` refuses first: FWsets named by an nft keyword (every
//! word of nft 1.0.6's scanner), subgroup names whose chains pass nft's name limit, and jumps
//! nested deeper than the kernel's jump stack. Each limit is shown with the kernel: the last
//! accepted size loads, one more is refused by the kernel and by `check`.

use std::process::Command;

use overlayfw::diagnostic::{Code, Diagnostic, Sources};
use overlayfw::ir::{Action, Chain, Rule, Ruleset};
use overlayfw::pipeline::{self, Text};

use crate::netns::{self, Netns};

fn compile(rules: &str, inventory: Option<&str>) -> (Option<Ruleset>, Vec<Diagnostic>) {
    let mut sources = Sources::new();
    let c = pipeline::compile(
        &mut sources,
        vec![Text { name: "lim.rules".into(), bytes: rules.as_bytes().to_vec() }],
        inventory.map(|i| Text { name: "lim.yaml".into(), bytes: i.as_bytes().to_vec() }),
        "overlayfw",
    );
    let errors = c.diagnostics.into_iter().filter(Diagnostic::is_error).collect();
    (c.ruleset, errors)
}

/// `overlayfw check` of a rules file: exit code and short diagnostics.
fn check(rules: &str) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("ofw-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{}.rules", rules.len()));
    std::fs::write(&path, rules).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_overlayfw"))
        .args(["check", "--format", "short"])
        .arg(&path)
        .output()
        .expect("run overlayfw");
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir(&dir);
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// nft 1.0.6's keywords, as extracted from its scanner (see the file's header), each with
/// whether it is matched only in a start condition.
fn keywords() -> Vec<(&'static str, bool)> {
    let text = include_str!("../data/nft-1.0.6-keywords.txt");
    let words = text.lines().filter(|l| !l.starts_with('#') && !l.is_empty());
    words.map(|l| l.strip_suffix(" scoped").map_or((l, false), |w| (w, true))).collect()
}

#[test]
fn every_nft_keyword_is_refused_as_an_fwset_and_a_table_name() {
    let words = keywords();
    assert_eq!(words.len(), 340);
    for w in ["ipsec", "exthdr", "exists", "missing", "xt", "fwd", "tcp"] {
        assert!(words.contains(&(w, false)), "{w}");
    }
    for &(w, _) in &words {
        assert!(overlayfw::nft::is_nft_keyword(w), "{w}");
        assert!(overlayfw::resolve::check_table_name(w).is_err(), "table {w}");
    }
    // Every keyword an FWset name may spell (no `-`), in one inventory: one E102 each.
    let names: Vec<&str> = words.iter().map(|w| w.0).filter(|w| !w.contains('-')).collect();
    let mut inv = String::from("fwsets:\n");
    for w in &names {
        inv.push_str(&format!("  {w}: [192.0.2.1]\n"));
    }
    let (rs, errors) = compile("INPUT_CUST -j ACCEPT\n", Some(&inv));
    assert!(rs.is_none());
    for w in &names {
        let named =
            errors.iter().any(|d| d.code == Code::E102 && d.message.contains(&format!("`{w}`")));
        assert!(named, "FWset `{w}` was not refused");
    }
    assert_eq!(errors.len(), names.len(), "{errors:?}");
}

/// nft 1.0.6 refuses every keyword its scanner matches in every state as a set name (`ipsec`,
/// `exthdr`, `exists`, `missing`, `xt`, …); it takes the words it matches only after another
/// keyword, which overlayfw refuses all the same.
#[test]
fn nft_refuses_each_unscoped_keyword_as_a_set_name() {
    if !netns::require_root() {
        return;
    }
    let ns = Netns::new();
    for (w, scoped) in keywords() {
        let script = format!("table ip t {{\n\tset {w} {{\n\t\ttype ipv4_addr\n\t}}\n}}\n");
        let out = Command::new("ip")
            .args(["netns", "exec", ns.name(), "nft", "-c", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write as _;
                child.stdin.take().expect("piped").write_all(script.as_bytes())?;
                child.wait()
            })
            .expect("nft");
        assert_eq!(out.success(), scoped, "nft and a set named `{w}`");
    }
}

/// Names next to keywords (and words later nfts match only after another keyword) are fine:
/// they compile, and the sets load.
#[test]
fn near_keyword_fwset_names_load() {
    if !netns::require_root() {
        return;
    }
    let names = ["ipsec_peers", "exist", "missings", "exthdrs", "xt1", "Ipsec", "debug", "nat"];
    let mut inv = String::from("fwsets:\n");
    let mut rules = String::new();
    for (i, n) in names.iter().enumerate() {
        inv.push_str(&format!("  {n}: [192.0.2.{}]\n", i + 1));
        rules.push_str(&format!("INPUT_CUST -s {n} -j DROP\n"));
    }
    let (rs, errors) = compile(&rules, Some(&inv));
    let rs = rs.unwrap_or_else(|| panic!("{errors:?}"));
    let ns = Netns::new();
    ns.nft_load(&overlayfw::emit::nft_script(&rs)).expect("load");
    let listing = ns.list_table_json("ip", "overlayfw");
    let mut sets: Vec<&str> =
        netns::objects(&listing, "set").filter_map(|s| s["name"].as_str()).collect();
    sets.sort_unstable();
    let mut want = names.to_vec();
    want.sort_unstable();
    assert_eq!(sets, want);
}

/// A PREROUTING subgroup with a filtering and a NAT line: its `_FILTER` chain is the longest
/// name overlayfw derives.
fn long_subgroup(len: usize) -> (String, String) {
    let name = format!("PRE_C_{}", "a".repeat(len - "PRE_C_".len()));
    let rules = format!(
        "PREROUTING_CUST -j {name}\n{name} -s 10.0.0.1 -j DROP\n\
         {name} -p tcp --dport 80 -j DNAT --to 198.51.100.2\n"
    );
    (name, rules)
}

#[test]
fn subgroup_names_stay_within_nfts_chain_name_limit() {
    let (_, rules) = long_subgroup(249);
    let (code, out) = check(&rules);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(":2:1: error[E003]: subgroup name `PRE_C_aaaa"), "{out}");
    let (name, rules) = long_subgroup(248);
    let (code, out) = check(&rules);
    assert_eq!(code, 0, "{out}");
    if !netns::require_root() {
        return;
    }
    let (rs, errors) = compile(&rules, None);
    let script = overlayfw::emit::nft_script(&rs.unwrap_or_else(|| panic!("{errors:?}")));
    assert!(script.contains(&format!("chain {name}_FILTER {{")), "255 bytes");
    let ns = Netns::new();
    ns.nft_load(&script).expect("a 255-byte chain name loads");
    // One byte more is refused by the kernel.
    let longer = script.replace(&name, &format!("{name}a"));
    let err = Netns::new().nft_load(&longer).expect_err("a 256-byte chain name");
    assert!(err.contains("Numerical result out of range"), "{err}");
}

/// `INPUT_CUST` → `INP_C_1` → … → `INP_C_n`.
fn nested(n: usize) -> String {
    let mut rules = String::from("INPUT_CUST -j INP_C_1\n");
    for i in 1..n {
        rules.push_str(&format!("INP_C_{i} -j INP_C_{}\n", i + 1));
    }
    rules.push_str(&format!("INP_C_{n} -j ACCEPT\n"));
    rules
}

#[test]
fn jumps_nest_no_deeper_than_the_kernel_allows() {
    // The base chain, INPUT_CUST and 14 subgroups: 15 chains below the hook.
    let (code, out) = check(&nested(14));
    assert_eq!(code, 0, "{out}");
    let (code, out) = check(&nested(15));
    assert_eq!(code, 1, "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains(
            ":15:13: error[E014]: jumping from `INP_C_14` to `INP_C_15` nests chains 16 deep"
        ),
        "{out}"
    );
    // A chain reached by two ways counts the longer.
    let two_ways = format!("{}INPUT_CUST -j INP_C_15\n", nested(15));
    let (code, out) = check(&two_ways);
    assert!(code == 1 && out.contains("INP_C_15` nests chains 16 deep"), "{out}");
    if !netns::require_root() {
        return;
    }
    let (rs, errors) = compile(&nested(14), None);
    let mut rs = rs.unwrap_or_else(|| panic!("{errors:?}"));
    let ns = Netns::new();
    ns.nft_load(&overlayfw::emit::nft_script(&rs)).expect("15 chains below the hook load");
    let counts = netns::rule_counts(&ns.list_table_json("ip", "overlayfw"), "ip", "overlayfw");
    assert_eq!(counts.get("INP_C_14"), Some(&1), "{counts:?}");
    // One more, as nested(15) would lay it out: the kernel refuses it.
    let last = rs.chains.iter_mut().find(|c| c.name == "INP_C_14").expect("INP_C_14");
    last.rules[0].action = Action::Jump("INP_C_15".into());
    rs.chains.push(Chain {
        name: "INP_C_15".into(),
        base: None,
        rules: vec![Rule { matches: Box::new([]), action: Action::Accept, origin: None }],
    });
    let err = Netns::new().nft_load(&overlayfw::emit::nft_script(&rs)).expect_err("16 deep");
    assert!(err.contains("Too many links"), "{err}");
}
