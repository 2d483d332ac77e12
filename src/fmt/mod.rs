//! `overlayfw fmt`: the canonical layout of a rules file, printed back from the AST.
//!
//! Each rule line is reprinted as: chain word, interfaces, addresses, protocol, protocol
//! options (ports, `--syn`, `--icmp-type`), match modules with their options (multiport,
//! iprange, conntrack/state/`-ctrack`, set, limit), the comment, then `-j TARGET` and its
//! options. Option names take their canonical spelling, the first of their descriptor in
//! `syntax/options.rs` (`--source` → `-s`, `--match` → `-m`, `--to-destination` → `--to`); `!` stands before the option it negates; one space between
//! words. Values are copied from the source text exactly as written (a service name stays a
//! name, quotes stay quotes), except a state list loses the blanks after its commas.
//!
//! Meaning is never changed: every match is kept, and a `-m limit` (the one stateful match: its
//! tokens are spent by every packet that reaches it) keeps the matches written after it after
//! it. Comment lines are kept byte for byte, blank lines become empty, CRLF line ends become LF
//! and a byte order mark is dropped; line numbers never change, so `FILE:LINE` comments in the
//! compiled ruleset stay the same.

use crate::diagnostic::{Diagnostic, FileId, Span};
use crate::ir::{CtDir, MetaKey};
use crate::syntax::{
    self,
    ast::{self, HeaderKey, MatchKind, Rule, TargetKind},
    options::Opt,
};

/// A formatted file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Formatted {
    pub text: String,
    /// Normalisations of the whole file worth telling the user (CRLF, byte order mark).
    pub notes: Vec<&'static str>,
}

/// Formats a rules file. A file with syntax errors is not formatted: its error diagnostics are
/// returned instead (spans in `file`).
pub fn format(file: FileId, text: &str) -> Result<Formatted, Vec<Diagnostic>> {
    let (parsed, diags) = syntax::parse(file, text);
    let errors: Vec<Diagnostic> = diags.into_iter().filter(Diagnostic::is_error).collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut notes = Vec::new();
    let body = match text.strip_prefix('\u{feff}') {
        Some(b) => {
            notes.push("byte order mark removed");
            b
        }
        None => text,
    };
    if body.contains("\r\n") {
        notes.push("CRLF line ends → LF");
    }
    let mut rules = parsed.rules.iter().peekable();
    let mut out = String::with_capacity(text.len());
    for (index, raw) in body.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rule) = rules.next_if(|r| r.line == line_no) {
            out.push_str(&print_rule(text, rule));
        } else if !raw.trim_matches([' ', '\t']).is_empty() {
            out.push_str(raw); // a comment line, as written
        }
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(Formatted { text: out, notes })
}

/// Where a match goes in the canonical order. Matches written after a `-m limit` stay after it
/// (`after_limit`): moving a match across the limit would change which packets spend its tokens.
fn rank(kind: &MatchKind, after_limit: bool) -> u32 {
    let stateless_ext = match kind {
        MatchKind::InIface(_) => return 0,
        MatchKind::OutIface(_) => return 1,
        MatchKind::Source(_) => return 2,
        MatchKind::Destination(_) => return 3,
        MatchKind::Protocol(_) => return 4,
        // A statistic match counts the packets that reach it: it stays in place as a limit.
        MatchKind::Limit { .. }
        | MatchKind::Statistic { .. }
        | MatchKind::Meter(_)
        | MatchKind::Quota(_) => return 100,
        MatchKind::SrcPort(_) => 10,
        MatchKind::DstPort(_) => 11,
        MatchKind::Syn => 12,
        MatchKind::TcpFlags { .. } => 12,
        MatchKind::IcmpType(_) => 13,
        MatchKind::MultiSrcPorts(_) => 20,
        MatchKind::MultiDstPorts(_) => 21,
        MatchKind::MultiPorts(_) => 22,
        MatchKind::SrcRange(_) => 30,
        MatchKind::DstRange(_) => 31,
        MatchKind::CtState(_) => 40,
        MatchKind::CtStatus(_) | MatchKind::CtAddr { .. } => 41,
        MatchKind::Header {
            key:
                HeaderKey::CtProto | HeaderKey::CtDir | HeaderKey::CtExpire | HeaderKey::CtPort { .. },
            ..
        } => 41,
        MatchKind::Set { .. } => 50,
        MatchKind::Mark { ct: false, .. } => 60,
        MatchKind::Mark { ct: true, .. } => 61,
        MatchKind::Header { .. } | MatchKind::DccpTypes(_) => 62,
        MatchKind::Time(_) => 66,
        MatchKind::Mac(_) => 63,
        MatchKind::Owner { .. } => 64,
        MatchKind::AddrType { .. } => 65,
        MatchKind::Policy { .. } => 66,
        MatchKind::Meta { .. } => 66,
        MatchKind::Connbytes { .. } => 67,
        MatchKind::TcpOption(_) => 12,
        MatchKind::Helper(_) => 68,
        MatchKind::ConnLabel(_) => 69,
    };
    if after_limit { stateless_ext + 100 } else { stateless_ext }
}

/// One option as printed: the module it needs (if any), whether a following option of the same
/// module may share one `-m` (iprange takes both ranges; multiport and set take one each).
struct Piece {
    module: Option<&'static str>,
    shares_module: bool,
    text: String,
}

fn print_rule(src: &str, rule: &Rule) -> String {
    let at = |s: Span| &src[s.start as usize..s.end as usize];
    let joined = |first: Span, last: Span| at(first.to(last)).to_string();
    let mut words: Vec<String> = Vec::new();
    if let Some(chain) = &rule.chain {
        words.push(at(chain.span).to_string());
    }
    let mut order: Vec<(u32, usize, &ast::Match)> = Vec::with_capacity(rule.matches.len());
    let mut seen_limit = false;
    for (i, m) in rule.matches.iter().enumerate() {
        order.push((rank(&m.kind, seen_limit), i, m));
        seen_limit |= matches!(
            m.kind,
            MatchKind::Limit { .. }
                | MatchKind::Statistic { .. }
                | MatchKind::Meter(_)
                | MatchKind::Quota(_)
        );
    }
    order.sort_by_key(|&(r, i, _)| (r, i));
    let mut pieces: Vec<Piece> = Vec::new();
    for (_, _, m) in order {
        let bang = if m.negated { "! " } else { "" };
        // An option in its canonical spelling, after the `-m` of its module.
        let plain = |opt: Opt, value: String| Piece {
            module: opt.desc().module,
            shares_module: false,
            text: if value.is_empty() {
                format!("{bang}{}", opt.canonical())
            } else {
                format!("{bang}{} {value}", opt.canonical())
            },
        };
        let piece = match &m.kind {
            MatchKind::InIface(v) => plain(Opt::In, at(v.span).to_string()),
            MatchKind::OutIface(v) => plain(Opt::Out, at(v.span).to_string()),
            MatchKind::Source(items) | MatchKind::Destination(items) => {
                let opt = if matches!(m.kind, MatchKind::Source(_)) { Opt::Src } else { Opt::Dst };
                // The grammar's `addr_list` holds at least one item.
                let (first, last) = (items[0].span, items[items.len() - 1].span);
                plain(opt, joined(first, last))
            }
            MatchKind::Protocol(p) => plain(Opt::Proto, at(p.span).to_string()),
            MatchKind::SrcPort(p) => plain(Opt::Sport, at(p.span).to_string()),
            MatchKind::DstPort(p) => plain(Opt::Dport, at(p.span).to_string()),
            MatchKind::MultiSrcPorts(ps)
            | MatchKind::MultiDstPorts(ps)
            | MatchKind::MultiPorts(ps) => {
                let opt = match m.kind {
                    MatchKind::MultiSrcPorts(_) => Opt::Sports,
                    MatchKind::MultiDstPorts(_) => Opt::Dports,
                    _ => Opt::Ports,
                };
                // The grammar's `port_list` holds at least one port.
                plain(opt, joined(ps[0].span, ps[ps.len() - 1].span))
            }
            MatchKind::CtState(states) => {
                let list: Vec<&str> = states.iter().map(|s| at(s.span)).collect();
                // `--state`, `-ctrack` or `--ctstate`, as written: each has its own module.
                let opt = Opt::of_spelling(option_word(at(m.span))).unwrap_or(Opt::CtState);
                plain(opt, list.join(","))
            }
            MatchKind::SrcRange(r) | MatchKind::DstRange(r) => {
                let opt = if matches!(m.kind, MatchKind::SrcRange(_)) {
                    Opt::SrcRange
                } else {
                    Opt::DstRange
                };
                Piece { shares_module: true, ..plain(opt, at(r.span).to_string()) }
            }
            MatchKind::Limit { burst, .. } => {
                let written = at(m.span);
                let mut text = String::new();
                // A `--limit-burst` alone keeps iptables' default rate; print it alone too.
                if Opt::of_spelling(option_word(written)) == Some(Opt::Limit) {
                    text.push_str(Opt::Limit.canonical());
                    text.push(' ');
                    text.push_str(option_value(written));
                }
                if let Some(b) = burst {
                    if !text.is_empty() {
                        text.push(' ');
                    }
                    text.push_str(&format!("{} {b}", Opt::Burst.canonical()));
                }
                Piece { module: Opt::Limit.desc().module, shares_module: false, text }
            }
            MatchKind::Set { name, dir } => {
                let dir = match dir {
                    ast::SetDir::Src => "src",
                    ast::SetDir::Dst => "dst",
                };
                plain(Opt::Set, format!("{} {dir}", at(name.span)))
            }
            MatchKind::IcmpType(t) => plain(Opt::Icmp, at(t.span).to_string()),
            MatchKind::Syn => plain(Opt::Syn, String::new()),
            // As written; one `-m time` for them all.
            MatchKind::Time(t) => {
                let written = at(m.span);
                let opt = Opt::of_spelling(option_word(written)).unwrap_or(Opt::WeekDays);
                let value = match t {
                    ast::TimeOpt::KernelTz | ast::TimeOpt::Utc | ast::TimeOpt::Contiguous => {
                        String::new()
                    }
                    _ => option_value(written).to_string(),
                };
                Piece { shares_module: true, ..plain(opt, value) }
            }
            MatchKind::DccpTypes(_) => plain(Opt::DccpTypes, option_value(at(m.span)).to_string()),
            MatchKind::TcpFlags { .. } => {
                plain(Opt::TcpFlags, option_value(at(m.span)).to_string())
            }
            MatchKind::Statistic { written, .. } => Piece {
                module: Opt::StatMode.desc().module,
                shares_module: false,
                text: written.iter().map(|s| at(*s)).collect::<Vec<_>>().join(" "),
            },
            // The addrtype interface flag goes with the last type option of the rule.
            MatchKind::AddrType { dst, iface, .. } => {
                let written = at(m.span);
                let opt = if *dst { Opt::DstType } else { Opt::SrcType };
                let mut piece = plain(opt, option_value(written).to_string());
                let last = *dst
                    || !rule
                        .matches
                        .iter()
                        .any(|x| matches!(x.kind, MatchKind::AddrType { dst: true, .. }));
                match iface {
                    Some(out) if last => {
                        let flag = if *out { Opt::LimitIfaceOut } else { Opt::LimitIfaceIn };
                        piece.text.push(' ');
                        piece.text.push_str(flag.canonical());
                    }
                    _ => {}
                }
                piece
            }
            // `--ttl-gt` or `--ttl-eq`, `--dscp` or `--dscp-class`: as written.
            MatchKind::Header { .. }
            | MatchKind::Mac(_)
            | MatchKind::Owner { .. }
            | MatchKind::CtStatus(_)
            | MatchKind::CtAddr { .. } => {
                let written = at(m.span);
                let opt = Opt::of_spelling(option_word(written)).unwrap_or(Opt::Length);
                plain(opt, option_value(written).to_string())
            }
            // The module's options as written, in their order.
            MatchKind::Meter(spec) => Piece {
                module: Some(if spec.limit.is_some() { "hashlimit" } else { "connlimit" }),
                shares_module: false,
                text: spec.written.iter().map(|s| at(*s)).collect::<Vec<_>>().join(" "),
            },
            // Printed whole: `--pol` is part of the one match.
            MatchKind::Policy { out, none } => Piece {
                module: Opt::PolicyDir.desc().module,
                shares_module: false,
                text: format!(
                    "{} {} {} {}",
                    Opt::PolicyDir.canonical(),
                    if *out { "out" } else { "in" },
                    Opt::PolicyPol.canonical(),
                    if *none { "none" } else { "ipsec" }
                ),
            },
            // Both devgroup options share one `-m devgroup`, as iptables prints them.
            MatchKind::Meta { key, .. } => {
                let written = at(m.span);
                let opt = Opt::of_spelling(option_word(written)).unwrap_or(Opt::Cpu);
                let shares_module = matches!(key, MetaKey::IifGroup | MetaKey::OifGroup);
                Piece { shares_module, ..plain(opt, option_value(written).to_string()) }
            }
            MatchKind::TcpOption(n) => plain(Opt::TcpOption, n.to_string()),
            MatchKind::Helper(name) => plain(Opt::Helper, name.node.clone()),
            MatchKind::ConnLabel(_) => {
                let written = at(m.span);
                plain(Opt::Label, option_value(written).to_string())
            }
            MatchKind::Quota(_) => {
                let written = at(m.span);
                plain(Opt::Quota, option_value(written).to_string())
            }
            MatchKind::Connbytes { dir, mode, lo, hi } => {
                let dir = match dir {
                    CtDir::Original => "original",
                    CtDir::Reply => "reply",
                    CtDir::Both => "both",
                };
                let range = if *hi == u64::MAX { format!("{lo}") } else { format!("{lo}:{hi}") };
                let mut piece = plain(Opt::Connbytes, range);
                piece.text.push_str(&format!(
                    " {} {dir} {} {}",
                    Opt::ConnbytesDir.canonical(),
                    Opt::ConnbytesMode.canonical(),
                    mode.name()
                ));
                piece
            }
            MatchKind::Mark { ct, .. } => Piece {
                module: Some(if *ct { "connmark" } else { "mark" }),
                ..plain(Opt::Mark, option_value(at(m.span)).to_string())
            },
        };
        // Conntrack options share one `-m conntrack`, as iptables prints them.
        let shares_module = piece.shares_module || piece.module == Some("conntrack");
        pieces.push(Piece { shares_module, ..piece });
    }
    if let Some(c) = &rule.comment {
        pieces.push(Piece {
            module: Opt::Comment.desc().module,
            shares_module: false,
            text: format!("{} {}", Opt::Comment.canonical(), at(c.span)),
        });
    }
    let mut previous: Option<&Piece> = None;
    for p in &pieces {
        if let Some(m) = p.module {
            let shared =
                previous.is_some_and(|q| q.module == Some(m) && q.shares_module && p.shares_module);
            if !shared {
                words.push(format!("{} {m}", Opt::Module.canonical()));
            }
        }
        words.push(p.text.clone());
        previous = Some(p);
    }
    if let Some(t) = &rule.target {
        // `Target::span` runs from `-j` through the target's name.
        let name = at(t.span).split_whitespace().last().unwrap_or_default();
        words.push(format!("{} {name}", Opt::Jump.canonical()));
        target_options(&mut words, &t.kind, at);
    }
    words.join(" ")
}

fn target_options<'s>(words: &mut Vec<String>, kind: &TargetKind, at: impl Fn(Span) -> &'s str) {
    let ports = |(lo, hi): (u16, u16)| if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") };
    match kind {
        TargetKind::Accept | TargetKind::Drop | TargetKind::Return | TargetKind::Jump(_) => {}
        TargetKind::Reject { with } => {
            if let Some(w) = with {
                words.push(format!("{} {}", Opt::RejectWith.canonical(), at(w.span)));
            }
        }
        TargetKind::Log { prefix, level, flags } => {
            if let Some(p) = prefix {
                words.push(format!("{} {}", Opt::LogPrefix.canonical(), at(p.span)));
            }
            if let Some(l) = level {
                words.push(format!("{} {}", Opt::LogLevel.canonical(), at(l.span)));
            }
            use crate::ir::LogFlags;
            for (f, o) in [
                (LogFlags::TCP_SEQUENCE, Opt::LogTcpSequence),
                (LogFlags::TCP_OPTIONS, Opt::LogTcpOptions),
                (LogFlags::IP_OPTIONS, Opt::LogIpOptions),
                (LogFlags::UID, Opt::LogUid),
                (LogFlags::MAC_DECODE, Opt::LogMacDecode),
            ] {
                if flags.contains(f) {
                    words.push(o.canonical().to_string());
                }
            }
        }
        TargetKind::Dnat { to, flags } | TargetKind::Snat { to, flags } => {
            words.push(format!("{} {}", Opt::To.canonical(), at(to.span)));
            nat_flag_words(words, *flags);
        }
        TargetKind::Masquerade { ports: p, flags, .. }
        | TargetKind::Redirect { ports: p, flags } => {
            if let Some(p) = p {
                words.push(format!("{} {}", Opt::ToPorts.canonical(), ports(*p)));
            }
            nat_flag_words(words, *flags);
        }
        TargetKind::Tcpmss { mss: Some(n) } => {
            words.push(format!("{} {n}", Opt::SetMss.canonical()));
        }
        TargetKind::Tcpmss { mss: None } => words.push(Opt::ClampMss.canonical().to_string()),
        TargetKind::Netmap { to } => {
            words.push(format!("{} {}", Opt::To.canonical(), at(to.span)));
        }
        TargetKind::Nflog { group, prefix, range, size, threshold } => {
            if let Some(g) = group {
                words.push(format!("{} {g}", Opt::NflogGroup.canonical()));
            }
            if let Some(p) = prefix {
                words.push(format!("{} {}", Opt::NflogPrefix.canonical(), at(p.span)));
            }
            if let Some(r) = range {
                words.push(format!("{} {r}", Opt::NflogRange.canonical()));
            }
            if let Some(s) = size {
                words.push(format!("{} {s}", Opt::NflogSize.canonical()));
            }
            if let Some(t) = threshold {
                words.push(format!("{} {t}", Opt::NflogThreshold.canonical()));
            }
        }
        TargetKind::Mark { written, .. } => {
            words.extend(written.iter().map(|s| at(*s).to_string()))
        }
        TargetKind::Dscp { written, .. } => words.push(at(*written).to_string()),
        TargetKind::Classify(class) => {
            words.push(format!(
                "{} {:x}:{:x}",
                Opt::SetClass.canonical(),
                class >> 16,
                class & 0xffff
            ));
        }
        TargetKind::Audit { kind } => {
            let name = ["accept", "drop", "reject"].get(usize::from(*kind)).unwrap_or(&"drop");
            words.push(format!("{} {name}", Opt::AuditType.canonical()));
        }
        TargetKind::Nfqueue { first, last, bypass, fanout, balance } => {
            if *balance {
                words.push(format!("{} {first}:{last}", Opt::QueueBalance.canonical()));
            } else if *first != 0 {
                words.push(format!("{} {first}", Opt::QueueNum.canonical()));
            }
            if *bypass {
                words.push(Opt::QueueBypass.canonical().to_string());
            }
            if *fanout {
                words.push(Opt::QueueCpuFanout.canonical().to_string());
            }
        }
        TargetKind::Copy { from, to, bidirectional } => {
            words.push(format!("{} {}", Opt::From.canonical(), at(from.span)));
            words.push(format!("{} {}", Opt::To.canonical(), at(to.span)));
            if *bidirectional {
                words.push(Opt::Bidir.canonical().to_string());
            }
        }
    }
}

/// `--random`, `--random-fully`, `--persistent`, as the flags say.
fn nat_flag_words(words: &mut Vec<String>, flags: crate::ir::NatFlags) {
    use crate::ir::NatFlags;
    for (f, o) in [
        (NatFlags::RANDOM, Opt::Random),
        (NatFlags::FULLY_RANDOM, Opt::RandomFully),
        (NatFlags::PERSISTENT, Opt::Persistent),
    ] {
        if flags.contains(f) {
            words.push(o.canonical().to_string());
        }
    }
}

/// The option name of a match's text (`! --state NEW` → `--state`).
fn option_word(written: &str) -> &str {
    let s = written.trim_start_matches(['!', ' ', '\t']);
    s.split([' ', '\t']).next().unwrap_or_default()
}

/// The value after the option name of a match's text.
fn option_value(written: &str) -> &str {
    let s = written.trim_start_matches(['!', ' ', '\t']);
    let name = option_word(s);
    s[name.len()..].trim_matches([' ', '\t'])
}

#[cfg(test)]
mod tests;
