//! Rule-by-rule agreement with `iptables-translate`, judged by the kernel.
//!
//! For each line of `tests/conformance/corpus.txt` (inventory `topology.yaml` beside it):
//! - ours: the line is compiled with overlayfw (as file `line.rules`, after any context lines
//!   a subgroup needs, compiled as `context.rules`) and loaded; its rules are the ones whose
//!   comment starts `line.rules #`, each placed at the (type, hook) of the base chain that jumps
//!   to its chain;
//! - theirs: the same line written as `iptables -t TABLE -A CHAIN …` (see `to_iptables`), fed
//!   to `iptables-translate`, and loaded into tables `filter`, `nat`, `mangle` with iptables'
//!   base chains (and the subgroups as regular chains) in the same namespace;
//! - both listings (`nft -j list ruleset`) are compared as sorted lists of
//!   (type, hook, `diff::canon::rule` key). Extra normalisation: a protocol match implied by a
//!   later match on that protocol's header (a port, `--syn`, an ICMP type) is dropped; chain
//!   priorities are not compared (overlayfw chooses its own, ARCHITECTURE.md "Chain layout");
//!   at the prerouting and postrouting hooks only the projection of the iptables table's type
//!   is compared (a NAT line's `accept` copy in overlayfw's filter projection, and a filtering
//!   line's absence from the nat projection, are the two-projection layout, not a translation);
//!   a statement adding to a dynamic set is compared without the set's name.
//!
//! A line `RULE | deviation: REASON` must differ (else it is a stale deviation); every other
//! line must agree.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use overlayfw::diagnostic::{Diagnostic, Sources};
use overlayfw::pipeline::{self, Text};
use serde_json::Value;

use crate::netns::{self, Netns};

pub(crate) const TABLES: &str = "
table ip filter {}
delete table ip filter
table ip nat {}
delete table ip nat
table ip mangle {}
delete table ip mangle
table ip filter {
    chain INPUT { type filter hook input priority 0; }
    chain FORWARD { type filter hook forward priority 0; }
    chain OUTPUT { type filter hook output priority 0; }
    SUBGROUPS
}
table ip nat {
    chain PREROUTING { type nat hook prerouting priority -100; }
    chain OUTPUT { type nat hook output priority -100; }
    chain POSTROUTING { type nat hook postrouting priority 100; }
    SUBGROUPS
}
table ip mangle {
    chain PREROUTING { type filter hook prerouting priority -150; }
    chain POSTROUTING { type filter hook postrouting priority -150; }
    SUBGROUPS
}
";

const SUBGROUP_PARENTS: [(&str, &str); 5] = [
    ("PRE_C_", "PREROUTING"),
    ("PST_C_", "POSTROUTING"),
    ("FWD_C_", "FORWARD"),
    ("INP_C_", "INPUT"),
    ("OUT_C_", "OUTPUT"),
];

/// Splits like a shell: blanks separate words, quotes group, `\` escapes inside `"…"`.
pub(crate) fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '"' | '\'' => {
                in_word = true;
                while let Some(d) = chars.next() {
                    match d {
                        _ if d == c => break,
                        '\\' if c == '"' => cur.extend(chars.next()),
                        _ => cur.push(d),
                    }
                }
            }
            _ => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

fn subgroup_parent(word: &str) -> Option<&'static str> {
    SUBGROUP_PARENTS.iter().find(|(p, _)| word.starts_with(p)).map(|(_, parent)| *parent)
}

/// The inventory's names and variables, as iptables needs them spelt.
fn substitute(word: &str) -> String {
    let names = [
        ("${office}", "203.0.113.0/24"),
        ("${web_port}", "8080"),
        ("suricata", "198.51.100.2"),
        ("todo-app", "198.51.100.3"),
    ];
    let mut w = word.to_owned();
    for (name, value) in names {
        if w == name || w.starts_with(&format!("{name}:")) || name.starts_with('$') {
            w = w.replace(name, value);
        }
    }
    w
}

/// The iptables rules (table, chain, arguments) a VNS3 line stands for.
fn to_iptables(line: &str) -> Vec<(&'static str, String, Vec<String>)> {
    let mut w = words(line);
    let chain =
        if w[0].starts_with('-') || w[0].starts_with('!') { None } else { Some(w.remove(0)) };
    // VNS3-only spellings first.
    let mut args: Vec<String> = Vec::new();
    let mut i = 0;
    while i < w.len() {
        let word = w[i].as_str();
        match word {
            "-ctrack" => {
                let mut states = String::new();
                i += 1;
                while i < w.len() {
                    states.push_str(&w[i]);
                    i += 1;
                    if !states.ends_with(',') {
                        break;
                    }
                }
                args.extend(["-m", "conntrack", "--ctstate"].map(String::from));
                args.push(states);
                continue;
            }
            "--set" => args.push("--match-set".into()),
            "MASQUERADE-ONCE" => args.push("MASQUERADE".into()),
            "-s" | "-d" if w.get(i + 1).is_some_and(|v| v == "blacklist") => {
                let dir = if word == "-s" { "src" } else { "dst" };
                args.extend(["-m", "set", "--match-set", "blacklist", dir].map(String::from));
                i += 2;
                continue;
            }
            _ => args.push(substitute(word)),
        }
        i += 1;
    }
    let target =
        args.iter().position(|a| a == "-j").map(|p| args[p + 1].clone()).unwrap_or_default();
    if target == "COPY" {
        // COPY --from IF --to ADDR [--bidirectional] ≈ TEE in mangle, per direction.
        let value = |opt: &str| args.iter().position(|a| a == opt).map(|p| args[p + 1].clone());
        let (from, to) = (value("--from").expect("--from"), value("--to").expect("--to"));
        let bidir = args.iter().any(|a| a == "--bidirectional");
        let mut rest = Vec::new();
        let mut k = 0;
        while k < args.len() {
            match args[k].as_str() {
                "-j" | "--from" | "--to" => k += 2,
                "--bidirectional" => k += 1,
                _ => {
                    rest.push(args[k].clone());
                    k += 1;
                }
            }
        }
        let tee = |dir: &str| {
            let mut a = vec![dir.to_owned(), from.clone()];
            a.extend(rest.iter().cloned());
            a.extend(["-j".into(), "TEE".into(), "--gateway".into(), to.clone()]);
            a
        };
        let mut out = vec![("mangle", "PREROUTING".to_owned(), tee("-i"))];
        if bidir {
            out.push(("mangle", "POSTROUTING".to_owned(), tee("-o")));
        }
        return out;
    }
    let nat_target =
        matches!(target.as_str(), "DNAT" | "SNAT" | "MASQUERADE" | "REDIRECT" | "NETMAP");
    let (parent, ipt_chain) = match chain.as_deref() {
        None | Some("MACRO_CUST") => match target.as_str() {
            "DNAT" => ("PREROUTING", "PREROUTING".to_owned()),
            _ => ("POSTROUTING", "POSTROUTING".to_owned()),
        },
        Some(c) => match subgroup_parent(c) {
            Some(parent) => (parent, c.to_owned()),
            None => {
                let base = c.trim_end_matches("_CUST");
                (
                    ["INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"]
                        .into_iter()
                        .find(|b| *b == base)
                        .expect("a VNS3 chain"),
                    base.to_owned(),
                )
            }
        },
    };
    let jumps_to_nat_subgroup = target.starts_with("PRE_C_") || target.starts_with("PST_C_");
    let table = match parent {
        "INPUT" | "FORWARD" => "filter",
        "OUTPUT" if nat_target => "nat",
        "OUTPUT" => "filter",
        // At the NAT hooks iptables filters in mangle; VNS3's own chains there are nat chains.
        _ if nat_target
            || jumps_to_nat_subgroup
            || matches!(target.as_str(), "ACCEPT" | "RETURN") =>
        {
            "nat"
        }
        _ => "mangle",
    };
    vec![(table, ipt_chain, args)]
}

/// (type, hook) of an iptables table's chain.
fn hook_of(table: &str, chain: &str) -> (String, String) {
    let parent = subgroup_parent(chain).unwrap_or(chain);
    let ty = if table == "nat" { "nat" } else { "filter" };
    (ty.to_owned(), parent.to_lowercase())
}

type Placed = Vec<(String, String, String)>;

/// Drops `ip protocol X` / `meta l4proto X` when a later match reads X's own header.
fn implied_protocol_dropped(exprs: &[Value]) -> Vec<Value> {
    let header_protocols: Vec<&str> = exprs
        .iter()
        .filter_map(|e| e.pointer("/match/left/payload/protocol")?.as_str())
        .filter(|p| *p != "ip")
        .collect();
    exprs
        .iter()
        .filter(|e| {
            let m = &e["match"];
            let is_proto = m.pointer("/left/payload/field").and_then(Value::as_str)
                == Some("protocol")
                || m.pointer("/left/meta/key").and_then(Value::as_str) == Some("l4proto");
            let same = m["op"] == "=="
                && m["right"].as_str().is_some_and(|p| header_protocols.contains(&p));
            !(is_proto && same)
        })
        .cloned()
        .collect()
}

/// The canonical key, with the matches in a sorted order: a rule's matches are a conjunction
/// without side effects, and iptables-translate orders them by module, not as written.
fn key(rule: &Value) -> String {
    let exprs = rule["expr"].as_array().cloned().unwrap_or_default();
    let mut matches = Vec::new();
    let mut statements = String::new();
    for mut e in implied_protocol_dropped(&exprs) {
        // A dynamic set's name is each side's own (iptables-translate's `connlimit0`,
        // overlayfw's `connlimit-HASH`): the statement is compared without it.
        if let Some(stmt) = e.get_mut("set").filter(|s| s.get("op").is_some()) {
            stmt["set"] = Value::from("@meter");
        }
        let k = overlayfw::diff::canon::rule(std::slice::from_ref(&e));
        if e.get("match").is_some() && statements.is_empty() {
            matches.push(k);
        } else {
            statements.push_str(&k);
        }
    }
    matches.sort();
    matches.concat() + &statements
}

/// Our rules for the line, with the (type, hook) of the base chain reaching them.
fn ours(listing: &Value) -> Placed {
    let mine = |o: &&Value| o["table"] == "overlayfw";
    let mut reach: BTreeMap<String, (String, String)> = BTreeMap::new();
    for c in netns::objects(listing, "chain").filter(mine) {
        if let (Some(t), Some(h)) = (c["type"].as_str(), c["hook"].as_str()) {
            reach
                .insert(c["name"].as_str().expect("name").to_owned(), (t.to_owned(), h.to_owned()));
        }
    }
    let rules: Vec<&Value> = netns::objects(listing, "rule").filter(mine).collect();
    // Jumps go from base chains down: propagate until nothing changes (a handful of chains).
    loop {
        let mut changed = false;
        for r in &rules {
            let Some(from) = reach.get(r["chain"].as_str().unwrap_or("")).cloned() else {
                continue;
            };
            for e in r["expr"].as_array().into_iter().flatten() {
                let target = e.pointer("/jump/target").or_else(|| e.pointer("/goto/target"));
                if let Some(t) = target.and_then(Value::as_str)
                    && !reach.contains_key(t)
                {
                    reach.insert(t.to_owned(), from.clone());
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut out: Placed = rules
        .iter()
        .filter(|r| r["comment"].as_str().is_some_and(|c| c.starts_with("line.rules #")))
        .map(|r| {
            let (t, h) = reach.get(r["chain"].as_str().unwrap_or("")).cloned().unwrap_or_default();
            (t, h, key(r))
        })
        .collect();
    out.sort();
    out
}

fn theirs(listing: &Value) -> Placed {
    let mut out: Placed = netns::objects(listing, "rule")
        .filter(|r| matches!(r["table"].as_str(), Some("filter" | "nat" | "mangle")))
        .map(|r| {
            let (t, h) =
                hook_of(r["table"].as_str().unwrap_or(""), r["chain"].as_str().unwrap_or(""));
            (t, h, key(r))
        })
        .collect();
    out.sort();
    out
}

/// Compiles `line` (after `context`) with overlayfw: its nft script, or the errors it reports.
pub(crate) fn compile(
    context: &str,
    line: &str,
    inventory: &Text,
) -> Result<String, Vec<Diagnostic>> {
    let mut sources = Sources::new();
    let mut texts = Vec::new();
    if !context.is_empty() {
        texts.push(Text { name: "context.rules".into(), bytes: context.as_bytes().to_vec() });
    }
    texts.push(Text { name: "line.rules".into(), bytes: format!("{line}\n").into_bytes() });
    let compiled = pipeline::compile(
        &mut sources,
        texts,
        Some(Text { name: inventory.name.clone(), bytes: inventory.bytes.clone() }),
        "overlayfw",
    );
    match compiled.ruleset {
        Some(rs) if !compiled.has_errors() => Ok(overlayfw::emit::nft_script(&rs)),
        _ => Err(compiled.diagnostics.into_iter().filter(Diagnostic::is_error).collect()),
    }
}

/// Subgroups a line mentions, and the context lines that define or reach them.
fn context_for(line: &str) -> (Vec<String>, String) {
    let w = words(line);
    let mut subgroups = Vec::new();
    let mut context = String::new();
    if let Some(parent) = subgroup_parent(&w[0]) {
        subgroups.push(w[0].clone());
        context.push_str(&format!("{parent} -j {}\n", w[0]));
    }
    if let Some(p) = w.iter().position(|x| x == "-j")
        && subgroup_parent(&w[p + 1]).is_some()
    {
        subgroups.push(w[p + 1].clone());
        context.push_str(&format!("{} -j RETURN\n", w[p + 1]));
    }
    (subgroups, context)
}

/// The nft commands `iptables-translate` makes of the given iptables rules.
pub(crate) fn translate(
    rules: &[(&'static str, String, Vec<String>)],
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (table, chain, args) in rules {
        let o = Command::new("iptables-translate")
            .args(["-t", table, "-A", chain])
            .args(args)
            .output()
            .map_err(|e| format!("iptables-translate: {e}"))?;
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        if !o.status.success() {
            return Err(format!(
                "iptables-translate -t {table} -A {chain} {} refuses it: {}",
                args.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        for l in text.lines() {
            // When one iptables rule becomes several, lines after the first lack the `nft `.
            let l = l.strip_prefix("nft ").unwrap_or(l);
            match l.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
                Some(cmd) => out.push(cmd.to_owned()),
                None => return Err(format!("iptables-translate cannot translate it: {l}")),
            }
        }
    }
    Ok(out)
}

/// Compares one line; `Ok(())` when both sides agree, else what differs.
fn compare(ns: &Netns, line: &str, inventory: &Text) -> Result<(), String> {
    compare_with(ns, line, &to_iptables(line), inventory)
}

/// Compares a line with the given iptables rules.
fn compare_with(
    ns: &Netns,
    line: &str,
    iptables: &[(&'static str, String, Vec<String>)],
    inventory: &Text,
) -> Result<(), String> {
    let commands = translate(iptables)?;
    compare_commands(ns, line, &commands, inventory)
}

/// Compares a line with the given nft commands (`add rule ip filter INPUT …`, `add set …`),
/// which act on iptables' tables `filter`, `nat` and `mangle` and their base chains.
pub(crate) fn compare_commands(
    ns: &Netns,
    line: &str,
    commands: &[String],
    inventory: &Text,
) -> Result<(), String> {
    let (subgroups, context) = context_for(line);
    let script = compile(&context, line, inventory)
        .map_err(|d| format!("overlayfw does not compile it: {d:?}"))?;
    let chains: String = subgroups.iter().map(|s| format!("chain {s} {{}}\n")).collect();
    let mut full = script;
    full.push_str(&TABLES.replace("SUBGROUPS", &chains));
    for c in commands {
        full.push_str(c);
        full.push('\n');
    }
    ns.nft_load(&full).map_err(|e| format!("loading both: {e}\n{}", commands.join("\n")))?;
    let listing = ns.list_json();
    let theirs = theirs(&listing);
    // At the NAT hooks compare only the projection of the iptables table's type.
    let types: Vec<(String, String)> =
        theirs.iter().map(|(t, h, _)| (t.clone(), h.clone())).collect();
    let ours: Placed = ours(&listing)
        .into_iter()
        .filter(|(t, h, _)| {
            !matches!(h.as_str(), "prerouting" | "postrouting")
                || types.iter().any(|(tt, hh)| tt == t && hh == h)
                || !types.iter().any(|(_, hh)| hh == h)
        })
        .collect();
    if ours.is_empty() {
        Err(format!("overlayfw made no rule of it; iptables-translate: {}", commands.join(" ; ")))
    } else if ours == theirs {
        Ok(())
    } else {
        Err(format!(
            "ours:   {ours:?}\ntheirs: {theirs:?}\niptables-translate: {}",
            commands.join(" ; ")
        ))
    }
}

#[test]
fn the_corpus_agrees_with_iptables_translate() {
    if !netns::require_root() {
        return;
    }
    let have = Command::new("iptables-translate").arg("--version").output();
    if !have.is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "iptables-translate is missing under CI=true"
        );
        eprintln!("skipping conformance: iptables-translate is missing");
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let corpus = std::fs::read_to_string(dir.join("corpus.txt")).expect("corpus.txt");
    let inventory = Text {
        name: "topology.yaml".into(),
        bytes: std::fs::read(dir.join("topology.yaml")).expect("topology.yaml"),
    };
    let ns = Netns::new();
    // The comparison can fail: a changed port, verdict or hook must each be told apart.
    let line = "INPUT_CUST -p tcp --dport 22 -j ACCEPT";
    let args = |a: &str| a.split(' ').map(String::from).collect::<Vec<_>>();
    compare_with(
        &ns,
        line,
        &[("filter", "INPUT".into(), args("-p tcp --dport 22 -j ACCEPT"))],
        &inventory,
    )
    .expect("the control pair agrees");
    for (table, chain, wrong) in [
        ("filter", "INPUT", "-p tcp --dport 23 -j ACCEPT"),
        ("filter", "INPUT", "-p tcp --dport 22 -j DROP"),
        ("filter", "INPUT", "-p udp --dport 22 -j ACCEPT"),
        ("filter", "FORWARD", "-p tcp --dport 22 -j ACCEPT"),
        ("nat", "PREROUTING", "-p tcp --dport 22 -j ACCEPT"),
    ] {
        let r = compare_with(&ns, line, &[(table, chain.into(), args(wrong))], &inventory);
        assert!(r.is_err(), "`{line}` must differ from `-t {table} -A {chain} {wrong}`");
    }
    let (mut agree, mut deviations, mut lines, mut skipped) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for (n, raw) in corpus.lines().enumerate() {
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        lines += 1;
        let (line, deviation) = match raw.split_once(" | deviation: ") {
            Some((l, why)) => (l.trim(), Some(why)),
            None => (raw, None),
        };
        if line.contains("NFQUEUE") && !netns::kernel_has_queue() {
            println!("corpus.txt:{}: skipped here: the kernel has no nft_queue", n + 1);
            skipped += 1;
            continue;
        }
        match (compare(&ns, line, &inventory), deviation) {
            (Ok(()), None) => agree += 1,
            (Err(_), Some(_)) => deviations += 1,
            (Ok(()), Some(why)) => failures
                .push(format!("corpus.txt:{}: `{line}` agrees: stale deviation ({why})", n + 1)),
            (Err(e), None) => failures.push(format!("corpus.txt:{}: `{line}`\n{e}", n + 1)),
        }
    }
    println!(
        "conformance: {agree} agree, {deviations} intended deviations, {skipped} skipped \
         (NFQUEUE without nft_queue), {lines} lines"
    );
    assert!(lines >= 150, "the corpus has only {lines} lines");
    assert!(
        failures.is_empty(),
        "{} unlisted differences:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
