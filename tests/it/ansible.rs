//! The Ansible module (`ansible/library/overlayfw.py`) run by the shipped playbook
//! (`ansible/site.yml`) against a fleet of 20 router namespaces with different drift: check
//! mode reports exactly the drifted ones and changes nothing, the real run converges all 20,
//! and the next run changes none. Also: `confirm` applies pending and the playbook's next task
//! confirms; an apply nobody confirms in time rolls back and the late confirmation fails; an
//! error in the rules fails the task with overlayfw's message. Results are read from a JSON
//! report (see [`JSON_CALLBACK`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::netns::{self, Netns};

const FLEET: usize = 20;
/// Routers 0..7 run an older ruleset, 7..12 none at all; the rest are up to date.
const OLDER: std::ops::Range<usize> = 0..7;
const NOTHING: std::ops::Range<usize> = 7..12;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const CURRENT: &str = "\
INPUT_CUST -p tcp --dport 22 -j ACCEPT
INPUT_CUST -p udp --dport 53 -j ACCEPT
-o eth0 -s 198.51.100.0/28 -j MASQUERADE
PREROUTING_CUST -i eth0 -p tcp --dport 2222 -j DNAT --to 198.51.100.2:22
";

/// What some routers still run: a line fewer and a port different.
const OLDER_RULES: &str = "\
INPUT_CUST -p tcp --dport 22 -j ACCEPT
-o eth0 -s 198.51.100.0/28 -j MASQUERADE
PREROUTING_CUST -i eth0 -p tcp --dport 2200 -j DNAT --to 198.51.100.2:22
";

/// The report of a playbook run, as one JSON document on standard output, in the shape of the
/// `ansible.posix.json` callback (`plays[].tasks[].task.name`, `.hosts[HOST]` = the result,
/// `stats[HOST]`): that callback is not part of ansible-core, and Ansible Galaxy may be out of
/// reach, so the test brings this stdout callback of its own.
const JSON_CALLBACK: &str = r#"
import json
import sys

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'fleet_json'

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.tasks = []

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.tasks.append({'task': {'name': task.get_name()}, 'hosts': {}})

    def record(self, result, **extra):
        r = dict(result._result)
        r.update(extra)
        self.tasks[-1]['hosts'][result._host.get_name()] = r

    def v2_runner_on_ok(self, result):
        self.record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self.record(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self.record(result, skipped=True)

    def v2_runner_on_unreachable(self, result):
        self.record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        hosts = sorted(stats.processed.keys())
        report = {'plays': [{'tasks': self.tasks}],
                  'stats': dict((h, stats.summarize(h)) for h in hosts)}
        sys.stdout.write(json.dumps(report, default=str) + '\n')
"#;

/// Whether `ansible-playbook` runs here; when not, a skip (a failure under `CI=true`).
fn require_ansible() -> bool {
    let why_not = match Command::new("ansible-playbook").arg("--version").output() {
        Ok(out) if out.status.success() => return true,
        Ok(out) => {
            format!("`ansible-playbook --version` failed: {}", String::from_utf8_lossy(&out.stderr))
        }
        Err(e) => format!("ansible-playbook is not runnable: {e}"),
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("the ansible test cannot run under CI=true: {why_not}");
    }
    eprintln!("skipping the ansible test: {why_not} (python3 -m pip install ansible-core)");
    false
}

struct Fleet {
    routers: Vec<Netns>,
    dir: tempfile::TempDir,
}

impl Fleet {
    fn new(size: usize) -> Fleet {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("current.rules"), CURRENT).expect("write");
        std::fs::write(dir.path().join("older.rules"), OLDER_RULES).expect("write");
        Fleet { routers: (0..size).map(|_| Netns::new()).collect(), dir }
    }

    fn host(i: usize) -> String {
        format!("r{i:02}")
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn persist_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join("persist").join(Fleet::host(i))
    }

    /// overlayfw inside router `i`'s namespace, with the environment the playbook gives it.
    fn overlayfw(&self, i: usize, args: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", self.routers[i].name(), env!("CARGO_BIN_EXE_overlayfw")])
            .args(args)
            .env("OVERLAYFW_STATE_DIR", self.state_dir())
            .env("OVERLAYFW_PERSIST_DIR", self.persist_dir(i))
            .stdin(Stdio::null())
            .output()
            .expect("run overlayfw")
    }

    /// What router `i` keeps for its next boot.
    fn kept(&self, i: usize) -> Option<String> {
        std::fs::read_to_string(self.persist_dir(i).join("overlayfw.nft")).ok()
    }

    fn rules(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// The exit code of `overlayfw diff` (against the current rules) in router `i`.
    fn diff_code(&self, i: usize) -> i32 {
        let out = self.overlayfw(i, &["diff", &self.rules("current.rules")]);
        let code = out.status.code().expect("exit code");
        assert!(code == 0 || code == 1, "diff in {}: {}", Fleet::host(i), text(&out));
        code
    }

    /// Writes the Ansible inventory (every router a local host with its namespace) and the
    /// extra variables of the playbook.
    fn write_inventory(&self, extra: Value) -> (PathBuf, PathBuf) {
        let mut ini = String::from("[routers]\n");
        for (i, ns) in self.routers.iter().enumerate() {
            ini.push_str(&format!(
                "{} ansible_connection=local netns={}\n",
                Fleet::host(i),
                ns.name()
            ));
        }
        let inventory = self.dir.path().join("hosts.ini");
        std::fs::write(&inventory, ini).expect("write inventory");
        let mut vars = json!({
            "overlayfw_src": [self.rules("current.rules")],
            "overlayfw_binary": env!("CARGO_BIN_EXE_overlayfw"),
            "overlayfw_become": false,
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "overlayfw_environment": {
                "OVERLAYFW_STATE_DIR": self.state_dir(),
                "OVERLAYFW_PERSIST_DIR":
                    format!("{}/{{{{ inventory_hostname }}}}", self.dir.path().join("persist").display()),
            },
        });
        vars.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
        let vars_file = self.dir.path().join("vars.json");
        std::fs::write(&vars_file, vars.to_string()).expect("write vars");
        (inventory, vars_file)
    }

    /// Runs `ansible/site.yml` with the JSON callback; its parsed report. Every host must
    /// succeed.
    fn playbook(&self, inventory: &Path, vars: &Path, flags: &[&str]) -> Value {
        let (report, ok) = self.playbook_report(inventory, vars, flags);
        assert!(ok, "ansible-playbook {flags:?} failed:\n{report}");
        report
    }

    /// Runs `ansible/site.yml` with the JSON callback; its parsed report, and whether every
    /// host succeeded.
    fn playbook_report(&self, inventory: &Path, vars: &Path, flags: &[&str]) -> (Value, bool) {
        self.run_playbook(&root().join("ansible/site.yml"), inventory, vars, flags)
    }

    /// Runs a playbook with the JSON callback; its parsed report, and whether every host
    /// succeeded.
    fn run_playbook(
        &self,
        playbook: &Path,
        inventory: &Path,
        vars: &Path,
        flags: &[&str],
    ) -> (Value, bool) {
        let tmp = self.dir.path().join("ansible-tmp");
        let config = self.dir.path().join("ansible.cfg");
        std::fs::write(&config, "[defaults]\n").expect("write ansible.cfg");
        let callbacks = self.dir.path().join("callback_plugins");
        std::fs::create_dir_all(&callbacks).expect("mkdir");
        std::fs::write(callbacks.join("fleet_json.py"), JSON_CALLBACK).expect("write callback");
        let out = Command::new("ansible-playbook")
            .arg("-i")
            .arg(inventory)
            .arg("-e")
            .arg(format!("@{}", vars.display()))
            .args(["--forks", "10"])
            .args(flags)
            .arg(playbook)
            // No ansible.cfg of the working directory or the user's may change what runs.
            .current_dir(self.dir.path())
            .env("ANSIBLE_CONFIG", &config)
            .env("ANSIBLE_LIBRARY", root().join("ansible/library"))
            .env("ANSIBLE_CALLBACK_PLUGINS", &callbacks)
            .env("ANSIBLE_STDOUT_CALLBACK", "fleet_json")
            .env("ANSIBLE_LOCAL_TEMP", &tmp)
            .env("ANSIBLE_REMOTE_TEMP", &tmp)
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_DEPRECATION_WARNINGS", "0")
            .env("ANSIBLE_PYTHON_INTERPRETER", "auto_silent")
            .stdin(Stdio::null())
            .output()
            .expect("run ansible-playbook");
        let stdout = String::from_utf8_lossy(&out.stdout);
        // The report is the last line (a `pause` task prints to standard output before it).
        let last = stdout.lines().rev().find(|l| l.starts_with('{')).unwrap_or_default();
        let report: Value = serde_json::from_str(last).unwrap_or_else(|e| {
            panic!("ansible-playbook {flags:?}: no JSON report ({e}): {}", text(&out))
        });
        let failed = report["plays"][0]["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|t| t["hosts"].as_object().into_iter().flatten())
            .any(|(_, r)| r["failed"] == true || r["unreachable"] == true);
        let stats_bad = report["stats"]
            .as_object()
            .expect("stats")
            .values()
            .any(|s| s["failures"] != 0 || s["unreachable"] != 0);
        let ok = out.status.success() && !failed && !stats_bad;
        (report, ok)
    }
}

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The results of the first task (the converge task) of the play, by host.
fn converge_results(report: &Value) -> &serde_json::Map<String, Value> {
    let task = &report["plays"][0]["tasks"][0];
    assert_eq!(task["task"]["name"], "Converge table ip overlayfw", "{task}");
    task["hosts"].as_object().expect("hosts")
}

/// The hosts the converge task reported changed (and that every router reported).
fn changed_hosts(report: &Value) -> BTreeSet<String> {
    let results = converge_results(report);
    assert_eq!(results.len(), FLEET, "every router reports: {report}");
    results.iter().filter(|(_, r)| r["changed"] == true).map(|(h, _)| h.clone()).collect()
}

#[test]
fn a_playbook_converges_a_fleet_of_twenty_routers_with_drift() {
    if !crate::slow_tier("the ansible test") || !netns::require_root() || !require_ansible() {
        return;
    }
    let fleet = Fleet::new(FLEET);
    for i in OLDER {
        let out = fleet.overlayfw(i, &["apply", &fleet.rules("older.rules")]);
        assert!(out.status.success(), "baseline of {}: {}", Fleet::host(i), text(&out));
    }
    for i in NOTHING.end..FLEET {
        let out = fleet.overlayfw(i, &["apply", &fleet.rules("current.rules")]);
        assert!(out.status.success(), "baseline of {}: {}", Fleet::host(i), text(&out));
    }
    let drifted: BTreeSet<String> = (OLDER.start..NOTHING.end).map(Fleet::host).collect();
    let (inventory, vars) = fleet.write_inventory(json!({}));
    let rulesets: Vec<Value> = fleet.routers.iter().map(Netns::list_json).collect();
    let kept: Vec<Option<String>> = (0..FLEET).map(|i| fleet.kept(i)).collect();

    // Check mode (with the plan): exactly the drifted routers, and nothing changes.
    let report = fleet.playbook(&inventory, &vars, &["--check", "--diff"]);
    assert_eq!(changed_hosts(&report), drifted);
    for (host, result) in converge_results(&report) {
        let differs = drifted.contains(host);
        assert_eq!(result["differs"], differs, "{host}: {result}");
        // The plan (diff --format json) is there for every host, the human plan for the
        // drifted ones, which it says how it changes.
        assert!(result["plan"].is_object(), "{host}: {result}");
        let prepared = result["diff"]["prepared"].as_str().unwrap_or("");
        if differs {
            assert!(!prepared.trim().is_empty(), "{host}: no plan: {result}");
        } else {
            assert!(prepared.is_empty(), "{host}: a plan although the same: {result}");
        }
    }
    // The check ran `diff` only: every ruleset is as it was (handles included), the drifted
    // routers still differ, and nothing new was kept for the next boot.
    for i in 0..FLEET {
        let host = Fleet::host(i);
        assert_eq!(fleet.routers[i].list_json(), rulesets[i], "{host}'s ruleset after --check");
        let want = if i < NOTHING.end { 1 } else { 0 };
        assert_eq!(fleet.diff_code(i), want, "{host} after --check");
        assert_eq!(fleet.kept(i), kept[i], "{host}'s kept table after --check");
    }

    // The real run applies where it differs, and converges every router.
    let report = fleet.playbook(&inventory, &vars, &[]);
    assert_eq!(changed_hosts(&report), drifted);
    for i in 0..FLEET {
        assert_eq!(fleet.diff_code(i), 0, "{} after the real run", Fleet::host(i));
    }
    // What the drifted routers applied is kept for their next boot: the same table as the
    // routers that were up to date.
    let current = fleet.kept(FLEET - 1).expect("the baseline apply keeps the table");
    for i in 0..NOTHING.end {
        assert_eq!(fleet.kept(i).as_ref(), Some(&current), "{}'s kept table", Fleet::host(i));
    }

    // The next run finds nothing to do.
    let report = fleet.playbook(&inventory, &vars, &[]);
    assert_eq!(changed_hosts(&report), BTreeSet::new());
    for (host, stats) in report["stats"].as_object().expect("stats") {
        assert_eq!(stats["changed"], 0, "{host}: {stats}");
    }
}

#[test]
fn a_playbook_with_confirm_applies_pending_then_confirms() {
    if !crate::slow_tier("the ansible test") || !netns::require_root() || !require_ansible() {
        return;
    }
    let fleet = Fleet::new(2);
    let out = fleet.overlayfw(1, &["apply", &fleet.rules("current.rules")]);
    assert!(out.status.success(), "baseline: {}", text(&out));
    let (inventory, vars) = fleet.write_inventory(json!({ "overlayfw_confirm": 60 }));
    let report = fleet.playbook(&inventory, &vars, &[]);
    let tasks = report["plays"][0]["tasks"].as_array().expect("tasks");
    let task = |name: &str| {
        tasks
            .iter()
            .find(|t| t["task"]["name"].as_str().is_some_and(|n| n.starts_with(name)))
            .unwrap_or_else(|| panic!("no task {name}: {report}"))
    };
    let applied = &task("Converge")["hosts"];
    assert_eq!(applied["r00"]["changed"], true, "{applied}");
    assert_eq!(applied["r00"]["pending"], true, "{applied}");
    assert_eq!(applied["r01"]["changed"], false, "{applied}");
    assert_eq!(applied["r01"]["pending"], false, "{applied}");
    let confirmed = &task("Confirm")["hosts"];
    assert_eq!(confirmed["r00"]["confirmed"], true, "{confirmed}");
    assert_eq!(confirmed["r00"]["changed"], true, "{confirmed}");
    assert_eq!(confirmed["r01"]["skipped"], true, "{confirmed}");
    // Confirmed: the table stays past the deadline's start, and the watchdog keeps it for the
    // next boot (within a few of its polls).
    let kept = fleet.persist_dir(0).join("overlayfw.nft");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !kept.exists() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(kept.exists(), "the confirmed table was not kept for the next boot");
    assert_eq!(fleet.diff_code(0), 0);
    // Nothing is pending any more.
    let out = fleet.overlayfw(0, &["confirm"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn errors_in_the_rules_fail_the_task_with_overlayfws_messages_and_change_nothing() {
    if !crate::slow_tier("the ansible test") || !netns::require_root() || !require_ansible() {
        return;
    }
    let fleet = Fleet::new(1);
    let out = fleet.overlayfw(0, &["apply", &fleet.rules("older.rules")]);
    assert!(out.status.success(), "baseline: {}", text(&out));
    let bad = fleet.rules("bad.rules");
    std::fs::write(&bad, "INPUT_CUST -p tcp --dport 99999 -j ACCEPT\n").expect("write");
    let (inventory, vars) = fleet.write_inventory(json!({ "overlayfw_src": [bad] }));
    let before = fleet.routers[0].list_json();
    for flags in [&["--check"][..], &[]] {
        let (report, ok) = fleet.playbook_report(&inventory, &vars, flags);
        assert!(!ok, "{flags:?}: a rules error must fail the task: {report}");
        let result = &converge_results(&report)["r00"];
        assert_eq!(result["failed"], true, "{result}");
        let msg = result["msg"].as_str().unwrap_or_default();
        assert!(msg.contains("E008") && msg.contains("bad.rules:1:27"), "{flags:?}: {msg}");
        assert_eq!(fleet.routers[0].list_json(), before, "{flags:?} changed the ruleset");
    }
}

/// A playbook that applies with `confirm: 2` and comes to confirm only after the deadline.
const LATE_CONFIRM: &str = r#"
- hosts: routers
  gather_facts: false
  environment: "{{ overlayfw_environment }}"
  tasks:
    - name: Converge table ip overlayfw
      overlayfw:
        src: "{{ overlayfw_src }}"
        confirm: 2
        netns: "{{ netns }}"
        binary: "{{ overlayfw_binary }}"
    - name: Wait past the deadline
      ansible.builtin.pause:
        seconds: 5
    - name: Confirm too late
      overlayfw:
        confirm_pending: true
        netns: "{{ netns }}"
        binary: "{{ overlayfw_binary }}"
"#;

#[test]
fn an_unconfirmed_apply_rolls_back_and_the_late_confirm_fails() {
    if !crate::slow_tier("the ansible test") || !netns::require_root() || !require_ansible() {
        return;
    }
    let fleet = Fleet::new(1);
    let out = fleet.overlayfw(0, &["apply", &fleet.rules("older.rules")]);
    assert!(out.status.success(), "baseline: {}", text(&out));
    let kept = fleet.kept(0);
    let (inventory, vars) = fleet.write_inventory(json!({}));
    let playbook = fleet.dir.path().join("late.yml");
    std::fs::write(&playbook, LATE_CONFIRM).expect("write playbook");
    let (report, ok) = fleet.run_playbook(&playbook, &inventory, &vars, &[]);
    assert!(!ok, "the late confirmation must fail: {report}");
    let tasks = report["plays"][0]["tasks"].as_array().expect("tasks");
    let applied = &tasks[0]["hosts"]["r00"];
    assert_eq!(
        (&applied["changed"], &applied["pending"]),
        (&json!(true), &json!(true)),
        "{applied}"
    );
    let late = &tasks.last().expect("tasks")["hosts"]["r00"];
    assert_eq!(late["failed"], true, "{late}");
    assert!(late["msg"].as_str().is_some_and(|m| m.contains("nothing to confirm")), "{late}");
    // The older table is back, and nothing new was kept for the next boot.
    assert_eq!(fleet.diff_code(0), 1);
    let live = fleet.routers[0].list_table_json("ip", "overlayfw").to_string();
    assert!(live.contains("2200"), "the older table is not back: {live}");
    assert_eq!(fleet.kept(0), kept);
}

/// The Python that runs Ansible (`python version = … (/path/python3)` of `--version`).
fn ansible_python() -> String {
    let out = Command::new("ansible-playbook").arg("--version").output().expect("ansible");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().find(|l| l.trim_start().starts_with("python version")).expect("python");
    line.rsplit_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no interpreter in {line}"))
        .to_owned()
}

#[test]
fn the_module_explains_bad_arguments_and_a_missing_program() {
    if !require_ansible() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            json!({"src": ["a.rules"], "binary": "/nonexistent/overlayfw"}),
            "is not an executable file",
        ),
        (json!({"src": ["a.rules"], "binary": "overlayfw-nonexistent"}), "overlayfw-nonexistent"),
        (json!({"src": [], "confirm_pending": false}), "src (the rules files) is required"),
        (json!({"src": ["a.rules"], "confirm_pending": true}), "give it no src"),
        (json!({"confirm_pending": true, "confirm": 3}), "mutually exclusive"),
        (json!({"src": ["a.rules"], "confirm": 0}), "between 1 and 86400"),
        (
            // `diff` exits 1 ("differs"), then the apply fails: its failure is reported.
            json!({"src": ["a.rules"], "binary": "/bin/false", "confirm": 5}),
            "overlayfw apply --confirm failed (exit 1)",
        ),
    ];
    for (args, want) in cases {
        let file = dir.path().join("args.json");
        std::fs::write(&file, json!({ "ANSIBLE_MODULE_ARGS": args }).to_string()).expect("write");
        let out = Command::new(ansible_python())
            .arg(root().join("ansible/library/overlayfw.py"))
            .arg(&file)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .expect("run the module");
        let result: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args}: not JSON ({e}): {}", text(&out)));
        assert_eq!(result["failed"], true, "{args}: {result}");
        let msg = result["msg"].as_str().unwrap_or_default();
        assert!(msg.contains(want), "{args}: {msg:?} lacks {want:?}");
    }
}

/// The module's documentation is what `ansible-doc` reads: it must parse (a `: ` inside a
/// plain YAML scalar once broke it, and `ansible-doc overlayfw` failed).
#[test]
fn ansible_doc_reads_the_modules_documentation() {
    if !crate::slow_tier("the ansible-doc test") || !require_ansible() {
        return;
    }
    let out = Command::new("ansible-doc")
        .args(["-t", "module", "--json", "overlayfw"])
        .env("ANSIBLE_LIBRARY", root().join("ansible/library"))
        .output()
        .expect("run ansible-doc");
    assert!(out.status.success(), "ansible-doc failed: {}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("ansible-doc --json");
    let options = &doc["overlayfw"]["doc"]["options"];
    for option in ["src", "inventory", "table", "optimize", "confirm", "netns"] {
        assert!(options.get(option).is_some(), "option {option} documented: {options}");
    }
    assert!(doc["overlayfw"]["examples"].as_str().is_some_and(|e| !e.is_empty()));
}
