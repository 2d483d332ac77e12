//! `overlayfw explain CODE`: the documentation of every diagnostic code, compiled in from
//! `docs/codes/CODE.md` (what it finds, why it matters, an example, the fix).

/// Code → its document. One line per code; keep it in the order of `diagnostic::CODES`.
pub const DOCS: &[(&str, &str)] = &[
    ("E001", include_str!("../docs/codes/E001.md")),
    ("E002", include_str!("../docs/codes/E002.md")),
    ("E003", include_str!("../docs/codes/E003.md")),
    ("E004", include_str!("../docs/codes/E004.md")),
    ("E005", include_str!("../docs/codes/E005.md")),
    ("E006", include_str!("../docs/codes/E006.md")),
    ("E007", include_str!("../docs/codes/E007.md")),
    ("E008", include_str!("../docs/codes/E008.md")),
    ("E009", include_str!("../docs/codes/E009.md")),
    ("E010", include_str!("../docs/codes/E010.md")),
    ("E011", include_str!("../docs/codes/E011.md")),
    ("E012", include_str!("../docs/codes/E012.md")),
    ("E013", include_str!("../docs/codes/E013.md")),
    ("E014", include_str!("../docs/codes/E014.md")),
    ("E015", include_str!("../docs/codes/E015.md")),
    ("E016", include_str!("../docs/codes/E016.md")),
    ("E017", include_str!("../docs/codes/E017.md")),
    ("E018", include_str!("../docs/codes/E018.md")),
    ("E019", include_str!("../docs/codes/E019.md")),
    ("E020", include_str!("../docs/codes/E020.md")),
    ("E021", include_str!("../docs/codes/E021.md")),
    ("E022", include_str!("../docs/codes/E022.md")),
    ("E101", include_str!("../docs/codes/E101.md")),
    ("E102", include_str!("../docs/codes/E102.md")),
    ("E103", include_str!("../docs/codes/E103.md")),
    ("E104", include_str!("../docs/codes/E104.md")),
    ("W001", include_str!("../docs/codes/W001.md")),
    ("W002", include_str!("../docs/codes/W002.md")),
    ("W101", include_str!("../docs/codes/W101.md")),
    ("W102", include_str!("../docs/codes/W102.md")),
    ("W103", include_str!("../docs/codes/W103.md")),
    ("W104", include_str!("../docs/codes/W104.md")),
    ("W105", include_str!("../docs/codes/W105.md")),
    ("W106", include_str!("../docs/codes/W106.md")),
    ("W107", include_str!("../docs/codes/W107.md")),
    ("W108", include_str!("../docs/codes/W108.md")),
    ("W109", include_str!("../docs/codes/W109.md")),
];

/// The document of a code (case-insensitive), if there is one.
pub fn doc(code: &str) -> Option<&'static str> {
    DOCS.iter().find(|(c, _)| c.eq_ignore_ascii_case(code)).map(|(_, d)| *d)
}

/// A code that is not documented: the message for the user, with a "did you mean".
pub fn unknown(code: &str) -> String {
    let mut msg = format!("no diagnostic code `{code}`");
    let upper = code.to_ascii_uppercase();
    match crate::suggest::did_you_mean(&upper, DOCS.iter().map(|(c, _)| *c)) {
        Some(c) => msg.push_str(&format!("; did you mean `{c}`?")),
        None => msg.push_str(&format!(
            "; codes are {}",
            DOCS.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
        )),
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::CODES;

    #[test]
    fn every_code_has_a_doc_and_every_doc_a_code() {
        for (code, _) in CODES {
            assert!(
                doc(code).is_some(),
                "{code} is in diagnostic::CODES but has no docs/codes/{code}.md line in explain::DOCS"
            );
        }
        for (code, _) in DOCS {
            assert!(CODES.iter().any(|c| c.0 == *code), "{code} is documented but not in CODES");
        }
    }

    #[test]
    fn every_doc_has_its_title_and_the_four_sections() {
        for (code, text) in DOCS {
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
        for (code, text) in DOCS {
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
