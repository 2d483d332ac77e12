//! YAML → `Inventory`, with validation. The only module that uses serde_yaml: it parses the text
//! into `Raw` data and turns serde_yaml's errors into diagnostics; `validate` does the rest.

use super::raw::Raw;
use super::{LoadResult, locate, validate};
use crate::diagnostic::{Diagnostic, FileId, Span};

/// Parses and validates an inventory. Every problem found is returned, each with the location in
/// the YAML source `file` (whose text is `text`).
pub fn load(text: &str, file: FileId) -> LoadResult {
    let raw: Raw = match serde_yaml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => return Err(vec![yaml_error(&e, text, file)]),
    };
    let outline = locate::outline(text);
    validate::validate(&raw, &outline, text, file)
}

/// A YAML syntax (or nesting/alias limit) error as an E101 at serde_yaml's position.
fn yaml_error(e: &serde_yaml::Error, text: &str, file: FileId) -> Diagnostic {
    let at = e.location().map_or(0, |l| offset_of(text, l.line(), l.column()));
    let end = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
    let message = humanize(&e.to_string());
    Diagnostic::error("E101", format!("invalid YAML: {message}"), Span::new(file, at, end))
        .with_help(
            "the inventory is a YAML mapping; see `interfaces`, `plugins`, `variables`, `fwsets`",
        )
}

/// The byte offset of a 1-based line and 1-based column (in characters), clamped to the text.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let line_text = &text[start..];
    let line_end = line_text.find('\n').unwrap_or(line_text.len());
    line_text[..line_end]
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(start + line_end, |(i, _)| start + i)
}

/// serde_yaml's message without its own position (the diagnostic carries it) and with its
/// jargon turned into plain words.
fn humanize(msg: &str) -> String {
    let mut out = msg.to_string();
    // "… at line 3 column 1, while parsing …": drop the first position; the diagnostic shows it.
    if let Some(i) = out.find(" at line ") {
        let rest = &out[i + " at line ".len()..];
        let skip = rest.find(',').map_or(rest.len(), |j| j);
        if rest[..skip].contains("column") {
            out = format!("{}{}", &out[..i], &rest[skip..]);
        }
    }
    if out.contains("more than one document") {
        return "the inventory must be a single YAML document (found a second `---`)".into();
    }
    if out.starts_with("recursion limit exceeded") {
        return "nesting is too deep".into();
    }
    if out.starts_with("repetition limit exceeded") {
        return "aliases expand to too much data".into();
    }
    out.replace("did not find expected key", "expected a `key: value` line").replace(
        "mapping values are not allowed in this context",
        "unexpected `:` (quote the value if it contains `: `)",
    )
}
