//! Nothing from the rules file or the inventory can add, change or delete anything outside
//! what the rule means: every crafted input is refused with a diagnostic, or compiles to a
//! script that, loaded next to another tool's table, leaves that table whole and holds exactly
//! the rules written.

use overlayfw::diagnostic::{Code, Sources};
use overlayfw::pipeline::{self, Text};

use crate::netns::{self, Netns};

fn compile(rules: &str, inventory: Option<&str>) -> (Option<String>, Vec<Code>) {
    let mut sources = Sources::new();
    let c = pipeline::compile(
        &mut sources,
        vec![Text { name: "crafted.rules".into(), bytes: rules.as_bytes().to_vec() }],
        inventory.map(|i| Text { name: "crafted.yaml".into(), bytes: i.as_bytes().to_vec() }),
        "overlayfw",
    );
    let codes = c.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.code).collect();
    (c.ruleset.as_ref().map(overlayfw::emit::nft_script), codes)
}

/// Inputs that must be refused, with the code that refuses them.
#[test]
fn crafted_names_and_texts_are_refused() {
    let refused: &[(&str, Option<&str>, Code)] = &[
        (
            "INPUT_CUST -m comment --comment \"x\\\" ; flush ruleset ; \\\"\" -j ACCEPT",
            None,
            Code::E019,
        ),
        ("INPUT_CUST -p tcp --dport 23 -j LOG --log-prefix \"$(reboot)\"", None, Code::E019),
        ("INPUT_CUST -p tcp --dport 23 -j LOG --log-prefix \"a\tb\"", None, Code::E019),
        ("INPUT_CUST -m comment --comment \"abc\u{202e}fed\" -j ACCEPT", None, Code::E019),
        ("INPUT_CUST -m comment --comment \"abc\u{61c}fed\" -j ACCEPT", None, Code::E019),
        ("INPUT_CUST -j LOG --log-prefix \"drop\u{61c}: \"", None, Code::E019),
        ("INPUT_CUST -j LOG --log-prefix \"dr\u{200b}op: \"", None, Code::E019),
        ("INPUT_CUST -m comment --comment \"a\u{2028}b\" -j ACCEPT", None, Code::E019),
        (
            "INPUT_CUST -s x -j DROP",
            Some("fwsets:\n  x: [10.0.0.1]  # y\u{2028}  z: [0.0.0.0/0]\n"),
            Code::E020,
        ),
        ("INPUT_CUST -i eth0\";flush -j DROP", None, Code::E001),
        ("INPUT_CUST -j ACCEPT\0; flush ruleset", None, Code::E020),
        ("INPUT_CUST -p tcp --dport 99999999999999999999 -j DROP", None, Code::E008),
        ("INPUT_CUST -s 1.2.3.4/99999999999 -j DROP", None, Code::E008),
        (
            "INPUT_CUST -i public -j DROP",
            Some("interfaces:\n  public: \"eth0\\\"; flush ruleset\"\n"),
            Code::E102,
        ),
        (
            "INPUT_CUST -s bad -j DROP",
            Some("fwsets:\n  bad: [\"1.2.3.4 } ; flush ruleset\"]\n"),
            Code::E102,
        ),
        (
            "INPUT_CUST -s ${v} -j DROP",
            Some("variables:\n  v: \"1.2.3.4 } ; flush ruleset\"\n"),
            Code::E018,
        ),
        ("INPUT_CUST -d x -j DROP", Some("plugins:\n  - name: \"x\\\"; flush\"\n"), Code::E102),
        ("INPUT_CUST -s tcp -j DROP", Some("fwsets:\n  tcp: [192.0.2.0/24]\n"), Code::E102),
        (
            "INPUT_CUST -i public -j DROP",
            Some("interfaces:\n  public: \"eth0\\n} ; flush ruleset\"\n"),
            Code::E102,
        ),
        ("INPUT_CUST -s ${v} -j DROP", Some("variables:\n  v: \"10.0.0.1\\n\"\n"), Code::E018),
        // `u8`'s parser took a sign before the one IPv4 parser (`net`): `/+8` was a network.
        ("INPUT_CUST -s ${v} -j DROP", Some("variables:\n  v: \"10.0.0.0/+8\"\n"), Code::E018),
    ];
    for (rules, inv, code) in refused {
        let (script, codes) = compile(rules, *inv);
        assert!(script.is_none(), "compiled: {rules:?}");
        assert!(codes.contains(code), "{rules:?} with {inv:?}: expected {code}, got {codes:?}");
    }
    assert!(overlayfw::resolve::check_table_name("x; flush ruleset").is_err());
    assert!(overlayfw::resolve::check_table_name("fwd").is_err(), "nft keyword");
}

/// Inputs that are fine: their odd characters stay inside nft strings.
#[test]
fn odd_but_harmless_texts_load_next_to_a_foreign_table() {
    if !netns::require_root() {
        return;
    }
    let ns = Netns::new();
    ns.nft_load("table inet other {\n\tchain c { type filter hook input priority 5; policy accept; counter; }\n}\n")
        .expect("foreign table");
    let before = ns.list_table_json("inet", "other");
    let harmless = [
        "INPUT_CUST -m comment --comment \"a; } table inet other { chain d { drop; } } #\" -j ACCEPT",
        "INPUT_CUST -m comment --comment 'flush ruleset' -j ACCEPT",
        "INPUT_CUST -p tcp --dport 23 -j LOG --log-prefix \"} ; delete table inet other ;\"",
        "INPUT_CUST -m comment --comment \"日本語 ünïcödé\" -j ACCEPT",
    ];
    for rules in harmless {
        let (script, codes) = compile(rules, None);
        let script = script.unwrap_or_else(|| panic!("{rules:?} refused: {codes:?}"));
        ns.nft_load(&script).unwrap_or_else(|e| panic!("{rules:?}: {e}"));
        assert_eq!(
            ns.list_table_json("inet", "other"),
            before,
            "{rules:?} touched the foreign table"
        );
        let counts = netns::rule_counts(&ns.list_table_json("ip", "overlayfw"), "ip", "overlayfw");
        assert_eq!(counts.get("INPUT_CUST"), Some(&1), "{rules:?}: {counts:?}");
        assert_eq!(
            counts.values().sum::<usize>(),
            2,
            "{rules:?}: one rule and one jump: {counts:?}"
        );
        let tables = netns::objects(&ns.list_json(), "table").count();
        assert_eq!(tables, 2);
    }
}

/// A rules file named to close the rule's comment, the chain and the table and delete another
/// table (` #ID"` after it falls into the `#` comment). Every way overlayfw hands a comment to
/// nft (script, `--format json`, netlink userdata) and the text listing a `--confirm` restore
/// reloads must keep it one comment: the foreign table stays whole.
const CRAFTED_NAME: &str =
    "x\"\n}\n}\ndelete table ip foreign\ntable ip overlayfw {\nchain INPUT_CUST {\n#";

/// The comment the crafted name's rule carries starts with the name's safe form, then its id.
const CRAFTED_SAFE_NAME: &str =
    "x%22%0A}%0A}%0Adelete table ip foreign%0Atable ip overlayfw {%0Achain INPUT_CUST {%0A#";

fn crafted_ruleset() -> overlayfw::ir::Ruleset {
    let mut sources = Sources::new();
    let c = pipeline::compile(
        &mut sources,
        vec![Text {
            name: CRAFTED_NAME.into(),
            bytes: b"INPUT_CUST -p tcp --dport 22 -j ACCEPT\n".to_vec(),
        }],
        None,
        "overlayfw",
    );
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    c.ruleset.expect("a ruleset")
}

const FOREIGN: &str = "table ip foreign {\n\tchain c { type filter hook input priority 5; policy accept; counter; }\n}\n";

/// Loads `load` next to the foreign table; the foreign table must be whole and our one rule must
/// carry the crafted name's safe comment.
fn stays_one_comment(ns: &Netns, how: &str, load: impl FnOnce() -> Result<(), String>) {
    let before = ns.list_table_json("ip", "foreign");
    load().unwrap_or_else(|e| panic!("{how}: {e}"));
    let tables: Vec<_> = netns::objects(&ns.list_json(), "table")
        .map(|t| t["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(tables, ["foreign", "overlayfw"], "{how}");
    assert_eq!(ns.list_table_json("ip", "foreign"), before, "{how} touched the foreign table");
    let ours = ns.list_table_json("ip", "overlayfw");
    let comments: Vec<_> =
        netns::objects(&ours, "rule").filter_map(|r| r["comment"].as_str()).collect();
    assert_eq!(comments.len(), 1, "{how}: {comments:?}");
    let id = comments[0].strip_prefix(CRAFTED_SAFE_NAME).and_then(|r| r.strip_prefix(" #"));
    assert!(id.is_some_and(|id| id.len() == 12), "{how}: {comments:?}");
    let counts = netns::rule_counts(&ours, "ip", "overlayfw");
    assert_eq!(counts.values().sum::<usize>(), 2, "{how}: one rule and one jump: {counts:?}");
}

/// The text listing of our table (what a `--confirm` restore reloads) loads back as it was.
fn listing_reloads(ns: &Netns, how: &str) {
    let listing = ns.exec(&["nft", "list", "table", "ip", "overlayfw"]).expect("listing");
    assert!(listing.lines().all(|l| !l.trim_start().starts_with("delete")), "{how}: {listing}");
    stays_one_comment(ns, &format!("{how}, listing reloaded"), || {
        ns.nft_load(&format!("delete table ip overlayfw\n{listing}"))
    });
}

#[test]
fn a_crafted_file_name_stays_inside_its_comment() {
    if !netns::require_root() {
        return;
    }
    let rs = crafted_ruleset();
    let script = overlayfw::emit::nft_script(&rs);
    let ns = Netns::new();
    ns.nft_load(FOREIGN).expect("foreign table");
    stays_one_comment(&ns, "nft -f", || ns.nft_load(&script));
    listing_reloads(&ns, "nft -f");

    let ns = Netns::new();
    ns.nft_load(FOREIGN).expect("foreign table");
    let json = overlayfw::emit::json::script(&rs).to_string();
    stays_one_comment(&ns, "nft -j -f", || ns.nft_load_json(&json));
    listing_reloads(&ns, "nft -j -f");

    #[cfg(feature = "netlink")]
    {
        let ns = Netns::new();
        ns.nft_load(FOREIGN).expect("foreign table");
        stays_one_comment(&ns, "netlink", || {
            crate::netlink::in_netns(&ns, || overlayfw::live::netlink::apply(&rs))
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        listing_reloads(&ns, "netlink");
    }
}

/// No diagnostic format prints the crafted name's line breaks: a name cannot start a line of
/// its own (in a CI log, a forged `::error`).
#[test]
fn diagnostics_print_a_crafted_file_name_on_one_line() {
    use overlayfw::diagnostic::{Format, render};
    let name = "x\n::error file=forged.rules,line=1::forged\n\u{202e}\r";
    let mut sources = Sources::new();
    let c = pipeline::compile(
        &mut sources,
        vec![Text { name: name.into(), bytes: b"INPUT_CUST -j NOPE\n".to_vec() }],
        None,
        "overlayfw",
    );
    assert!(c.has_errors());
    for format in [Format::Human, Format::Short, Format::Json, Format::Sarif, Format::Github] {
        let out = render(&c.diagnostics, &sources, format, false);
        assert!(
            out.contains("x%0A::error file=forged.rules,line=1::forged%0A%E2%80%AE%0D")
                || format == Format::Sarif
                || format == Format::Github,
            "{format:?}: {out}"
        );
        for line in out.lines() {
            assert!(!line.starts_with("::error file=forged"), "{format:?}: {out}");
            assert!(!line.contains(['\r', '\u{202e}']), "{format:?}: {out}");
        }
        assert!(out.lines().count() > 0);
    }
}
