//! `diff` and `apply` against a real kernel, in throw-away namespaces: round trips, mutations
//! named in the plan, foreign tables left alone, atomic refusal, `--confirm` reverting, and
//! `--against` agreeing with live.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::netns::{self, Netns};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every example and ok case this kernel can load ([`netns::loadable`]) with its inventory
/// (if any).
fn cases() -> Vec<(PathBuf, Option<PathBuf>)> {
    let mut out = Vec::new();
    for dir in ["examples/blog", "examples/nids-demo", "examples/vns3-forms", "tests/cases/ok"] {
        for e in std::fs::read_dir(root().join(dir)).expect("dir") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "rules") && netns::loadable(&p) {
                let inv = [p.with_extension("yaml"), p.with_file_name("topology.yaml")]
                    .into_iter()
                    .find(|i| i.exists());
                out.push((p, inv));
            }
        }
    }
    out.sort();
    out
}

/// Runs overlayfw inside the namespace.
fn ofw(ns: &Netns, args: &[&str], state: &Path) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_overlayfw")])
        .args(args)
        .env("OVERLAYFW_STATE_DIR", state)
        .stdin(Stdio::null())
        .output()
        .expect("run overlayfw")
}

/// Starts overlayfw inside the namespace without waiting for it (stderr piped).
fn spawn(ns: &Netns, args: &[&str], state: &Path, stdin: Stdio) -> std::process::Child {
    Command::new("ip")
        .args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_overlayfw")])
        .args(args)
        .env("OVERLAYFW_STATE_DIR", state)
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn overlayfw")
}

fn with_inv(mut args: Vec<String>, case: &(PathBuf, Option<PathBuf>)) -> Vec<String> {
    args.push(case.0.display().to_string());
    if let Some(inv) = &case.1 {
        args.push("--inventory".into());
        args.push(inv.display().to_string());
    }
    args
}

fn run(ns: &Netns, args: &[String], state: &Path) -> Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ofw(ns, &refs, state)
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The state directory of one test's applies (lock, records, pending changes), removed when the
/// test ends.
struct StateDir(tempfile::TempDir);

impl std::ops::Deref for StateDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for StateDir {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<std::ffi::OsStr> for StateDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.path().as_os_str()
    }
}

fn state_dir(tag: &str) -> StateDir {
    let dir = tempfile::Builder::new().prefix(&format!("overlayfw-state-{tag}-")).tempdir();
    StateDir(dir.expect("state dir"))
}

#[test]
fn apply_then_diff_is_empty_for_every_case_and_apply_is_idempotent() {
    if !netns::require_root() {
        return;
    }
    let state = state_dir("roundtrip");
    let mut failures = Vec::new();
    let backends: &[&str] = if cfg!(feature = "netlink") { &["nft", "netlink"] } else { &["nft"] };
    for backend in backends {
        let ns = Netns::new();
        for case in cases() {
            let apply_args =
                || with_inv(vec!["apply".into(), "--backend".into(), backend.to_string()], &case);
            let apply = run(&ns, &apply_args(), &state);
            if code(&apply) != 0 {
                failures.push(format!("{} ({backend}): apply: {}", case.0.display(), text(&apply)));
                continue;
            }
            // The netlink backend times the kernel's transaction; nft's cannot tell it apart.
            let timed = text(&apply).contains("the kernel's transaction took ");
            if timed != (*backend == "netlink") {
                failures.push(format!(
                    "{} ({backend}): apply said: {}",
                    case.0.display(),
                    text(&apply)
                ));
            }
            let first = ns.list_table_json("ip", "overlayfw");
            let diff = run(&ns, &with_inv(vec!["diff".into()], &case), &state);
            if code(&diff) != 0 {
                failures.push(format!(
                    "{} ({backend}): diff after apply: {}",
                    case.0.display(),
                    text(&diff)
                ));
            }
            // Applying again leaves one table with the same rules.
            let again = run(&ns, &apply_args(), &state);
            assert_eq!(code(&again), 0, "{}", text(&again));
            let second = ns.list_table_json("ip", "overlayfw");
            if netns::rule_counts(&first, "ip", "overlayfw")
                != netns::rule_counts(&second, "ip", "overlayfw")
            {
                failures
                    .push(format!("{}: second apply changed the rule counts", case.0.display()));
            }
            // One `ip` table, and the `ip6` table exactly when the inventory says `ipv6: drop`.
            let listing = ns.list_json();
            let family =
                |f: &str| netns::objects(&listing, "table").filter(|t| t["family"] == f).count();
            assert_eq!(family("ip"), 1, "one table after two applies");
            let drop = case.1.as_ref().is_some_and(|inv| {
                std::fs::read_to_string(inv).is_ok_and(|t| t.contains("\nipv6: drop"))
            });
            assert_eq!(family("ip6"), usize::from(drop), "{}: the ip6 table", case.0.display());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `apply --optimize` (each backend) then `diff --optimize` is empty, live and against a dump;
/// the plain `diff` sees that the live table is not the plain ruleset.
#[test]
fn optimized_apply_then_optimized_diff_is_empty() {
    if !netns::require_root() {
        return;
    }
    let state = state_dir("optimized");
    let policy = big_policy(&state, 2000);
    let mut inputs: Vec<(PathBuf, Option<PathBuf>)> = vec![(policy, None)];
    let edges = state.join("edges.rules");
    std::fs::write(&edges, crate::optimize::EDGE_POLICY).expect("write");
    inputs.push((edges, None));
    inputs.extend(cases());
    let backends: &[&str] = if cfg!(feature = "netlink") { &["nft", "netlink"] } else { &["nft"] };
    let mut failures = Vec::new();
    let mut merged = 0;
    for backend in backends {
        let ns = Netns::new();
        for case in &inputs {
            let args = |verb: &str| {
                let mut a = vec![verb.to_string(), "--optimize".into()];
                if verb == "apply" {
                    a.extend(["--backend".into(), backend.to_string()]);
                }
                with_inv(a, case)
            };
            let apply = run(&ns, &args("apply"), &state);
            if code(&apply) != 0 {
                failures.push(format!("{} ({backend}): apply: {}", case.0.display(), text(&apply)));
                continue;
            }
            let diff = run(&ns, &args("diff"), &state);
            if code(&diff) != 0 {
                failures.push(format!("{} ({backend}): diff: {}", case.0.display(), text(&diff)));
            }
            let dump = state.join("dump.json");
            std::fs::write(&dump, ns.exec(&["nft", "-j", "list", "ruleset"]).expect("list"))
                .expect("write dump");
            let mut against = args("diff");
            against.extend(["--against".into(), dump.display().to_string()]);
            let offline = run(&ns, &against, &state);
            if code(&offline) != 0 {
                failures.push(format!("{}: diff --against: {}", case.0.display(), text(&offline)));
            }
            // Where something merged, the plain ruleset differs from what is live.
            let plain = run(&ns, &with_inv(vec!["diff".into()], case), &state);
            merged += usize::from(code(&plain) == 1);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(merged >= 2 * backends.len(), "only {merged} inputs had anything merged");
}

/// Each mutation of the seed makes `diff` exit 1 and name the rule or element it changed.
#[test]
fn a_mutated_rule_is_named_in_the_plan() {
    if !netns::require_root() {
        return;
    }
    let state = state_dir("mutate");
    let dir = std::env::temp_dir().join(format!("overlayfw-mutate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let base = "INPUT_CUST -s blacklist -j DROP\nINPUT_CUST -p tcp --dport 22 -j ACCEPT\nINPUT_CUST -p udp --dport 53 -j ACCEPT\nPREROUTING_CUST -i eth0 -p tcp --dport 2222 -j DNAT --to 198.51.100.2:22\n";
    let inv = "interfaces:\n  public: eth0\nfwsets:\n  blacklist: [192.0.2.0/24, 203.0.113.7]\n";
    std::fs::write(dir.join("r.rules"), base).expect("write");
    std::fs::write(dir.join("r.yaml"), inv).expect("write");
    let ns = Netns::new();
    let case = (dir.join("r.rules"), Some(dir.join("r.yaml")));
    assert_eq!(code(&run(&ns, &with_inv(vec!["apply".into()], &case), &state)), 0);
    let mutations: [(&str, String, String, &str); 5] = [
        ("port", base.replace("--dport 22 ", "--dport 2200 "), inv.to_string(), "tcp dport 2200"),
        ("address", base.replace("198.51.100.2:22", "198.51.100.3:22"), inv.to_string(), "dnat to 198.51.100.3:22"),
        (
            "order",
            "INPUT_CUST -s blacklist -j DROP\nINPUT_CUST -p udp --dport 53 -j ACCEPT\nINPUT_CUST -p tcp --dport 22 -j ACCEPT\nPREROUTING_CUST -i eth0 -p tcp --dport 2222 -j DNAT --to 198.51.100.2:22\n".to_string(),
            inv.to_string(),
            "udp dport 53",
        ),
        ("deletion", base.replace("INPUT_CUST -p udp --dport 53 -j ACCEPT\n", ""), inv.to_string(), "- [3] udp dport 53"),
        ("set element", base.to_string(), inv.replace("203.0.113.7", "203.0.113.8"), "+ 203.0.113.8"),
    ];
    for (what, rules, inv, expect) in mutations {
        std::fs::write(dir.join("m.rules"), rules).expect("write");
        std::fs::write(dir.join("m.yaml"), inv).expect("write");
        let m = (dir.join("m.rules"), Some(dir.join("m.yaml")));
        let o = run(&ns, &with_inv(vec!["diff".into()], &m), &state);
        assert_eq!(code(&o), 1, "{what}: {}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains(expect), "{what}: plan does not name `{expect}`:\n{out}");
        let json =
            run(&ns, &with_inv(vec!["diff".into(), "--format".into(), "json".into()], &m), &state);
        let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json plan");
        assert_eq!(v["status"], "different", "{what}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_foreign_table_is_untouched_and_a_refused_load_changes_nothing() {
    if !netns::require_root() {
        return;
    }
    let state = state_dir("foreign");
    let ns = Netns::new();
    ns.nft_load("table inet other {\n\tset s { type ipv4_addr; elements = { 10.9.9.9 } }\n\tchain c { type filter hook input priority 5; policy accept; ip saddr @s counter drop; }\n}\n")
        .expect("foreign table");
    let before = ns.list_table_json("inet", "other");
    let seed = (root().join("examples/blog/blog.rules"), None);
    assert_eq!(code(&run(&ns, &with_inv(vec!["apply".into()], &seed), &state)), 0);
    assert_eq!(ns.list_table_json("inet", "other"), before, "apply touched the foreign table");

    // A rejected input: exit 1, nothing changes.
    let everything = ns.list_json();
    let dir = state_dir("bad-input");
    std::fs::write(dir.join("bad.rules"), "INPUT_CUST -j ACCEPT\nINPUT_CUST -j FROB\n")
        .expect("write");
    let o = ofw(&ns, &["apply", dir.join("bad.rules").to_str().expect("path")], &state);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(ns.list_json(), everything);

    // A script the kernel refuses half-way (our script plus a rule nft cannot load): the whole
    // transaction is refused, our old table and the foreign one stay as they were.
    let mut sources = overlayfw::diagnostic::Sources::new();
    let other = std::fs::read(root().join("examples/vns3-forms/rules.rules")).expect("rules");
    let inv = std::fs::read(root().join("examples/vns3-forms/topology.yaml")).expect("inv");
    let compiled = overlayfw::pipeline::compile(
        &mut sources,
        vec![overlayfw::pipeline::Text { name: "rules.rules".into(), bytes: other }],
        Some(overlayfw::pipeline::Text { name: "topology.yaml".into(), bytes: inv }),
        "overlayfw",
    );
    let mut script = overlayfw::emit::nft_script(&compiled.ruleset.expect("compiles"));
    script.push_str("add rule ip overlayfw INPUT_CUST jump NO_SUCH_CHAIN\n");
    let err = ns.nft_load(&script).expect_err("the kernel must refuse");
    assert!(err.contains("NO_SUCH_CHAIN") || err.contains("No such file"), "{err}");
    assert_eq!(ns.list_json(), everything, "a refused transaction changed the ruleset");
}

#[test]
fn confirm_keeps_the_change_and_its_absence_restores_the_previous_table() {
    if !netns::require_root() {
        return;
    }
    let state = state_dir("confirm");
    let ns = Netns::new();
    let v1 = (
        root().join("examples/vns3-forms/rules.rules"),
        Some(root().join("examples/vns3-forms/topology.yaml")),
    );
    let v2 = (root().join("examples/blog/blog.rules"), None);
    assert_eq!(code(&run(&ns, &with_inv(vec!["apply".into()], &v1), &state)), 0);
    let before = ns.list_table_json("ip", "overlayfw");

    // No confirmation: the previous table (sets included) comes back; exit 1.
    let o = run(&ns, &with_inv(vec!["apply".into(), "--confirm".into(), "1".into()], &v2), &state);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("restored"), "{}", text(&o));
    let diff = run(&ns, &with_inv(vec!["diff".into()], &v1), &state);
    assert_eq!(code(&diff), 0, "not restored:\n{}", text(&diff));
    assert_eq!(
        netns::rule_counts(&ns.list_table_json("ip", "overlayfw"), "ip", "overlayfw"),
        netns::rule_counts(&before, "ip", "overlayfw")
    );

    // The terminal goes away (the applying process is killed): the watchdog still restores.
    let v2_path = v2.0.display().to_string();
    let mut child = spawn(&ns, &["apply", "--confirm", "2", &v2_path], &state, Stdio::piped());
    let start = std::time::Instant::now();
    while code(&run(&ns, &with_inv(vec!["diff".into()], &v2), &state)) != 0 {
        assert!(start.elapsed().as_secs() < 20, "the new table never appeared");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("kill apply");
    let _ = child.wait();
    let start = std::time::Instant::now();
    while code(&run(&ns, &with_inv(vec!["diff".into()], &v1), &state)) != 0 {
        assert!(
            start.elapsed().as_secs() < 20,
            "the previous table was not restored after the terminal went away"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // Confirmed from another process: the new table stays; exit 0.
    let v2_path = v2.0.display().to_string();
    let mut child = spawn(&ns, &["apply", "--confirm", "30", &v2_path], &state, Stdio::null());
    let start = std::time::Instant::now();
    loop {
        let c = ofw(&ns, &["confirm"], &state);
        if code(&c) == 0 {
            break;
        }
        assert!(start.elapsed().as_secs() < 20, "apply never became confirmable");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status = child.wait().expect("apply ends");
    assert_eq!(status.code(), Some(0));
    assert_eq!(code(&run(&ns, &with_inv(vec!["diff".into()], &v2), &state)), 0);
    // Nothing pending any more.
    assert_eq!(code(&ofw(&ns, &["confirm"], &state)), 2);
}

#[test]
fn against_a_saved_dump_answers_as_live() {
    if !netns::require_root() {
        return;
    }
    let state = state_dir("against");
    let ns = Netns::new();
    let dir = state_dir("dumps");
    let v1 = (
        root().join("examples/vns3-forms/rules.rules"),
        Some(root().join("examples/vns3-forms/topology.yaml")),
    );
    let v2 = (
        root().join("examples/nids-demo/nids.rules"),
        Some(root().join("examples/nids-demo/topology.yaml")),
    );
    // Absent, then applied.
    for step in 0..2 {
        let dump = dir.join(format!("dump{step}.json"));
        std::fs::write(&dump, ns.exec(&["nft", "-j", "list", "ruleset"]).expect("dump"))
            .expect("write dump");
        for case in [&v1, &v2] {
            let live = run(&ns, &with_inv(vec!["diff".into()], case), &state);
            let saved = Command::new(env!("CARGO_BIN_EXE_overlayfw"))
                .args(with_inv(
                    vec!["diff".into(), "--against".into(), dump.display().to_string()],
                    case,
                ))
                .output()
                .expect("diff --against");
            assert_eq!(code(&live), code(&saved));
            // The live answer may add that nothing changed since the last apply.
            let live_text = String::from_utf8_lossy(&live.stdout)
                .replace(" (unchanged since the last apply)", "");
            assert_eq!(live_text, String::from_utf8_lossy(&saved.stdout));
        }
        assert_eq!(code(&run(&ns, &with_inv(vec!["apply".into()], &v1), &state)), 0);
    }
}

/// `compile --format json` loads with `nft -j -f` and gives the same table as the script.
#[test]
fn the_json_form_loads_as_the_same_ruleset() {
    if !netns::require_root() {
        return;
    }
    let state = state_dir("json");
    let (a, b) = (Netns::new(), Netns::new());
    let mut failures = Vec::new();
    for case in cases() {
        let script = Command::new(env!("CARGO_BIN_EXE_overlayfw"))
            .args(with_inv(vec!["compile".into()], &case))
            .output()
            .expect("compile");
        let json = Command::new(env!("CARGO_BIN_EXE_overlayfw"))
            .args(with_inv(vec!["compile".into(), "--format".into(), "json".into()], &case))
            .output()
            .expect("compile json");
        a.nft_load(&String::from_utf8_lossy(&script.stdout)).expect("script loads");
        let path = state.join("ruleset.json");
        std::fs::write(&path, &json.stdout).expect("write");
        if let Err(e) = b.exec(&["nft", "-j", "-f", path.to_str().expect("path")]) {
            failures.push(format!("{}: {e}", case.0.display()));
            continue;
        }
        // The JSON side was loaded: `diff` against it must be empty.
        let d = run(&b, &with_inv(vec!["diff".into()], &case), &state);
        if code(&d) != 0 {
            failures.push(format!("{}: {}", case.0.display(), text(&d)));
        }
        let strip = |v: serde_json::Value| netns::rule_counts(&v, "ip", "overlayfw");
        if strip(a.list_table_json("ip", "overlayfw"))
            != strip(b.list_table_json("ip", "overlayfw"))
        {
            failures
                .push(format!("{}: rule counts differ between script and JSON", case.0.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A generated policy of `n` rules, big enough that applying it takes a while.
fn big_policy(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join(format!("big-{n}.rules"));
    let out = Command::new("python3")
        .args([root().join("bench/gen.py").to_str().expect("path"), &n.to_string()])
        .output()
        .expect("python3 bench/gen.py");
    std::fs::write(&path, out.stdout).expect("write policy");
    path
}

/// A rules file and its inventory, if any.
type Case = (PathBuf, Option<PathBuf>);

/// The example applied before each interrupted apply: small, and unlike any big policy.
fn forms_example() -> Case {
    (
        root().join("examples/vns3-forms/rules.rules"),
        Some(root().join("examples/vns3-forms/topology.yaml")),
    )
}

/// Whether the live table is `old` (else `new`); panics, saying `when`, if it is neither.
fn old_or_new(ns: &Netns, (old, new): (&Case, &Case), state: &Path, when: &str) -> bool {
    let is_old = code(&run(ns, &with_inv(vec!["diff".into()], old), state)) == 0;
    let is_new = code(&run(ns, &with_inv(vec!["diff".into()], new), state)) == 0;
    assert!(is_old ^ is_new, "{when}: the table is neither the old nor the new one");
    is_old
}

/// `kill -9` at any moment of `apply` leaves the old table or the new one, never a mix.
#[test]
fn sigkill_during_apply_leaves_the_old_table_or_the_new_one() {
    if !netns::require_root() {
        return;
    }
    let state = state_dir("sigkill");
    let ns = Netns::new();
    let old = forms_example();
    // Large enough that an apply takes a while (kills land inside the transaction), small
    // enough that the nine diffs of each backend stay quick.
    let new = (big_policy(&state, 5_000), None);
    let backends: &[&str] = if cfg!(feature = "netlink") { &["nft", "netlink"] } else { &["nft"] };
    let mut outcomes = Vec::new();
    for backend in backends {
        // Kill at fractions of the time a whole apply takes, so that some kills land while
        // the transaction is on its way.
        let start = std::time::Instant::now();
        let whole = run(
            &ns,
            &[
                String::from("apply"),
                "--backend".into(),
                backend.to_string(),
                new.0.display().to_string(),
            ],
            &state,
        );
        assert_eq!(code(&whole), 0, "{}", text(&whole));
        let full = start.elapsed().as_millis() as u64;
        for delay_ms in (0..=8).map(|k| full * k / 8) {
            assert_eq!(code(&run(&ns, &with_inv(vec!["apply".into()], &old), &state)), 0);
            let new_path = new.0.display().to_string();
            let mut child =
                spawn(&ns, &["apply", "--backend", backend, &new_path], &state, Stdio::null());
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
            let _ = child.kill();
            let _ = child.wait();
            // An `nft` child may still be finishing its transaction: wait until no nft runs.
            let start = std::time::Instant::now();
            while ns.exec(&["pgrep", "-x", "nft"]).is_ok() {
                assert!(start.elapsed().as_secs() < 60, "nft never finished");
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let when = format!("{backend}, killed after {delay_ms} ms");
            let is_old = old_or_new(&ns, (&old, &new), &state, &when);
            outcomes.push(if is_old { "old" } else { "new" });
        }
    }
    eprintln!("sigkill outcomes: {outcomes:?}");
}

/// The first child of process `pid` whose command line is `nft -f -`, looked for until
/// `limit` passes.
fn nft_load_child(pid: u32, limit: std::time::Duration) -> Option<i32> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return None };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace() {
                let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
                if cmdline == b"nft\0-f\0-\0" {
                    return child.parse().ok();
                }
            }
        }
    }
    None
}

/// `kill -9` of `apply` while its `nft -f` has not yet read the script: nft commits the whole
/// script or nothing. The `nft` child is stopped as soon as it appears (so the apply cannot
/// have handed it the whole script through a pipe), the apply killed, then `nft` let go.
#[test]
fn sigkill_before_nft_has_read_the_script_leaves_the_old_table_or_the_new_one() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    if !netns::require_root() {
        return;
    }
    let state = state_dir("sigkill-read");
    let ns = Netns::new();
    let old = forms_example();
    let mut caught = 0;
    // Under names of different lengths (which the rules' comments carry), so that the script
    // a pipe would cut at its capacity ends at different places: after a match, inside a
    // comment, at a line's end.
    let policy = big_policy(&state, 5_000);
    for k in 0..12 {
        let new = (state.join(format!("big{}.rules", "x".repeat(k))), None);
        std::fs::copy(&policy, &new.0).expect("copy the policy");
        let new_path = new.0.display().to_string();
        assert_eq!(code(&run(&ns, &with_inv(vec!["apply".into()], &old), &state)), 0);
        let mut child =
            spawn(&ns, &["apply", "--backend", "nft", &new_path], &state, Stdio::null());
        let nft = nft_load_child(child.id(), std::time::Duration::from_secs(30));
        if let Some(nft) = nft {
            let _ = kill(Pid::from_raw(nft), Signal::SIGSTOP);
            // Time for the apply to hand over what a pipe would hold.
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        if let Some(nft) = nft {
            caught += 1;
            let _ = kill(Pid::from_raw(nft), Signal::SIGCONT);
            let start = std::time::Instant::now();
            while kill(Pid::from_raw(nft), None).is_ok()
                && std::fs::read_to_string(format!("/proc/{nft}/stat"))
                    .is_ok_and(|s| !s.contains(") Z "))
            {
                assert!(start.elapsed().as_secs() < 60, "nft never finished");
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        let when = format!("{}, killed while nft read the script", new.0.display());
        old_or_new(&ns, (&old, &new), &state, &when);
    }
    assert!(caught > 0, "the apply's `nft -f -` was never seen");
}

/// Two applies of the same table in the same namespace take turns: while one holds the lock,
/// the other waits.
#[test]
fn concurrent_applies_serialise_on_the_lock() {
    if !netns::require_root() {
        return;
    }
    use std::os::unix::fs::MetadataExt as _;
    let state = state_dir("lock");
    let ns = Netns::new();
    let inode =
        std::fs::metadata(format!("/var/run/netns/{}", ns.name())).expect("netns file").ino();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state.join(format!("{inode}-overlayfw.lock")))
        .expect("lock file");
    lock.lock().expect("take the lock");
    let seed = (root().join("examples/blog/blog.rules"), None);
    let seed_path = seed.0.display().to_string();
    let mut child = spawn(&ns, &["apply", &seed_path], &state, Stdio::null());
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(child.try_wait().expect("try_wait").is_none(), "apply did not wait for the lock");
    assert_eq!(
        code(&run(&ns, &with_inv(vec!["diff".into()], &seed), &state)),
        1,
        "applied while locked"
    );
    lock.unlock().expect("unlock");
    assert_eq!(child.wait().expect("apply ends").code(), Some(0));
    assert_eq!(code(&run(&ns, &with_inv(vec!["diff".into()], &seed), &state)), 0);
}

/// Waits until `diff` of `case` against the live table in `ns` is empty.
fn wait_until_live(ns: &Netns, case: &(PathBuf, Option<PathBuf>), state: &Path, what: &str) {
    let start = std::time::Instant::now();
    while code(&run(ns, &with_inv(vec!["diff".into()], case), state)) != 0 {
        assert!(start.elapsed().as_secs() < 30, "{what}: never became live");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Reads the standard error of an `apply --confirm` until it asks for confirmation (the change
/// is applied and recorded).
fn wait_for_question(child: &mut std::process::Child) {
    use std::io::BufRead as _;
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut said = String::new();
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line.expect("read stderr");
        if line.contains("confirm within") {
            return;
        }
        said.push_str(&line);
        said.push('\n');
    }
    panic!("apply --confirm never asked for confirmation:\n{said}");
}

fn is_live(ns: &Netns, case: &(PathBuf, Option<PathBuf>), state: &Path) -> bool {
    code(&run(ns, &with_inv(vec!["diff".into()], case), state)) == 0
}

/// The applying process of `apply --confirm` is killed (SIGKILL) while its watchdog waits: a
/// later apply of the table waits for that change to be decided (saying so, with the time
/// left) and is never reverted by the first watchdog; nor does that watchdog take over a later
/// `--confirm`'s files.
#[test]
fn a_killed_confirm_never_reverts_a_later_apply() {
    if !netns::require_root() {
        return;
    }
    let state = state_dir("stale-watchdog");
    let ns = Netns::new();
    let v1 = (
        root().join("examples/vns3-forms/rules.rules"),
        Some(root().join("examples/vns3-forms/topology.yaml")),
    );
    let v2_path = root().join("examples/blog/blog.rules").display().to_string();
    // Not the blog's policy in other words (`diff` would call them the same).
    let v3 = (state.join("v3.rules"), None);
    std::fs::write(&v3.0, "INPUT_CUST -p tcp --dport 2200 -j ACCEPT\n").expect("write");
    let v3_args = with_inv(vec!["apply".into()], &v3);
    let v3_refs: Vec<&str> = v3_args.iter().map(String::as_str).collect();

    // A later plain apply.
    assert_eq!(code(&run(&ns, &with_inv(vec!["apply".into()], &v1), &state)), 0);
    let mut first = spawn(&ns, &["apply", "--confirm", "3", &v2_path], &state, Stdio::null());
    wait_for_question(&mut first);
    first.kill().expect("SIGKILL the applying process");
    let _ = first.wait();
    let killed = std::time::Instant::now();
    let later = ofw(&ns, &v3_refs, &state);
    assert_eq!(code(&later), 0, "{}", text(&later));
    assert!(is_live(&ns, &v3, &state), "the later apply reported success but is not live");
    // Well past the first change's deadline: the later apply still stands.
    std::thread::sleep(std::time::Duration::from_secs(5).saturating_sub(killed.elapsed()));
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(is_live(&ns, &v3, &state), "the first watchdog reverted the later apply");
    let said = String::from_utf8_lossy(&later.stderr);
    assert!(
        said.contains("waiting for confirmation") && said.contains(" s left"),
        "the later apply did not say it waits:\n{said}"
    );

    // A later --confirm, confirmed: the first watchdog does not consume its files.
    let mut first = spawn(&ns, &["apply", "--confirm", "2", &v2_path], &state, Stdio::null());
    wait_for_question(&mut first);
    first.kill().expect("SIGKILL the applying process");
    let _ = first.wait();
    let mut later_args: Vec<&str> = vec!["apply", "--confirm", "30"];
    later_args.extend(&v3_refs[1..]);
    let later = spawn(&ns, &later_args, &state, Stdio::null());
    wait_until_live(&ns, &v3, &state, "the later --confirm apply");
    let start = std::time::Instant::now();
    while code(&ofw(&ns, &["confirm"], &state)) != 0 {
        assert!(start.elapsed().as_secs() < 20, "the later apply never became confirmable");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let later = later.wait_with_output().expect("apply ends");
    assert_eq!(later.status.code(), Some(0), "{}", text(&later));
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(is_live(&ns, &v3, &state), "the confirmed later apply was reverted");
    assert_eq!(code(&ofw(&ns, &["confirm"], &state)), 2, "something is still pending");
}

/// `--confirm` writes (and checks) the way back before it changes the kernel: a full disk or a
/// previous table nft cannot load back (iptables-nft `xt` matches) stops it with exit 2 and
/// nothing changed.
#[test]
fn confirm_secures_the_way_back_before_changing_the_kernel() {
    if !netns::require_root() {
        return;
    }
    let state = state_dir("way-back");
    let ns = Netns::new();
    let before = (big_policy(&state, 300), None);
    assert_eq!(code(&run(&ns, &with_inv(vec!["apply".into()], &before), &state)), 0);
    let listing = ns.list_table_json("ip", "overlayfw");

    // The state directory is a one-page tmpfs: the lock file fits, the restore script does not.
    let full = state.join("full");
    std::fs::create_dir_all(&full).expect("dir");
    let blog = root().join("examples/blog/blog.rules");
    let o = Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "mount -t tmpfs -o size=4k tmpfs \"$1\" && shift && exec ip netns exec \"$@\"",
            "sh",
        ])
        .arg(&full)
        .args([ns.name(), env!("CARGO_BIN_EXE_overlayfw"), "apply", "--confirm", "5"])
        .arg(&blog)
        .env("OVERLAYFW_STATE_DIR", &full)
        .stdin(Stdio::null())
        .output()
        .expect("run overlayfw on a full state directory");
    assert_eq!(ns.list_table_json("ip", "overlayfw"), listing, "the kernel changed");
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("writing the restore script"), "{}", text(&o));

    // A table nft lists with `xt` matches cannot be loaded back: refused before applying.
    ns.exec(&[
        "iptables-nft",
        "-t",
        "nat",
        "-A",
        "PREROUTING",
        "-p",
        "tcp",
        "-m",
        "string",
        "--algo",
        "bm",
        "--string",
        "x",
        "-j",
        "ACCEPT",
    ])
    .expect("iptables-nft");
    let nat = ns.exec(&["nft", "list", "table", "ip", "nat"]).expect("list nat");
    assert!(nat.contains("xt match"), "{nat}");
    let blog = blog.display().to_string();
    let o = ofw(&ns, &["apply", "--table", "nat", "--force", "--confirm", "5", &blog], &state);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("could not be put back"), "{}", text(&o));
    assert_eq!(ns.exec(&["nft", "list", "table", "ip", "nat"]).expect("list nat"), nat);
    assert_eq!(code(&ofw(&ns, &["confirm", "--table", "nat"], &state)), 2);
}

/// `--confirm` is bounded when the arguments are read (a huge value panicked after applying).
#[test]
fn an_out_of_range_confirm_is_a_usage_error_before_anything_changes() {
    if !netns::require_root() {
        return;
    }
    let state = state_dir("confirm-range");
    let ns = Netns::new();
    let blog = root().join("examples/blog/blog.rules").display().to_string();
    for seconds in ["18446744073709551615", "86401", "0"] {
        let o = ofw(&ns, &["apply", "--confirm", seconds, &blog], &state);
        assert_eq!(code(&o), 2, "--confirm {seconds}: {}", text(&o));
        assert!(text(&o).contains("86400"), "--confirm {seconds}: {}", text(&o));
        assert_eq!(netns::objects(&ns.list_json(), "table").count(), 0, "--confirm {seconds}");
    }
}

/// A line typed into the terminal before the question is not a confirmation.
#[test]
fn a_line_typed_ahead_does_not_confirm() {
    if !netns::require_root() {
        return;
    }
    let state = state_dir("typed-ahead");
    let ns = Netns::new();
    let v1 = (
        root().join("examples/vns3-forms/rules.rules"),
        Some(root().join("examples/vns3-forms/topology.yaml")),
    );
    assert_eq!(code(&run(&ns, &with_inv(vec!["apply".into()], &v1), &state)), 0);
    // On a pseudo-terminal, with a newline typed at once (before overlayfw asks).
    const PTY: &str = r#"
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
os.write(fd, b"\n")
out = b""
while True:
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
_, st = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(st))
"#;
    let blog = root().join("examples/blog/blog.rules");
    let o = Command::new("python3")
        .args(["-c", PTY, "ip", "netns", "exec", ns.name(), env!("CARGO_BIN_EXE_overlayfw")])
        .args(["apply", "--confirm", "2"])
        .arg(&blog)
        .env("OVERLAYFW_STATE_DIR", &state)
        .output()
        .expect("python3 pty");
    assert_eq!(code(&o), 1, "the typed-ahead line confirmed:\n{}", text(&o));
    assert!(is_live(&ns, &v1, &state), "the previous table is not back");
}

/// `--table NAME` refuses a table overlayfw did not make unless --force.
#[test]
fn a_table_overlayfw_did_not_make_is_replaced_only_with_force() {
    if !netns::require_root() {
        return;
    }
    let state = state_dir("foreign-table");
    let ns = Netns::new();
    ns.exec(&["iptables-nft", "-t", "nat", "-A", "POSTROUTING", "-o", "eth0", "-j", "MASQUERADE"])
        .expect("iptables-nft");
    ns.nft_load("table ip mine { comment \"hand-made\"; chain c { type filter hook input priority 0; policy accept; }; }\n")
        .expect("hand-made table");
    let blog = root().join("examples/blog/blog.rules").display().to_string();
    let backends: &[&str] = if cfg!(feature = "netlink") { &["nft", "netlink"] } else { &["nft"] };
    for backend in backends {
        for (table, why) in [("nat", "it has no comment"), ("mine", "its comment is \"hand-made\"")]
        {
            let listing = ns.exec(&["nft", "list", "table", "ip", table]).expect("list");
            for confirm in [&[][..], &["--confirm", "5"][..]] {
                let mut args = vec!["apply", "--backend", backend, "--table", table];
                args.extend(confirm);
                args.push(&blog);
                let o = ofw(&ns, &args, &state);
                assert_eq!(code(&o), 2, "{backend} {table}: {}", text(&o));
                let t = text(&o);
                assert!(
                    t.contains(&format!("table ip {table} was not made by overlayfw ({why})"))
                        && t.contains("--force"),
                    "{backend} {table}: {t}"
                );
                assert_eq!(ns.exec(&["nft", "list", "table", "ip", table]).expect("list"), listing);
            }
        }
    }
    let o = ofw(&ns, &["apply", "--table", "nat", "--force", &blog], &state);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let d = ofw(&ns, &["diff", "--table", "nat", &blog], &state);
    assert_eq!(code(&d), 0, "{}", text(&d));
    // Now overlayfw's: replaced without --force.
    assert_eq!(code(&ofw(&ns, &["apply", "--table", "nat", &blog], &state)), 0);
}

/// A directory holding a fake `nft` (a shell script), and nothing else: the real one is out
/// of reach, so nothing here can touch the machine's ruleset.
fn fake_nft(tag: &str, body: &str) -> StateDir {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = state_dir(tag);
    let nft = dir.join("nft");
    std::fs::write(&nft, format!("#!/bin/sh\n{body}\n")).expect("write");
    std::fs::set_permissions(&nft, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

fn ofw_with_path(args: &[&str], state: &Path, path: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_overlayfw"))
        .args(args)
        .env("OVERLAYFW_STATE_DIR", state)
        .env("PATH", path)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run overlayfw")
}

/// Without `nft`, apply and diff say so (exit 2) before taking the lock or changing anything.
#[test]
fn a_missing_nft_is_a_usage_error_before_the_lock() {
    let state = state_dir("no-nft");
    let empty = state.join("empty-path");
    std::fs::create_dir_all(&empty).expect("dir");
    let blog = root().join("examples/blog/blog.rules").display().to_string();
    // `--backend nft`: this test runs outside a namespace, safe only because nft is missing.
    let nft = ["--backend", "nft"];
    for args in [
        &["apply", nft[0], nft[1], &blog][..],
        &["apply", nft[0], nft[1], "--confirm", "5", &blog],
        &["diff", &blog],
    ] {
        let o = ofw_with_path(args, &state, &empty, &[]);
        assert_eq!(code(&o), 2, "{args:?}: {}", text(&o));
        let t = text(&o);
        assert!(t.contains("`nft` was not found"), "{args:?}: {t}");
        assert!(!t.contains("kernel refused"), "{args:?}: {t}");
    }
    let locks = std::fs::read_dir(&state).expect("state").filter_map(Result::ok);
    let locks: Vec<_> =
        locks.filter(|e| e.file_name().to_string_lossy().ends_with(".lock")).collect();
    assert!(locks.is_empty(), "a lock was taken: {locks:?}");
}

/// In a build without the `netlink` feature, `--backend netlink` is a usage error before the
/// lock.
#[cfg(not(feature = "netlink"))]
#[test]
fn netlink_without_the_feature_is_a_usage_error_before_the_lock() {
    let state = state_dir("no-netlink");
    let bin = fake_nft("no-netlink-nft", "exit 1");
    let blog = root().join("examples/blog/blog.rules").display().to_string();
    let o = ofw_with_path(&["apply", "--backend", "netlink", &blog], &state, &bin, &[]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("built without the `netlink` feature"), "{}", text(&o));
    assert!(!text(&o).contains("kernel refused"), "{}", text(&o));
    let any_lock = std::fs::read_dir(&state)
        .expect("state")
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().ends_with(".lock"));
    assert!(!any_lock, "a lock was taken");
}

/// A hung `nft` is stopped at the time limit (OVERLAYFW_NFT_TIMEOUT): apply and diff exit 2
/// saying so, and the lock is free again.
#[test]
fn a_hung_nft_is_stopped_at_the_time_limit() {
    let state = state_dir("hung-nft");
    let bin = fake_nft("hung-nft-bin", "exec /bin/sleep 60");
    let blog = root().join("examples/blog/blog.rules").display().to_string();
    // `--backend nft`: this test runs outside a namespace, safe only because nft is fake.
    let nft = ["--backend", "nft"];
    for args in [
        &["diff", &blog][..],
        &["apply", nft[0], nft[1], &blog],
        &["apply", nft[0], nft[1], "--confirm", "5", &blog],
    ] {
        let start = std::time::Instant::now();
        let o = ofw_with_path(args, &state, &bin, &[("OVERLAYFW_NFT_TIMEOUT", "1")]);
        let took = start.elapsed();
        assert_eq!(code(&o), 2, "{args:?}: {}", text(&o));
        assert!(text(&o).contains("did not finish within 1 s"), "{args:?}: {}", text(&o));
        assert!(took.as_secs() < 15, "{args:?} took {took:?}");
    }
    for entry in std::fs::read_dir(&state).expect("state").filter_map(Result::ok) {
        if entry.file_name().to_string_lossy().ends_with(".lock") {
            let f = std::fs::File::open(entry.path()).expect("lock file");
            f.try_lock().expect("the lock is free after a stopped nft");
        }
    }
    let o = ofw_with_path(&["diff", &blog], &state, &bin, &[("OVERLAYFW_NFT_TIMEOUT", "soon")]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("OVERLAYFW_NFT_TIMEOUT"), "{}", text(&o));
}

/// `apply --dry-run` changes nothing and exits as `diff` does: 1 while the apply would change
/// something, 0 once it would not (it exited 0 either way before); `--quiet` prints nothing.
#[test]
fn dry_run_exits_as_diff_does() {
    if !netns::require_root() {
        return;
    }
    let state = state_dir("dry-run");
    let ns = Netns::new();
    let blog = root().join("examples/blog/blog.rules").display().to_string();
    let o = ofw(&ns, &["apply", "--dry-run", &blog], &state);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(ns.exec(&["nft", "list", "table", "ip", "overlayfw"]).is_err(), "dry run applied");
    assert_eq!(code(&ofw(&ns, &["apply", &blog], &state)), 0);
    let o = ofw(&ns, &["apply", "--dry-run", &blog], &state);
    assert_eq!(code(&o), 0, "{}", text(&o));
    // --quiet (cron): nothing printed when all goes well.
    let o = ofw(&ns, &["apply", "--quiet", &blog], &state);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(o.stderr.is_empty() && o.stdout.is_empty(), "{}", text(&o));
}
