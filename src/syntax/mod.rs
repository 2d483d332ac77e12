//! Rules text → AST. Splits the file into lines (BOM, CRLF, blank and `#` lines handled here),
//! parses each rule line with the pest grammar in `grammar/vns3.pest`, and lowers the parse
//! tree into `ast::Rule`s, collecting a diagnostic for every bad line.

pub mod ast;
mod check;
mod grammar;
mod lower;
mod names;
mod reword;
#[cfg(test)]
mod tests;

use crate::diagnostic::{Diagnostic, FileId, Span};

/// Longest rule line we hand to pest; longer ones get E021 (no real rule comes close).
pub const MAX_LINE_BYTES: usize = 65_536;

/// Parses a whole rules file. Returns the good rules and a diagnostic per problem; a line with
/// an error contributes no rule.
pub fn parse(file: FileId, text: &str) -> (ast::RulesFile, Vec<Diagnostic>) {
    let mut rules = Vec::new();
    let mut diags = Vec::new();
    let mut offset = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let body = &text[offset..];
    for (index, raw) in body.split('\n').enumerate() {
        let line_start = offset;
        offset += raw.len() + 1;
        let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let content = raw.trim_start_matches([' ', '\t']);
        let start = line_start + (raw.len() - content.len());
        let content = content.trim_end_matches([' ', '\t']);
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if content.len() > MAX_LINE_BYTES {
            diags.push(
                Diagnostic::error(
                    "E021",
                    format!("line is {} bytes long; the limit is {MAX_LINE_BYTES}", content.len()),
                    Span::new(file, start, start + content.len()),
                )
                .with_help("split it into several rules"),
            );
            continue;
        }
        if let Some((i, c)) = content.char_indices().find(|&(_, c)| c.is_control() && c != '\t') {
            diags.push(
                Diagnostic::error(
                    "E020",
                    format!("control character U+{:04X} in line", c as u32),
                    Span::new(file, start + i, start + i + c.len_utf8()),
                )
                .with_label("not text")
                .with_help("remove it; a rules file is plain text"),
            );
            continue;
        }
        let ctx = lower::LineCtx { file, base: start, text: content };
        match lower::lower_line(ctx, line_no) {
            Ok(rule) => rules.push(rule),
            Err(ds) => diags.extend(ds),
        }
    }
    (ast::RulesFile { rules }, diags)
}
