//! One rule line's parse → its chain word and options: runs the pest parser on the line and
//! lowers each option's value as its descriptor (`options.rs`) says. The checks that need the
//! whole line are `check.rs`'s; `mod.rs` runs one after the other.

use std::net::Ipv4Addr;

use pest::Parser;
use pest::iterators::Pair;

use super::ast::{AddrItem, ChainWord, CtState, IcmpType, Net, PortSpec, Protocol, RateUnit};
use super::ast::{LogLevel, RejectWith};
use super::ast::{SetDir, Value};
use super::grammar::{Rule as G, Vns3Parser};
use super::item::{Item, LineCtx, Res, ToAddr, ToVal, Tok, Val, e001, e008, shown};
use super::names;
use super::options::{OPT_COUNT, Opt, ValueKind, spellings};
use crate::diagnostic::{Code, Diagnostic, Span, Spanned};
use crate::net::{self, AddrError, CidrError};
use crate::vocab;

/// Parses one trimmed rule line: its `line` pair, or pest's error (for `reword`).
pub(super) fn parse_line(ctx: LineCtx<'_>) -> Result<Pair<'_, G>, pest::error::Error<G>> {
    let mut pairs = Vns3Parser::parse(G::line, ctx.text)?;
    // Grammar rule `line` matched, so it yields exactly one `line` pair.
    Ok(pairs.next().expect("`line` yields one pair"))
}

/// Parses adjacent trimmed rule lines in one parser call: `ctx.text` is the lines joined by
/// `\n`. Returns the parse of each line (a `row`, whose parts are those `line` yields for the
/// line alone), or `None` when any line does not parse (then each line is lowered alone, to get
/// its diagnostics).
pub(super) fn parse_rows<'t>(ctx: LineCtx<'t>) -> Option<impl Iterator<Item = Pair<'t, G>>> {
    let mut pairs = Vns3Parser::parse(G::lines, ctx.text).ok()?;
    let lines = pairs.next().expect("`lines` yields one pair");
    Some(lines.into_inner().filter(|p| p.as_rule() == G::row))
}

/// A line's parts, lowered one by one, for the line checks.
pub(super) struct Lowered<'t> {
    pub(super) span: Span,
    pub(super) chain: Option<Spanned<ChainWord>>,
    pub(super) items: Vec<Item<'t>>,
    /// The problems found so far.
    pub(super) diags: Vec<Diagnostic>,
    /// A `-m` was rejected, so options that need a module are not judged again.
    pub(super) bad_module: bool,
    /// Options (by `Opt as usize`) whose value was reported bad: their absence is no new problem.
    pub(super) failed: [bool; OPT_COUNT],
}

/// Lowers each part of a line's parse (a `line` pair, or a `row` of [`parse_rows`]): `ctx` is
/// the text the parser saw, the pair's positions are in it.
pub(super) fn lower_parts<'t>(ctx: LineCtx<'t>, line: Pair<'t, G>) -> Lowered<'t> {
    let line_span = line.as_span();
    let mut diags = Vec::new();
    let mut chain = None;
    let mut items = Vec::with_capacity(8);
    let (mut stray_seen, mut bad_module) = (false, false);
    let mut failed = [false; OPT_COUNT];
    // Where the previous part ended: a `!` between it and an option negates the option.
    let mut prev_end = line_span.start();
    for part in line.into_inner() {
        let after = std::mem::replace(&mut prev_end, part.as_span().end());
        match part.as_rule() {
            G::chain => match chain_word(ctx, &part) {
                Ok(c) => chain = Some(c),
                Err(d) => diags.push(d),
            },
            G::EOI => {}
            // Grammar rule `item` (`neg? ~ option | stray`) is silent: each option or stray
            // word comes as a part of its own.
            // Words after a stray word are usually more of the same mistake (`# note`,
            // `-s a b c`): one diagnostic says it.
            G::stray => {
                if !stray_seen {
                    diags.push(stray(ctx, &part));
                }
                stray_seen = true;
            }
            rule => match item(ctx, part, after) {
                Ok(i) => items.push(i),
                // Options after an unsupported `-m` most likely belong to it: its E004 says it
                // (`-m recent --set`: recent's own `--set`, not set's, lacks set's value).
                Err(d) if bad_module && matches!(d.code, Code::E002 | Code::E001) => {}
                // `-m connlabel --set` (a flag) reads as set's `--set` without its value.
                Err(d) if rule == G::o_set && d.code == Code::E001 && connlabel(&items) => {
                    diags.push(connlabel_set(d.labels[0].span));
                }
                Err(d) => {
                    bad_module |= d.code == Code::E004;
                    // Remember which option failed so that its absence is not reported again.
                    if let Some(opt) = Opt::of_rule(rule) {
                        failed[opt as usize] = true;
                    }
                    diags.push(d);
                }
            },
        }
    }
    let span = ctx.at(line_span.start(), line_span.end());
    Lowered { span, chain, items, diags, bad_module, failed }
}

/// Whether the items so far load `-m connlabel`.
fn connlabel(items: &[Item<'_>]) -> bool {
    items
        .iter()
        .any(|i| matches!(&i.val, Val::Word(m) if i.opt == Opt::Module && m.node == "connlabel"))
}

/// `-m connlabel --set` at `span`: refused (docs/refused.md).
fn connlabel_set(span: Span) -> Diagnostic {
    e008("`-m connlabel --set` cannot be translated exactly".to_string(), span)
        .with_label("refused: see docs/refused.md")
        .with_help(crate::refused::CONNLABEL_SET.help())
}

/// What a line's first word names, if it is a chain word: a builtin, `MACRO_CUST` or a
/// subgroup.
pub(super) fn classify_chain(word: &str) -> Option<ChainWord> {
    use super::ast::Builtin::*;
    let builtin = match word.strip_suffix("_CUST").unwrap_or(word) {
        "INPUT" => Some(Input),
        "OUTPUT" => Some(Output),
        "FORWARD" => Some(Forward),
        "PREROUTING" => Some(Prerouting),
        "POSTROUTING" => Some(Postrouting),
        _ => None,
    };
    if let Some(b) = builtin {
        return Some(ChainWord::Builtin(b));
    }
    if word == "MACRO_CUST" {
        return Some(ChainWord::Macro);
    }
    names::SUBGROUP_PREFIXES.iter().find_map(|(prefix, parent)| {
        let tail = word.strip_prefix(prefix)?;
        names::is_subgroup_tail(tail)
            .then(|| ChainWord::Subgroup { parent: *parent, name: word.to_string() })
    })
}

fn chain_word(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Res<Spanned<ChainWord>> {
    let word = p.as_str();
    let span = ctx.span(p);
    if let Some(c) = classify_chain(word) {
        return Ok(Spanned::new(c, span));
    }
    let mut d = Diagnostic::error(Code::E003, format!("unknown chain `{}`", shown(word)), span)
        .with_label("not a chain name");
    if word == "iptables" || word == "ip6tables" {
        d = d.with_help("write the rule without `iptables -A CHAIN`: `[CHAIN] options`");
    } else if let Some(c) = names::closest(word, names::CHAIN_WORDS) {
        d = d.with_help(format!("did you mean `{c}`?"));
    } else {
        d = d.with_help(
            "a line starts with INPUT_CUST, FORWARD_CUST, PREROUTING_CUST, …, MACRO_CUST, a \
             subgroup such as FWD_C_name, or an option",
        );
    }
    Err(d)
}

/// Lowers one item: an option with its value (or an unknown option), the text since `after` (the end
/// of the part before it) holding the blanks and the `!` that may negate it.
fn item<'t>(ctx: LineCtx<'t>, opt_pair: Pair<'t, G>, after: usize) -> Res<Item<'t>> {
    // `neg` is silent in the grammar: a `!` before the option is all that is left of it.
    let neg = ctx.text[after..opt_pair.as_span().start()].find('!').map(|i| after + i);
    let item_span = ctx.at(neg.unwrap_or(opt_pair.as_span().start()), opt_pair.as_span().end());
    let neg = neg.map(|i| ctx.at(i, i + 1));
    if opt_pair.as_rule() == G::o_unknown {
        return Err(unknown_option(ctx, opt_pair));
    }
    let Some(opt) = Opt::of_rule(opt_pair.as_rule()) else {
        return Err(e001(format!("unexpected `{}`", shown(opt_pair.as_str())), item_span));
    };
    // Every `o_*` grammar rule starts with the option's name, which runs up to the first blank.
    let whole = opt_pair.as_str();
    let spelling = &whole[..whole.find([' ', '\t']).unwrap_or(whole.len())];
    let start = opt_pair.as_span().start();
    let name_span = ctx.at(start, start + spelling.len());
    let rest = &whole[spelling.len()..];
    // At most two value pairs (`o_set`: a name and a direction), kept without a vector.
    let mut inner = opt_pair.into_inner();
    let values = [inner.next(), inner.next()];
    // `old_neg` is silent too: a `!` between the name and the value.
    if rest.trim_start_matches([' ', '\t']).starts_with('!') {
        let bang = start + whole.len() - rest.trim_start_matches([' ', '\t']).len();
        let value = values[0].as_ref().map_or("VALUE", |v| v.as_str());
        return Err(Diagnostic::error(
            Code::E022,
            format!("`!` after `{spelling}` is the old iptables form and is not accepted"),
            ctx.at(bang, bang + 1),
        )
        .with_label("negation goes before the option")
        .with_help(format!("write `! {spelling} {}`", shown(value))));
    }
    // `missing` is silent: a value-taking option with no value pair had nothing after it.
    let wanted = opt.desc().value.words();
    if values.iter().flatten().count() < wanted {
        let (what, at) = if let Some(name) = &values[0] {
            let n = ctx.span(name);
            let second = if opt == Opt::TcpFlags {
                "the flags that must be set, such as SYN (or NONE)"
            } else {
                "a direction: src or dst"
            };
            (format!("`{spelling} {}` needs {second}", name.as_str()), n)
        } else {
            (format!("`{spelling}` needs a value: expected {}", opt.desc().wants), name_span)
        };
        return Err(e001(what, at).with_label("value missing after this"));
    }
    let val = value(ctx, opt, spelling, &values)?;
    Ok(Item { opt, spelling, name_span, neg, span: item_span, val })
}

fn stray(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Diagnostic {
    let word = p.as_str();
    let d = e001(
        format!("unexpected `{}`: expected an option such as -s, -p or -j", shown(word)),
        ctx.span(p),
    )
    .with_label("not an option");
    let is_chain = names::CHAIN_WORDS.contains(&word)
        || names::SUBGROUP_PREFIXES.iter().any(|(pre, _)| word.starts_with(pre));
    if is_chain {
        d.with_help("the chain name must be the first word of the line")
    } else if word.contains('.') {
        d.with_help("separate several addresses with commas and no spaces: `-s a,b`")
    } else {
        d
    }
}

fn unknown_option(ctx: LineCtx<'_>, p: Pair<'_, G>) -> Diagnostic {
    // `o_unknown` is `!known_name ~ n_unknown ~ …`: its first child is the name.
    let name = p.into_inner().next().expect("`o_unknown` starts with `n_unknown`");
    let word = name.as_str();
    let mut d = Diagnostic::error(
        Code::E002,
        format!("unknown or unsupported option `{}`", shown(word)),
        ctx.span(&name),
    );
    let hint = match word {
        "-A" | "-I" | "-t" | "--table" | "--append" | "--insert" => {
            Some("write only `[CHAIN] options`: no -t, -A or -I".to_string())
        }
        "-g" | "--goto" => Some("use `-j` to jump to a subgroup".to_string()),
        _ => {
            // A refused option is no fix for a typo.
            let all: Vec<&str> = spellings()
                .filter(|s| Opt::of_spelling(s).is_some_and(|o| o.desc().refused.is_none()))
                .collect();
            names::closest(word, &all).map(|c| format!("did you mean `{c}`?"))
        }
    };
    if let Some(h) = hint {
        d = d.with_help(h);
    }
    d
}

/// Lowers the value pairs of a known option (`missing` and `old_neg` are handled already).
fn value(ctx: LineCtx<'_>, opt: Opt, spelling: &str, vals: &[Option<Pair<'_, G>>; 2]) -> Res<Val> {
    let [Some(v), dir] = vals else {
        return Ok(Val::Flag);
    };
    if let Some(val) = word_value(ctx, opt, ctx.tok(v))? {
        return Ok(val);
    }
    Ok(match opt.desc().value {
        ValueKind::PortList => {
            let mut list = Vec::new();
            for p in v.clone().into_inner() {
                list.push(port_spec(ctx, ctx.tok(&p))?);
            }
            // iptables' multiport takes 15 ports, a range counting as two.
            let weight: usize = list
                .iter()
                .map(|p| if matches!(p.node, PortSpec::Range(..)) { 2 } else { 1 })
                .sum();
            if weight > 15 {
                return Err(e008(
                    format!("`{spelling}` lists more than 15 ports (a range counts as two)"),
                    ctx.span(v),
                )
                .with_help("split the list over several rules"));
            }
            Val::Ports(list)
        }
        ValueKind::CtStatus => {
            let mut bits = 0u32;
            for name in v.as_str().split(',') {
                if name.eq_ignore_ascii_case("NONE") {
                    continue;
                }
                match vocab::CT_STATUS[..4].iter().find(|e| e.0.eq_ignore_ascii_case(name)) {
                    Some(e) => bits |= e.2,
                    None => {
                        return Err(e008(
                            format!("unknown conntrack status `{}`", shown(name)),
                            ctx.span(v),
                        )
                        .with_help("use EXPECTED, SEEN_REPLY, ASSURED or CONFIRMED"));
                    }
                }
            }
            if bits == 0 {
                return Err(e008(
                    "`--ctstatus NONE` sets no status bit: it matches no connection".to_string(),
                    ctx.span(v),
                )
                .with_help("name a status: EXPECTED, SEEN_REPLY, ASSURED or CONFIRMED"));
            }
            Val::Num(bits)
        }
        ValueKind::CtAddr => Val::Net(ct_addr(ctx, v)?),
        ValueKind::Text { max, what } => {
            let t = text(ctx, v);
            if t.node.chars().count() > max {
                return Err(e008(format!("{what} may be at most {max} characters"), t.span));
            }
            Val::Text(t)
        }
        ValueKind::Range => Val::Range(ip_range(ctx, ctx.tok(v))?),
        ValueKind::Rate => {
            let (rate, unit) = rate(ctx, v)?;
            Val::Rate(rate, unit)
        }
        ValueKind::Burst => {
            // 0 is iptables-nft's (the kernel's) default burst of 5; see resolve.
            let n = number(v.as_str()).filter(|n| (0..=10_000).contains(n));
            let n = n.ok_or_else(|| {
                e008(
                    format!("`{}` is not a burst between 0 and 10000", shown(v.as_str())),
                    ctx.span(v),
                )
            })?;
            Val::Num(n as u32)
        }
        ValueKind::SetDir => {
            let name = Spanned::new(v.as_str().to_string(), ctx.span(v));
            // Grammar rule `o_set`: a set name is followed by `missing` (handled) or `set_dir`.
            let dir = dir.as_ref().expect("`o_set` has a direction after the name");
            let d = match dir.as_str() {
                "src" => SetDir::Src,
                "dst" => SetDir::Dst,
                s if s.contains(',') => {
                    return Err(e008(
                        format!(
                            "matching a set on several directions (`{}`) is not supported",
                            shown(s)
                        ),
                        ctx.span(dir),
                    )
                    .with_help("use one direction, src or dst"));
                }
                s => {
                    return Err(e008(
                        format!("`{}` is not a set direction", shown(s)),
                        ctx.span(dir),
                    )
                    .with_help("write src or dst"));
                }
            };
            Val::Set(name, d)
        }
        ValueKind::Icmp => Val::Icmp(icmp_type(ctx, v)?),
        ValueKind::TcpFlags => {
            // Grammar rule `o_tcp_flags`: a mask is followed by `missing` (handled) or flags.
            let comp = dir.as_ref().expect("`o_tcp_flags` has the set flags after the mask");
            let (mask, comp) = (tcp_flags(ctx, v)?, tcp_flags(ctx, comp)?);
            Val::TcpFlags { mask, comp }
        }
        ValueKind::Mss => {
            let n = number(v.as_str()).filter(|n| *n <= u64::from(u16::MAX));
            let n = n.ok_or_else(|| {
                e008(
                    format!("`{}` is not an MSS between 0 and 65535", shown(v.as_str())),
                    ctx.span(v),
                )
            })?;
            Val::Num(n as u32)
        }
        ValueKind::MarkMask | ValueKind::Mark32 => {
            let text = v.as_str();
            let (value, mask) = match text.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (text, None),
            };
            let read = |s: &str| {
                strtoul(s).ok_or_else(|| {
                    e008(format!("`{}` is not a 32-bit number", shown(s)), ctx.span(v))
                        .with_help("write a number from 0 to 4294967295, decimal or 0x hex")
                })
            };
            let (value, mask) = (read(value)?, mask.map(read).transpose()?);
            if mask.is_some() && opt.desc().value == ValueKind::Mark32 {
                return Err(e008(format!("`{spelling}` takes no /MASK"), ctx.span(v))
                    .with_help("write one 32-bit number such as 0xff"));
            }
            Val::MarkMask(value, mask)
        }
        // Grammar rule `o_hl_burst`: a burst in bytes goes with a byte rate.
        ValueKind::Num { .. } if v.as_rule() == G::byte_size => {
            return Err(e008(
                format!(
                    "a burst in bytes (`{}`) belongs to xt_hashlimit's byte mode, which cannot be \
                     translated exactly",
                    shown(v.as_str())
                ),
                ctx.span(v),
            )
            .with_label("refused: see docs/refused.md")
            .with_help(
                "xt_hashlimit spends a byte burst as whole refills of its one-second bucket; \
                 write the burst in packets (`--hashlimit-burst 10`) with a packet rate",
            ));
        }
        ValueKind::Num { max } => {
            let n = strtoul(v.as_str()).filter(|n| *n <= max).ok_or_else(|| {
                e008(
                    format!("`{}` is not a number from 0 to {max}", shown(v.as_str())),
                    ctx.span(v),
                )
            })?;
            Val::Num(n)
        }
        ValueKind::Count64 => {
            let n = strtoull(v.as_str()).ok_or_else(|| {
                e008(format!("`{}` is not a 64-bit number", shown(v.as_str())), ctx.span(v))
                    .with_help("write a number of bytes, decimal or 0x hex")
            })?;
            Val::Count(n, n)
        }
        ValueKind::Count => {
            // libxt_connbytes: `N`, `N:M`, `N:` or `:M`, each read by strtoull base 0, the
            // second not below the first; one number alone is `N:` (up to 2^64-1).
            let text = v.as_str();
            let bad = || {
                e008(format!("`{}` is not a count or range of counts", shown(text)), ctx.span(v))
                    .with_help("write N, N:M or N: (decimal or 0x hex)")
            };
            let read = |s: &str, default: u64| {
                if s.is_empty() { Some(default) } else { strtoull(s) }
            };
            let (lo, hi) = match text.split_once(':') {
                Some((a, b)) => (read(a, 0).ok_or_else(bad)?, read(b, u64::MAX).ok_or_else(bad)?),
                None => (read(text, 0).filter(|_| !text.is_empty()).ok_or_else(bad)?, u64::MAX),
            };
            if lo > hi {
                return Err(e008(format!("range `{}` runs backwards", shown(text)), ctx.span(v))
                    .with_help("write the smaller count first, as iptables requires"));
            }
            Val::Count(lo, hi)
        }
        ValueKind::NumRange { max } => {
            let text = v.as_str();
            let bad = || {
                e008(
                    format!("`{}` is not a number or range from 0 to {max}", shown(text)),
                    ctx.span(v),
                )
                .with_help("write N or N:M")
            };
            let read = |s: &str, default: u32| {
                if s.is_empty() {
                    Some(default)
                } else {
                    // iptables reads these with strtoul base 0: `0xffff`, `010` (octal).
                    strtoull(s).and_then(|n| u32::try_from(n).ok()).filter(|n| *n <= max)
                }
            };
            let (lo, hi) = match text.split_once(':') {
                Some((a, b)) => (read(a, 0).ok_or_else(bad)?, read(b, max).ok_or_else(bad)?),
                None => {
                    let n = read(text, 0).filter(|_| !text.is_empty()).ok_or_else(bad)?;
                    (n, n)
                }
            };
            if lo > hi {
                return Err(e008(
                    format!("range `{}` is empty: the first number is larger", shown(text)),
                    ctx.span(v),
                ));
            }
            Val::NumRange(lo, hi)
        }
        ValueKind::DccpTypes => {
            let mut mask = 0u32;
            for name in v.as_str().split(',') {
                match names::DCCP_TYPES.iter().position(|t| t.eq_ignore_ascii_case(name)) {
                    Some(i) => mask |= 1 << i,
                    None => {
                        return Err(e008(
                            format!("unknown DCCP packet type `{}`", shown(name)),
                            ctx.span(v),
                        )
                        .with_help(format!("use {}", names::DCCP_TYPES.join(", "))));
                    }
                }
            }
            // INVALID is every type from 10 on, as libxt_dccp sets them (11 to 15 have no name).
            if mask & (1 << 10) != 0 {
                mask |= 0xf800;
            }
            Val::Num(mask)
        }
        ValueKind::Date => match time_date(v.as_str()) {
            Some(secs) => Val::Num(secs),
            None => {
                return Err(e008(
                    format!("`{}` is not a date YYYY[-MM[-DD[Thh[:mm[:ss]]]]]", shown(v.as_str())),
                    ctx.span(v),
                )
                .with_help(
                    "write a UTC date from 1970 on, such as 2024-01-31 or 2024-01-31T08:00",
                ));
            }
        },
        ValueKind::DayTime => match day_time(v.as_str()) {
            Some(secs) => Val::Num(secs),
            None => {
                return Err(e008(
                    format!("`{}` is not a time of day hh:mm[:ss]", shown(v.as_str())),
                    ctx.span(v),
                )
                .with_help("write a UTC time such as 09:00 or 17:30:00"));
            }
        },
        ValueKind::WeekDays => {
            // libxt_time: a day by its first two letters (`Sa`, `Sat`, `Saturday`) or 1..7;
            // bit `1 << day`, Monday 1.
            const DAYS: [&str; 7] = ["mo", "tu", "we", "th", "fr", "sa", "su"];
            let mut mask = 0u32;
            for w in v.as_str().split(',') {
                let l = w.to_ascii_lowercase();
                let day = match l.parse::<usize>() {
                    Ok(n @ 1..=7) => Some(n),
                    _ => DAYS.iter().position(|d| l.get(..2) == Some(*d)).map(|i| i + 1),
                };
                match day {
                    Some(d) => mask |= 1 << d,
                    None if opt == Opt::MonthDays => mask |= 1, // refused anyway
                    None => {
                        return Err(e008(format!("unknown weekday `{}`", shown(w)), ctx.span(v))
                            .with_help("use Mon, Tue, Wed, Thu, Fri, Sat, Sun or 1 to 7"));
                    }
                }
            }
            Val::Num(mask)
        }
        ValueKind::ClassId => {
            // As libxt_CLASSIFY reads it: `%x:%x`, each half at most ffff.
            let text = v.as_str();
            let half = |h: &str| {
                (!h.is_empty() && h.len() <= 4 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| u32::from_str_radix(h, 16).ok())
                    .flatten()
            };
            match text.split_once(':').and_then(|(a, b)| Some((half(a)?, half(b)?))) {
                Some((major, minor)) => Val::Num((major << 16) | minor),
                None => {
                    return Err(e008(
                        format!("`{}` is not a traffic class MAJOR:MINOR", shown(text)),
                        ctx.span(v),
                    )
                    .with_help("write two hexadecimal numbers up to ffff, such as 1:10"));
                }
            }
        }
        ValueKind::Name { .. } => {
            let (list, what) = match opt {
                Opt::PktType => (names::PKT_TYPES, "packet type"),
                Opt::CtDir => (names::CT_DIRS, "conntrack direction"),
                Opt::StatMode => (names::STAT_MODES, "statistic mode"),
                Opt::AuditType => (names::AUDIT_TYPES, "audit type"),
                Opt::PolicyDir => (names::POLICY_DIRS, "policy direction"),
                Opt::PolicyPol => (names::POLICY_POLS, "policy"),
                Opt::ConnbytesDir => (names::CONNBYTES_DIRS, "connbytes direction"),
                Opt::ConnbytesMode => (names::CONNBYTES_MODES, "connbytes mode"),
                _ => (names::DSCP_CLASSES, "DiffServ class"),
            };
            let w = v.as_str();
            // `-m policy --mode`: refused with the other per-SA options (check.rs).
            if opt == Opt::StatMode && (w == "tunnel" || w == "transport") {
                return Ok(Val::Num(names::POLICY_MODE));
            }
            // As libxt_statistic, libxt_policy and libxt_connbytes compare them: case and all.
            let exact = matches!(
                opt,
                Opt::StatMode
                    | Opt::PolicyDir
                    | Opt::PolicyPol
                    | Opt::ConnbytesDir
                    | Opt::ConnbytesMode
            );
            match list.iter().find(|(n, _)| *n == w || (!exact && n.eq_ignore_ascii_case(w))) {
                Some((_, n)) => Val::Num(u32::from(*n)),
                None => {
                    let known: Vec<&str> = list.iter().map(|(n, _)| *n).collect();
                    let mut d = e008(format!("unknown {what} `{}`", shown(w)), ctx.span(v));
                    d = match names::closest(&w.to_ascii_uppercase(), &known)
                        .or_else(|| names::closest(&w.to_ascii_lowercase(), &known))
                    {
                        Some(c) => d.with_help(format!("did you mean `{c}`?")),
                        None => d.with_help(format!("use one of {}", known.join(", "))),
                    };
                    return Err(d);
                }
            }
        }
        ValueKind::Mac => {
            // As iptables reads it: six two-digit hex bytes separated by colons.
            let text = v.as_str();
            let parts: Vec<&str> = text.split(':').collect();
            let ok = parts.len() == 6 && parts.iter().all(|p| p.len() == 2);
            let mut mac = [0u8; 6];
            for (i, p) in parts.iter().enumerate().take(6) {
                mac[i] = u8::from_str_radix(p, 16).unwrap_or(0);
            }
            if !ok {
                return Err(e008(format!("`{}` is not a MAC address", shown(text)), ctx.span(v))
                    .with_help("write six two-digit hex bytes such as 00:11:22:33:44:55"));
            }
            Val::Mac(mac)
        }
        ValueKind::Probability => {
            let text = v.as_str();
            let p = text.parse::<f64>().ok().filter(|p| (0.0..=1.0).contains(p));
            let p = p.ok_or_else(|| {
                e008(format!("`{}` is not a probability from 0 to 1", shown(text)), ctx.span(v))
            })?;
            // iptables: lround(0x80000000 * p), compared with 31 random bits.
            Val::Num((p * 2_147_483_648.0).round() as u32)
        }
        ValueKind::IdRange => {
            let text = v.as_str();
            let read = |s: &str| number(s).filter(|n| *n <= u64::from(u32::MAX - 1));
            let (lo, hi) = match text.split_once('-') {
                Some((a, b)) => (read(a), read(b)),
                None => (read(text), read(text)),
            };
            let (Some(lo), Some(hi)) = (lo, hi) else {
                let named = text.bytes().any(|b| b.is_ascii_alphabetic());
                let mut d =
                    e008(format!("`{}` is not a numeric id or range", shown(text)), ctx.span(v));
                d = if named {
                    d.with_help("user and group names are not looked up: write the numeric id")
                } else {
                    d.with_help("write N or N-M, at most 4294967294")
                };
                return Err(d);
            };
            if lo > hi {
                return Err(e008(
                    format!("range `{}` is empty: the first id is larger", shown(text)),
                    ctx.span(v),
                ));
            }
            Val::NumRange(lo as u32, hi as u32)
        }
        ValueKind::AddrTypes => {
            let mut bits = 0u32;
            for name in v.as_str().split(',') {
                match names::ADDR_TYPES.iter().position(|t| t.eq_ignore_ascii_case(name)) {
                    Some(i) => bits |= 1 << i,
                    None => {
                        return Err(e008(
                            format!("unknown address type `{}`", shown(name)),
                            ctx.span(v),
                        )
                        .with_help(format!("use {}", names::ADDR_TYPES.join(", "))));
                    }
                }
            }
            Val::Num(bits)
        }
        ValueKind::HashMode => {
            let mut bits = 0u32;
            for name in v.as_str().split(',') {
                match names::HASH_MODES.iter().find(|(n, _)| *n == name) {
                    Some((_, b)) => bits |= u32::from(*b),
                    None => {
                        return Err(e008(
                            format!("unknown hashlimit mode `{}`", shown(name)),
                            ctx.span(v),
                        )
                        .with_help("use srcip, dstip, srcport or dstport, separated by commas"));
                    }
                }
            }
            Val::Num(bits)
        }
        ValueKind::MeterName => {
            let name = v.as_str();
            let ok = name.len() <= 15
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                return Err(e008(
                    format!("`{}` is not a hashlimit name overlayfw can use", shown(name)),
                    ctx.span(v),
                )
                .with_help("use at most 15 letters, digits, `_` or `-` (iptables takes 15)"));
            }
            Val::Word(Spanned::new(name.to_string(), ctx.span(v)))
        }
        ValueKind::RejectType => {
            let w = v.as_str().to_ascii_lowercase();
            let Some(with) = RejectWith::parse(&w) else {
                let mut d =
                    e008(format!("unknown reject type `{}`", shown(v.as_str())), ctx.span(v));
                let known: Vec<&str> = RejectWith::spellings().collect();
                if let Some(c) = names::closest(&w, &known) {
                    d = d.with_help(format!("did you mean `{c}`?"));
                }
                return Err(d);
            };
            Val::Reject(Spanned::new(with, ctx.span(v)), w)
        }
        ValueKind::LogLevel => {
            let Some(level) = LogLevel::parse(v.as_str()) else {
                return Err(e008(
                    format!("unknown log level `{}`", shown(v.as_str())),
                    ctx.span(v),
                )
                .with_help(LogLevel::HELP));
            };
            Val::Level(Spanned::new(level, ctx.span(v)))
        }
        // REDIRECT/MASQUERADE `--to-ports 0` is a port iptables takes (nft `to :0`).
        ValueKind::PortPair => Val::PortPair(port_pair(ctx, ctx.tok(v), 0)?.node),
        ValueKind::Flag => Val::Flag,
        ValueKind::Iface
        | ValueKind::Addrs
        | ValueKind::Proto
        | ValueKind::Port
        | ValueKind::States
        | ValueKind::Module
        | ValueKind::Target
        | ValueKind::To => unreachable!("lowered by word_value"),
    })
}

/// The value of an option of the kinds that are lowered from their text alone (one word, or a
/// list without inner blanks but for `--ctstate A, B`): the common options, which the plain
/// path ([`super::plain`]) lowers without the parser. `None` for the other kinds.
pub(super) fn word_value(ctx: LineCtx<'_>, opt: Opt, v: Tok<'_>) -> Res<Option<Val>> {
    Ok(Some(match opt.desc().value {
        ValueKind::Iface => Val::Iface(iface(ctx, v)),
        ValueKind::Addrs => Val::Addrs(addr_list(ctx, v)?),
        ValueKind::Proto => Val::Proto(protocol(ctx, v)?),
        ValueKind::Port => Val::Port(port_spec(ctx, v)?),
        ValueKind::States => match ct_nat_states(ctx, opt, v)? {
            Some(bits) => Val::Num(bits),
            None => Val::States(states(ctx, v)?),
        },
        ValueKind::Module => Val::Word(module(ctx, v)?),
        ValueKind::Target => Val::Word(Spanned::new(v.text.to_string(), ctx.tspan(v))),
        ValueKind::To => Val::To(to_value(ctx, v)?),
        _ => return Ok(None),
    }))
}

fn module(ctx: LineCtx<'_>, v: Tok<'_>) -> Res<Spanned<String>> {
    let m = v.text;
    if !names::MODULES.contains(&m) {
        let mut d = Diagnostic::error(
            Code::E004,
            format!("unknown or unsupported match module `{}`", shown(m)),
            ctx.tspan(v),
        );
        let refused = crate::refused::module(m);
        if refused.is_some() {
            d = d.with_label("refused: see docs/refused.md");
        }
        d = d.with_help(match (refused, names::closest(m, &names::MODULES)) {
            (Some(r), _) => r.help(),
            (None, Some(c)) => format!("did you mean `{c}`?"),
            (None, None) => format!(
                "overlayfw translates these modules: {}; a rule needing `{}` cannot be compiled exactly",
                names::MODULES.join(", "),
                shown(m)
            ),
        });
        return Err(d);
    }
    Ok(Spanned::new(m.to_string(), ctx.tspan(v)))
}

/// A comma-separated list of TCP flag names as bits, as iptables reads it (any case; `ALL` is
/// the six flags, `NONE` none).
fn tcp_flags(ctx: LineCtx<'_>, v: &Pair<'_, G>) -> Res<u8> {
    let mut bits = 0u8;
    for name in v.as_str().split(',') {
        bits |= match name.to_ascii_uppercase().as_str() {
            "FIN" => 0x01,
            "SYN" => 0x02,
            "RST" => 0x04,
            "PSH" => 0x08,
            "ACK" => 0x10,
            "URG" => 0x20,
            "ALL" => 0x3f,
            "NONE" => 0,
            _ => {
                return Err(e008(format!("unknown TCP flag `{}`", shown(name)), ctx.span(v))
                    .with_help(
                        "use SYN, ACK, FIN, RST, URG, PSH, ALL or NONE, separated by commas",
                    ));
            }
        };
    }
    Ok(bits)
}

/// A number as iptables reads marks and masks (`strtoul` base 0): `0x` hex, a leading `0`
/// octal, else decimal; `None` when it is not one or does not fit 32 bits.
fn strtoul(s: &str) -> Option<u32> {
    strtoull(s).and_then(|n| u32::try_from(n).ok())
}

/// A number as iptables' `xtables_strtoul` reads it (base 0): `0x` hex, a leading `0` octal,
/// else decimal; `None` when it is not one or does not fit 64 bits.
pub(crate) fn strtoull(s: &str) -> Option<u64> {
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Digits as a number, `None` when it does not fit (the grammar allows any length).
fn number(s: &str) -> Option<u64> {
    s.parse().ok()
}

/// The name of a variable `${name}` (grammar rule `var`); `None` for any other word (no other
/// value starts with `$`).
fn var_name(s: &str) -> Option<String> {
    s.strip_prefix("${").and_then(|n| n.strip_suffix('}')).map(str::to_string)
}

fn iface(ctx: LineCtx<'_>, v: Tok<'_>) -> Spanned<Value<String>> {
    let value = var_name(v.text).map_or_else(|| Value::Lit(v.text.to_string()), Value::Var);
    Spanned::new(value, ctx.tspan(v))
}

fn ipv4(ctx: LineCtx<'_>, v: Tok<'_>) -> Res<Ipv4Addr> {
    ipv4_text(v.text, ctx.tspan(v))
}

/// Four dot-separated `number`s (grammar rule `ipv4`) as an address; `span` is where `s` is.
fn ipv4_text(s: &str, span: Span) -> Res<Ipv4Addr> {
    net::parse_addr(s).map_err(|e| addr_error(s, e, span))
}

/// The message for an address the grammar took (four `number`s) and [`net`] did not.
fn addr_error(s: &str, e: AddrError<'_>, span: Span) -> Diagnostic {
    match e {
        AddrError::LeadingZero(part) => {
            e008(format!("octet `{part}` of `{s}` has a leading zero"), span)
                .with_help("write octets without leading zeros (some tools read them as octal)")
        }
        AddrError::NotOctet(part) => {
            e008(format!("`{}` in `{}` is not an octet (0–255)", shown(part), shown(s)), span)
        }
        // Grammar rule `ipv4` has four parts.
        AddrError::Shape => e008(format!("`{}` is not an IPv4 address", shown(s)), span),
    }
}

/// Grammar rule `cidr` is atomic (no inner pairs, which made parsing 2% slower): an `ipv4`,
/// maybe `/` and a `prefix` of digits.
fn cidr(ctx: LineCtx<'_>, v: Tok<'_>) -> Res<(Net, bool)> {
    match cidr_or_masked(ctx, v)? {
        Ok(net) => Ok(net),
        Err(_) => Err(e008(format!("mask `{}` is not contiguous", shown(v.text)), ctx.tspan(v))
            .with_help("a non-contiguous mask is for `-s` and `-d` only: write a prefix length")),
    }
}

/// [`cidr`], or `Err((addr, mask))` for a dotted non-contiguous mask (`10.0.0.0/255.0.255.0`):
/// a contiguous dotted mask is its prefix length, as iptables reads it.
fn cidr_or_masked(ctx: LineCtx<'_>, v: Tok<'_>) -> Res<Result<(Net, bool), (Ipv4Addr, Ipv4Addr)>> {
    let (s, start) = (v.text, v.at);
    if let Some((a, m)) = s.split_once('/').filter(|(_, m)| m.contains('.')) {
        let addr =
            net::parse_addr(a).map_err(|e| addr_error(a, e, ctx.at(start, start + a.len())))?;
        let from = start + a.len() + 1;
        let mask =
            net::parse_addr(m).map_err(|e| addr_error(m, e, ctx.at(from, from + m.len())))?;
        let bits = u32::from(mask);
        return Ok(if bits.leading_ones() + bits.trailing_zeros() == 32 {
            Ok((Net { addr, prefix: bits.leading_ones() as u8 }, true))
        } else {
            Err((addr, mask))
        });
    }
    match net::parse_cidr(s) {
        Ok(c) => Ok(Ok((Net { addr: c.addr, prefix: c.prefix.unwrap_or(32) }, c.prefix.is_some()))),
        Err(CidrError::Addr(e)) => {
            let a = s.split_once('/').map_or(s, |(a, _)| a);
            Err(addr_error(a, e, ctx.at(start, start + a.len())))
        }
        Err(CidrError::Prefix(digits)) => {
            let from = start + s.len() - digits.len();
            Err(e008(
                format!("prefix length `/{}` is over 32", shown(digits)),
                ctx.at(from, from + digits.len()),
            ))
        }
    }
}

/// Grammar rule `addr_list`: items separated by commas, each a `cidr` (the only ones starting
/// with a digit), a `var` or a `name`.
fn addr_list(ctx: LineCtx<'_>, v: Tok<'_>) -> Res<Vec<Spanned<AddrItem>>> {
    let mut items = Vec::new();
    for c in v.split(',') {
        let item = if c.text.starts_with(|ch: char| ch.is_ascii_digit()) {
            match cidr_or_masked(ctx, c)? {
                Ok((net, _)) => AddrItem::Net(net),
                Err((addr, mask)) => AddrItem::Masked { addr, mask },
            }
        } else {
            var_name(c.text).map_or_else(|| AddrItem::Name(c.text.to_string()), AddrItem::Var)
        };
        items.push(Spanned::new(item, ctx.tspan(c)));
    }
    Ok(items)
}

fn protocol(ctx: LineCtx<'_>, p: Tok<'_>) -> Res<Spanned<Protocol>> {
    let w = p.text.to_ascii_lowercase();
    let by_number = |n: u8| match n {
        0 => Protocol::All,
        1 => Protocol::Icmp,
        6 => Protocol::Tcp,
        17 => Protocol::Udp,
        132 => Protocol::Sctp,
        136 => Protocol::Udplite,
        n => Protocol::Number(n),
    };
    let proto = match w.as_str() {
        "all" => Protocol::All,
        s if s.bytes().all(|b| b.is_ascii_digit()) => {
            let n = number(s).and_then(|n| u8::try_from(n).ok()).ok_or_else(|| {
                e008(format!("protocol number `{}` is over 255", shown(s)), ctx.tspan(p))
            })?;
            by_number(n)
        }
        s => match vocab::protocol_in_rules(s) {
            Some(n) => by_number(n),
            None => {
                let mut known = vec!["all"];
                known.extend(vocab::PROTOCOLS.iter().filter(|p| p.rules).map(|p| p.name));
                let mut d = e008(format!("unknown protocol `{}`", shown(p.text)), ctx.tspan(p));
                if let Some(c) = names::closest(s, &known) {
                    d = d.with_help(format!("did you mean `{c}`?"));
                } else {
                    d = d.with_help(
                        "use tcp, udp, udplite, sctp, icmp, all, esp, ah, gre, … or a number",
                    );
                }
                return Err(d);
            }
        },
    };
    Ok(Spanned::new(proto, ctx.tspan(p)))
}

/// Grammar rule `port_val`: a `number`, a `var` or a `service`.
fn port_val(ctx: LineCtx<'_>, p: Tok<'_>) -> Res<Value<u16>> {
    if let Some(name) = var_name(p.text) {
        return Ok(Value::Var(name));
    }
    match p.text.as_bytes()[0] {
        b'0'..=b'9' => {
            number(p.text).and_then(|n| u16::try_from(n).ok()).map(Value::Lit).ok_or_else(|| {
                e008(format!("port `{}` is out of range (0–65535)", shown(p.text)), ctx.tspan(p))
            })
        }
        _ => {
            let w = p.text.to_ascii_lowercase();
            match vocab::SERVICES.iter().find(|(n, _)| *n == w) {
                Some((_, port)) => Ok(Value::Lit(*port)),
                None => {
                    let known: Vec<&str> = vocab::SERVICES.iter().map(|(n, _)| *n).collect();
                    let mut d =
                        e008(format!("unknown service name `{}`", shown(p.text)), ctx.tspan(p));
                    d = match names::closest(&w, &known) {
                        Some(c) => d.with_help(format!("did you mean `{c}`?")),
                        None => d.with_help("write the port number"),
                    };
                    Err(d)
                }
            }
        }
    }
}

/// Grammar rule `port_spec`: `A`, `A:B`, `A:` or `:B`, each a `port_val`.
fn port_spec(ctx: LineCtx<'_>, p: Tok<'_>) -> Res<Spanned<PortSpec>> {
    let span = ctx.tspan(p);
    let val = |t: Tok<'_>| (!t.text.is_empty()).then(|| port_val(ctx, t)).transpose();
    let spec = match p.text.find(':') {
        None => PortSpec::Single(port_val(ctx, p)?),
        Some(i) => {
            let (lo, hi) = (val(p.sub(0, i))?, val(p.sub(i + 1, p.text.len()))?);
            let a = lo.unwrap_or(Value::Lit(0));
            let b = hi.unwrap_or(Value::Lit(u16::MAX));
            if let (Value::Lit(x), Value::Lit(y)) = (&a, &b)
                && x > y
            {
                return Err(e008(format!("port range {x}:{y} runs backwards"), span)
                    .with_help(format!("write {y}:{x}")));
            }
            PortSpec::Range(a, b)
        }
    };
    Ok(Spanned::new(spec, span))
}

/// A `-m time` date as libxt_time reads it, `YYYY[-MM[-DD[Thh[:mm[:ss]]]]]` in UTC, in seconds
/// since the epoch; `None` for anything else or a date outside 1970..2106.
fn time_date(text: &str) -> Option<u32> {
    let (date, time) = text.split_once('T').map_or((text, None), |(d, t)| (d, Some(t)));
    let mut d = date.split('-');
    let num = |s: Option<&str>, lo: u32, hi: u32, default: u32| -> Option<u32> {
        match s {
            None => Some(default),
            Some(s) if !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse().ok().filter(|n| (lo..=hi).contains(n))
            }
            Some(_) => None,
        }
    };
    let year = num(d.next(), 1970, 2105, 1970)?;
    let month = num(d.next(), 1, 12, 1)?;
    let day = num(d.next(), 1, 31, 1)?;
    if d.next().is_some() {
        return None;
    }
    let secs = match time {
        None => 0,
        Some(t) => {
            let mut p = t.split(':');
            let h = num(p.next(), 0, 23, 0)?;
            let m = num(p.next(), 0, 59, 0)?;
            let s = num(p.next(), 0, 59, 0)?;
            if p.next().is_some() {
                return None;
            }
            h * 3600 + m * 60 + s
        }
    };
    // Days from 1970-01-01 to the civil date (Howard Hinnant's days_from_civil).
    let (y, m) = (i64::from(year) - i64::from(month <= 2), i64::from(month));
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u32::try_from(days * 86_400 + i64::from(secs)).ok()
}

/// A `-m time` time of day `hh:mm[:ss]` in seconds after midnight.
fn day_time(text: &str) -> Option<u32> {
    let mut p = text.split(':');
    let mut part = |hi: u32, need: bool| -> Option<u32> {
        match p.next() {
            None if !need => Some(0),
            Some(s) if !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse().ok().filter(|n| *n <= hi)
            }
            _ => None,
        }
    };
    let secs = part(23, true)? * 3600 + part(59, true)? * 60 + part(59, false)?;
    p.next().is_none().then_some(secs)
}

/// `--ctstate` of SNAT/DNAT only: those words are `ct status` bits, not states. `None` when
/// no word is SNAT or DNAT; an error for a mix, which one nft match cannot express.
fn ct_nat_states(ctx: LineCtx<'_>, opt: Opt, p: Tok<'_>) -> Res<Option<u32>> {
    if opt != Opt::CtState {
        return Ok(None);
    }
    let words: Vec<String> = state_words(p).map(|c| c.text.to_ascii_uppercase()).collect();
    let nat = |w: &str| vocab::CT_STATUS[4..].iter().find(|e| e.0 == w).map(|e| e.2);
    let bits: Vec<u32> = words.iter().filter_map(|w| nat(w)).collect();
    if bits.is_empty() {
        return Ok(None);
    }
    if bits.len() < words.len() {
        return Err(e008(
            "`--ctstate` mixes connection states with SNAT/DNAT, which nft reads from another \
             field (`ct status`): one rule cannot match either"
                .to_string(),
            ctx.tspan(p),
        )
        .with_help("write one rule for the states and one for SNAT/DNAT"));
    }
    Ok(Some(bits.iter().fold(0, |a, b| a | b)))
}

/// `A[/N]` or `A/M.M.M.M` (a contiguous mask) of the conntrack address options.
fn ct_addr(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Res<ipnetwork::Ipv4Network> {
    let text = p.as_str();
    let bad = || {
        e008(format!("`{}` is not an IPv4 address or network", shown(text)), ctx.span(p))
            .with_help("write an address such as 10.0.0.1, or 10.0.0.0/8 or 10.0.0.0/255.0.0.0")
    };
    let (a, m) = text.split_once('/').map_or((text, None), |(a, m)| (a, Some(m)));
    let addr = crate::net::parse_addr(a).map_err(|_| bad())?;
    let prefix = match m {
        None => 32,
        Some(m) if m.contains('.') => {
            let mask = u32::from(crate::net::parse_addr(m).map_err(|_| bad())?);
            if mask.leading_ones() + mask.trailing_zeros() != 32 {
                return Err(e008(format!("mask `{}` is not contiguous", shown(m)), ctx.span(p))
                    .with_help(
                        "nft matches a conntrack address by prefix: use a mask of leading ones",
                    ));
            }
            mask.leading_ones() as u8
        }
        Some(m) => m.parse::<u8>().ok().filter(|n| *n <= 32).ok_or_else(bad)?,
    };
    if prefix == 0 {
        return Err(e008(format!("`{}` matches every address", shown(text)), ctx.span(p))
            .with_help("leave the option out"));
    }
    let net = ipnetwork::Ipv4Network::new(addr, prefix).map_err(|_| bad())?;
    // iptables masks the address (10.1.2.3/8 is 10.0.0.0/8).
    ipnetwork::Ipv4Network::new(net.network(), prefix).map_err(|_| bad())
}

/// Grammar rule `state_list`: states separated by commas, maybe with blanks after them.
fn state_words(p: Tok<'_>) -> impl Iterator<Item = Tok<'_>> {
    p.split(',').map(|c| {
        let word = c.text.trim_start_matches([' ', '\t']);
        c.sub(c.text.len() - word.len(), c.text.len())
    })
}

fn states(ctx: LineCtx<'_>, p: Tok<'_>) -> Res<Vec<Spanned<CtState>>> {
    let mut out = Vec::new();
    for c in state_words(p) {
        let s = c.text.to_ascii_uppercase();
        let st = match CtState::parse(&s) {
            Some(st) => st,
            None if s == "SNAT" || s == "DNAT" => {
                return Err(e008(format!("connection state {s} is not supported"), ctx.tspan(c))
                    .with_help(
                        "SNAT and DNAT are `-m conntrack --ctstate` words; here: NEW, \
                         ESTABLISHED, RELATED, INVALID, UNTRACKED",
                    ));
            }
            None => {
                let known: Vec<String> =
                    vocab::CT_STATES.iter().map(|s| s.1.to_ascii_uppercase()).collect();
                let known: Vec<&str> = known.iter().map(String::as_str).collect();
                let mut d =
                    e008(format!("unknown connection state `{}`", shown(c.text)), ctx.tspan(c));
                if let Some(k) = names::closest(&s, &known) {
                    d = d.with_help(format!("did you mean `{k}`?"));
                }
                return Err(d);
            }
        };
        out.push(Spanned::new(st, ctx.tspan(c)));
    }
    Ok(out)
}

fn text(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Spanned<String> {
    let span = ctx.span(p);
    let s = match p.as_rule() {
        G::dq_text | G::sq_text => {
            let inner = p.as_str();
            // Grammar rules `dq_text`/`sq_text`: one quote character each side.
            let inner = &inner[1..inner.len() - 1];
            if p.as_rule() == G::dq_text { unescape(inner) } else { inner.to_string() }
        }
        _ => p.as_str().to_string(),
    };
    Spanned::new(s, span)
}

/// `\"` → `"`, `\\` → `\`; other backslashes are kept as written.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('"' | '\\')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn ip_range(ctx: LineCtx<'_>, p: Tok<'_>) -> Res<Spanned<(Ipv4Addr, Ipv4Addr)>> {
    // Grammar rule `ip_range` is `ipv4 ~ "-" ~ ipv4`.
    let dash = p.text.find('-').expect("`ip_range` holds a `-`");
    let (a, b) = (ipv4(ctx, p.sub(0, dash))?, ipv4(ctx, p.sub(dash + 1, p.text.len()))?);
    if a > b {
        return Err(e008(format!("address range {a}-{b} runs backwards"), ctx.tspan(p))
            .with_help(format!("write {b}-{a}")));
    }
    Ok(Spanned::new((a, b), ctx.tspan(p)))
}

fn rate(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Res<(u32, RateUnit)> {
    let mut n = None;
    let mut unit = RateUnit::Second;
    for c in p.clone().into_inner() {
        match c.as_rule() {
            G::number => {
                n = number(c.as_str()).and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0);
                if n.is_none() {
                    return Err(e008(
                        format!("rate `{}` is not a positive number", shown(c.as_str())),
                        ctx.span(&c),
                    ));
                }
            }
            // Grammar rule `hl_rate`: xt_hashlimit's byte mode.
            G::byte_rate => {
                return Err(e008(
                    format!(
                        "the byte rate `{}` (xt_hashlimit's byte mode) cannot be translated \
                         exactly",
                        shown(p.as_str())
                    ),
                    ctx.span(p),
                )
                .with_label("refused: see docs/refused.md")
                .with_help(crate::refused::HASHLIMIT_BYTES.help()));
            }
            _ => {
                // iptables accepts any prefix of the unit's name: s, sec, m, min, h, d, …
                let u = c.as_str().to_ascii_lowercase();
                unit = match RateUnit::parse_prefix(&u) {
                    Some(r) => r,
                    None => {
                        return Err(e008(
                            format!("unknown rate unit `{}`", shown(c.as_str())),
                            ctx.span(&c),
                        )
                        .with_help("use second, minute, hour or day (or s, m, h, d)"));
                    }
                };
            }
        }
    }
    // Grammar rule `rate` starts with a `number`.
    Ok((n.expect("`rate` holds a number"), unit))
}

fn icmp_type(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Res<Spanned<IcmpType>> {
    let w = p.as_str().to_ascii_lowercase();
    let span = ctx.span(p);
    let t = if w == "any" {
        IcmpType::Any
    } else if w.starts_with(|c: char| c.is_ascii_digit()) {
        let mut parts = w.splitn(2, '/');
        let byte = |s: Option<&str>| s.and_then(|s| s.parse::<u8>().ok());
        let kind = byte(parts.next());
        let code = parts.next();
        match (kind, code) {
            // iptables' icmp match reads type 255 as any type, whatever the code.
            (Some(255), _) if code.is_none_or(|c| byte(Some(c)).is_some()) => IcmpType::Any,
            (Some(kind), None) => IcmpType::Type { kind, code: None },
            (Some(kind), Some(c)) if byte(Some(c)).is_some() => {
                IcmpType::Type { kind, code: byte(Some(c)) }
            }
            _ => {
                return Err(e008(
                    format!(
                        "`{}` is not an ICMP type (0–255, optionally /CODE)",
                        shown(p.as_str())
                    ),
                    span,
                ));
            }
        }
    } else if let Some((kind, code)) = vocab::icmp_type_in_rules(&w) {
        IcmpType::Type { kind, code }
    } else {
        let mut d = e008(format!("unknown ICMP type `{}`", shown(p.as_str())), span);
        let known: Vec<&str> = vocab::icmp_type_names_in_rules().collect();
        if let Some(c) = names::closest(&w, &known) {
            d = d.with_help(format!("did you mean `{c}`?"));
        }
        return Err(d);
    };
    Ok(Spanned::new(t, span))
}

/// `N[-M]`, each from `min` to 65535.
/// Grammar rule `port_pair`: `number ~ ("-" ~ number)?`.
fn port_pair(ctx: LineCtx<'_>, p: Tok<'_>, min: u16) -> Res<Spanned<(u16, u16)>> {
    let span = ctx.tspan(p);
    let port = |c: Tok<'_>| {
        let n = number(c.text).and_then(|n| u16::try_from(n).ok()).filter(|n| *n >= min);
        n.ok_or_else(|| {
            e008(format!("port `{}` is out of range ({min}–65535)", shown(c.text)), ctx.tspan(c))
        })
    };
    let (lo, hi) = match p.text.find('-') {
        Some(i) => (port(p.sub(0, i))?, port(p.sub(i + 1, p.text.len()))?),
        None => (port(p)?, port(p)?),
    };
    if lo > hi {
        return Err(e008(format!("port range {lo}-{hi} runs backwards"), span)
            .with_help(format!("write {hi}-{lo}")));
    }
    Ok(Spanned::new((lo, hi), span))
}

/// Grammar rule `to_value`: an `ip_range`, `cidr` (those two start with a digit, and only a
/// range holds a `-`), `var` or `name`, then maybe `:` and a `port_pair`.
fn to_value(ctx: LineCtx<'_>, p: Tok<'_>) -> Res<Spanned<ToVal>> {
    let colon = p.text.find(':');
    let c = p.sub(0, colon.unwrap_or(p.text.len()));
    let ports = colon.map(|i| port_pair(ctx, p.sub(i + 1, p.text.len()), 1)).transpose()?;
    let a = if c.text.starts_with(|ch: char| ch.is_ascii_digit()) {
        if c.text.contains('-') {
            let r = ip_range(ctx, c)?;
            ToAddr::Range(r.node.0, r.node.1)
        } else {
            match cidr(ctx, c)? {
                (net, true) => ToAddr::Net(net),
                (net, false) => ToAddr::Addr(net.addr),
            }
        }
    } else {
        var_name(c.text).map_or_else(|| ToAddr::Name(c.text.to_string()), ToAddr::Var)
    };
    let addr = Spanned::new(a, ctx.tspan(c));
    Ok(Spanned::new(ToVal { addr, ports }, ctx.tspan(p)))
}
