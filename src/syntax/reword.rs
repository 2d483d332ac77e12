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
    if is_ipv6(word) {
        return e001(
            format!(
                "`{}` after `{spelling}` is an IPv6 address, and rules are IPv4 (`table ip`)",
                shown(word)
            ),
            span,
        )
        .with_label("IPv6")
        .with_help(IPV6_HELP);
    }
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

/// What to do about IPv6 instead of writing it in a rule.
const IPV6_HELP: &str = "overlayfw compiles IPv4 rules only, and they do not filter IPv6 at all; to drop IPv6 to and through the router (all but loopback, replies and what IPv6 itself needs), set `ipv6: drop` in the inventory";

/// Whether a value is (or starts as) an IPv6 address: `2001:db8::1`, `fe80::/10`,
/// `[2001:db8::1]:80`, `2001:db8::1-2001:db8::9`.
fn is_ipv6(word: &str) -> bool {
    let word = word.strip_prefix('[').unwrap_or(word);
    let first = word.split([']', '/', '-', ',']).next().unwrap_or(word);
    first.contains(':') && first.parse::<std::net::Ipv6Addr>().is_ok()
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

#[cfg(test)]
mod tests {
    use crate::diagnostic::{Code, FileId};

    /// The one diagnostic of a one-line file.
    fn error(line: &str) -> crate::diagnostic::Diagnostic {
        let (_, mut diags) = crate::syntax::parse(FileId(0), line);
        assert_eq!(diags.len(), 1, "{line}: {diags:#?}");
        diags.remove(0)
    }

    #[test]
    fn an_ipv6_address_says_rules_are_ipv4_and_points_at_ipv6_drop() {
        for (line, word, at) in [
            ("INPUT_CUST -s 2001:db8::/32 -j ACCEPT", "2001:db8::/32", 14),
            ("FORWARD_CUST -d fe80::1 -j DROP", "fe80::1", 16),
            (
                "PREROUTING_CUST -p tcp --dport 80 -j DNAT --to [2001:db8::1]:80",
                "[2001:db8::1]:80",
                47,
            ),
            ("INPUT_CUST -s ::1 -j DROP", "::1", 14),
        ] {
            let d = error(line);
            assert_eq!(d.code, Code::E001, "{line}");
            assert!(d.message.starts_with(&format!("`{word}` after `-")), "{line}: {}", d.message);
            assert!(d.message.ends_with("is an IPv6 address, and rules are IPv4 (`table ip`)"));
            assert_eq!(d.span().start as usize, at, "{line}");
            assert!(d.help.as_deref().is_some_and(|h| h.contains("`ipv6: drop`")), "{line}");
        }
    }

    #[test]
    fn a_word_that_is_not_ipv6_keeps_the_usual_message() {
        for line in ["INPUT_CUST -s 10.1.2.3:: -j DROP", "INPUT_CUST -s abc:def -j DROP"] {
            let d = error(line);
            assert!(d.message.starts_with("expected "), "{line}: {}", d.message);
        }
    }
}
