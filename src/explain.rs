//! `overlayfw explain CODE`: the documentation of every diagnostic code, compiled in from
//! `docs/codes/CODE.md` (what it finds, why it matters, an example, the fix) as the `doc` of
//! its entry in [`diagnostic::CODES`](crate::diagnostic::CODES).

use crate::diagnostic::{CODES, Code};

/// The document of a code (case-insensitive), if there is one.
pub fn doc(code: &str) -> Option<&'static str> {
    Code::parse(code).map(Code::doc)
}

/// A code that is not documented: the message for the user, with a "did you mean".
pub fn unknown(code: &str) -> String {
    let mut msg = format!("no diagnostic code `{code}`");
    let upper = code.to_ascii_uppercase();
    match crate::suggest::did_you_mean(&upper, CODES.iter().map(|c| c.as_str())) {
        Some(c) => msg.push_str(&format!("; did you mean `{c}`?")),
        None => msg.push_str(&format!(
            "; codes are {}",
            CODES.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table and the folder agree: every docs/codes/*.md file is a code's doc (each entry
    /// includes its own file, so every code has one), each code once.
    #[test]
    fn every_doc_file_is_a_codes_entry_and_each_code_is_listed_once() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/codes");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("docs/codes")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut listed: Vec<String> = CODES.iter().map(|c| format!("{c}.md")).collect();
        listed.sort();
        listed.dedup();
        assert_eq!(listed.len(), CODES.len(), "a code is listed twice in diagnostic::CODES");
        assert_eq!(files, listed, "docs/codes/ and diagnostic::CODES differ");
    }

    #[test]
    fn every_doc_has_its_title_and_the_four_sections() {
        for (code, text) in CODES.iter().map(|&c| (c, c.doc())) {
            assert!(text.starts_with(&format!("# {code}: ")), "{code}: title");
            for section in ["## What it finds", "## Why it matters", "## Example", "## How to fix"]
            {
                assert!(text.contains(section), "{code}: missing `{section}`");
            }
        }
    }

    /// The first fenced block of a kind (```rules, ```yaml, ```text) in a document.
    fn block<'d>(doc: &'d str, kind: &str) -> Option<&'d str> {
        let start = doc.find(&format!("```{kind}\n"))? + kind.len() + 4;
        let len = doc[start..].find("```")?;
        Some(&doc[start..start + len])
    }

    /// Docs are product output too: each example must produce its code, and the output shown
    /// must be what `overlayfw check --format short` prints for it.
    #[test]
    fn every_example_shows_its_true_output() {
        use crate::diagnostic::{Format, Sources, render};
        use crate::pipeline::{Text, compile};
        for (code, text) in CODES.iter().map(|&c| (c, c.doc())) {
            let shown = block(text, "text").unwrap_or_else(|| panic!("{code}: no ```text block"));
            assert!(
                shown.contains(&format!("[{code}]")),
                "{code}: the output shown lacks the code"
            );
            let Some(rules) = block(text, "rules") else { continue };
            let file = Text { name: "example.rules".into(), bytes: rules.as_bytes().to_vec() };
            let inventory = block(text, "yaml")
                .map(|y| Text { name: "inventory.yaml".into(), bytes: y.as_bytes().to_vec() });
            let mut sources = Sources::new();
            let compiled = compile(&mut sources, vec![file], inventory, "overlayfw");
            let actual = render(&compiled.diagnostics, &sources, Format::Short, false);
            assert_eq!(actual, shown, "{code}: docs/codes/{code}.md shows other output");
        }
    }

    #[test]
    fn unknown_codes_get_a_suggestion() {
        assert_eq!(unknown("e16"), "no diagnostic code `e16`; did you mean `E016`?");
        assert!(doc("e016").is_some());
    }
}
