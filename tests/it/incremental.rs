//! The incremental apply (netlink): a ruleset applied again changes nothing; an edit changes
//! only what differs, keeps every other rule (its handle, so its counter) and lists exactly
//! as a fresh replace of the same ruleset, whatever was done to the table meanwhile.

use std::path::Path;

use overlayfw::diagnostic::Sources;
use overlayfw::ir::Ruleset;
use overlayfw::live::netlink::{self, incremental};
use overlayfw::pipeline::{self, Text};
use serde_json::Value;

use crate::edits::{INVENTORY, Lcg, canonical, random_edits, random_inventory, random_line};
use crate::load::{compile_ruleset, rules_files};
use crate::netlink::in_netns;
use crate::netns::{Netns, require_root};

const TABLE: &str = "overlayfw";

fn compile(text: &str) -> Ruleset {
    let mut sources = Sources::new();
    let file = Text { name: "edit.rules".into(), bytes: text.as_bytes().to_vec() };
    let inv = Text { name: "inv.yaml".into(), bytes: INVENTORY.as_bytes().to_vec() };
    let compiled = pipeline::compile(&mut sources, vec![file], Some(inv), TABLE);
    compiled.ruleset.unwrap_or_else(|| panic!("does not compile:\n{text}"))
}

fn changes(ns: &Netns, rs: &Ruleset) -> incremental::Changes {
    in_netns(ns, || incremental::apply(rs, false)).unwrap_or_else(|e| panic!("{e}"))
}

/// Removes the view an apply in `ns` left in the default state directory.
fn forget_view(ns: &Netns) {
    let inode = in_netns(ns, || {
        let link = std::fs::read_link("/proc/thread-self/ns/net").expect("own netns");
        let s = link.to_string_lossy().into_owned();
        s.trim_start_matches("net:[").trim_end_matches(']').to_string()
    });
    let state = std::env::var_os("OVERLAYFW_STATE_DIR").unwrap_or_else(|| "/run/overlayfw".into());
    let _ = std::fs::remove_file(Path::new(&state).join(format!("{inode}-{TABLE}.view")));
}

/// What a fresh replace of `rs` lists.
fn fresh(rs: &Ruleset) -> Value {
    let ns = Netns::new();
    in_netns(&ns, || netlink::apply(rs)).unwrap_or_else(|e| panic!("{e}"));
    canonical(&ns)
}

fn handles(ns: &Netns) -> Vec<(String, String, u64)> {
    let v = ns.list_table_json("ip", TABLE);
    v["nftables"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|i| i.get("rule"))
        .map(|r| {
            (
                r["chain"].as_str().unwrap_or("").to_string(),
                r["comment"].as_str().unwrap_or("").to_string(),
                r["handle"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn applying_the_same_ruleset_again_changes_nothing_for_every_case() {
    if !require_root() {
        return;
    }
    // Every expression overlayfw makes must read back with the fingerprint it was planned
    // with, or the second apply would rewrite rules.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut rulesets: Vec<(String, Ruleset)> = Vec::new();
    let mut files = rules_files(&root.join("examples"), 1);
    files.extend(rules_files(&root.join("tests/cases/ok"), 0));
    for f in files {
        let rs = compile_ruleset(&f);
        let mut optimized = rs.clone();
        overlayfw::optimize::optimize(&mut optimized);
        rulesets.push((f.display().to_string(), rs));
        rulesets.push((format!("{} --optimize", f.display()), optimized));
    }
    rulesets.push(("every_variant".into(), crate::irgen::every_variant()));
    let mut policy = crate::optimize::compile(&crate::optimize::policy(500));
    overlayfw::optimize::optimize(&mut policy);
    rulesets.push(("optimized policy".into(), policy));
    let ns = Netns::new();
    let mut failures = Vec::new();
    for (name, rs) in &rulesets {
        let first = changes(&ns, rs);
        assert!(first.replaced.is_some() || !first.nothing(), "{name}: the first apply did work");
        let second = changes(&ns, rs);
        if !second.nothing() {
            failures.push(format!("{name}: {second:?}"));
        }
        ns.exec(&["nft", "delete", "table", "ip", TABLE]).expect("delete table");
    }
    forget_view(&ns);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "FORWARD_CUST -i tun0 -s 10.{}.{}.0/24 -p tcp --dport {} -j ACCEPT",
                i / 200,
                i % 200,
                1000 + i
            )
        })
        .collect()
}

#[test]
fn an_edit_changes_only_what_differs_and_lists_as_a_fresh_replace() {
    if !require_root() {
        return;
    }
    let ns = Netns::new();
    let mut text = lines(300);
    text.push("FORWARD_CUST -s blocked -j DROP".into());
    text.push("PREROUTING_CUST -i eth0 -p tcp --dport 2222 -j DNAT --to 198.51.100.2:22".into());
    let first = compile(&(text.join("\n") + "\n"));
    let c = changes(&ns, &first);
    assert!(c.replaced.is_some(), "{c:?}");
    // Nothing to change: read back once, and that read kept as the view for the next apply.
    let c = changes(&ns, &first);
    assert!(c.nothing() && !c.from_view, "{c:?}");
    let before = handles(&ns);

    // A changed line at the end: one rule replaced, every other kept with its handle.
    let mut edited = text.clone();
    edited[299] = "FORWARD_CUST -i tun0 -s 10.1.99.0/24 -p udp --dport 1299 -j ACCEPT".into();
    let rs = compile(&(edited.join("\n") + "\n"));
    let c = changes(&ns, &rs);
    assert_eq!((c.rules_added, c.rules_deleted), (1, 1), "{c:?}");
    assert!(c.replaced.is_none(), "{c:?}");
    assert!(c.from_view, "planned from the first apply's view, no read: {c:?}");
    assert_eq!(canonical(&ns), fresh(&rs));
    let after = handles(&ns);
    let kept = before.iter().filter(|h| after.contains(h)).count();
    assert_eq!(kept, before.len() - 1, "every other rule kept its handle");

    // A new subgroup chain, a removed base-chain projection, a changed FWset.
    let mut edited2 = edited.clone();
    edited2.pop();
    edited2.push("FORWARD_CUST -i tun0 -j FWD_C_web".into());
    edited2.push("FWD_C_web -p tcp --dport 443 -j ACCEPT".into());
    let inv2 = INVENTORY.replace("198.51.100.7]", "198.51.100.7, 203.0.113.0/24]");
    let rs2 = {
        let mut sources = Sources::new();
        let file = Text { name: "edit.rules".into(), bytes: (edited2.join("\n") + "\n").into() };
        let inv = Text { name: "inv.yaml".into(), bytes: inv2.into_bytes() };
        pipeline::compile(&mut sources, vec![file], Some(inv), TABLE).ruleset.expect("compiles")
    };
    let c = changes(&ns, &rs2);
    assert!(c.replaced.is_none(), "{c:?}");
    assert!(c.chains_added >= 1 && c.elements_added >= 1, "{c:?}");
    assert_eq!(canonical(&ns), fresh(&rs2));

    // Back again: the chain goes, the element goes.
    let c = changes(&ns, &rs);
    assert!(c.replaced.is_none() && c.chains_deleted >= 1 && c.elements_deleted >= 1, "{c:?}");
    assert!(c.from_view, "{c:?}");
    assert_eq!(canonical(&ns), fresh(&rs));
    // Any change in the namespace makes the view stale: the table is read again.
    ns.exec(&["nft", "add", "table", "inet", "elsewhere"]).expect("another table");
    let c = changes(&ns, &rs2);
    assert!(!c.from_view && c.chains_added >= 1, "{c:?}");
    assert_eq!(canonical(&ns), fresh(&rs2));
    forget_view(&ns);
}

#[test]
fn foreign_changes_to_the_table_are_undone() {
    if !require_root() {
        return;
    }
    let ns = Netns::new();
    let rs = compile(&(lines(50).join("\n") + "\n"));
    changes(&ns, &rs);
    let listing = ns.list_table_json("ip", TABLE);
    let handle = listing["nftables"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|i| i.get("rule"))
        .nth(10)
        .and_then(|r| r["handle"].as_u64())
        .expect("a rule");
    let t = TABLE;
    ns.exec(&["nft", "delete", "rule", "ip", t, "FORWARD_CUST", "handle", &handle.to_string()])
        .expect("delete");
    ns.exec(&["nft", "insert", "rule", "ip", t, "FORWARD_CUST", "counter", "accept"])
        .expect("insert");
    ns.exec(&["nft", "add", "chain", "ip", t, "stray"]).expect("chain");
    ns.exec(&["nft", "add", "set", "ip", t, "stray_set", "{ type ipv4_addr; }"]).expect("set");
    let c = changes(&ns, &rs);
    assert_eq!(canonical(&ns), fresh(&rs), "{c:?}");
    // A rule whose comment is ours but whose statement was replaced is rewritten.
    let listing = ns.list_table_json("ip", TABLE);
    let rule = listing["nftables"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|i| i.get("rule"))
        .nth(5)
        .expect("a rule")
        .clone();
    let comment = rule["comment"].as_str().expect("comment").to_string();
    let handle = rule["handle"].as_u64().expect("handle").to_string();
    let replacement = format!("counter drop comment \"{comment}\"");
    let mut args = vec!["nft", "replace", "rule", "ip", t, "FORWARD_CUST", "handle", &handle];
    args.extend(replacement.split(' '));
    ns.exec(&args).expect("replace");
    assert_ne!(canonical(&ns), fresh(&rs));
    let c = changes(&ns, &rs);
    assert_eq!((c.rules_added, c.rules_deleted), (1, 1), "{c:?}");
    assert_eq!(canonical(&ns), fresh(&rs));
    forget_view(&ns);
}

/// Runs overlayfw inside the namespace (persistence off: the namespace is not the machine's).
fn ofw(ns: &Netns, dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("ip")
        .args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_overlayfw")])
        .args(args)
        .env("OVERLAYFW_STATE_DIR", dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run overlayfw")
}

/// Sends `n` UDP datagrams to 10.0.1.5:`port` from inside the namespace (out through eth0:
/// the OUTPUT hook sees each).
fn send_udp(ns: &Netns, port: u16, n: usize) {
    let script = format!("for i in $(seq {n}); do echo x > /dev/udp/10.0.1.5/{port}; done");
    ns.exec(&["bash", "-c", &script]).expect("send");
}

fn stats_json(ns: &Netns, dir: &Path, backend: &str) -> Vec<Value> {
    let o = ofw(ns, dir, &["stats", "--backend", backend, "--format", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice::<Vec<Value>>(&o.stdout).expect("stats JSON")
}

fn packets_of(stats: &[Value], line: u64) -> Vec<u64> {
    stats.iter().filter(|s| s["line"] == line).map(|s| s["packets"].as_u64().unwrap_or(0)).collect()
}

#[test]
fn stats_count_by_line_and_an_apply_keeps_untouched_counters() {
    if !require_root() {
        return;
    }
    let ns = Netns::new();
    // Removed when the test ends.
    let tmp = tempfile::Builder::new().prefix("ofw-incremental-").tempdir().expect("dir");
    let dir = tmp.path();
    let rules = dir.join("out.rules");
    let v1 =
        "OUTPUT_CUST -p udp --dport 9999 -j ACCEPT\nOUTPUT_CUST -p udp --dport 9998 -j ACCEPT\n";
    std::fs::write(&rules, v1).expect("write");
    let r = rules.display().to_string();
    let o = ofw(&ns, dir, &["apply", &r]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    send_udp(&ns, 9999, 5);
    for backend in ["netlink", "nft"] {
        let stats = stats_json(&ns, dir, backend);
        assert_eq!(packets_of(&stats, 1), [5], "{backend}: {stats:?}");
        assert_eq!(packets_of(&stats, 2), [0], "{backend}: {stats:?}");
        assert!(stats.iter().all(|s| s["file"] == r.as_str()), "{stats:?}");
    }
    let human = ofw(&ns, dir, &["stats"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains(&format!("{r}:1")) && text.contains("never hit (1 lines)"), "{text}");

    // A line added at the end and the second line changed: line 1's counter goes on.
    let v2 = "OUTPUT_CUST -p udp --dport 9999 -j ACCEPT\nOUTPUT_CUST -p udp --dport 9997 -j ACCEPT\nOUTPUT_CUST -p udp --dport 9996 -j DROP\n";
    std::fs::write(&rules, v2).expect("write");
    let o = ofw(&ns, dir, &["apply", &r]);
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && said.contains("2 rules added, 1 deleted"), "{said}");
    send_udp(&ns, 9999, 2);
    let stats = stats_json(&ns, dir, "netlink");
    assert_eq!(packets_of(&stats, 1), [7], "{stats:?}");
    // diff: from the generation alone while nothing changed; from a netlink read after a
    // change elsewhere; the plan (through nft) once our table differs.
    let diff = |args: &[&str]| {
        let o = ofw(&ns, dir, args);
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let (code, out) = diff(&["diff", &r]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("unchanged since the last apply"), "{out}");
    ns.exec(&["nft", "add", "table", "inet", "elsewhere"]).expect("another table");
    let (code, out) = diff(&["diff", &r]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("live table matches the rules"), "{out}");
    ns.exec(&["nft", "insert", "rule", "ip", TABLE, "OUTPUT_CUST", "counter", "drop"])
        .expect("insert");
    let (code, out) = diff(&["diff", &r]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("counter drop"), "{out}");
    assert_eq!(diff(&["diff", "--backend", "nft", &r]).0, Some(1));
    let o = ofw(&ns, dir, &["apply", &r]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // A line inserted above moves every line down: one rule added, none rewritten, and the
    // counters follow their lines (from the lines the apply recorded, and from the files).
    std::fs::write(&rules, format!("OUTPUT_CUST -p udp --dport 9995 -j ACCEPT\n{v2}"))
        .expect("write");
    let o = ofw(&ns, dir, &["apply", &r]);
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && said.contains("1 rules added, 0 deleted, 4 kept"), "{said}");
    let stats = stats_json(&ns, dir, "netlink");
    assert_eq!(packets_of(&stats, 2), [7], "{stats:?}");
    assert_eq!(packets_of(&stats, 1), [0], "{stats:?}");
    let o = ofw(&ns, dir, &["stats", "--format", "json", &r]);
    let from_files: Vec<Value> = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(packets_of(&from_files, 2), [7], "{from_files:?}");
}

#[test]
fn a_change_between_plan_and_commit_is_never_half_applied() {
    if !require_root() {
        return;
    }
    let ns = Netns::new();
    let v1 = compile(&(lines(40).join("\n") + "\n"));
    changes(&ns, &v1);
    let mut edited = lines(40);
    edited.remove(3);
    edited.push("FORWARD_CUST -p udp --dport 53 -j ACCEPT".into());
    let v2 = compile(&(edited.join("\n") + "\n"));
    // Another process changes our table after the plan is made: the kernel refuses the stale
    // batch (nothing of it applied), the table is read and planned again, and the result is
    // exactly v2 with the other change undone.
    let mut meddled = 0;
    let c = in_netns(&ns, || {
        incremental::apply_observed(&v2, false, &mut || {
            if meddled == 0 {
                let t = TABLE;
                let out = std::process::Command::new("nft")
                    .args(["insert", "rule", "ip", t, "FORWARD_CUST", "counter", "drop"])
                    .output()
                    .expect("nft");
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            }
            meddled += 1;
        })
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.replans, 1, "{c:?}");
    assert_eq!(meddled, 2);
    assert_eq!(canonical(&ns), fresh(&v2));
    // A change elsewhere in the namespace also moves the generation: planned again too.
    let v3 = compile(&(lines(41).join("\n") + "\n"));
    let mut other = 0;
    let c = in_netns(&ns, || {
        incremental::apply_observed(&v3, false, &mut || {
            if other == 0 {
                let out = std::process::Command::new("nft")
                    .args(["add", "table", "inet", "elsewhere"])
                    .output()
                    .expect("nft");
                assert!(out.status.success());
            }
            other += 1;
        })
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((c.replans, other), (1, 2), "{c:?}");
    assert_eq!(canonical(&ns), fresh(&v3));
    ns.exec(&["nft", "list", "table", "inet", "elsewhere"]).expect("the other table is left alone");
    forget_view(&ns);
}

/// Compiles `lines`, dropping jumps to a subgroup that has no lines (E003 otherwise).
fn compile_with(lines: &[String], inventory: &str) -> Ruleset {
    let text = crate::edits::rules_text(lines);
    let mut sources = Sources::new();
    let file = Text { name: "edit.rules".into(), bytes: text.clone().into_bytes() };
    let inv = Text { name: "inv.yaml".into(), bytes: inventory.as_bytes().to_vec() };
    let compiled = pipeline::compile(&mut sources, vec![file], Some(inv), TABLE);
    compiled.ruleset.unwrap_or_else(|| panic!("{:?}\n{text}", compiled.diagnostics))
}

#[test]
fn random_edit_sequences_end_as_a_fresh_replace() {
    if !require_root() {
        return;
    }
    let ns = Netns::new();
    let mut g = Lcg(0x0f_1e_2d_3c);
    let mut lines: Vec<String> = (0..40).map(|_| random_line(&mut g)).collect();
    let mut inventory = random_inventory(&mut g);
    let mut from_view = 0;
    for step in 0..25 {
        random_edits(&mut g, &mut lines, &mut inventory, 6);
        // Now and then someone else changes our table, or another one, between applies.
        match g.below(6) {
            0 => {
                let _ = ns.exec(&[
                    "nft",
                    "insert",
                    "rule",
                    "ip",
                    TABLE,
                    "FORWARD_CUST",
                    "counter",
                    "accept",
                ]);
            }
            1 => {
                let _ = ns.exec(&["nft", "flush", "chain", "ip", TABLE, "INPUT_CUST"]);
            }
            2 => {
                let _ = ns.exec(&["nft", "add", "table", "inet", &format!("other{step}")]);
            }
            _ => {}
        }
        let rs = compile_with(&lines, &inventory);
        // The other backend now and then: nft -f of the script replaces the table (and the
        // next incremental apply starts from nft's own expressions).
        if g.below(5) == 0 {
            ns.nft_load(&overlayfw::emit::nft_script(&rs)).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(canonical(&ns), fresh(&rs), "step {step} (nft)");
            continue;
        }
        let c = changes(&ns, &rs);
        from_view += usize::from(c.from_view);
        assert_eq!(canonical(&ns), fresh(&rs), "step {step}: {c:?}\n{}", lines.join("\n"));
    }
    assert!(from_view >= 5, "the view was used in {from_view} of 25 steps");
    forget_view(&ns);
}

/// `kill -9` at any moment of an incremental apply (planning, sending, writing the view)
/// leaves the old table or the new one, and the next apply still ends exactly as asked.
#[test]
fn sigkill_during_an_incremental_apply_leaves_the_old_table_or_the_new_one() {
    if !require_root() {
        return;
    }
    let ns = Netns::new();
    // Removed when the test ends.
    let tmp = tempfile::Builder::new().prefix("ofw-incr-kill-").tempdir().expect("dir");
    let dir = tmp.path();
    let (a, b) = (dir.join("a"), dir.join("b"));
    std::fs::create_dir_all(&a).expect("dir");
    std::fs::create_dir_all(&b).expect("dir");
    // The same file name in two directories: the rules' comments (FILE #ID) agree, so the
    // apply from one to the other is an edit of 1 line in 10, not a rewrite.
    let old_lines = lines(3000);
    let mut new_lines = old_lines.clone();
    for i in (0..new_lines.len()).step_by(10) {
        new_lines[i] =
            format!("FORWARD_CUST -i tun0 -s 192.0.2.{} -p udp --dport {i} -j DROP", i % 250);
    }
    std::fs::write(a.join("p.rules"), old_lines.join("\n") + "\n").expect("write");
    std::fs::write(b.join("p.rules"), new_lines.join("\n") + "\n").expect("write");
    let state = dir.join("state");
    let apply = |cwd: &Path| {
        let mut c = std::process::Command::new("ip");
        c.args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_overlayfw"), "apply", "p.rules"])
            .current_dir(cwd)
            .env("OVERLAYFW_STATE_DIR", &state)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c
    };
    let listing_of = |cwd: &Path| {
        let probe = Netns::new();
        let o = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                probe.name(),
                env!("CARGO_BIN_EXE_overlayfw"),
                "apply",
                "p.rules",
            ])
            .current_dir(cwd)
            .env("OVERLAYFW_STATE_DIR", dir.join("probe-state"))
            .output()
            .expect("apply");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        canonical(&probe)
    };
    let (old, new) = (listing_of(&a), listing_of(&b));
    assert!(apply(&a).status().expect("apply").success());
    let start = std::time::Instant::now();
    assert!(apply(&b).status().expect("apply").success());
    let full = start.elapsed().as_millis() as u64;
    let mut outcomes = Vec::new();
    for k in 0..=8 {
        // Back to the old table (not timed), then kill the apply of the new one part-way.
        assert!(apply(&a).status().expect("apply").success());
        let mut child = apply(&b).spawn().expect("spawn");
        std::thread::sleep(std::time::Duration::from_millis(full * k / 8));
        let _ = child.kill();
        let _ = child.wait();
        let now = canonical(&ns);
        assert!(now == old || now == new, "killed at {k}/8: neither the old table nor the new");
        outcomes.push(if now == old { "old" } else { "new" });
    }
    // Whatever the kill left (a view or none), the next applies end exactly as asked.
    assert!(apply(&a).status().expect("apply").success());
    assert_eq!(canonical(&ns), old);
    assert!(apply(&b).status().expect("apply").success());
    assert_eq!(canonical(&ns), new);
    eprintln!("incremental sigkill outcomes: {outcomes:?}");
}

/// A chain of more than 4,096 rules is laid out as chunks (`layout::chunk`): the policy is the
/// same (a packet meets the rules in order, the last one included), `stats` counts by line
/// under the VNS3 chain's name, and an insertion keeps the other rules and their counters.
#[test]
fn a_chunked_chain_keeps_its_order_and_its_counters() {
    if !require_root() {
        return;
    }
    let ns = Netns::new();
    // Removed when the test ends.
    let tmp = tempfile::Builder::new().prefix("ofw-chunks-").tempdir().expect("dir");
    let dir = tmp.path();
    let rules = dir.join("long.rules");
    let mut lines: Vec<String> = (0..6000)
        .map(|i| format!("OUTPUT_CUST -p udp -d 10.0.1.5 --dport {} -j ACCEPT", 20000 + i))
        .collect();
    lines.push("OUTPUT_CUST -p udp -d 10.0.1.5 --dport 9999 -j ACCEPT".into());
    std::fs::write(&rules, lines.join("\n") + "\n").expect("write");
    let r = rules.display().to_string();
    let o = ofw(&ns, dir, &["apply", &r]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let chains = ns.exec(&["nft", "list", "table", "ip", TABLE]).expect("list");
    assert!(chains.contains("chain OUTPUT_CUST__"), "chunked");
    assert!(chains.contains("jump OUTPUT_CUST__"), "the chain jumps to its chunks");
    send_udp(&ns, 9999, 3);
    send_udp(&ns, 25500, 2);
    let stats = stats_json(&ns, dir, "netlink");
    assert_eq!(packets_of(&stats, 6001), [3], "the last rule, through every chunk");
    assert_eq!(packets_of(&stats, 5501), [2]);
    assert!(stats.iter().all(|s| s["chain"] == "OUTPUT_CUST"), "chunks count as their chain");
    // A line inserted near the top: the counters follow their lines.
    lines.insert(10, "OUTPUT_CUST -p udp -d 10.0.1.5 --dport 9998 -j ACCEPT".into());
    std::fs::write(&rules, lines.join("\n") + "\n").expect("write");
    let o = ofw(&ns, dir, &["apply", &r]);
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && said.contains(" kept"), "{said}");
    let stats = stats_json(&ns, dir, "netlink");
    assert_eq!(packets_of(&stats, 6002), [3], "{said}");
    assert_eq!(packets_of(&stats, 5502), [2], "{said}");
    let d = ofw(&ns, dir, &["diff", "--backend", "nft", &r]);
    assert!(d.status.success(), "{}", String::from_utf8_lossy(&d.stdout));
}

/// A meter's set holds runtime state: an apply never empties or refills it, and a meter no
/// rule uses any more is deleted with its rules instead of the whole table being replaced.
#[test]
fn meters_keep_their_state_and_a_gone_meter_is_deleted_in_place() {
    if !require_root() {
        return;
    }
    let ns = Netns::new();
    let hashlimit = "INPUT_CUST -p tcp -m hashlimit --hashlimit-above 5/s --hashlimit-mode srcip \
                     --hashlimit-name web -j DROP\n";
    let first =
        compile(&format!("{hashlimit}INPUT_CUST -m connlimit --connlimit-above 9 -j DROP\n"));
    changes(&ns, &first);
    let elements = |ns: &Netns| {
        ns.exec(&["nft", "list", "set", "ip", TABLE, "hashlimit-web"])
            .unwrap_or_else(|e| panic!("{e}"))
    };
    // A key the kernel would have made from a packet.
    ns.exec(&["nft", "add", "element", "ip", TABLE, "hashlimit-web", "{ 192.0.2.9 timeout 1h }"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(elements(&ns).contains("192.0.2.9"));
    forget_view(&ns);
    let again = changes(&ns, &first);
    assert!(again.nothing(), "{again:?}");
    assert!(elements(&ns).contains("192.0.2.9"), "the meter's state was lost");
    // The connlimit line changes: its set is another; the old one goes with its rule.
    let second =
        compile(&format!("{hashlimit}INPUT_CUST -m connlimit --connlimit-above 8 -j DROP\n"));
    let c = changes(&ns, &second);
    assert_eq!(c.replaced, None, "{c:?}");
    assert_eq!(
        (c.sets_added, c.sets_deleted, c.rules_added, c.rules_deleted),
        (1, 1, 1, 1),
        "{c:?}"
    );
    assert!(elements(&ns).contains("192.0.2.9"), "the other meter's state was lost");
    // Without the state, the table is what a fresh replace makes.
    ns.exec(&["nft", "delete", "element", "ip", TABLE, "hashlimit-web", "{ 192.0.2.9 }"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(canonical(&ns), fresh(&second));
}

/// A quota's spent bytes are its state, not its rule: an apply after traffic (read back from
/// the kernel, the view forgotten) keeps the rule, so the quota stays spent.
#[test]
fn an_apply_keeps_a_spent_quota() {
    if !require_root() {
        return;
    }
    let ns = Netns::new();
    let quota = "OUTPUT_CUST -p udp --dport 9100 -m quota ! --quota 87 -j DROP\n";
    changes(&ns, &compile(quota));
    let first = crate::netns::numbered_datagrams(&ns, 3);
    assert_eq!(first.trim(), "0 1 2", "three 29-byte datagrams fill the quota");
    forget_view(&ns);
    let c = changes(&ns, &compile(&format!("{quota}INPUT_CUST -p tcp --dport 22 -j ACCEPT\n")));
    assert!(c.replaced.is_none() && c.rules_deleted == 0, "{c:?}");
    let after = crate::netns::numbered_datagrams(&ns, 3);
    assert_eq!(after.trim(), "", "the quota was reset by the apply");
}
