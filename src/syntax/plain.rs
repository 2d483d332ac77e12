//! The plain path: a rule line made only of the common options with plain values (`-i eth0 -s
//! 10.0.0.0/24 -p tcp --dport 22 -j ACCEPT`) is lowered without the pest parser, whose calls
//! were half of a large compile's time.
//!
//! The grammar stays the definition of the language. This path takes a line only when each
//! word is one the grammar reads the same way: a chain word, `!`, the spelling of an option
//! whose value kind is listed in [`lexes`], and a value that the kind's grammar rule matches
//! whole (each test below names its rule). It lowers values with the parser's own functions
//! ([`lower::word_value`]), and the line checks are the same. Every other line, and any line
//! whose value does not lower, goes to the parser, which also gives every diagnostic.
//! `syntax::tests` holds both paths to the same result for each line of the test corpus and
//! for generated lines.

use std::sync::OnceLock;

use super::item::{Item, LineCtx, Tok, Val};
use super::lower::{self, Lowered, classify_chain};
use super::options::{OPT_COUNT, Opt, ValueKind, spellings};
use crate::diagnostic::Spanned;
use crate::fasthash::FxHashMap;

/// The line lowered, or `None` when the parser must read it.
pub(super) fn lower(ctx: LineCtx<'_>) -> Option<Lowered<'_>> {
    let mut words = Words { text: ctx.text, at: 0 };
    let mut chain = None;
    let mut items = Vec::with_capacity(8);
    let mut next = words.next();
    // Grammar rule `chain`: a first word that does not start with `-` or `!`.
    if let Some(w) = next.filter(|w| !w.text.starts_with(['-', '!'])) {
        chain = Some(Spanned::new(classify_chain(w.text)?, ctx.tspan(w)));
        next = words.next();
    }
    while let Some(mut name) = next {
        // Grammar rule `neg`: a `!` word before the option.
        let neg = (name.text == "!").then_some(name.at);
        if neg.is_some() {
            name = words.next()?;
        }
        let opt = *options().get(name.text)?;
        let kind = opt.desc().value;
        let (val, end) = if kind == ValueKind::Flag {
            (Val::Flag, name.at + name.text.len())
        } else {
            let v = words.next().filter(|v| lexes(kind, v.text) == Some(true))?;
            (lower::word_value(ctx, opt, v).ok()??, v.at + v.text.len())
        };
        items.push(Item {
            opt,
            spelling: name.text,
            name_span: ctx.tspan(name),
            neg: neg.map(|i| ctx.at(i, i + 1)),
            span: ctx.at(neg.unwrap_or(name.at), end),
            val,
        });
        next = words.next();
    }
    Some(Lowered {
        span: ctx.at(0, ctx.text.len()),
        chain,
        items,
        diags: Vec::new(),
        bad_module: false,
        failed: [false; OPT_COUNT],
    })
}

/// The options this path reads, by spelling: those whose value kind [`lexes`] knows.
fn options() -> &'static FxHashMap<&'static str, Opt> {
    static MAP: OnceLock<FxHashMap<&'static str, Opt>> = OnceLock::new();
    MAP.get_or_init(|| {
        spellings()
            .filter_map(|s| Opt::of_spelling(s).map(|o| (s, o)))
            .filter(|(_, o)| {
                o.desc().value == ValueKind::Flag || lexes(o.desc().value, "").is_some()
            })
            .collect()
    })
}

/// The blank-separated words of a trimmed line (grammar rule `sep`: spaces and tabs).
struct Words<'t> {
    text: &'t str,
    at: usize,
}

impl<'t> Iterator for Words<'t> {
    type Item = Tok<'t>;

    fn next(&mut self) -> Option<Tok<'t>> {
        let b = self.text.as_bytes();
        let blank = |i: &usize| matches!(b[*i], b' ' | b'\t');
        let start = (self.at..b.len()).find(|i| !blank(i))?;
        self.at = (start..b.len()).find(blank).unwrap_or(b.len());
        Some(Tok { text: &self.text[start..self.at], at: start })
    }
}

/// Whether the grammar rule of an option of `kind` matches all of `w`: `Some(bool)` for the
/// kinds this path reads, `None` for the others. (Byte loops, not `str::split`: a searcher set
/// up for every short part cost more than the tests.)
fn lexes(kind: ValueKind, w: &str) -> Option<bool> {
    let w = w.as_bytes();
    Some(match kind {
        ValueKind::Iface => iface(w),
        ValueKind::Addrs => w.split(|&b| b == b',').all(|a| cidr(a) || var(a) || name(a)),
        ValueKind::Proto | ValueKind::Module | ValueKind::Target => word(w),
        ValueKind::Port => port_spec(w),
        // `state_list` also takes blanks after its commas: such a line goes to the parser.
        ValueKind::States => w.split(|&b| b == b',').all(|s| !s.is_empty() && s.iter().all(alpha)),
        ValueKind::To => to_value(w),
        _ => return None,
    })
}

fn alpha(b: &u8) -> bool {
    b.is_ascii_alphabetic()
}

fn alnum(b: &u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn digits(w: &[u8]) -> bool {
    !w.is_empty() && w.iter().all(u8::is_ascii_digit)
}

/// `word`: `(ASCII_ALPHANUMERIC | "_") ~ (ASCII_ALPHANUMERIC | "_" | "-")*`.
fn word(w: &[u8]) -> bool {
    w.first().is_some_and(|b| alnum(b) || *b == b'_')
        && w.iter().all(|b| alnum(b) || matches!(b, b'_' | b'-'))
}

/// `name`: `(ASCII_ALPHA | "_") ~ (ASCII_ALPHANUMERIC | "_" | "-")*`.
fn name(w: &[u8]) -> bool {
    w.first().is_some_and(|b| alpha(b) || *b == b'_') && word(w)
}

/// `var`: `"${" ~ (ASCII_ALPHANUMERIC | "_")+ ~ "}"`.
fn var(w: &[u8]) -> bool {
    w.strip_prefix(b"${")
        .and_then(|n| n.strip_suffix(b"}"))
        .is_some_and(|n| !n.is_empty() && n.iter().all(|b| alnum(b) || *b == b'_'))
}

/// `iface`: `iface_name | var`, `iface_name` being
/// `!"-" ~ (ASCII_ALPHANUMERIC | "_" | "." | "-" | "*" | "+")+`.
fn iface(w: &[u8]) -> bool {
    var(w)
        || (w.first().is_some_and(|b| *b != b'-')
            && w.iter().all(|b| alnum(b) || matches!(b, b'_' | b'.' | b'-' | b'*' | b'+')))
}

/// The length of the `ipv4` (four dot-separated digit runs) `w` starts with.
fn ipv4_len(w: &[u8]) -> Option<usize> {
    let mut i = 0;
    for part in 0..4 {
        if part > 0 {
            (w.get(i) == Some(&b'.')).then_some(())?;
            i += 1;
        }
        let run = w[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        (run > 0).then_some(())?;
        i += run;
    }
    Some(i)
}

fn ipv4(w: &[u8]) -> bool {
    ipv4_len(w) == Some(w.len())
}

/// `cidr`: an `ipv4`, maybe `/` and digits or a dotted mask.
fn cidr(w: &[u8]) -> bool {
    match ipv4_len(w) {
        Some(n) if n == w.len() => true,
        Some(n) => w[n] == b'/' && (digits(&w[n + 1..]) || ipv4(&w[n + 1..])),
        None => false,
    }
}

/// `port_spec`: `port_val ~ (":" ~ port_val?)? | ":" ~ port_val`, `port_val` being `number`,
/// `service` (`ASCII_ALPHA ~ (ASCII_ALPHANUMERIC | "-")*`) or `var`.
fn port_spec(w: &[u8]) -> bool {
    let val = |v: &[u8]| {
        digits(v)
            || var(v)
            || (v.first().is_some_and(alpha) && v.iter().all(|b| alnum(b) || *b == b'-'))
    };
    match w.iter().position(|&b| b == b':') {
        None => val(w),
        Some(i) => {
            let (lo, hi) = (&w[..i], &w[i + 1..]);
            (val(lo) || lo.is_empty()) && (val(hi) || hi.is_empty()) && w.len() > 1
        }
    }
}

/// `v` cut at its first `-`.
fn dash(v: &[u8]) -> Option<(&[u8], &[u8])> {
    v.iter().position(|&b| b == b'-').map(|i| (&v[..i], &v[i + 1..]))
}

/// `to_value`: `(ip_range | cidr | var | name) ~ (":" ~ port_pair)?`, `ip_range` being
/// `ipv4 ~ "-" ~ ipv4` and `port_pair` `number ~ ("-" ~ number)?`.
fn to_value(w: &[u8]) -> bool {
    let colon = w.iter().position(|&b| b == b':');
    let (addr, ports) = colon.map_or((w, None), |i| (&w[..i], Some(&w[i + 1..])));
    let range = |r: &[u8]| dash(r).is_some_and(|(a, b)| ipv4(a) && ipv4(b));
    let pair = |p: &[u8]| dash(p).map_or_else(|| digits(p), |(a, b)| digits(a) && digits(b));
    (range(addr) || cidr(addr) || var(addr) || name(addr)) && ports.is_none_or(pair)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `lexer` takes each of `yes` whole and none of `no`.
    fn takes(lexer: fn(&[u8]) -> bool, yes: &[&str], no: &[&str]) {
        for w in yes {
            assert!(lexer(w.as_bytes()), "should take {w}");
        }
        for w in no {
            assert!(!lexer(w.as_bytes()), "should not take {w}");
        }
    }

    #[test]
    fn each_test_is_its_grammar_rule() {
        takes(iface, &["eth0", "eth+", "+", "*", "${a}", "eth0.5", "eth0++"], &["-x", ""]);
        takes(
            cidr,
            &["1.2.3.4", "1.2.3.4/24", "1.2.3.4/255.0.0.0"],
            &["1.2.3", "1.2.3.4/", "1.2.3.4/255.0"],
        );
        takes(port_spec, &["22", "1:2", ":2", "1:", "ssh", "${p}:ssh"], &[":", "1:2:3", "8a"]);
        takes(
            to_value,
            &["1.2.3.4:22", "1.2.3.4-1.2.3.9:1-2", "a-b"],
            &["1.2.3.4-5", "1.2.3.4:", "1.2.3.4:a"],
        );
        takes(word, &["tcp", "_x-1"], &["-x", "a.b"]);
        takes(name, &["web_1"], &["1web"]);
        takes(var, &["${x_1}"], &["${}", "${a-b}"]);
    }

    #[test]
    fn the_common_lines_take_the_plain_path() {
        for text in [
            "PREROUTING_CUST -i eth0 -p tcp --dport 1024 -j DNAT --to 198.51.100.2:22",
            "FORWARD_CUST -i tun0 -o plugin0 -s 100.64.0.0/24 -d 198.51.100.2 -p tcp --dport 1 -j ACCEPT",
            "-o eth0 -s 10.0.0.0/24 -j MASQUERADE",
            "FORWARD_CUST ! -s 203.0.0.0,web -p udp --dport 1:1024 -j DROP",
            "MACRO_CUST -j COPY --from tun0 --to 198.51.100.2 --bidirectional",
            "INPUT_CUST -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
            "FWD_C_web -i ${lan} -p tcp --syn -j ACCEPT",
        ] {
            let ctx = LineCtx { file: crate::diagnostic::FileId(0), base: 0, text };
            assert!(lower(ctx).is_some(), "{text}");
        }
    }

    #[test]
    fn words_are_split_at_blanks_with_their_places() {
        let words: Vec<(usize, &str)> =
            Words { text: "A \t-s  x", at: 0 }.map(|t| (t.at, t.text)).collect();
        assert_eq!(words, [(0, "A"), (3, "-s"), (7, "x")]);
    }
}
