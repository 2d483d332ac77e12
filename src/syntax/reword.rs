//! Pest failures reworded for people: what the option wanted, pointing at the offending word.

use super::grammar::Rule as G;
use super::item::{LineCtx, e001, shown};
use super::options::{Opt, ValueKind};
use crate::diagnostic::Diagnostic;

/// Turns a pest failure into an E001 that names what the option wanted, pointing at the
/// offending word. Pest reports the furthest position it reached; the grammar gives every
/// option a typed value, so the word there is the value of the nearest option before it.
pub(super) fn reword(ctx: LineCtx<'_>, err: &pest::error::Error<G>) -> Diagnostic {
    let pos = match err.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let text = ctx.text;
    let words = words(text);
    // `>=`: an error right after a word (`-s 1.2.3.4,` at the end of the line) is about it.
    let Some(i) = words.iter().position(|&(_, e)| e >= pos) else {
        let end = text.len();
        return e001("unexpected end of line".to_string(), ctx.at(end, end));
    };
    let (s, e) = words[i];
    let word = &text[s..e];
    let span = ctx.at(s, e);
    if word == "!" {
        return e001("`!` must be followed by the option it negates".to_string(), span)
            .with_help("write for example `! -s 10.0.0.0/8`");
    }
    if i > 0 && &text[words[i - 1].0..words[i - 1].1] == "!" {
        return e001(format!("expected an option after `!`, found `{}`", shown(word)), span);
    }
    let owner = words[..i]
        .iter()
        .rev()
        .map(|&(s, e)| &text[s..e])
        .find(|w| w.starts_with('-') && w.len() > 1)
        .and_then(|w| Opt::of_spelling(w).map(|o| (w, o.desc())));
    let Some((spelling, opt)) = owner else {
        return e001(format!("unexpected `{}`", shown(word)), span);
    };
    let mut d =
        e001(format!("expected {} after `{spelling}`, found `{}`", opt.wants, shown(word)), span)
            .with_label("not understood");
    if word.starts_with(['"', '\'']) {
        d = d.with_help("is the closing quote missing?");
    } else if word.contains("${") && !word.contains('}') {
        d = d.with_help("a variable is written `${name}`");
    } else if opt.value == ValueKind::Port && word.contains(',') {
        d = d.with_help(format!(
            "for a list of ports use `-m multiport {spelling}s {}`",
            shown(word)
        ));
    }
    d
}

/// Byte ranges of the blank-separated words of a line.
fn words(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, b) in text.bytes().enumerate() {
        let blank = b == b' ' || b == b'\t';
        match (blank, start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}
