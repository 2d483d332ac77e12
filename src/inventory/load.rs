//! YAML → `Inventory`, with validation. The only module that uses serde_yaml: it parses the text
//! into `Raw` data and turns serde_yaml's errors into diagnostics; `validate` does the rest.

use super::raw::Raw;
use super::validate::Doc;
use super::{LoadResult, locate, validate};
use crate::diagnostic::{Code, Diagnostic, FileId, Span};

/// Parses and validates an inventory. Every problem found is returned, each with the location in
/// the YAML source `file` (whose text is `text`).
pub fn load(text: &str, file: FileId) -> LoadResult {
    load_all(&[(text, file)])
}

/// Parses, validates and merges inventories in order (a fleet's common file, then the router's):
/// a later one adds entries and may repeat one unchanged; changing one is an E103 at both
/// places. Every problem of every file is returned.
pub fn load_all(inputs: &[(&str, FileId)]) -> LoadResult {
    let mut diags = Vec::new();
    let mut docs = Vec::with_capacity(inputs.len());
    for &(text, file) in inputs {
        let hidden = hidden_characters(text, file);
        if !hidden.is_empty() {
            diags.extend(hidden);
            continue;
        }
        match serde_yaml::from_str::<Raw>(text) {
            Ok(raw) => docs.push(Doc { raw, outline: locate::outline(text), text, file }),
            Err(e) => diags.push(yaml_error(&e, text, file)),
        }
    }
    if docs.is_empty() {
        return Err(diags);
    }
    match validate::validate(&docs) {
        Ok(inv) if diags.is_empty() => Ok(inv),
        Ok(_) => Err(diags),
        Err(more) => {
            diags.extend(more);
            diags.sort_by_key(|d| (d.span().file, d.span().start));
            Err(diags)
        }
    }
}

/// Characters that make the inventory read other than serde_yaml reads it, one diagnostic per
/// line: line breaks an editor may not show (U+0085, U+2028, U+2029 and a lone CR end a YAML
/// comment, so a line that reads as a comment would add a live entry), other control
/// characters (tab aside), and the text-direction and invisible characters the rules language
/// refuses too ([`crate::text::is_hidden`]). A byte-order mark may open the file.
fn hidden_characters(text: &str, file: FileId) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let (mut line, mut last_line) = (0usize, None);
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        let what = match c {
            '\n' => {
                line += 1;
                continue;
            }
            '\t' => continue,
            '\r' if bytes.get(i + 1) == Some(&b'\n') => continue,
            '\u{feff}' if i == 0 => continue,
            '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                "a line break most editors do not show, which ends a YAML comment"
            }
            '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' => {
                "a text-direction control, which makes the text display other than it reads"
            }
            c if c.is_control() => "a control character",
            c if crate::text::is_hidden(c) => "an invisible character",
            _ => continue,
        };
        if last_line == Some(line) {
            continue;
        }
        last_line = Some(line);
        diags.push(
            Diagnostic::error(
                Code::E020,
                format!("U+{:04X} in the inventory: {what}", c as u32),
                Span::new(file, i, i + c.len_utf8()),
            )
            .with_label("hidden character")
            .with_help("remove it; an inventory is plain text"),
        );
    }
    diags
}

/// A YAML syntax (or nesting/alias limit) error as an E101 at serde_yaml's position.
fn yaml_error(e: &serde_yaml::Error, text: &str, file: FileId) -> Diagnostic {
    let at = e.location().map_or(0, |l| offset_of(text, l.line(), l.column()));
    let end = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
    let message = humanize(&e.to_string());
    Diagnostic::error(Code::E101, format!("invalid YAML: {message}"), Span::new(file, at, end))
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
