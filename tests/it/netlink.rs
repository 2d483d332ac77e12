//! The netlink backend against the nft script: the same IR applied both ways into two
//! throw-away namespaces must list back identically. Netlink runs on a thread moved into the
//! namespace with `setns`, after checking that it really is there.

use std::path::Path;
use std::time::Instant;

use overlayfw::emit::nft_script;
use overlayfw::ir::*;
use overlayfw::live::netlink::{self, ApplyReport, NetlinkError, Object};
use serde_json::Value;

use crate::netns::{Netns, require_root, rule_counts};

const TABLE: &str = "overlayfw";

pub(crate) use crate::netns::in_netns;

fn apply_in(ns: &Netns, rs: &Ruleset) -> Result<ApplyReport, NetlinkError> {
    in_netns(ns, || netlink::apply(rs))
}

/// The listing without `handle` keys (they count kernel objects, not meaning) and with counters
/// zeroed (a packet the namespace sends on its own may pass one side's rules).
pub(crate) fn normalise(mut v: Value) -> Value {
    strip(&mut v);
    v
}

/// [`normalise`] in place.
pub(crate) use crate::edits::strip;

/// `nft list table` text with counters zeroed (see [`normalise`]).
fn text_listing(ns: &Netns) -> String {
    let text = ns.exec(&["nft", "list", "table", "ip", TABLE]).unwrap_or_else(|e| panic!("{e}"));
    let mut words: Vec<&str> = Vec::new();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        words.clear();
        words.extend(line.split(' '));
        for i in 0..words.len() {
            if i >= 2
                && words[i - 2] == "packets"
                && words[i - 1].parse::<u64>().is_ok()
                && words[i] == "bytes"
            {
                words[i - 1] = "0";
            }
            if i >= 1 && words[i - 1] == "bytes" && words[i].parse::<u64>().is_ok() {
                words[i] = "0";
            }
        }
        out.push_str(&words.join(" "));
        out.push('\n');
    }
    out
}

/// Loads `rs` with nft into one namespace and with netlink into another; both listings (JSON
/// without handles, and text, which alone shows the table comment in nft 1.0.6) must agree.
fn agree(rs: &Ruleset, what: &str) -> Result<(), String> {
    let (a, b) = (Netns::new(), Netns::new());
    a.nft_load(&nft_script(rs)).map_err(|e| format!("{what}: nft: {e}"))?;
    apply_in(&b, rs).map_err(|e| format!("{what}: netlink: {e}"))?;
    let (ja, jb) =
        (normalise(a.list_table_json("ip", TABLE)), normalise(b.list_table_json("ip", TABLE)));
    if ja != jb {
        return Err(first_difference(what, &ja, &jb));
    }
    let (ta, tb) = (text_listing(&a), text_listing(&b));
    if ta != tb {
        return Err(format!("{what}: text listings differ\n--- nft\n{ta}\n--- netlink\n{tb}"));
    }
    Ok(())
}

fn first_difference(what: &str, a: &Value, b: &Value) -> String {
    let (xa, xb) = (a["nftables"].as_array(), b["nftables"].as_array());
    let (xa, xb) = (xa.cloned().unwrap_or_default(), xb.cloned().unwrap_or_default());
    for (i, (oa, ob)) in xa.iter().zip(&xb).enumerate() {
        if oa != ob {
            return format!("{what}: object {i} differs\n--- nft\n{oa}\n--- netlink\n{ob}");
        }
    }
    format!("{what}: {} objects by nft, {} by netlink", xa.len(), xb.len())
}

use crate::load::{compile_ruleset as compile, rules_files};

#[test]
fn both_backends_agree_on_every_example_and_ok_case() {
    if !require_root() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = rules_files(&root.join("examples"), 1);
    files.extend(rules_files(&root.join("tests/cases/ok"), 0));
    assert!(files.len() >= 10, "found only {files:?}");
    let failures: Vec<String> =
        files.iter().filter_map(|f| agree(&compile(f), &f.display().to_string()).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

use crate::irgen::{Lines, base, chain, every_variant, file_line, jump, net, tcp_dport};

#[test]
fn both_backends_agree_on_every_ir_variant() {
    if !require_root() {
        return;
    }
    agree(&every_variant(), "every_variant").unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn both_backends_agree_on_optimized_rulesets() {
    if !require_root() {
        return;
    }
    // Concatenated sets (exact and interval), DNAT maps with and without ports, next to
    // unmerged rules: the generated policy, the optimizer's edge cases, every ok case.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = vec![
        ("generated".to_string(), crate::optimize::policy(3000)),
        ("edges".to_string(), crate::optimize::EDGE_POLICY.to_string()),
        (
            "exact tuples".to_string(),
            (0..40)
                .map(|i| {
                    format!(
                        "FORWARD_CUST -i tun0 -s 10.0.0.{i} -d 192.0.2.{i} -p udp --dport {} -j ACCEPT\n",
                        100 + i
                    )
                })
                .collect(),
        ),
    ];
    texts.push((
        "port-less DNAT".to_string(),
        (0..20)
            .map(|i| {
                format!(
                    "PREROUTING_CUST -i eth0 -p tcp --dport {} -j DNAT --to 198.51.100.{}\n",
                    8000 + i,
                    2 + i % 10
                )
            })
            .collect(),
    ));
    let mut rulesets: Vec<(String, Ruleset)> =
        texts.into_iter().map(|(name, text)| (name, crate::optimize::compile(&text))).collect();
    for f in rules_files(&root.join("tests/cases/ok"), 0) {
        rulesets.push((f.display().to_string(), compile(&f)));
    }
    let failures: Vec<String> = rulesets
        .iter_mut()
        .filter_map(|(name, rs)| {
            overlayfw::optimize::optimize(rs);
            agree(rs, name).err()
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Every shape the optimizer makes was among them.
    let rules = || rulesets.iter().flat_map(|(_, rs)| &rs.chains).flat_map(|c| &c.rules);
    let tuples = || {
        rules().flat_map(|r| &r.matches).filter_map(|m| match m {
            Match::Tuple(t) => Some(&t.elements),
            _ => None,
        })
    };
    let ranged = |e: &Vec<Elem>| {
        e.iter().any(|v| {
            matches!(v, Elem::Net(n) if n.prefix() != 32)
                || matches!(v, Elem::Ports(a, b) if a != b)
        })
    };
    assert!(tuples().any(|els| els.iter().any(ranged)), "an interval tuple set");
    assert!(tuples().any(|els| !els.iter().any(ranged)), "an exact tuple set");
    let keyed_by_protocol = rules()
        .flat_map(|r| &r.matches)
        .any(|m| matches!(m, Match::Tuple(t) if t.fields.first() == Some(&Field::L4Proto)));
    assert!(keyed_by_protocol, "a set of single ports keyed with their protocol");
    let maps = || {
        rules().filter_map(|r| match &r.action {
            Action::DnatMap { entries, .. } => Some(entries),
            _ => None,
        })
    };
    assert!(maps().any(|e| e.iter().all(|x| x.2.is_some())), "a DNAT map with ports");
    assert!(maps().any(|e| e.iter().all(|x| x.2.is_none())), "a DNAT map without ports");
}

const FOREIGN: &str = "table inet other {
	set allowed {
		type ipv4_addr
		elements = { 192.0.2.1 }
	}
	chain c {
		type filter hook input priority 0; policy accept;
		tcp dport 22 ip saddr @allowed counter accept comment \"theirs\"
		counter drop
	}
}
";

#[test]
fn applying_twice_leaves_one_table_and_foreign_tables_alone() {
    if !require_root() {
        return;
    }
    let ns = Netns::new();
    ns.nft_load(FOREIGN).unwrap_or_else(|e| panic!("{e}"));
    let foreign = ns.exec(&["nft", "-j", "list", "table", "inet", "other"]).expect("list");
    let rs = every_variant();
    let first = apply_in(&ns, &rs).unwrap_or_else(|e| panic!("{e}"));
    let once = normalise(ns.list_table_json("ip", TABLE));
    let second = apply_in(&ns, &rs).unwrap_or_else(|e| panic!("{e}"));
    // The same batch both times; only the kernel's time and the generation differ, each
    // apply making the next generation.
    assert_eq!(second.generation, first.generation + 1);
    let sent =
        |r: ApplyReport| ApplyReport { kernel: std::time::Duration::ZERO, generation: 0, ..r };
    assert_eq!(sent(first), sent(second));
    assert_eq!(normalise(ns.list_table_json("ip", TABLE)), once);
    assert_eq!(ns.exec(&["nft", "-j", "list", "table", "inet", "other"]).expect("list"), foreign);
    let tables = ns.exec(&["nft", "list", "tables"]).expect("tables");
    assert_eq!(tables, "table inet other\ntable ip overlayfw\n");
    let want: usize = rs.chains.iter().map(|c| c.rules.len()).sum();
    assert_eq!(first.rules, want);
    assert_eq!(rule_counts(&ns.list_json(), "ip", TABLE).values().sum::<usize>(), want);
}

/// A ruleset that fails in the kernel at `bad` (inserted into the input chain after `good`
/// rules) leaves the namespace exactly as it was and names the failing rule's origin.
fn refused(bad: Rule, bad_chain_kind: ChainKind, expect_errno: &str) {
    let ns = Netns::new();
    ns.nft_load(FOREIGN).unwrap_or_else(|e| panic!("{e}"));
    // An older version of our table is in place.
    let mut old = every_variant();
    old.chains.truncate(0);
    old.sets.truncate(1);
    old.chains.push(base(
        "filter_input",
        ChainKind::Filter,
        Hook::Input,
        0,
        vec![Lines(900).rule(vec![], Action::Accept)],
    ));
    apply_in(&ns, &old).unwrap_or_else(|e| panic!("{e}"));
    let before = ns.list_json();

    let mut rs = every_variant();
    let l = &mut Lines(5000);
    let mut rules: Vec<Rule> =
        (0..300).map(|i| l.rule(vec![tcp_dport(i + 1)], Action::Accept)).collect();
    let origin = bad.origin.clone().expect("the bad rule has an origin");
    rules.push(bad);
    rules.extend((0..300).map(|i| l.rule(vec![tcp_dport(i + 1)], Action::Drop)));
    let (hook, prio) = match bad_chain_kind {
        ChainKind::Filter => (Hook::Input, 5),
        ChainKind::Nat => (Hook::Postrouting, 100),
    };
    rs.chains.push(base("late", bad_chain_kind, hook, prio, rules));

    let err = apply_in(&ns, &rs).expect_err("the kernel must refuse the batch");
    match &err {
        NetlinkError::Refused {
            object: Object::Rule { chain, position, origin: Some(o) }, ..
        } => {
            assert_eq!(chain, "late");
            assert_eq!(*position, 301);
            assert_eq!(format!("{}:{}", o.0, o.1), file_line(&origin));
        }
        other => panic!("wrong error: {other:?}"),
    }
    let text = err.to_string();
    let at = file_line(&origin);
    assert!(text.contains(&at) && text.contains(expect_errno), "{text}");
    assert_eq!(ns.list_json(), before, "the namespace's ruleset changed");
}

#[test]
fn a_refused_jump_changes_nothing_and_names_the_rule() {
    if !require_root() {
        return;
    }
    let bad = Lines(4000).rule(vec![], Action::Jump("NO_SUCH_CHAIN".into()));
    refused(bad, ChainKind::Filter, "No such file or directory");
}

#[test]
fn a_nat_rule_in_a_filter_chain_changes_nothing_and_names_the_rule() {
    if !require_root() {
        return;
    }
    let bad = Lines(4100).rule(vec![], Action::Masquerade { ports: None, flags: NatFlags::NONE });
    refused(bad, ChainKind::Filter, "Operation not supported");
}

fn many_rules(n: u32) -> Ruleset {
    let l = &mut Lines(0);
    let rules: Vec<Rule> = (0..n)
        .map(|i| {
            l.rule(
                vec![
                    Match::Saddr {
                        neg: false,
                        addrs: AddrMatch::Nets(
                            vec![net(&format!("10.{}.{}.0/24", i / 65536 % 256, i / 256 % 256))]
                                .into(),
                        ),
                    },
                    tcp_dport(1 + (i % 60_000) as u16),
                ],
                Action::Accept,
            )
        })
        .collect();
    let elements =
        (0..5_000u32).map(|i| net(&format!("172.16.{}.{}/32", i / 256, i % 256))).collect();
    Ruleset {
        table: TABLE.into(),
        files: crate::irgen::files(),
        ipv6: Default::default(),
        input_hash: "h".into(),
        sets: vec![Set { name: "big".into(), elements: SetElements::Addrs(elements) }],
        chains: vec![
            chain("INPUT_CUST", rules),
            base("filter_input", ChainKind::Filter, Hook::Input, 0, vec![jump("INPUT_CUST")]),
        ],
    }
}

#[test]
fn twenty_thousand_rules_apply_whole() {
    if !require_root() {
        return;
    }
    let rs = many_rules(20_000);
    let ns = Netns::new();
    let report = apply_in(&ns, &rs).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.bytes > 128 * 1024, "{report:?}");
    assert_eq!(report.rules, 20_001);
    let counts = rule_counts(&ns.list_table_json("ip", TABLE), "ip", TABLE);
    assert_eq!(counts.get("INPUT_CUST"), Some(&20_000));
    assert_eq!(counts.get("filter_input"), Some(&1));
    // The 5,000 adjacent /32s merge into ranges: as nft does.
    let b = Netns::new();
    b.nft_load(&nft_script(&rs)).unwrap_or_else(|e| panic!("{e}"));
    let set = |ns: &Netns| ns.exec(&["nft", "list", "set", "ip", TABLE, "big"]).expect("set");
    assert_eq!(set(&ns), set(&b));
}

/// Prints (never asserts on) the time of 100,000 rules via netlink and via `nft -f`.
#[test]
fn measure_100k_rules_netlink_against_nft() {
    if !require_root() {
        return;
    }
    let rs = many_rules(100_000);
    let script = nft_script(&rs);
    let ns_a = Netns::new();
    let ns_b = Netns::new();

    let path = std::env::temp_dir().join(format!("ofw-bench-{}.nft", std::process::id()));
    std::fs::write(&path, &script).expect("script");
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "%e s %M KiB", "ip", "netns", "exec", ns_a.name(), "nft", "-f"])
        .arg(&path)
        .output();
    let _ = std::fs::remove_file(&path);
    let nft = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
        Ok(o) => panic!("nft -f failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => {
            let t = Instant::now();
            ns_a.nft_load(&script).unwrap_or_else(|e| panic!("{e}"));
            format!("{:.2} s (no /usr/bin/time)", t.elapsed().as_secs_f64())
        }
    };

    let t = Instant::now();
    let report = apply_in(&ns_b, &rs).unwrap_or_else(|e| panic!("{e}"));
    let netlink = t.elapsed();
    let counts = |ns: &Netns| rule_counts(&ns.list_table_json("ip", TABLE), "ip", TABLE);
    assert_eq!(counts(&ns_a), counts(&ns_b));
    eprintln!(
        "100k rules: nft -f {nft}; netlink {:.2} s (build + send + ACK, in-process), batch {} \
         messages, {:.1} MiB",
        netlink.as_secs_f64(),
        report.messages,
        report.bytes as f64 / (1 << 20) as f64
    );
}
