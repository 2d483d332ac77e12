//! Lints: `tests/cases/lint/Wxxx-*.rules` each trigger exactly their code (a `*-near-miss.rules`
//! none), snapshotted with their input; the shipped examples and ok cases raise no lint; a
//! 100,000-rule file is linted in one pass.

use std::path::Path;
use std::time::Instant;

use overlayfw::diagnostic::{Code, Diagnostic, Sources};
use overlayfw::pipeline::{self, Text};
use overlayfw::{inventory, lint, resolve};

use crate::cases::check;

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../../snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s
}

/// The diagnostics of one rules file compiled with the inventory at `inv` (if it exists).
fn diagnostics(path: &Path, inv: &Path) -> Vec<Diagnostic> {
    let mut sources = Sources::new();
    let inventory = inv.exists().then(|| Text {
        name: inv.display().to_string(),
        bytes: std::fs::read(inv).expect("read inventory"),
    });
    let text = Text { name: path.display().to_string(), bytes: std::fs::read(path).expect("read") };
    pipeline::compile(&mut sources, vec![text], inventory, "overlayfw").diagnostics
}

fn lint_codes(diags: &[Diagnostic]) -> Vec<&'static str> {
    let mut codes: Vec<&str> =
        diags.iter().map(|d| d.code.as_str()).filter(|c| c.starts_with("W1")).collect();
    codes.dedup();
    codes
}

#[test]
fn lint_cases_trigger_exactly_their_code() {
    settings().bind(|| {
        insta::glob!("../cases/lint", "*.rules", |path| {
            let name = path.file_stem().expect("stem").to_string_lossy().into_owned();
            let code = &name[..4];
            let diags = diagnostics(path, &path.with_extension("yaml"));
            assert!(
                !diags.iter().any(Diagnostic::is_error),
                "{name} must compile without errors: {diags:?}"
            );
            let (_, text) = check(path);
            if name.ends_with("near-miss") {
                assert_eq!(lint_codes(&diags), Vec::<&str>::new(), "{name} must raise no lint");
            } else {
                assert_eq!(lint_codes(&diags), vec![code], "{name} must raise only {code}");
                assert!(diags.len() >= 2, "{name} should show its lint at least twice");
            }
            insta::assert_snapshot!(text);
        });
    });
}

/// Every lint code has a trigger case and a near-miss.
#[test]
fn every_lint_has_a_trigger_and_a_near_miss() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/lint");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("lint cases")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    for code in
        overlayfw::diagnostic::CODES.iter().map(|c| c.as_str()).filter(|c| c.starts_with("W1"))
    {
        let near = format!("{code}-near-miss.rules");
        assert!(names.contains(&near), "{near} is missing");
        assert!(
            names.iter().any(|n| n.starts_with(code) && n.ends_with(".rules") && *n != near),
            "no trigger case for {code}"
        );
        let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("docs/codes/{code}.md"));
        assert!(doc.exists(), "{} is missing", doc.display());
    }
}

/// No false positives where we know the rules are meant as written.
#[test]
fn examples_and_ok_cases_raise_no_lint() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for entry in std::fs::read_dir(root.join("examples")).expect("examples") {
        let dir = entry.expect("entry").path();
        for f in std::fs::read_dir(&dir).expect("example dir") {
            let path = f.expect("entry").path();
            if path.extension().is_some_and(|e| e == "rules") {
                let diags = diagnostics(&path, &dir.join("topology.yaml"));
                assert_eq!(lint_codes(&diags), Vec::<&str>::new(), "{}", path.display());
                checked += 1;
            }
        }
    }
    for entry in std::fs::read_dir(root.join("tests/cases/ok")).expect("ok cases") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "rules") {
            let diags = diagnostics(&path, &path.with_extension("yaml"));
            assert_eq!(lint_codes(&diags), Vec::<&str>::new(), "{}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 15, "expected the 3 examples and the ok cases, checked {checked}");
}

/// A 100,000-rule file: distinct hosts and ports (nothing to report) with a duplicate every
/// thousandth line and a shadowed DNAT every thousandth port forward. Linting is linear, so
/// this runs in a moment; the time is printed, not asserted.
#[test]
fn a_hundred_thousand_rules_are_linted_in_one_pass() {
    if !crate::slow_tier("a scale test") {
        return;
    }
    let mut text = String::new();
    let mut expect_w102 = 0;
    let mut expect_w103 = 0;
    for i in 0..100_000u32 {
        let (a, b, c) = ((i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
        let port = 1024 + (i % 60_000);
        let line = match i % 4 {
            0 => format!("INPUT_CUST -s 10.{a}.{b}.{c} -p tcp --dport {port} -j ACCEPT\n"),
            1 => {
                format!("FORWARD_CUST -i tun0 -d 10.{a}.{b}.{c} -p udp --dport {port} -j ACCEPT\n")
            }
            2 => format!("OUTPUT_CUST -o eth0 -d 172.{a}.{b}.{c} -j DROP\n"),
            _ => format!(
                "PREROUTING_CUST -i eth0 -p tcp -d 192.{a}.{b}.{c} --dport {port} -j DNAT --to 198.51.100.2:22\n"
            ),
        };
        text.push_str(&line);
        if i % 1000 == 998 {
            // i % 4 == 2: an OUTPUT drop, repeated.
            text.push_str(&line);
            expect_w102 += 1;
        }
        if i % 1000 == 999 {
            // i % 4 == 3: the same forward from one source, after the forward from all.
            text.push_str(&format!(
                "PREROUTING_CUST -i eth0 -p tcp -s 203.0.113.9 -d 192.{a}.{b}.{c} --dport {port} -j DNAT --to 198.51.100.3:22\n"
            ));
            expect_w103 += 1;
        }
    }
    let mut sources = Sources::new();
    let inv = inventory::default_inventory(&mut sources);
    let id = sources.add("big.rules", text);
    let inputs =
        [resolve::Input { name: "big.rules", file: id, text: &sources.get(id).text, stream: None }];
    let opts = resolve::Options { table: "overlayfw", input_hash: String::new() };
    let resolved = overlayfw::pipeline::drive::resolve_all(&inputs, &inv, &opts);
    assert!(resolved.diagnostics.is_empty(), "parses and resolves cleanly");
    let start = Instant::now();
    let found = lint::lint(&resolved, &inv, &lint::Options { inventory_given: false });
    let took = start.elapsed();
    let rules_n: usize = resolved.chains.iter().map(|c| c.rules.len()).sum();
    println!("linted {rules_n} rules in {took:?}");
    let count = |code: Code| found.iter().filter(|d| d.code == code).count();
    assert_eq!(count(Code::W102), expect_w102);
    assert_eq!(count(Code::W103), expect_w103);
    assert_eq!(
        found.len(),
        expect_w102 + expect_w103,
        "nothing else: {:?}",
        &found[..3.min(found.len())]
    );
}

/// With an error, the lints a missing line cannot make wrong still run; those it could (W107,
/// W108) say nothing. Fixed, the same file raises none of W107 and W108 either: they would
/// have been false.
#[test]
fn an_error_hides_only_the_lints_a_missing_line_could_make_false() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/err");
    let path = dir.join("lints-beside-errors.rules");
    let inv = path.with_extension("yaml");
    let diags = diagnostics(&path, &inv);
    let mut codes: Vec<&str> = diags.iter().map(|d| d.code.as_str()).collect();
    codes.sort_unstable();
    assert_eq!(codes, ["E002", "E016", "W001", "W101", "W102"]);
    let fixed = std::fs::read_to_string(&path)
        .expect("case")
        .replace(" --bogus", "")
        .replace("-i eth7 ", "-i eth0 ");
    let scratch = std::env::temp_dir().join(format!("overlayfw-lint-fixed-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("dir");
    let fixed_path = scratch.join("fixed.rules");
    std::fs::write(&fixed_path, fixed).expect("write");
    let diags = diagnostics(&fixed_path, &inv);
    std::fs::remove_dir_all(&scratch).expect("cleanup");
    let mut codes: Vec<&str> = diags.iter().map(|d| d.code.as_str()).collect();
    codes.sort_unstable();
    assert_eq!(codes, ["W001", "W101", "W102"]);
}
