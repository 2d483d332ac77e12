//! Nothing from the rules file or the inventory can add, change or delete anything outside
//! what the rule means: every crafted input is refused with a diagnostic, or compiles to a
//! script that, loaded next to another tool's table, leaves that table whole and holds exactly
//! the rules written.

use overlayfw::diagnostic::Sources;
use overlayfw::pipeline::{self, Text};

use crate::netns::{self, Netns};

fn compile(rules: &str, inventory: Option<&str>) -> (Option<String>, Vec<&'static str>) {
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
    let refused: &[(&str, Option<&str>, &str)] = &[
        (
            "INPUT_CUST -m comment --comment \"x\\\" ; flush ruleset ; \\\"\" -j ACCEPT",
            None,
            "E019",
        ),
        ("INPUT_CUST -p tcp --dport 23 -j LOG --log-prefix \"$(reboot)\"", None, "E019"),
        ("INPUT_CUST -p tcp --dport 23 -j LOG --log-prefix \"a\tb\"", None, "E019"),
        ("INPUT_CUST -m comment --comment \"abc\u{202e}fed\" -j ACCEPT", None, "E019"),
        ("INPUT_CUST -i eth0\";flush -j DROP", None, "E001"),
        ("INPUT_CUST -j ACCEPT\0; flush ruleset", None, "E020"),
        ("INPUT_CUST -p tcp --dport 99999999999999999999 -j DROP", None, "E008"),
        ("INPUT_CUST -s 1.2.3.4/99999999999 -j DROP", None, "E008"),
        (
            "INPUT_CUST -i public -j DROP",
            Some("interfaces:\n  public: \"eth0\\\"; flush ruleset\"\n"),
            "E102",
        ),
        (
            "INPUT_CUST -s bad -j DROP",
            Some("fwsets:\n  bad: [\"1.2.3.4 } ; flush ruleset\"]\n"),
            "E102",
        ),
        (
            "INPUT_CUST -s ${v} -j DROP",
            Some("variables:\n  v: \"1.2.3.4 } ; flush ruleset\"\n"),
            "E018",
        ),
        ("INPUT_CUST -d x -j DROP", Some("plugins:\n  - name: \"x\\\"; flush\"\n"), "E102"),
        ("INPUT_CUST -s tcp -j DROP", Some("fwsets:\n  tcp: [192.0.2.0/24]\n"), "E102"),
        (
            "INPUT_CUST -i public -j DROP",
            Some("interfaces:\n  public: \"eth0\\n} ; flush ruleset\"\n"),
            "E102",
        ),
        ("INPUT_CUST -s ${v} -j DROP", Some("variables:\n  v: \"10.0.0.1\\n\"\n"), "E018"),
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
