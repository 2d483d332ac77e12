//! `overlayfw fmt`: formatting never changes what a file compiles to, is idempotent, and the
//! command rewrites, checks and refuses as documented.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use overlayfw::diagnostic::{FileId, Sources};
use overlayfw::ir::{self, Ruleset};
use overlayfw::pipeline::{self, Text};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What a text compiles to, ready to compare: the IR without the input hash (the bytes differ
/// by design), each rule's matches sorted between stateful `limit`s (the only matches whose
/// place in a rule matters; fmt may reorder the others), and the diagnostics as (code, line).
fn meaning(name: &str, text: &[u8], inventory: Option<&Path>) -> (Option<Ruleset>, Vec<String>) {
    let inv = inventory.map(|p| Text {
        name: p.display().to_string(),
        bytes: std::fs::read(p).expect("read inventory"),
    });
    let mut sources = Sources::new();
    let file = Text { name: name.to_string(), bytes: text.to_vec() };
    let compiled = pipeline::compile(&mut sources, vec![file], inv, "overlayfw");
    let diags = compiled
        .diagnostics
        .iter()
        .map(|d| {
            let f = sources.get(d.span().file);
            format!("{}:{}: {}", f.name, f.line_col(d.span().start).0, d.code)
        })
        .collect();
    let ruleset = compiled.ruleset.map(|mut rs| {
        rs.input_hash.clear();
        // The version chain is named by the text's hash: the rest must be the same.
        rs.chains.retain(|c| !c.name.starts_with(ir::VERSION_CHAIN));
        for chain in &mut rs.chains {
            for rule in &mut chain.rules {
                for segment in rule.matches.split_mut(|m| matches!(m, ir::Match::Limit { .. })) {
                    segment.sort_by_key(|m| format!("{m:?}"));
                }
            }
        }
        rs
    });
    (ruleset, diags)
}

fn format(text: &str) -> String {
    match overlayfw::fmt::format(FileId(0), text) {
        Ok(f) => f.text,
        Err(d) => panic!("cannot format:\n{text}\n{d:?}"),
    }
}

/// Every rules file we have, with its inventory: the ok and err cases, the examples.
fn corpus() -> Vec<(PathBuf, Option<PathBuf>)> {
    let mut out = Vec::new();
    for dir in ["tests/cases/ok", "tests/cases/err"] {
        for e in std::fs::read_dir(root().join(dir)).expect("case folder") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "rules") {
                let inv = p.with_extension("yaml");
                out.push((p, inv.exists().then_some(inv)));
            }
        }
    }
    for e in std::fs::read_dir(root().join("examples")).expect("examples") {
        let dir = e.expect("entry").path();
        for f in std::fs::read_dir(&dir).expect("example folder") {
            let p = f.expect("entry").path();
            if p.extension().is_some_and(|x| x == "rules") {
                let inv = dir.join("topology.yaml");
                out.push((p, inv.exists().then_some(inv)));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn formatting_keeps_the_meaning_of_every_case_and_example() {
    let mut formatted = 0;
    let mut changed = 0;
    for (path, inv) in corpus() {
        let bytes = std::fs::read(&path).expect("read case");
        let Ok(text) = String::from_utf8(bytes.clone()) else { continue };
        let Ok(f) = overlayfw::fmt::format(FileId(0), &text) else {
            // A file with syntax errors is not formatted; the CLI test covers that.
            continue;
        };
        formatted += 1;
        changed += usize::from(f.text != text);
        let name = path.display().to_string();
        let before = meaning(&name, &bytes, inv.as_deref());
        let after = meaning(&name, f.text.as_bytes(), inv.as_deref());
        assert_eq!(before, after, "{name}: formatting changed the meaning:\n{}", f.text);
        assert_eq!(format(&f.text), f.text, "{name}: not idempotent");
        let lines = |t: &str| t.trim_start_matches('\u{feff}').split('\n').count();
        assert_eq!(lines(&text), lines(&f.text), "{name}: line count changed");
    }
    assert!(formatted >= 20, "only {formatted} files formatted");
    assert!(changed >= 5, "only {changed} files changed: the test would not notice much");
}

/// The same rule written in many orders and spellings formats to one line with one meaning.
#[test]
fn every_spelling_and_order_of_a_rule_formats_the_same() {
    let canonical = "FORWARD_CUST -i tun0 -o eth0 ! -s 10.0.0.0/8 -d 192.0.2.1,192.0.2.2 -p tcp \
        --sport 1024:65535 --dport 443 -m conntrack --ctstate NEW,ESTABLISHED \
        -m comment --comment \"web out\" -j ACCEPT\n";
    let words = [
        "--in-interface tun0",
        "--out-interface eth0",
        "! --source 10.0.0.0/8",
        "--dst 192.0.2.1,192.0.2.2",
        "--protocol tcp",
        "--source-port 1024:65535",
        "--destination-port 443",
        "--match conntrack",
        "--ctstate NEW, ESTABLISHED",
        "-m comment",
        "--comment \"web out\"",
        "--jump ACCEPT",
    ];
    let (want, _) = meaning("r.rules", canonical.as_bytes(), None);
    assert!(want.is_some(), "the canonical rule compiles");
    // Rotations, some reversed: each option lands before and after every other one somewhere.
    let mut compiled = 0;
    for shift in 0..words.len() {
        let mut order: Vec<&str> = words.to_vec();
        order.rotate_left(shift);
        if shift % 2 == 1 {
            order.reverse();
        }
        let line = format!("FORWARD_CUST {}\n", order.join("  "));
        let (m, diags) = meaning("r.rules", line.as_bytes(), None);
        assert!(diags.is_empty(), "{line}: {diags:?}");
        assert_eq!(format(&line), canonical, "{line}");
        assert_eq!(m, want, "{line}");
        compiled += 1;
    }
    assert_eq!(compiled, words.len());
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_overlayfw"))
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("overlayfw-fmt-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).expect("write scratch file");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const MESSY: &[u8] = b"# keep me\r\nINPUT_CUST --jump ACCEPT  --protocol tcp\r\n";

#[test]
fn fmt_check_lists_files_that_would_change_and_changes_nothing() {
    let s = Scratch::new("check");
    let messy = s.file("messy.rules", b"# keep me\r\nINPUT_CUST --jump ACCEPT  --protocol tcp\r\n");
    let tidy = s.file("tidy.rules", b"INPUT_CUST -p tcp -j ACCEPT\n");
    let o = bin().arg("fmt").arg("--check").arg(&messy).arg(&tidy).output().expect("run");
    assert_eq!(code(&o), 1, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), format!("{}\n", messy.display()));
    assert!(String::from_utf8_lossy(&o.stderr).contains("CRLF line ends → LF"));
    assert_eq!(
        std::fs::read(&messy).expect("read"),
        b"# keep me\r\nINPUT_CUST --jump ACCEPT  --protocol tcp\r\n"
    );
    let o = bin().arg("fmt").arg("--check").arg(&tidy).output().expect("run");
    assert_eq!(code(&o), 0);
    assert!(o.stdout.is_empty());
}

#[test]
fn fmt_rewrites_in_place_keeping_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new("write");
    let messy = s.file("messy.rules", b"# keep me\r\nINPUT_CUST --jump ACCEPT  --protocol tcp\r\n");
    std::fs::set_permissions(&messy, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let o = bin().arg("fmt").arg(&messy).output().expect("run");
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8(std::fs::read(&messy).expect("read")).expect("utf8"),
        "# keep me\nINPUT_CUST -p tcp -j ACCEPT\n"
    );
    let mode = std::fs::metadata(&messy).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    let leftovers: Vec<_> = std::fs::read_dir(&s.0).expect("ls").collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
}

#[test]
fn fmt_leaves_a_file_with_syntax_errors_alone() {
    let s = Scratch::new("bad");
    let bad = s.file("bad.rules", b"INPUT_CUST  -j ACCEPT\nINPUT_CUST -s 10.199.2.0. -j DROP\n");
    let o = bin().arg("fmt").args(["--message-format", "short"]).arg(&bad).output().expect("run");
    assert_eq!(code(&o), 1);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("{}:2:15: error[E001]", bad.display())), "{err}");
    assert_eq!(
        std::fs::read(&bad).expect("read"),
        b"INPUT_CUST  -j ACCEPT\nINPUT_CUST -s 10.199.2.0. -j DROP\n"
    );
}

#[test]
fn fmt_of_stdin_writes_standard_output_and_a_missing_file_is_exit_2() {
    use std::io::Write;
    let mut child = bin()
        .args(["fmt", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(MESSY).expect("write");
    let o = child.wait_with_output().expect("wait");
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "# keep me\nINPUT_CUST -p tcp -j ACCEPT\n");
    let o = bin().args(["fmt", "/nonexistent/x.rules"]).output().expect("run");
    assert_eq!(code(&o), 2);
}

#[test]
fn a_limit_keeps_the_matches_written_after_it_after_it() {
    let line = "INPUT_CUST -m limit --limit 1/s -s 10.0.0.1 -p tcp --dport 22 -j ACCEPT\n";
    let out = format(line);
    assert_eq!(out, "INPUT_CUST -s 10.0.0.1 -p tcp -m limit --limit 1/s --dport 22 -j ACCEPT\n");
    assert_eq!(meaning("r.rules", line.as_bytes(), None), meaning("r.rules", out.as_bytes(), None));
}
