//! The case folders: every `tests/cases/ok/*.rules` must compile without errors, every
//! `tests/cases/err/*.rules` must fail; each is snapshotted with its input. A case may bring its
//! inventory as `NAME.yaml` beside it (else the built-in default applies).

use std::path::Path;

use overlayfw::diagnostic::{self, Sources};
use overlayfw::pipeline::{self, Text};

/// Compiles one case as the CLI would; returns whether it had errors and the text to snapshot
/// (input, then the nft script or the diagnostics in human and short form).
pub fn check(path: &Path) -> (bool, String) {
    check_with(path, &path.with_extension("yaml"))
}

/// A case's rules and inventory (if `inv_path` exists), named `FOLDER/FILE` as snapshots show.
fn inputs(path: &Path, inv_path: &Path) -> (Text, Option<Text>) {
    let folder = path
        .parent()
        .and_then(Path::file_name)
        .map_or(String::new(), |f| f.to_string_lossy().into_owned());
    let file = path.file_name().expect("case file").to_string_lossy().into_owned();
    let name = format!("{folder}/{file}");
    let bytes = std::fs::read(path).expect("read case");
    let inventory = inv_path.exists().then(|| Text {
        name: format!("{folder}/{}", inv_path.file_name().expect("name").to_string_lossy()),
        bytes: std::fs::read(inv_path).expect("read inventory"),
    });
    (Text { name, bytes }, inventory)
}

fn check_with(path: &Path, inv_path: &Path) -> (bool, String) {
    let (rules, inventory) = inputs(path, inv_path);
    let mut out = String::new();
    // Very long lines (the line-length case) are shown cut, so snapshots stay readable.
    for line in String::from_utf8_lossy(&rules.bytes).split_inclusive('\n') {
        match line.char_indices().nth(200) {
            Some((cut, _)) => out.push_str(&format!("{}… ({} bytes)\n", &line[..cut], line.len())),
            None => out.push_str(line),
        }
    }
    if let Some(inv) = &inventory {
        out.push_str(&format!("\n----- {} -----\n", inv.name));
        out.push_str(&String::from_utf8_lossy(&inv.bytes));
    }
    let mut sources = Sources::new();
    let compiled = pipeline::compile(&mut sources, vec![rules], inventory, "overlayfw");
    if !compiled.diagnostics.is_empty() {
        out.push_str("\n----- diagnostics -----\n");
        out.push_str(&diagnostic::render(
            &compiled.diagnostics,
            &sources,
            diagnostic::Format::Human,
            false,
        ));
        out.push_str(&diagnostic::render(
            &compiled.diagnostics,
            &sources,
            diagnostic::Format::Short,
            false,
        ));
    }
    if let Some(rs) = &compiled.ruleset {
        out.push_str("\n----- nft -----\n");
        out.push_str(&overlayfw::emit::nft_script(rs));
    }
    (compiled.has_errors(), out)
}

/// The IR of an ok case as `overlayfw debug ir` prints it: its own snapshot, so that a change
/// of the layout (a rule's chain, order or matches) shows in review even where the nft text
/// would hide it.
pub fn ir_dump(path: &Path) -> String {
    let (rules, inventory) = inputs(path, &path.with_extension("yaml"));
    let mut sources = Sources::new();
    let compiled = pipeline::compile(&mut sources, vec![rules], inventory, "overlayfw");
    overlayfw::dump::ruleset(compiled.ruleset.as_ref().expect("an ok case compiles"))
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../../snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s
}

#[test]
fn ok_cases_compile_cleanly() {
    settings().bind(|| {
        insta::glob!("../cases/ok", "*.rules", |path| {
            let (errors, text) = check(path);
            assert!(!errors, "{} is in ok/ but has errors:\n{text}", path.display());
            insta::assert_snapshot!(text);
        });
    });
}

#[test]
fn ok_cases_ir() {
    settings().bind(|| {
        insta::glob!("../cases/ok", "*.rules", |path| {
            insta::assert_snapshot!(ir_dump(path));
        });
    });
}

#[test]
fn err_cases_fail() {
    settings().bind(|| {
        insta::glob!("../cases/err", "*.rules", |path| {
            let (errors, text) = check(path);
            assert!(errors, "{} is in err/ but compiles:\n{text}", path.display());
            insta::assert_snapshot!(text);
        });
    });
}

/// The shipped examples compile cleanly too (with `topology.yaml` beside them, if any).
#[test]
fn examples_compile() {
    settings().bind(|| {
        insta::glob!("../../examples", "*/*.rules", |path| {
            let (errors, text) = check_with(path, &path.with_file_name("topology.yaml"));
            assert!(!errors, "{} has errors:\n{text}", path.display());
            insta::assert_snapshot!(text);
        });
    });
}

/// Every error code the project defines has an err case whose output shows it, so every
/// rendered message is reviewed in a snapshot.
#[test]
fn every_code_has_a_snapshotted_case() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut seen = String::new();
    for sub in ["err", "ok", "lint"] {
        for entry in std::fs::read_dir(dir.join(sub)).expect("cases dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "rules") {
                seen.push_str(&check(&path).1);
            }
        }
    }
    let missing: Vec<&str> = diagnostic::CODES
        .iter()
        .map(|c| c.as_str())
        .filter(|code| !seen.contains(&format!("[{code}]")))
        .collect();
    assert!(missing.is_empty(), "codes without a case: {missing:?}");
}

/// `mixed.rules` marks each bad line with a `# bad: CODE` comment line just before it; errors
/// must land on exactly those lines with those codes, and nowhere else.
#[test]
fn mixed_file_reports_every_bad_line_and_no_good_one() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/err/mixed.rules");
    let text = std::fs::read_to_string(&path).expect("mixed.rules");
    let mut expected = Vec::new();
    let mut pending = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(code) = line.trim().strip_prefix("# bad: ") {
            pending = Some(code.to_string());
        } else if !line.trim().is_empty()
            && !line.trim_start().starts_with('#')
            && let Some(code) = pending.take()
        {
            expected.push(format!("{}:{code}", i + 1));
        }
    }
    assert!(expected.len() >= 25, "mixed.rules should hold 25+ bad lines, has {}", expected.len());
    let mut sources = Sources::new();
    let compiled = pipeline::compile(
        &mut sources,
        vec![Text { name: "mixed.rules".into(), bytes: text.into_bytes() }],
        Some(Text {
            name: "mixed.yaml".into(),
            bytes: std::fs::read(path.with_extension("yaml")).expect("mixed.yaml"),
        }),
        "overlayfw",
    );
    let mut got: Vec<String> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let (line, _) = sources.get(d.span().file).line_col(d.span().start);
            format!("{line}:{}", d.code)
        })
        .collect();
    got.dedup();
    assert_eq!(got, expected);
}

/// A line's syntax error no longer hides the unknown names (and host bits) of its other
/// options: each of them is reported on its own column.
#[test]
fn one_error_does_not_hide_another_on_the_same_line() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/err/errors-on-one-line.rules");
    let (errors, text) = check(&path);
    assert!(errors);
    let short: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("err/errors-on-one-line.rules:"))
        .map(|l| {
            let rest = l.split_once(": ").expect("position").1;
            rest.split_once(':').expect("code").0
        })
        .collect();
    let at: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("err/errors-on-one-line.rules:"))
        .map(|l| {
            l.split(": ")
                .next()
                .expect("position")
                .trim_start_matches("err/errors-on-one-line.rules:")
                .to_owned()
        })
        .collect();
    let got: Vec<String> = at.iter().zip(&short).map(|(a, c)| format!("{a} {c}")).collect();
    assert_eq!(
        got,
        [
            "3:15 error[E016]",
            "3:20 error[E007]",
            "4:1 error[E003]",
            "4:13 error[E016]",
            "5:15 error[E015]",
            "5:26 error[E005]",
            "6:15 warning[W001]",
            "6:41 error[E008]",
            "8:15 error[E016]",
            "8:23 error[E008]",
        ]
    );
}
