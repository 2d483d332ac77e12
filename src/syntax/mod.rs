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

/// Files smaller than this are parsed on one thread: starting another costs more than it saves.
const PARALLEL_MIN_BYTES: usize = 256 * 1024;

/// Parses a whole rules file. Returns the good rules and a diagnostic per problem; a line with
/// an error contributes no rule. A large file is cut at line ends into one piece per available
/// core, parsed in parallel; the result is the same as parsing it in one piece.
pub fn parse(file: FileId, text: &str) -> (ast::RulesFile, Vec<Diagnostic>) {
    let start = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(8);
    if threads == 1 || text.len() < PARALLEL_MIN_BYTES {
        return parse_piece(file, text, start, text.len(), 1);
    }
    // Pieces end just after a line end; each knows its first line number.
    let mut pieces = Vec::with_capacity(threads);
    let (mut from, mut line) = (start, 1u32);
    for k in 1..=threads {
        let to = if k == threads {
            text.len()
        } else {
            let target = (start + (text.len() - start) * k / threads).max(from);
            text[target..].find('\n').map_or(text.len(), |i| target + i + 1)
        };
        pieces.push((from, to, line));
        let lines = text.as_bytes()[from..to].iter().filter(|&&b| b == b'\n').count();
        line = line.saturating_add(u32::try_from(lines).unwrap_or(u32::MAX));
        from = to;
    }
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = pieces
            .iter()
            .map(|&(from, to, line)| s.spawn(move || parse_piece(file, text, from, to, line)))
            .collect();
        handles.into_iter().map(|h| h.join().expect("parser thread")).collect()
    });
    let mut rules = Vec::with_capacity(results.iter().map(|r| r.0.rules.len()).sum());
    let mut diags = Vec::new();
    for (r, d) in results {
        rules.extend(r.rules);
        diags.extend(d);
    }
    (ast::RulesFile { rules }, diags)
}

/// Parses the lines of `text[from..to]` (`from` at a line start), the first numbered
/// `first_line`.
fn parse_piece(
    file: FileId,
    text: &str,
    from: usize,
    to: usize,
    first_line: u32,
) -> (ast::RulesFile, Vec<Diagnostic>) {
    let mut rules = Vec::new();
    let mut diags = Vec::new();
    let mut offset = from;
    let body = &text[from..to];
    for (index, raw) in body.split('\n').enumerate() {
        let line_start = offset;
        offset += raw.len() + 1;
        let line_no = u32::try_from(index).map_or(u32::MAX, |i| first_line.saturating_add(i));
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
