//! Rules text → AST. Splits the file into lines (BOM, CRLF, blank and `#` lines handled here),
//! parses the rule lines with the pest grammar in `grammar/vns3.pest` (adjacent lines in batches,
//! one parser call each), and lowers each line's parse tree into an `ast::Rule`, collecting a
//! diagnostic for every bad line.

pub mod ast;
mod check;
mod grammar;
mod item;
mod lower;
mod names;
pub(crate) mod options;
mod plain;
mod reword;
#[cfg(test)]
mod tests;

pub(crate) use lower::strtoull;

use crate::diagnostic::{Code, Diagnostic, FileId, Span};

/// Longest rule line we hand to pest; longer ones get E021 (no real rule comes close).
pub const MAX_LINE_BYTES: usize = 65_536;

/// Files smaller than this are parsed on one thread: starting another costs more than it saves.
const PARALLEL_MIN_BYTES: usize = 256 * 1024;

/// A run of whole lines of a file: `text[from..to]`, `from` at a line start, its first line
/// numbered `first_line` (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub from: usize,
    pub to: usize,
    pub first_line: u32,
}

/// Cuts `text` (after a BOM) at line ends into up to `threads` pieces of about equal size; a
/// file under 256 KiB stays one piece.
pub fn pieces(text: &str, threads: usize) -> Vec<Piece> {
    let start = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    if threads <= 1 || text.len() < PARALLEL_MIN_BYTES {
        return vec![Piece { from: start, to: text.len(), first_line: 1 }];
    }
    let mut out = Vec::with_capacity(threads);
    let (mut from, mut line) = (start, 1u32);
    for k in 1..=threads {
        let to = if k == threads {
            text.len()
        } else {
            let target = (start + (text.len() - start) * k / threads).max(from);
            text[target..].find('\n').map_or(text.len(), |i| target + i + 1)
        };
        out.push(Piece { from, to, first_line: line });
        if k < threads {
            let lines = text.as_bytes()[from..to].iter().filter(|&&b| b == b'\n').count();
            line = line.saturating_add(u32::try_from(lines).unwrap_or(u32::MAX));
        }
        from = to;
    }
    out
}

/// Whether `-m name` is a module overlayfw translates.
pub fn supported_module(name: &str) -> bool {
    names::MODULES.contains(&name)
}

/// Whether `-j name` is a (non-subgroup) target overlayfw translates.
pub fn supported_target(name: &str) -> bool {
    names::TARGETS.contains(&name)
}

/// Parses a whole rules file. Returns the good rules and a diagnostic per problem; a line with
/// an error contributes no rule. A large file is cut into pieces parsed in parallel; the result
/// is the same as parsing it in one piece.
pub fn parse(file: FileId, text: &str) -> (ast::RulesFile, Vec<Diagnostic>) {
    let pieces = pieces(text, crate::parallel::threads());
    let results = crate::parallel::map(pieces, |piece| parse_piece(file, text, piece));
    let mut rules = Vec::with_capacity(results.iter().map(|r| r.0.rules.len()).sum());
    let mut diags = Vec::new();
    for (r, d) in results {
        rules.extend(r.rules);
        diags.extend(d);
    }
    (ast::RulesFile { rules }, diags)
}

fn parse_piece(file: FileId, text: &str, piece: Piece) -> (ast::RulesFile, Vec<Diagnostic>) {
    let mut rules = Vec::new();
    let mut diags = Vec::new();
    lower_piece(file, text, piece, |line| match line {
        Ok(rule) => rules.push(rule),
        Err(f) => diags.extend(f.diags),
    });
    (ast::RulesFile { rules }, diags)
}

/// A line that did not lower to a rule: its diagnostics, and the matches of the options that
/// did lower (empty when the line did not parse), so that the names they use are still
/// checked ([`crate::resolve`]): an unknown interface is unknown whatever else is wrong.
#[derive(Debug)]
pub struct Failed {
    pub diags: Vec<Diagnostic>,
    pub matches: Vec<ast::Match>,
}

impl Failed {
    fn new(diags: Vec<Diagnostic>) -> Failed {
        Failed { diags, matches: Vec::new() }
    }
}

/// A rule line: trimmed text, where it starts, its number.
struct Line<'t> {
    no: u32,
    start: usize,
    content: &'t str,
}

/// The rule lines of a piece: blank and `#` lines skipped, CR and blanks trimmed. `text` starts
/// at byte `base` of its file (a window of it, or all of it): lines' starts are the file's.
fn lines(text: &str, base: usize, piece: Piece) -> impl Iterator<Item = Line<'_>> {
    let mut offset = base + piece.from;
    text[piece.from..piece.to].split('\n').enumerate().filter_map(move |(index, raw)| {
        let line_start = offset;
        offset += raw.len() + 1;
        let no = u32::try_from(index).map_or(u32::MAX, |i| piece.first_line.saturating_add(i));
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let content = raw.trim_start_matches([' ', '\t']);
        let start = line_start + (raw.len() - content.len());
        let content = content.trim_end_matches([' ', '\t']);
        (!content.is_empty() && !content.starts_with('#')).then_some(Line { no, start, content })
    })
}

/// Why a line never reaches the grammar (too long, a control character), if it does not.
fn unparsable(file: FileId, line: &Line) -> Option<Diagnostic> {
    let (start, content) = (line.start, line.content);
    if content.len() > MAX_LINE_BYTES {
        return Some(
            Diagnostic::error(
                Code::E021,
                format!("line is {} bytes long; the limit is {MAX_LINE_BYTES}", content.len()),
                Span::new(file, start, start + content.len()),
            )
            .with_help("split it into several rules"),
        );
    }
    let i = first_control(content.as_bytes())?;
    let c = content[i..].chars().next()?;
    Some(
        Diagnostic::error(
            Code::E020,
            format!("control character U+{:04X} in line", c as u32),
            Span::new(file, start + i, start + i + c.len_utf8()),
        )
        .with_label("not text")
        .with_help("remove it; a rules file is plain text"),
    )
}

/// Where the first control character other than tab starts: Unicode's `Cc` (what
/// `char::is_control` tests), found bytewise. C0 and DEL are single bytes; C1 (U+0080..U+009F)
/// is encoded 0xC2 0x80..0x9F.
fn first_control(bytes: &[u8]) -> Option<usize> {
    // Nearly every line is printable ASCII and tabs: one pass without early exit, which the
    // compiler turns into vector instructions, rules that out before the exact search.
    let suspect =
        bytes.iter().fold(false, |any, &b| any | ((b < 0x20 && b != b'\t') | (b >= 0x7f)));
    if !suspect {
        return None;
    }
    bytes.iter().enumerate().position(|(i, &b)| {
        (b < 0x20 && b != b'\t')
            || b == 0x7f
            || (b == 0xc2 && bytes.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)))
    })
}

/// Lowers every rule line of a piece in order, handing `each` the rule or the line's
/// diagnostics: the caller decides whether to keep the rule (`parse`) or to resolve it at once
/// and drop it (`resolve`, which so never holds a whole file's AST).
pub fn lower_piece(
    file: FileId,
    text: &str,
    piece: Piece,
    each: impl FnMut(Result<ast::Rule, Failed>),
) {
    lower_piece_in(file, text, 0, piece, LINE_BATCH, each);
}

/// Adjacent lines (nothing but a `\n` between them) are parsed in batches of this many: 16
/// saves most of the per-call cost (a 100,000-line compile about 7% faster); much larger
/// batches are slower, their parse queues too large for the allocator to keep (each batch
/// faulted its pages in anew).
const LINE_BATCH: usize = 16;

/// [`lower_piece`] of a window of a file: whole lines, `window` starting at byte `base` of the
/// file and at line `first_line`. (A file that is not held whole is read window by window.)
pub fn lower_window(
    file: FileId,
    window: &str,
    base: usize,
    first_line: u32,
    each: impl FnMut(Result<ast::Rule, Failed>),
) {
    let piece = Piece { from: 0, to: window.len(), first_line };
    lower_piece_in(file, window, base, piece, LINE_BATCH, each);
}

/// [`lower_piece`] with batches of up to `batch_len` lines (1: each line alone); `text` starts
/// at byte `base` of the file.
fn lower_piece_in(
    file: FileId,
    text: &str,
    base: usize,
    piece: Piece,
    batch_len: usize,
    mut each: impl FnMut(Result<ast::Rule, Failed>),
) {
    let mut batch: Vec<Line> = Vec::with_capacity(batch_len);
    for line in lines(text, base, piece) {
        if let Some(last) = batch.last()
            && (line.start != last.start + last.content.len() + 1 || batch.len() >= batch_len)
        {
            lower_batch(file, text, base, &mut batch, &mut each);
        }
        if let Some(d) = unparsable(file, &line) {
            lower_batch(file, text, base, &mut batch, &mut each);
            each(Err(Failed::new(vec![d])));
            continue;
        }
        let ctx = item::LineCtx { file, base: line.start, text: line.content };
        if let Some(lowered) = plain::lower(ctx) {
            lower_batch(file, text, base, &mut batch, &mut each);
            each(checked(lowered, line.no));
            continue;
        }
        batch.push(line);
    }
    lower_batch(file, text, base, &mut batch, &mut each);
}

/// Lowers adjacent rule lines (and empties `batch`): parsed in one parser call, or each alone
/// when one of them does not parse. The rules and diagnostics are those of lowering each line
/// alone (`syntax::tests` checks it).
fn lower_batch(
    file: FileId,
    text: &str,
    base: usize,
    batch: &mut Vec<Line>,
    each: &mut impl FnMut(Result<ast::Rule, Failed>),
) {
    if let [first, .., last] = &batch[..] {
        let (from, to) = (first.start, last.start + last.content.len());
        let ctx = item::LineCtx { file, base: from, text: &text[from - base..to - base] };
        if let Some(mut rows) = lower::parse_rows(ctx) {
            // The text is the lines joined by `\n`, and no row crosses a line end: a row each.
            for line in batch.drain(..) {
                each(lower_parsed(ctx, rows.next().expect("a row per line"), line.no));
            }
            debug_assert!(rows.next().is_none(), "a row per line");
            return;
        }
    }
    for line in batch.drain(..) {
        let ctx = item::LineCtx { file, base: line.start, text: line.content };
        each(lower_line(ctx, line.no));
    }
}

/// Parses and lowers one trimmed rule line.
fn lower_line(ctx: item::LineCtx<'_>, line_no: u32) -> Result<ast::Rule, Failed> {
    match lower::parse_line(ctx) {
        Ok(line) => lower_parsed(ctx, line, line_no),
        Err(e) => Err(Failed::new(vec![reword::reword(ctx, &e)])),
    }
}

/// Lowers a line's parse (see [`lower::lower_parts`]), then checks the whole line: a line with
/// any problem yields its diagnostics and no rule.
fn lower_parsed<'t>(
    ctx: item::LineCtx<'t>,
    line: pest::iterators::Pair<'t, grammar::Rule>,
    line_no: u32,
) -> Result<ast::Rule, Failed> {
    checked(lower::lower_parts(ctx, line), line_no)
}

/// Checks a lowered line as a whole (by the parser or the plain path).
fn checked(mut l: lower::Lowered<'_>, line_no: u32) -> Result<ast::Rule, Failed> {
    check::check_line(&l.items, l.bad_module, &mut l.diags);
    check::check_stateful(&l.items, l.bad_module, &l.failed, &mut l.diags);
    let target = check::target(&l.items, &l.failed, &mut l.diags);
    if !l.diags.is_empty() {
        // The options that lowered, whose names can still be looked up.
        let (matches, _) = check::matches(l.items);
        return Err(Failed { diags: l.diags, matches });
    }
    let (matches, comment) = check::matches(l.items);
    let (chain, span) = (l.chain, l.span);
    Ok(ast::Rule { line: line_no, span, chain, matches, target, comment })
}

/// What a file's lines' first words say, found without parsing the lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FirstWords {
    /// The subgroups the lines name as their chain (`FWD_C_web …`), with the span of the chain
    /// word, in line order: so that lines can be resolved as they are parsed and still jump to
    /// a subgroup defined further down. A line the grammar never sees (too long, a control
    /// character) defines nothing.
    pub subgroups: Vec<(String, ast::Builtin, Span)>,
    /// How many lines start with each builtin chain's word (`INPUT_CUST`, `INPUT`, …), by
    /// `Builtin as usize`: the resolver sizes those chains for them at once.
    pub builtin_lines: [usize; 5],
}

/// Reads the first word of every rule line: see [`FirstWords`]. (The resolver reads each
/// piece's with [`first_words_in`].)
#[cfg(test)]
pub fn first_words(file: FileId, text: &str) -> FirstWords {
    first_words_in(file, text, pieces(text, 1)[0])
}

/// [`first_words`] of a piece of the file: the pieces' results, added in order, are the file's.
pub fn first_words_in(file: FileId, text: &str, whole: Piece) -> FirstWords {
    let mut out = FirstWords::default();
    // The first word decides; only the (few) subgroup lines are checked in full.
    for line in lines(text, 0, whole) {
        let Some(word) = line.content.split([' ', '\t']).next() else { continue };
        match lower::classify_chain(word) {
            Some(ast::ChainWord::Builtin(b)) => out.builtin_lines[b as usize] += 1,
            Some(ast::ChainWord::Subgroup { parent, name })
                if unparsable(file, &line).is_none() =>
            {
                let span = Span::new(file, line.start, line.start + word.len());
                out.subgroups.push((name, parent, span));
            }
            _ => {}
        }
    }
    out
}
