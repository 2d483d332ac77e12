//! The pre-commit and CI surface: the hooks manifest run by the real `pre-commit` client,
//! `check --format sarif|github`, `--deny-warnings`, `explain`, `completions`, `man`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn bin_path() -> &'static str {
    env!("CARGO_BIN_EXE_overlayfw")
}

fn run(args: &[&str]) -> Output {
    Command::new(bin_path()).args(args).current_dir(root()).output().expect("run overlayfw")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf8 stdout")
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("overlayfw-pc-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).expect("write scratch file");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(serde::Deserialize, Debug)]
struct Hook {
    id: String,
    language: String,
    entry: String,
    files: String,
}

fn manifest() -> Vec<Hook> {
    let text = std::fs::read_to_string(root().join(".pre-commit-hooks.yaml")).expect("manifest");
    serde_yaml::from_str(&text).expect("the manifest is a YAML list of hooks")
}

#[test]
fn the_hooks_manifest_names_both_hooks() {
    let hooks = manifest();
    let find = |id: &str| hooks.iter().find(|h| h.id == id).unwrap_or_else(|| panic!("no {id}"));
    let check = find("overlayfw-check");
    assert_eq!(
        (check.language.as_str(), check.entry.as_str()),
        ("rust", "overlayfw check --message-format short")
    );
    let fmt = find("overlayfw-fmt");
    assert_eq!((fmt.language.as_str(), fmt.entry.as_str()), ("rust", "overlayfw fmt"));
    for h in &hooks {
        assert_eq!(h.files, r"\.rules$", "{}", h.id);
    }
}

/// The `pre-commit` client, or `None` with the reason printed (a failure under `CI=true`).
fn pre_commit() -> Option<&'static str> {
    if !crate::slow_tier("the pre-commit test") {
        return None;
    }
    let ok = Command::new("pre-commit").arg("--version").output().is_ok_and(|o| o.status.success());
    let git = Command::new("git").arg("--version").output().is_ok_and(|o| o.status.success());
    if ok && git {
        return Some("pre-commit");
    }
    let why = "`pre-commit` (pip install pre-commit) or `git` is not installed";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}, and CI=true");
    }
    eprintln!("skipping the pre-commit test: {why}");
    None
}

fn sh(dir: &Path, program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("PRE_COMMIT_HOME", dir.join(".pre-commit-home"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

#[test]
fn the_real_pre_commit_runs_the_hooks() {
    let Some(pc) = pre_commit() else { return };
    // Everything pre-commit writes (its cache, a HOME) stays in the scratch directory.
    let s = Scratch::new("repo");
    let dir = s.0.as_path();
    let manifest_path = root().join(".pre-commit-hooks.yaml");
    let manifest_path = manifest_path.to_str().expect("UTF-8 path");
    let o = sh(dir, pc, &["validate-manifest", manifest_path]);
    assert!(o.status.success(), "validate-manifest: {}", String::from_utf8_lossy(&o.stdout));

    // A scratch repository whose local hooks run this build with the manifest's entries and
    // file patterns (a `language: rust` hook would make pre-commit build the crate again).
    assert!(sh(dir, "git", &["init", "-q"]).status.success());
    let mut config = String::from("repos:\n- repo: local\n  hooks:\n");
    for h in manifest() {
        let entry = h.entry.replacen("overlayfw", bin_path(), 1);
        config.push_str(&format!(
            "  - id: {}\n    name: {}\n    language: system\n    entry: {entry}\n    files: '{}'\n",
            h.id, h.id, h.files
        ));
    }
    s.file(".pre-commit-config.yaml", &config);
    s.file("good.rules", "# ssh\nINPUT_CUST -p tcp --dport 22 -j ACCEPT\n");
    s.file("notes.txt", "INPUT_CUST -s 10.199.2.0. -j DROP\n");
    assert!(sh(dir, "git", &["add", "."]).status.success());
    let o = sh(dir, pc, &["run", "--all-files"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "a good file passes:\n{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("overlayfw-check") && out.contains("Passed"), "{out}");

    s.file("bad.rules", "INPUT_CUST -j ACCEPT\nINPUT_CUST -s 10.199.2.0. -j DROP\n");
    assert!(sh(dir, "git", &["add", "."]).status.success());
    let o = sh(dir, pc, &["run", "overlayfw-check", "--files", "good.rules", "bad.rules"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 1, "a bad file fails:\n{out}");
    assert!(out.contains("bad.rules:2:15: error[E001]"), "names FILE:LINE:COL:\n{out}");
    assert!(!out.contains("notes.txt"), "only .rules files are checked:\n{out}");

    s.file("messy.rules", "INPUT_CUST  --jump ACCEPT --protocol tcp\n");
    assert!(sh(dir, "git", &["add", "."]).status.success());
    let o = sh(dir, pc, &["run", "overlayfw-fmt", "--files", "messy.rules", "good.rules"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 1, "pre-commit fails when the hook rewrote a file:\n{out}");
    assert!(out.contains("files were modified by this hook"), "{out}");
    let fixed = std::fs::read_to_string(dir.join("messy.rules")).expect("read");
    assert_eq!(fixed, "INPUT_CUST -p tcp -j ACCEPT\n");
}

#[test]
fn deny_warnings_turns_warnings_into_exit_1() {
    let args = ["check", "tests/cases/ok/warnings.rules", "--format", "short"];
    let o = run(&args);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("warning[W001]"));
    let o = run(&[&args[..], &["--deny-warnings"]].concat());
    assert_eq!(code(&o), 1);
    let o = run(&["check", "examples/blog/blog.rules", "--deny-warnings"]);
    assert_eq!(code(&o), 0, "a clean file still passes");
}

#[test]
fn sarif_output_is_one_run_with_rules_and_located_results() {
    let o = run(&["check", "tests/cases/err/E016-unknown-interface.rules", "--format", "sarif"]);
    assert_eq!(code(&o), 1);
    let log: serde_json::Value = serde_json::from_slice(&o.stdout).expect("SARIF is JSON");
    assert_eq!(log["version"], "2.1.0");
    let runs = log["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "overlayfw");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    let rules = driver["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), overlayfw::diagnostic::CODES.len());
    assert!(rules.iter().any(|r| r["id"] == "E016" && r["help"]["markdown"].is_string()));
    let results = runs[0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    let r = &results[0];
    assert_eq!(r["ruleId"], "E016");
    assert_eq!(r["level"], "error");
    assert_eq!(rules[r["ruleIndex"].as_u64().expect("index") as usize]["id"], "E016");
    assert!(r["message"]["text"].as_str().expect("text").starts_with("unknown interface `eht0`"));
    let loc = &r["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "tests/cases/err/E016-unknown-interface.rules");
    let region = &loc["region"];
    assert_eq!(
        (&region["startLine"], &region["startColumn"], &region["endLine"], &region["endColumn"]),
        (&1.into(), &15.into(), &1.into(), &19.into())
    );
    // A clean run is still a SARIF document, with no results.
    let o = run(&["check", "examples/blog/blog.rules", "--format", "sarif"]);
    assert_eq!(code(&o), 0);
    let log: serde_json::Value = serde_json::from_slice(&o.stdout).expect("SARIF is JSON");
    assert_eq!(log["runs"][0]["results"].as_array().map(Vec::len), Some(0));
}

#[test]
fn github_output_is_workflow_commands() {
    let o = run(&["check", "tests/cases/err/E016-unknown-interface.rules", "--format", "github"]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    let first = out.lines().next().expect("a line");
    assert!(
        first.starts_with(
            "::error file=tests/cases/err/E016-unknown-interface.rules,line=1,col=15,endLine=1,endColumn=18,title=E016::unknown interface `eht0`%0Ahelp: "
        ),
        "{out}"
    );
    assert_eq!(out.lines().count(), 2, "{out}");
    let o = run(&["check", "tests/cases/ok/warnings.rules", "--format", "github"]);
    assert!(stdout(&o).starts_with("::warning file="), "{}", stdout(&o));
}

#[test]
fn explain_prints_the_doc_and_suggests_for_unknown_codes() {
    let o = run(&["explain", "E016"]);
    assert_eq!(code(&o), 0);
    let doc = stdout(&o);
    assert!(doc.starts_with("# E016: unknown interface"), "{doc}");
    assert!(doc.contains("## How to fix"));
    let o = run(&["explain", "E16"]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean `E016`?"));
    let o = run(&["explain"]);
    assert_eq!(code(&o), 0);
    assert_eq!(stdout(&o).lines().count(), overlayfw::diagnostic::CODES.len());
}

const SUBCOMMANDS: &[&str] =
    &["compile", "check", "diff", "apply", "confirm", "fmt", "explain", "completions", "man"];

#[test]
fn completions_know_the_subcommands() {
    let o = run(&["completions", "bash"]);
    assert_eq!(code(&o), 0);
    let script = stdout(&o);
    assert!(script.contains("complete -F"), "a bash completion script");
    for sub in SUBCOMMANDS {
        assert!(script.contains(sub), "bash completion lacks {sub}");
    }
    // No internal subcommand is offered; explain's codes are.
    assert!(!script.contains("watchdog"), "bash completion offers the internal watchdog");
    assert!(!script.contains("debug"), "bash completion offers the internal debug views");
    assert!(script.contains("E001") && script.contains("W101"), "explain's codes are offered");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let o = run(&["completions", shell]);
        assert_eq!(code(&o), 0, "{shell}");
        assert!(stdout(&o).contains("explain"), "{shell}");
    }
}

#[test]
fn man_dir_writes_a_page_per_subcommand_and_the_rules_language() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = run(&["man", "--dir", dir.path().to_str().expect("path")]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let read = |name: &str| {
        std::fs::read_to_string(dir.path().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let main = read("overlayfw.1");
    for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "ENVIRONMENT", "FILES"] {
        assert!(main.contains(&format!(".SH {section}")), "overlayfw.1 lacks {section}");
    }
    assert!(main.contains("OVERLAYFW_STATE_DIR") && main.contains("overlayfw.service"));
    for sub in SUBCOMMANDS {
        let page = read(&format!("overlayfw-{sub}.1"));
        assert!(page.starts_with(".TH"), "overlayfw-{sub}.1");
        assert!(page.contains(".SH OPTIONS") || *sub == "man" || *sub == "confirm", "{sub}");
    }
    let rules = read("overlayfw-rules.5");
    for section in ["CHAINS", "MATCHES", "TARGETS", "VARIABLES AND SETS", "INVENTORY"] {
        assert!(rules.contains(&format!(".SH {section}")), "overlayfw-rules.5 lacks {section}");
    }
    // No page makes groff warn (where groff is installed).
    if Command::new("groff").arg("--version").output().is_ok_and(|o| o.status.success()) {
        for e in std::fs::read_dir(dir.path()).expect("dir") {
            let path = e.expect("entry").path();
            let out = Command::new("groff")
                .args(["-ww", "-z", "-man"])
                .arg(&path)
                .output()
                .expect("groff");
            let warnings = String::from_utf8_lossy(&out.stderr);
            assert!(warnings.trim().is_empty(), "{}: {warnings}", path.display());
        }
    }
}

#[test]
fn man_page_is_roff_and_lists_every_subcommand() {
    let o = run(&["man"]);
    assert_eq!(code(&o), 0);
    let page = stdout(&o);
    assert!(page.starts_with(".TH"), "{}", &page[..page.len().min(200)]);
    for sub in SUBCOMMANDS {
        assert!(page.contains(&format!("overlayfw\\-{sub}")), "man page lacks {sub}");
    }
}

/// The YAML blocks of the README's pre-commit section, in order.
fn readme_precommit_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let start = readme.find("\n## pre-commit\n").expect("the README has a pre-commit section");
    let section = &readme[start + 1..];
    let section = &section[..section[1..].find("\n## ").map_or(section.len(), |i| i + 1)];
    section
        .split("```yaml\n")
        .skip(1)
        .map(|b| b[..b.find("```").expect("the block ends")].to_owned())
        .collect()
}

/// The README's `.pre-commit-config.yaml` as written, run by the real client against this
/// repository: only `repo:` is pointed at this checkout; `rev:` must be a revision of it (a
/// tag or a commit hash of main). pre-commit builds the hooks with `cargo install` as it does
/// for a user (with a quick release profile and a cached target folder, for the test's time).
/// Then the README's second block (the check hook over every file, run when the inventory
/// changes) in place of the first block's check hook.
#[test]
fn the_readme_pre_commit_example_works_as_written() {
    let Some(pc) = pre_commit() else { return };
    let blocks = readme_precommit_blocks();
    let [config, check_all] = &blocks[..] else {
        panic!("the README's pre-commit section has {} YAML blocks, not 2", blocks.len())
    };
    let mut config: serde_yaml::Value = serde_yaml::from_str(config).expect("block 1 is YAML");
    let repo = &mut config["repos"][0];
    let rev = repo["rev"].as_str().expect("the README's config names a rev").to_owned();
    let git = |args: &[&str]| {
        let o = Command::new("git").args(args).current_dir(root()).output().expect("git");
        (o.status.success(), String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let (resolves, _) = git(&["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")]);
    if !resolves && git(&["rev-parse", "--is-shallow-repository"]).1 == "true" {
        // A shallow clone lacks older commits: the example runs at HEAD instead.
        eprintln!("note: `rev: {rev}` is not in this shallow clone; the example runs at HEAD");
        repo["rev"] = git(&["rev-parse", "HEAD"]).1.into();
    } else {
        assert!(
            resolves,
            "the README's `rev: {rev}` is not a revision of this repository: create the tag or \
             write a commit hash of main that holds .pre-commit-hooks.yaml"
        );
    }
    repo["repo"] = root().to_str().expect("UTF-8 path").into();

    let s = Scratch::new("readme");
    let dir = s.0.as_path();
    let cargo_home = std::env::var("CARGO_HOME").unwrap_or_else(|_| {
        format!("{}/.cargo", std::env::var("HOME").expect("HOME or CARGO_HOME"))
    });
    let rustup_home = std::env::var("RUSTUP_HOME").unwrap_or_else(|_| {
        format!("{}/.rustup", std::env::var("HOME").expect("HOME or RUSTUP_HOME"))
    });
    let pc_run = |args: &[&str]| {
        let o = Command::new(pc)
            .args(args)
            .current_dir(dir)
            .env("PRE_COMMIT_HOME", dir.join(".pre-commit-home"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .env("CARGO_HOME", &cargo_home)
            .env("RUSTUP_HOME", &rustup_home)
            .env("CARGO_TARGET_DIR", root().join("target/pre-commit-example"))
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1")
            .output()
            .expect("run pre-commit");
        let out =
            format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        (code(&o), out)
    };
    let git = |args: &[&str]| assert!(sh(dir, "git", args).status.success(), "git {args:?}");
    git(&["init", "-q"]);
    let write_config = |config: &serde_yaml::Value| {
        s.file(".pre-commit-config.yaml", &serde_yaml::to_string(config).expect("YAML"));
    };
    write_config(&config);
    // An inventory every name of which the rules use (`--deny-warnings` fails on W108).
    let topology = "interfaces:\n  public: eth0\n  overlay: tun0\n  plugins: plugin0\n\
                    overlay_subnet: 100.64.0.0/19\nprimary_private_ip: 10.0.1.120\n\
                    plugin_network: 198.51.100.0/28\n\
                    plugins:\n  - name: suricata\n    ip: 198.51.100.2\n\
                    variables:\n  office: 203.0.113.0/24\n";
    s.file("topology.yaml", topology);
    let main = "INPUT_CUST -i public -s ${office} -p tcp --dport 22 -j ACCEPT\n\
                FORWARD_CUST -i overlay -o plugins -d suricata -j ACCEPT\n";
    s.file("main.rules", main);
    git(&["add", "."]);
    let (c, out) = pc_run(&["run", "--all-files"]);
    assert_eq!(c, 0, "the README's config passes a clean file:\n{out}");
    assert!(out.contains("overlayfw check") && out.contains("overlayfw fmt"), "{out}");

    // --deny-warnings: a duplicate rule fails the commit; fmt rewrites a messy line.
    s.file(
        "main.rules",
        &format!("{main}INPUT_CUST  --jump ACCEPT --protocol tcp --dport 80\n{main}"),
    );
    git(&["add", "."]);
    let (c, out) = pc_run(&["run", "--all-files"]);
    assert_eq!(c, 1, "a warning and a messy line fail:\n{out}");
    assert!(out.contains("main.rules:4:1: warning[W102]"), "{out}");
    assert!(out.contains("files were modified by this hook"), "{out}");
    s.file("main.rules", main);
    git(&["add", "."]);
    let (c, out) = pc_run(&["run", "--all-files"]);
    assert_eq!(c, 0, "fixed:\n{out}");

    // The second block: the check hook over every file, run when only the inventory changes.
    let hooks: serde_yaml::Value = serde_yaml::from_str(check_all).expect("block 2 is YAML");
    let hook = hooks[0].clone();
    assert_eq!(hook["id"].as_str(), Some("overlayfw-check"), "{check_all}");
    let list = config["repos"][0]["hooks"].as_sequence_mut().expect("hooks");
    let at = list.iter().position(|h| h["id"] == hook["id"]).expect("the check hook");
    list[at] = hook;
    write_config(&config);
    s.file("extra.rules", "INPUT_CUST -p tcp --dport 443 -j ACCEPT\n");
    git(&["add", "."]);
    let (c, out) = pc_run(&["run"]);
    assert_eq!(c, 0, "the second block passes:\n{out}");
    // Only the inventory is staged, and it drops a variable main.rules uses.
    git(&["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x", "--no-verify"]);
    s.file(
        "topology.yaml",
        &topology.replace("  office: 203.0.113.0/24\n", "  other: 10.9.0.0/16\n"),
    );
    git(&["add", "topology.yaml"]);
    let (c, out) = pc_run(&["run"]);
    assert_eq!(c, 1, "an inventory change alone runs the check of every file:\n{out}");
    assert!(out.contains("main.rules:1:") && out.contains("office"), "{out}");
}
