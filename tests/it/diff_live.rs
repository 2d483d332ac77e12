//! `diff` against a real kernel for what the plain round trip cannot show: a live table that
//! differs only in what nft's JSON hides or spells oddly (table flags, named objects, `counter
//! name`, log keys), foreign statements shown as nft text, and `--against` on input that is no
//! listing at all.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::netns::{self, Netns};

const RULES: &str = "\
INPUT_CUST -p tcp --dport 22 -j LOG --log-prefix ssh
INPUT_CUST -s 10.0.0.0/8 -j ACCEPT
PREROUTING_CUST -i eth0 -p tcp --dport 2222 -j DNAT --to 198.51.100.2:22
";

/// A scratch directory (removed on drop) and a file written into it.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Scratch {
        Scratch(tempfile::tempdir().expect("scratch dir"))
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.path().join(name);
        std::fs::write(&p, text).expect("write scratch file");
        p
    }
}

/// Runs overlayfw inside the namespace.
fn ofw(ns: &Netns, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_overlayfw")])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run overlayfw")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn compiled(rules: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_overlayfw"))
        .arg("compile")
        .arg(rules)
        .output()
        .expect("run overlayfw");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// `diff RULES` in the namespace: its exit code and output.
fn diff(ns: &Netns, rules: &Path) -> (i32, String) {
    let out = ofw(ns, &["diff", &rules.display().to_string()]);
    (out.status.code().expect("exit code"), text(&out))
}

/// Replaces the first rule of our table whose expressions `pick` chooses with the same rule
/// changed by `change`, through nft's JSON input (the handle stays).
fn replace_rule(
    ns: &Netns,
    pick: impl Fn(&[Value]) -> bool,
    change: impl Fn(&mut Vec<Value>),
) -> Value {
    let listing = ns.list_table_json("ip", "overlayfw");
    let mut rule = netns::objects(&listing, "rule")
        .find(|r| r["expr"].as_array().is_some_and(|e| pick(e)))
        .expect("a rule to change")
        .clone();
    let exprs = rule["expr"].as_array_mut().expect("expressions");
    change(exprs);
    let doc = json!({"nftables": [{"replace": {"rule": rule}}]});
    ns.exec(&["nft", "-j", doc.to_string().as_str()]).unwrap_or_else(|e| panic!("{e}"));
    rule
}

fn has(exprs: &[Value], key: &str) -> bool {
    exprs.iter().any(|e| e.get(key).is_some())
}

#[test]
fn what_json_hides_is_a_difference_in_the_kernel() {
    if !netns::require_root() {
        return;
    }
    let dir = Scratch::new();
    let rules = dir.file("r.rules", RULES);
    let script = compiled(&rules);
    let ns = Netns::new();
    let reload = || ns.nft_load(&script).unwrap_or_else(|e| panic!("{e}"));
    reload();
    let (code, out) = diff(&ns, &rules);
    assert_eq!(code, 0, "the table as loaded: {out}");

    // Dormant: every base chain off its hook, the rules still listed.
    ns.exec(&["nft", "add table ip overlayfw { flags dormant; }"])
        .unwrap_or_else(|e| panic!("{e}"));
    let (code, out) = diff(&ns, &rules);
    assert_eq!(code, 1, "dormant: {out}");
    assert!(out.contains("flags dormant  ->  no flags"), "{out}");
    reload();
    assert_eq!(diff(&ns, &rules).0, 0);

    // A named counter in our table, then a rule counting into it.
    ns.exec(&["nft", "add counter ip overlayfw c1"]).unwrap_or_else(|e| panic!("{e}"));
    let (code, out) = diff(&ns, &rules);
    assert_eq!(code, 1, "named counter: {out}");
    assert!(out.contains("  - counter c1\n"), "{out}");
    replace_rule(
        &ns,
        |e| has(e, "log"),
        |e| {
            for x in e.iter_mut().filter(|x| x.get("counter").is_some()) {
                *x = json!({"counter": "c1"});
            }
        },
    );
    let (code, out) = diff(&ns, &rules);
    assert_eq!(code, 1, "counter name: {out}");
    assert!(out.contains("counter name \"c1\""), "{out}");
    reload();
    assert_eq!(diff(&ns, &rules).0, 0);

    // The same log with other flags, and with a group instead of a prefix.
    for (what, change) in
        [("flags all", json!({"prefix": "ssh", "flags": "all"})), ("group 2", json!({"group": 2}))]
    {
        replace_rule(
            &ns,
            |e| has(e, "log"),
            |e| {
                for x in e.iter_mut().filter(|x| x.get("log").is_some()) {
                    *x = json!({ "log": change.clone() });
                }
            },
        );
        let (code, out) = diff(&ns, &rules);
        assert_eq!(code, 1, "log {what}: {out}");
        assert!(out.contains("log prefix \"ssh\""), "{out}");
        assert!(out.contains(what), "{out}");
        reload();
    }
    assert_eq!(diff(&ns, &rules).0, 0, "the table as loaded again");
}

#[test]
fn foreign_statements_print_as_nft_text_never_json() {
    if !netns::require_root() {
        return;
    }
    let dir = Scratch::new();
    let rules = dir.file("r.rules", RULES);
    let ns = Netns::new();
    ns.nft_load(&compiled(&rules)).unwrap_or_else(|e| panic!("{e}"));
    // Statements overlayfw never writes, as someone might add them by hand; each line is what
    // the plan must show (nft's own text, or the same statement as nft reads it).
    let statements = [
        ("counter name \"c1\"", "counter name \"c1\""),
        ("log group 2", "log group 2"),
        ("log flags all", "log flags all"),
        (
            "log prefix \"x\" level info flags tcp sequence,options",
            "log prefix \"x\" level info flags tcp sequence,options",
        ),
        ("quota over 10 mbytes", "quota over 10 mbytes"),
        ("quota name \"q1\"", "quota name \"q1\""),
        ("limit rate 5/minute burst 3 packets", "limit rate 5/minute burst 3 packets"),
        ("limit rate over 1 mbytes/second", "limit rate over 1 mbytes/second"),
        ("ct mark set 0x1", "ct mark set 0x00000001"),
        ("meta mark set 0x2", "meta mark set 0x00000002"),
        ("notrack", "notrack"),
        ("tcp option maxseg size set rt mtu", "tcp option maxseg size set rt mtu"),
        ("ip dscp set cs1", "ip dscp set cs1"),
        ("tcp flags & (syn|ack) == syn drop", "tcp flags & (syn|ack) == syn drop"),
        ("fib daddr type local accept", "fib daddr type local accept"),
        (
            "synproxy mss 1460 wscale 7 timestamp sack-perm",
            "synproxy mss 1460 wscale 7 timestamp sack-perm",
        ),
        ("ct helper set \"h1\"", "ct helper set \"h1\""),
        ("meta nftrace set 1", "meta nftrace set 1"),
    ];
    let mut script = String::from(
        "table ip overlayfw {\n\tcounter c1 {\n\t}\n\tquota q1 {\n\t\tover 100 mbytes\n\t}\n\tct helper h1 {\n\t\ttype \"ftp\" protocol tcp\n\t}\n\tchain extra {\n",
    );
    for (s, _) in &statements {
        script.push_str(&format!("\t\t{s}\n"));
    }
    script.push_str("\t}\n}\n");
    ns.nft_load(&script).unwrap_or_else(|e| panic!("{e}"));
    let (code, out) = diff(&ns, &rules);
    assert_eq!(code, 1, "{out}");
    for (s, shown) in &statements {
        assert!(
            out.lines().any(|l| l.contains(&format!("] {shown}  # handle "))),
            "{s} shown as `{shown}`:\n{out}"
        );
    }
    for l in out.lines() {
        assert!(!l.contains("{\"") && !l.contains("\":"), "raw JSON: {l}");
    }
    let json = ofw(&ns, &["diff", "--format", "json", &rules.display().to_string()]);
    let plan: Value = serde_json::from_slice(&json.stdout).expect("a JSON plan");
    let shown: Vec<&str> = plan["chains"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["rules"].as_array().into_iter().flatten())
        .filter_map(|r| r["rule"].as_str())
        .collect();
    assert!(shown.len() >= statements.len(), "{shown:?}");
    assert!(shown.iter().all(|r| !r.contains("{\"")), "{shown:?}");
}

#[test]
fn against_refuses_what_is_not_a_listing_without_reading_it_all() {
    let dir = Scratch::new();
    let rules = dir.file("r.rules", RULES);
    let big = dir.0.path().join("big.json");
    {
        // Sparse: 300 MiB long, nothing written.
        let f = std::fs::File::create(&big).expect("create");
        f.set_len(300 << 20).expect("set_len");
    }
    let odd = dir.file("odd.json", "{\"nftables\": [{\"rule\": {\"family\": \"ip\", \"table\": \"overlayfw\", \"chain\": \"c\", \"expr\": [{\"match\": {\"op\": \"==\", \"left\": {\"&\": []}, \"right\": {\"&\": []}}}, {\"&\": []}]}}, {\"table\": {\"family\": \"ip\", \"name\": \"overlayfw\"}}]}");
    for (against, want, says) in [
        (Path::new("/dev/zero"), 2, "not an nft JSON listing"),
        (big.as_path(), 2, "the limit for a listing"),
        (odd.as_path(), 1, "chain to remove c"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_overlayfw"))
            .arg("diff")
            .arg(&rules)
            .arg("--against")
            .arg(against)
            .output()
            .expect("run overlayfw");
        assert_eq!(out.status.code(), Some(want), "{}: {}", against.display(), text(&out));
        assert!(text(&out).contains(says), "{}: {}", against.display(), text(&out));
        assert!(!text(&out).contains("panicked"), "{}", text(&out));
    }
}
