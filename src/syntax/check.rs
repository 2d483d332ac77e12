//! Checks that need a whole rule line (duplicate options, negation, `-m` modules, protocols,
//! target options) and the assembly of the checked options into matches and a target.

use super::ast::{
    HeaderKey, MarkOp, Match, MatchKind, MeterSpec, NatAddr, NatTo, Net, Protocol, RateUnit,
    RejectWith, Target, TargetKind, TimeOpt, Value,
};
use super::item::{Item, Res, ToAddr, Val, e008, shown};
use super::names;
use super::options::{OPT_COUNT, Opt, ProtoNeed, ValueKind};
use crate::diagnostic::{Code, Diagnostic, Spanned};
use crate::ir::{Cmp, CtCount, CtDir, MetaKey};

/// A `!` before a value that stands for everything: the line would match no packet.
/// iptables refuses `! -p all` (and `! -p 0`, the same): "rule would never match protocol";
/// it takes `! --icmp-type any` (and `255`, which its icmp match reads as any type, whatever
/// the code) but the rule never matches. Compiled as a match of nothing, the line would read as
/// a rule that does something; a `!` that was dropped would match everything.
fn negated_everything(it: &Item<'_>, bang: crate::diagnostic::Span) -> Option<Diagnostic> {
    let what = match &it.val {
        Val::Proto(p) if p.node == Protocol::All => "every protocol",
        Val::Icmp(t) if t.node == super::ast::IcmpType::Any => "every ICMP type",
        _ => return None,
    };
    Some(
        Diagnostic::error(
            Code::E022,
            format!("`! {}` excludes {what}: the rule would never match", it.spelling),
            bang,
        )
        .with_label("negates everything")
        .with_help(match &it.val {
            Val::Proto(_) => {
                "iptables refuses this rule; remove the line, or name the protocol to exclude"
            }
            _ => {
                "iptables takes the rule but it never matches (type 255 is any type too); remove \
                 the line, or name the ICMP type to exclude"
            }
        }),
    )
}

/// Checks that need the whole line: duplicates, negation, modules, protocols.
/// `bad_module`: a `-m` was rejected, so options that need a module are not judged again.
pub(super) fn check_line(items: &[Item<'_>], bad_module: bool, diags: &mut Vec<Diagnostic>) {
    // Indexed by `Opt as usize`: a map without hashing, linear in the number of options.
    let mut first: [Option<&Item<'_>>; OPT_COUNT] = [None; OPT_COUNT];
    for it in items {
        if let Some(prev) = first[it.opt as usize] {
            // An option several modules spell alike is given once per module.
            let again = !it.opt.desc().also_modules.is_empty()
                && owning_module(items, it).is_some()
                && owning_module(items, it) == owning_module(items, prev);
            if !it.opt.desc().repeatable || again {
                diags.push(
                    Diagnostic::error(
                        Code::E006,
                        format!("`{}` given twice in one rule", it.spelling),
                        it.name_span,
                    )
                    .with_label("given again here")
                    .with_secondary(prev.name_span, "first given here")
                    .with_help(match it.opt.desc().value {
                        ValueKind::Addrs => "list several addresses in one option: `-s a,b`",
                        _ => "keep one of them, or write two rules",
                    }),
                );
            }
        } else {
            first[it.opt as usize] = Some(it);
        }
        if let Some(bang) = it.neg
            && !it.opt.desc().negatable
        {
            diags.push(
                Diagnostic::error(Code::E022, format!("`{}` cannot be negated", it.spelling), bang)
                    .with_label("`!` not allowed here")
                    .with_help("remove the `!`"),
            );
        }
        if let Some(bang) = it.neg
            && let Some(d) = negated_everything(it, bang)
        {
            diags.push(d);
        }
    }
    for it in items {
        if let Some(d) = conntrack_misuse(items, it) {
            diags.push(d);
        }
    }
    // Options that say nothing without another of their module.
    let has = |o: Opt| items.iter().any(|i| i.opt == o);
    for it in items {
        let (needs, what): (&[Opt], &str) = match it.opt {
            Opt::Probability => (&[Opt::StatMode], "`--mode random`"),
            Opt::Every | Opt::Packet => (&[Opt::StatMode], "`--mode nth`"),
            Opt::LimitIfaceIn | Opt::LimitIfaceOut => {
                (&[Opt::SrcType, Opt::DstType], "`--src-type` or `--dst-type`")
            }
            // libxt_connbytes requires all three.
            Opt::Connbytes if !has(Opt::ConnbytesDir) => {
                (&[Opt::ConnbytesDir], "`--connbytes-dir original|reply|both`")
            }
            Opt::Connbytes => (&[Opt::ConnbytesMode], "`--connbytes-mode packets|bytes|avgpkt`"),
            Opt::ConnbytesDir | Opt::ConnbytesMode => (&[Opt::Connbytes], "`--connbytes`"),
            _ => continue,
        };
        if !needs.iter().any(|o| has(*o)) {
            diags.push(
                Diagnostic::error(
                    Code::E007,
                    format!("`{}` needs {what} in the same rule", it.spelling),
                    it.name_span,
                )
                .with_help(format!("add {what}")),
            );
        }
        if it.opt == Opt::LimitIfaceOut && has(Opt::LimitIfaceIn) {
            diags.push(
                e008(
                    "`--limit-iface-in` and `--limit-iface-out` cannot go together".to_string(),
                    it.name_span,
                )
                .with_help("keep one of them, as iptables requires"),
            );
        }
    }
    let modules: Vec<&str> = items
        .iter()
        .filter_map(|i| match (&i.opt, &i.val) {
            (Opt::Module, Val::Word(w)) => Some(w.node.as_str()),
            _ => None,
        })
        .collect();
    let proto = items.iter().find_map(|i| match (&i.val, i.neg) {
        (Val::Proto(p), None) if i.opt == Opt::Proto => Some(&p.node),
        _ => None,
    });
    let proto_name = |p: &Protocol| match p {
        Protocol::Tcp => "tcp".to_string(),
        Protocol::Udp => "udp".to_string(),
        Protocol::Udplite => "udplite".to_string(),
        Protocol::Sctp => "sctp".to_string(),
        Protocol::Icmp => "icmp".to_string(),
        Protocol::All => "all".to_string(),
        Protocol::Number(n) => n.to_string(),
    };
    for it in items {
        if let Some(r) = it.opt.desc().refused {
            diags.push(
                Diagnostic::error(
                    Code::E002,
                    format!("unknown or unsupported option `{}`", it.spelling),
                    it.name_span,
                )
                .with_label(r.label)
                .with_help(r.help),
            );
            continue;
        }
        if let Some(m) = it.opt.desc().module
            && !it.opt.desc().also_modules.is_empty()
            && !bad_module
            && owning_module(items, it).is_none()
        {
            let all: Vec<String> = std::iter::once(m)
                .chain(it.opt.desc().also_modules.iter().copied())
                .map(|m| format!("`-m {m}`"))
                .collect();
            diags.push(
                Diagnostic::error(
                    Code::E007,
                    format!("`{}` needs {} before it", it.spelling, all.join(" or ")),
                    it.name_span,
                )
                .with_label(format!("belongs to the {m} module"))
                .with_help(format!("add `-m {m}` before it")),
            );
        } else if let Some(m) = it.opt.desc().module
            && it.opt.desc().also_modules.is_empty()
            && !bad_module
            && !modules.contains(&m)
        {
            diags.push(
                Diagnostic::error(
                    Code::E007,
                    format!("`{}` needs `-m {m}`", it.spelling),
                    it.name_span,
                )
                .with_label(format!("belongs to the {m} module"))
                .with_help(format!("add `-m {m}` before it")),
            );
        }
        let needs: Option<(&[Protocol], &str)> = match it.opt.desc().needs_proto {
            Some(ProtoNeed::Ports) => Some((&PORT_PROTOCOLS, "tcp")),
            Some(ProtoNeed::Tcp) => Some((&[Protocol::Tcp], "tcp")),
            Some(ProtoNeed::Icmp) => Some((&[Protocol::Icmp], "icmp")),
            Some(ProtoNeed::Ah) => Some((&[Protocol::Number(51)], "ah")),
            Some(ProtoNeed::Esp) => Some((&[Protocol::Number(50)], "esp")),
            Some(ProtoNeed::Dccp) => Some((&[Protocol::Number(33)], "dccp")),
            None => None,
        };
        if let Some((ok, add)) = needs
            && !proto.is_some_and(|p| ok.contains(p))
        {
            let wanted = if ok.len() > 1 {
                "`-p tcp`, `udp`, `udplite`, `sctp` or `dccp`".to_string()
            } else {
                format!("`-p {add}`")
            };
            let msg = match proto {
                Some(p) => {
                    format!("`{}` needs {wanted}, not `-p {}`", it.spelling, proto_name(p))
                }
                None => format!("`{}` needs {wanted} in the same rule", it.spelling),
            };
            diags.push(
                Diagnostic::error(Code::E007, msg, it.name_span)
                    .with_help(format!("add `-p {add}` before it")),
            );
        }
        if let (Opt::Module, Val::Word(m)) = (it.opt, &it.val) {
            let implied = match m.node.as_str() {
                "tcp" => Some(Protocol::Tcp),
                "udp" => Some(Protocol::Udp),
                "udplite" => Some(Protocol::Udplite),
                "icmp" => Some(Protocol::Icmp),
                "sctp" => Some(Protocol::Sctp),
                "dccp" => Some(Protocol::Number(33)),
                _ => None,
            };
            if let Some(want) = implied
                && proto != Some(&want)
            {
                let msg = match proto {
                    Some(p) => {
                        format!("`-m {}` does not agree with `-p {}`", m.node, proto_name(p))
                    }
                    None => format!("`-m {}` needs `-p {}` in the same rule", m.node, m.node),
                };
                diags.push(Diagnostic::error(Code::E007, msg, m.span).with_help(format!(
                    "use `-p {}` (it loads `-m {}` by itself)",
                    m.node, m.node
                )));
            }
        }
        if let Val::Reject(w, word) = &it.val
            && w.node == RejectWith::TcpReset
            && proto != Some(&Protocol::Tcp)
        {
            diags.push(
                Diagnostic::error(
                    Code::E007,
                    format!("`--reject-with {word}` needs `-p tcp`"),
                    w.span,
                )
                .with_help("add `-p tcp` before it"),
            );
        }
    }
}

/// Line checks of `-m policy`, `-m hashlimit` and `-m connlimit` (helper B's block): what
/// iptables requires of them and what nft cannot say. `failed`: options whose bad value was
/// already reported, so that their absence is not reported again.
pub(super) fn check_stateful(
    items: &[Item<'_>],
    bad_module: bool,
    failed: &[bool; OPT_COUNT],
    diags: &mut Vec<Diagnostic>,
) {
    if bad_module {
        return;
    }
    check_meters(items, failed, diags);
    let has = |o: Opt| items.iter().any(|i| i.opt == o) || failed[o as usize];
    for it in items {
        if it.opt == Opt::StatMode {
            let mode = match it.val {
                Val::Num(n) => n,
                _ => continue,
            };
            match owning_module(items, it) {
                Some("policy") => {
                    let r = super::options::POLICY_ELEMENT;
                    diags.push(
                        Diagnostic::error(
                            Code::E002,
                            format!("unknown or unsupported option `{}`", it.spelling),
                            it.name_span,
                        )
                        .with_label(r.label)
                        .with_help(r.help),
                    );
                }
                _ if mode == names::POLICY_MODE => diags.push(
                    e008("`--mode tunnel|transport` is not a statistic mode".to_string(), it.span)
                        .with_help("use `--mode random` or `--mode nth`"),
                ),
                _ => {}
            }
        }
    }
    let policy = items
        .iter()
        .find(|i| matches!(&i.val, Val::Word(w) if i.opt == Opt::Module && w.node == "policy"));
    if let Some(m) = policy
        && !has(Opt::PolicyDir)
    {
        diags.push(
            Diagnostic::error(Code::E007, "`-m policy` needs `--dir in` or `--dir out`", m.span)
                .with_help("add `--dir in` (decapsulated packets) or `--dir out` (packets to be encapsulated), as iptables requires"),
        );
    }
}

const HASHLIMIT_OPTS: [Opt; 9] = [
    Opt::HlUpto,
    Opt::HlAbove,
    Opt::HlBurst,
    Opt::HlMode,
    Opt::HlSrcMask,
    Opt::HlDstMask,
    Opt::HlName,
    Opt::HlExpire,
    Opt::HlUptoOld,
];
const CONNLIMIT_OPTS: [Opt; 5] = [
    Opt::ConnlimitAbove,
    Opt::ConnlimitUpto,
    Opt::ConnlimitMask,
    Opt::ConnlimitSaddr,
    Opt::ConnlimitDaddr,
];

/// What `-m hashlimit` and `-m connlimit` need (as iptables) and what nft can say of them.
fn check_meters(items: &[Item<'_>], failed: &[bool; OPT_COUNT], diags: &mut Vec<Diagnostic>) {
    let module = |name: &str| {
        items
            .iter()
            .find(|i| matches!(&i.val, Val::Word(w) if i.opt == Opt::Module && w.node == name))
    };
    let find = |o: Opt| items.iter().find(|i| i.opt == o);
    let has = |o: Opt| find(o).is_some() || failed[o as usize];
    let num = |o: Opt| match find(o).map(|i| &i.val) {
        Some(Val::Num(n)) => Some(*n),
        _ => None,
    };
    let port_proto = items.iter().any(|i| {
        i.opt == Opt::Proto
            && i.neg.is_none()
            && matches!(&i.val, Val::Proto(p) if matches!(p.node, Protocol::Tcp | Protocol::Udp | Protocol::Udplite | Protocol::Sctp))
    });
    if let Some(m) = module("hashlimit") {
        let rates: Vec<&Item<'_>> = items
            .iter()
            .filter(|i| matches!(i.opt, Opt::HlUpto | Opt::HlAbove | Opt::HlUptoOld))
            .collect();
        if rates.len() > 1 {
            diags.push(
                e008(
                    format!(
                        "`{}` and `{}` cannot go together",
                        rates[0].spelling, rates[1].spelling
                    ),
                    rates[1].name_span,
                )
                .with_help("keep one rate: `--hashlimit-upto` or `--hashlimit-above`"),
            );
        }
        if rates.is_empty()
            && ![Opt::HlUpto, Opt::HlAbove, Opt::HlUptoOld].iter().any(|o| failed[*o as usize])
        {
            diags.push(
                Diagnostic::error(
                    Code::E007,
                    "`-m hashlimit` needs `--hashlimit-upto` or `--hashlimit-above`",
                    m.span,
                )
                .with_help("add `--hashlimit-upto 10/second`, as iptables requires a rate"),
            );
        }
        if !has(Opt::HlName) {
            diags.push(
                Diagnostic::error(Code::E007, "`-m hashlimit` needs `--hashlimit-name`", m.span)
                    .with_help("add `--hashlimit-name NAME`, as iptables requires"),
            );
        }
        if let Some(r) = rates.first()
            && let Val::Rate(0, _) = r.val
        {
            diags.push(
                e008(format!("`{}` of 0 never lets a packet through", r.spelling), r.span)
                    .with_help("give a rate of at least 1"),
            );
        }
        if num(Opt::HlBurst) == Some(0) {
            let b = find(Opt::HlBurst).map_or(m.span, |i| i.span);
            diags.push(
                e008("`--hashlimit-burst 0` is not a bucket".to_string(), b)
                    .with_help("give a burst of at least 1 (iptables' default is 5)"),
            );
        }
        match num(Opt::HlMode) {
            None if !failed[Opt::HlMode as usize] => diags.push(
                e008(
                    "`-m hashlimit` without `--hashlimit-mode` cannot be translated exactly: it is \
                     one bucket for all packets, refilled whole after `--hashlimit-htable-expire` \
                     idle, which nft's `limit` is not"
                        .to_string(),
                    m.span,
                )
                .with_help("use `-m limit --limit RATE --limit-burst N`, or key the buckets with `--hashlimit-mode srcip`"),
            ),
            Some(bits) if bits & 0b1100 != 0 && !port_proto => {
                let at = find(Opt::HlMode).map_or(m.span, |i| i.span);
                diags.push(
                    Diagnostic::error(
                        Code::E007,
                        "`--hashlimit-mode srcport|dstport` needs `-p tcp`, `udp`, `udplite` or `sctp` in the same rule: nft reads a port only for a known protocol",
                        at,
                    )
                    .with_help("add `-p tcp` (or udp) before it"),
                );
            }
            _ => {}
        }
        if let Some(e) = num(Opt::HlExpire)
            && (e == 0 || e % 1000 != 0)
        {
            let at = find(Opt::HlExpire).map_or(m.span, |i| i.span);
            diags.push(
                e008(
                    format!("`--hashlimit-htable-expire {e}` must be whole seconds for nft (a multiple of 1000 ms, at least 1000)"),
                    at,
                )
                .with_help("round it to whole seconds, e.g. 10000"),
            );
        }
    }
    if let Some(m) = module("connlimit") {
        let counts: Vec<&Item<'_>> = items
            .iter()
            .filter(|i| matches!(i.opt, Opt::ConnlimitAbove | Opt::ConnlimitUpto))
            .collect();
        if counts.len() > 1 {
            diags.push(
                e008(
                    "`--connlimit-above` and `--connlimit-upto` cannot go together".to_string(),
                    counts[1].name_span,
                )
                .with_help("keep one of them"),
            );
        }
        if counts.is_empty()
            && !failed[Opt::ConnlimitAbove as usize]
            && !failed[Opt::ConnlimitUpto as usize]
        {
            diags.push(
                Diagnostic::error(
                    Code::E007,
                    "`-m connlimit` needs `--connlimit-above` or `--connlimit-upto`",
                    m.span,
                )
                .with_help("add `--connlimit-above 10`, as iptables requires"),
            );
        }
        if let (Some(_), Some(d)) = (find(Opt::ConnlimitSaddr), find(Opt::ConnlimitDaddr)) {
            diags.push(
                e008(
                    "`--connlimit-saddr` and `--connlimit-daddr` cannot go together".to_string(),
                    d.name_span,
                )
                .with_help("keep one: connections are counted per source or per destination"),
            );
        }
    }
}

/// The `-m hashlimit` or `-m connlimit` match of a line's checked options.
fn meter_spec(items: &[Item<'_>], hashlimit: bool) -> Option<MeterSpec> {
    let find = |o: Opt| items.iter().find(|i| i.opt == o);
    let num = |o: Opt| match find(o).map(|i| &i.val) {
        Some(Val::Num(n)) => Some(*n),
        _ => None,
    };
    let prefix = |o: Opt| num(o).map_or(32, |n| n as u8);
    let opts: &[Opt] = if hashlimit { &HASHLIMIT_OPTS } else { &CONNLIMIT_OPTS };
    let written = items.iter().filter(|i| opts.contains(&i.opt)).map(|i| i.span).collect();
    if hashlimit {
        let (rate, over) = items.iter().find_map(|i| match (&i.val, i.opt) {
            (Val::Rate(r, u), Opt::HlUpto | Opt::HlUptoOld) => Some(((*r, *u), false)),
            (Val::Rate(r, u), Opt::HlAbove) => Some(((*r, *u), true)),
            _ => None,
        })?;
        let name = match find(Opt::HlName).map(|i| &i.val) {
            Some(Val::Word(w)) => w.clone(),
            _ => return None,
        };
        let mode = num(Opt::HlMode)?;
        Some(MeterSpec {
            limit: Some(super::ast::HashLimit {
                rate: rate.0,
                unit: rate.1,
                burst: num(Opt::HlBurst).unwrap_or(5),
                name,
                expire_s: num(Opt::HlExpire).unwrap_or(10_000) / 1000,
            }),
            count: 0,
            over,
            src: (mode & 1 != 0).then(|| prefix(Opt::HlSrcMask)),
            dst: (mode & 2 != 0).then(|| prefix(Opt::HlDstMask)),
            sport: mode & 4 != 0,
            dport: mode & 8 != 0,
            written,
        })
    } else {
        let (count, over) = items.iter().find_map(|i| match (&i.val, i.opt) {
            (Val::Num(n), Opt::ConnlimitAbove) => Some((*n, i.neg.is_none())),
            (Val::Num(n), Opt::ConnlimitUpto) => Some((*n, i.neg.is_some())),
            _ => None,
        })?;
        let dst = find(Opt::ConnlimitDaddr).is_some();
        let mask = prefix(Opt::ConnlimitMask);
        Some(MeterSpec {
            limit: None,
            count,
            over,
            src: (!dst).then_some(mask),
            dst: dst.then_some(mask),
            sport: false,
            dport: false,
            written,
        })
    }
}

/// The module an option several modules spell alike (`--mark`) belongs to: the last of them
/// loaded by a `-m` before it, as iptables hands an option to the latest match that takes it.
fn owning_module<'a>(items: &'a [Item<'_>], it: &Item<'_>) -> Option<&'a str> {
    let d = it.opt.desc();
    let owners = || d.module.into_iter().chain(d.also_modules.iter().copied());
    items
        .iter()
        .take_while(|i| i.name_span.start < it.name_span.start)
        .filter_map(|i| match (&i.opt, &i.val) {
            (Opt::Module, Val::Word(w)) => Some(w.node.as_str()),
            _ => None,
        })
        .filter(|m| owners().any(|o| o == *m))
        .last()
}

/// The base target of a `-j NAME`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Base {
    Accept,
    Drop,
    Reject,
    Log,
    Return,
    Jump,
    Dnat,
    Snat,
    Masq { once: bool },
    Redirect,
    Netmap,
    Copy,
    Tcpmss,
    Mark { ct: bool },
    Nflog,
    Dscp,
    Classify,
    Audit,
    Nfqueue,
}

fn base_target(w: &Spanned<String>) -> Res<Base> {
    Ok(match w.node.as_str() {
        "ACCEPT" => Base::Accept,
        "DROP" => Base::Drop,
        "REJECT" => Base::Reject,
        "LOG" => Base::Log,
        "RETURN" => Base::Return,
        "DNAT" => Base::Dnat,
        "SNAT" => Base::Snat,
        "MASQUERADE" => Base::Masq { once: false },
        "MASQUERADE-ONCE" => Base::Masq { once: true },
        "REDIRECT" => Base::Redirect,
        "NETMAP" => Base::Netmap,
        "COPY" => Base::Copy,
        "TCPMSS" => Base::Tcpmss,
        "MARK" => Base::Mark { ct: false },
        "CONNMARK" => Base::Mark { ct: true },
        "NFLOG" => Base::Nflog,
        "DSCP" => Base::Dscp,
        "CLASSIFY" => Base::Classify,
        "AUDIT" => Base::Audit,
        "NFQUEUE" => Base::Nfqueue,
        s if names::SUBGROUP_PREFIXES
            .iter()
            .any(|(pre, _)| s.strip_prefix(pre).is_some_and(names::is_subgroup_tail)) =>
        {
            Base::Jump
        }
        s => {
            let mut d = Diagnostic::error(
                Code::E005,
                format!("unknown or unsupported target `{}`", shown(s)),
                w.span,
            );
            d = match (crate::refused::target(s), names::closest(s, names::TARGETS)) {
                (Some(r), _) => d.with_label("refused: see docs/refused.md").with_help(r.help()),
                (None, Some(c)) => {
                    d.with_help(format!("did you mean `{c}`? (targets are case-sensitive)"))
                }
                (None, None) => d.with_help(format!(
                    "supported targets: {}, or a subgroup such as FWD_C_name",
                    names::TARGETS.join(", ")
                )),
            };
            return Err(d);
        }
    })
}

/// Builds the target from `-j` and its options, checking ownership and required options.
/// `failed`: options whose value was already reported bad; their absence is no new problem.
pub(super) fn target(
    items: &[Item<'_>],
    failed: &[bool; OPT_COUNT],
    diags: &mut Vec<Diagnostic>,
) -> Option<Target> {
    let jump = items.iter().find(|i| i.opt == Opt::Jump);
    let (base, name) = match jump.map(|j| (j, &j.val)) {
        Some((j, Val::Word(w))) => match base_target(w) {
            Ok(b) => (Some(b), Some((j, w))),
            Err(d) => {
                diags.push(d);
                return None; // E005 already; target options cannot be judged
            }
        },
        _ => (None, None),
    };
    let tname = name.map(|(_, w)| w.node.as_str());
    for it in items {
        let Some(owners) = it.opt.owners(it.spelling) else { continue };
        if tname.is_some_and(|t| owners.contains(&t)) {
            continue;
        }
        let belongs = owners
            .iter()
            .filter(|o| **o != "MASQUERADE-ONCE")
            .copied()
            .collect::<Vec<_>>()
            .join(" or ");
        let (msg, help) = match tname {
            Some(t) => (
                format!("`{}` belongs to the {belongs} target, not {t}", it.spelling),
                "remove it, or change the target".to_string(),
            ),
            None => (
                format!(
                    "`{}` belongs to the {belongs} target, but the rule has no `-j`",
                    it.spelling
                ),
                format!("add `-j {}`", owners[0]),
            ),
        };
        diags.push(Diagnostic::error(Code::E009, msg, it.name_span).with_help(help));
    }
    let (base, (j, w)) = (base?, name?);
    let span = j.name_span.to(w.span);
    let find = |o: Opt| items.iter().find(|i| i.opt == o);
    let flag = |o: Opt| find(o).is_some();
    let word = |o: Opt| match find(o).map(|i| &i.val) {
        Some(Val::Word(w)) | Some(Val::Text(w)) => Some(w.clone()),
        _ => None,
    };
    let to = find(Opt::To).and_then(|i| match &i.val {
        Val::To(t) => Some((i.spelling, t.clone())),
        _ => None,
    });
    // Which flag options a NAT target takes is the options table's `targets`.
    let mut nat_flags = crate::ir::NatFlags::NONE;
    for (o, f) in [
        (Opt::Random, crate::ir::NatFlags::RANDOM),
        (Opt::RandomFully, crate::ir::NatFlags::FULLY_RANDOM),
        (Opt::Persistent, crate::ir::NatFlags::PERSISTENT),
    ] {
        if flag(o) {
            nat_flags = nat_flags.with(f);
        }
    }
    let ports = match find(Opt::ToPorts).map(|i| &i.val) {
        Some(Val::PortPair(p)) => Some(*p),
        _ => None,
    };
    // `opt` written `what`: reported only when no bad value of it was reported already.
    let missing = |opt: Opt, what: &str, example: &str| {
        if failed[opt as usize] {
            return None;
        }
        Some(
            Diagnostic::error(Code::E010, format!("{} needs `{what}`", w.node), span)
                .with_label("target without its required option")
                .with_help(format!("add `{what} {example}`")),
        )
    };
    let kind = match base {
        Base::Accept => TargetKind::Accept,
        Base::Drop => TargetKind::Drop,
        Base::Return => TargetKind::Return,
        Base::Reject => TargetKind::Reject {
            with: find(Opt::RejectWith).and_then(|i| match &i.val {
                Val::Reject(w, _) => Some(w.clone()),
                _ => None,
            }),
        },
        Base::Log => TargetKind::Log {
            flags: [
                (Opt::LogTcpSequence, crate::ir::LogFlags::TCP_SEQUENCE),
                (Opt::LogTcpOptions, crate::ir::LogFlags::TCP_OPTIONS),
                (Opt::LogIpOptions, crate::ir::LogFlags::IP_OPTIONS),
                (Opt::LogUid, crate::ir::LogFlags::UID),
                (Opt::LogMacDecode, crate::ir::LogFlags::MAC_DECODE),
            ]
            .into_iter()
            .filter(|(o, _)| flag(*o))
            .fold(crate::ir::LogFlags::NONE, |a, (_, f)| a.with(f)),
            prefix: word(Opt::LogPrefix),
            level: find(Opt::LogLevel).and_then(|i| match &i.val {
                Val::Level(l) => Some(l.clone()),
                _ => None,
            }),
        },
        Base::Jump => TargetKind::Jump(w.clone()),
        Base::Masq { once } => TargetKind::Masquerade { ports, flags: nat_flags, once },
        Base::Redirect => TargetKind::Redirect { ports, flags: nat_flags },
        Base::Tcpmss => {
            let set = find(Opt::SetMss).and_then(|i| match i.val {
                Val::Num(n) => u16::try_from(n).ok(),
                _ => None,
            });
            match (set, find(Opt::ClampMss)) {
                (Some(_), Some(c)) => {
                    diags.push(
                        e008(
                            "TCPMSS takes `--set-mss` or `--clamp-mss-to-pmtu`, not both"
                                .to_string(),
                            c.name_span,
                        )
                        .with_help("keep one of them"),
                    );
                    return None;
                }
                (Some(n), None) => TargetKind::Tcpmss { mss: Some(n) },
                (None, Some(_)) => TargetKind::Tcpmss { mss: None },
                (None, None) => {
                    if !failed[Opt::SetMss as usize] {
                        diags.push(
                            Diagnostic::error(
                                Code::E010,
                                "TCPMSS needs `--clamp-mss-to-pmtu` or `--set-mss`",
                                span,
                            )
                            .with_label("target without its required option")
                            .with_help("add `--clamp-mss-to-pmtu` or `--set-mss 1360`"),
                        );
                    }
                    return None;
                }
            }
        }
        Base::Nflog => {
            let num = |o: Opt| match find(o).map(|i| &i.val) {
                Some(Val::Num(n)) => Some(*n),
                _ => None,
            };
            TargetKind::Nflog {
                group: num(Opt::NflogGroup).map(|n| n as u16),
                prefix: word(Opt::NflogPrefix),
                range: num(Opt::NflogRange),
                size: num(Opt::NflogSize),
                threshold: num(Opt::NflogThreshold).map(|n| n as u16),
            }
        }
        Base::Dscp => {
            let num = |o: Opt| {
                find(o).and_then(|i| match i.val {
                    Val::Num(n) => Some((n as u8, i)),
                    _ => None,
                })
            };
            match (num(Opt::SetDscp), num(Opt::SetDscpClass)) {
                (Some(_), Some((_, c))) => {
                    diags.push(
                        e008(
                            "DSCP takes `--set-dscp` or `--set-dscp-class`, not both".to_string(),
                            c.name_span,
                        )
                        .with_help("keep one of them"),
                    );
                    return None;
                }
                (Some((value, i)), None) | (None, Some((value, i))) => {
                    TargetKind::Dscp { value, written: i.span }
                }
                (None, None) => {
                    if !failed[Opt::SetDscp as usize] && !failed[Opt::SetDscpClass as usize] {
                        diags.extend(missing(Opt::SetDscp, "--set-dscp", "0x2e"));
                    }
                    return None;
                }
            }
        }
        Base::Classify => match find(Opt::SetClass).map(|i| &i.val) {
            Some(Val::Num(n)) => TargetKind::Classify(*n),
            _ => {
                diags.extend(missing(Opt::SetClass, "--set-class", "1:10"));
                return None;
            }
        },
        // libxt_AUDIT makes `--type` mandatory; the kernel's record carries no type.
        Base::Audit => match find(Opt::AuditType).map(|i| &i.val) {
            Some(Val::Num(n)) => TargetKind::Audit { kind: *n as u8 },
            _ => {
                diags.extend(missing(Opt::AuditType, "--type", "drop"));
                return None;
            }
        },
        Base::Nfqueue => {
            let num = find(Opt::QueueNum);
            let balance = find(Opt::QueueBalance);
            if let (Some(_), Some(b)) = (num, balance) {
                diags.push(
                    e008(
                        "NFQUEUE takes `--queue-num` or `--queue-balance`, not both".to_string(),
                        b.name_span,
                    )
                    .with_help("keep one of them"),
                );
                return None;
            }
            let (first, last) = match (num.map(|i| &i.val), balance.map(|i| (i, &i.val))) {
                (Some(Val::Num(n)), _) => (*n, *n),
                (_, Some((i, Val::NumRange(a, b)))) => {
                    // libxt_NFQUEUE: the first queue no larger than the last.
                    if a > b {
                        diags.push(
                            e008(format!("`--queue-balance {a}:{b}` runs backwards"), i.span)
                                .with_help("write a range such as 0:3"),
                        );
                        return None;
                    }
                    (*a, *b)
                }
                _ => (0, 0),
            };
            TargetKind::Nfqueue {
                first: first as u16,
                last: last as u16,
                bypass: flag(Opt::QueueBypass),
                fanout: flag(Opt::QueueCpuFanout),
                balance: balance.is_some(),
            }
        }
        Base::Mark { ct } => {
            let (op, written) = mark_target(items, ct, &w.node, span, failed, diags)?;
            TargetKind::Mark { ct, op, written }
        }
        Base::Dnat | Base::Snat => {
            let (flag_name, ex) = if base == Base::Dnat {
                ("--to-destination", "192.0.2.10")
            } else {
                ("--to-source", "192.0.2.1")
            };
            let Some((spelling, t)) = to else {
                diags.extend(missing(Opt::To, flag_name, ex));
                return None;
            };
            let addr = match &t.node.addr.node {
                ToAddr::Addr(a) => NatAddr::Addr(*a),
                ToAddr::Range(a, b) => NatAddr::Range(*a, *b),
                ToAddr::Var(v) => NatAddr::Var(v.clone()),
                ToAddr::Name(n) => NatAddr::Name(n.clone()),
                ToAddr::Net(_) => {
                    diags.push(
                        e008(
                            format!(
                                "`{spelling}` takes an address or address range, not a network"
                            ),
                            t.node.addr.span,
                        )
                        .with_help("drop the /LEN, or use NETMAP to map a whole network"),
                    );
                    return None;
                }
            };
            let to = Spanned::new(
                NatTo {
                    addr: Spanned::new(addr, t.node.addr.span),
                    ports: t.node.ports.map(|p| p.node),
                },
                t.span,
            );
            if base == Base::Dnat {
                TargetKind::Dnat { to, flags: nat_flags }
            } else {
                TargetKind::Snat { to, flags: nat_flags }
            }
        }
        Base::Netmap | Base::Copy => {
            let Some((spelling, t)) = to else {
                diags.extend(if base == Base::Netmap {
                    missing(Opt::To, Opt::To.canonical(), "10.1.0.0/24")
                } else {
                    missing(Opt::To, Opt::To.canonical(), "198.51.100.2")
                });
                return None;
            };
            if let Some(p) = &t.node.ports {
                diags.push(
                    e008(format!("ports in `{spelling}` are only valid for DNAT and SNAT"), p.span)
                        .with_help("remove the :PORT part"),
                );
                return None;
            }
            let a = &t.node.addr;
            if base == Base::Netmap {
                let to = match &a.node {
                    ToAddr::Net(n) => Value::Lit(*n),
                    ToAddr::Addr(x) => Value::Lit(Net { addr: *x, prefix: 32 }),
                    ToAddr::Var(v) => Value::Var(v.clone()),
                    ToAddr::Range(..) | ToAddr::Name(_) => {
                        diags.push(e008(
                            "NETMAP `--to` takes a network such as 10.1.0.0/24".to_string(),
                            a.span,
                        ));
                        return None;
                    }
                };
                TargetKind::Netmap { to: Spanned::new(to, a.span) }
            } else {
                let to = match &a.node {
                    ToAddr::Addr(x) => NatAddr::Addr(*x),
                    ToAddr::Var(v) => NatAddr::Var(v.clone()),
                    ToAddr::Name(n) => NatAddr::Name(n.clone()),
                    ToAddr::Range(..) | ToAddr::Net(_) => {
                        diags.push(e008(
                            "COPY `--to` takes one address, a ${variable} or a plugin name"
                                .to_string(),
                            a.span,
                        ));
                        return None;
                    }
                };
                let from = match find(Opt::From).map(|i| &i.val) {
                    Some(Val::Iface(f)) => f.clone(),
                    _ => {
                        diags.extend(missing(Opt::From, Opt::From.canonical(), "tun0"));
                        return None;
                    }
                };
                TargetKind::Copy {
                    from,
                    to: Spanned::new(to, a.span),
                    bidirectional: flag(Opt::Bidir),
                }
            }
        }
    };
    // COPY also needs --from when --to is there; DNAT/SNAT/NETMAP checks happened above.
    Some(Target { span, kind })
}

/// What a MARK or CONNMARK target does, reduced as iptables reduces its options, and the spans
/// of those options.
fn mark_target(
    items: &[Item<'_>],
    ct: bool,
    name: &str,
    span: crate::diagnostic::Span,
    failed: &[bool; OPT_COUNT],
    diags: &mut Vec<Diagnostic>,
) -> Option<(MarkOp, Vec<crate::diagnostic::Span>)> {
    let ops = [
        Opt::SetXmark,
        Opt::SetMark,
        Opt::AndMark,
        Opt::OrMark,
        Opt::XorMark,
        Opt::SaveMark,
        Opt::RestoreMark,
    ];
    let masks = [Opt::Mask, Opt::NfMask, Opt::CtMask];
    let given: Vec<&Item<'_>> = items.iter().filter(|i| ops.contains(&i.opt)).collect();
    let written: Vec<_> = items
        .iter()
        .filter(|i| ops.contains(&i.opt) || masks.contains(&i.opt))
        .map(|i| i.span)
        .collect();
    let op = match given.as_slice() {
        [] => {
            if !ops.iter().any(|o| failed[*o as usize]) {
                let what = if ct {
                    "`--set-mark`, `--set-xmark`, `--and-mark`, `--or-mark`, `--xor-mark`, \
                     `--save-mark` or `--restore-mark`"
                } else {
                    "`--set-mark`, `--set-xmark`, `--and-mark`, `--or-mark` or `--xor-mark`"
                };
                diags.push(
                    Diagnostic::error(Code::E010, format!("{name} needs {what}"), span)
                        .with_label("target without its required option")
                        .with_help("add `--set-mark 0x1`"),
                );
            }
            return None;
        }
        [one] => one,
        [first, second, ..] => {
            diags.push(
                e008(
                    format!(
                        "{name} takes one of its operations, not both `{}` and `{}`",
                        first.spelling, second.spelling
                    ),
                    second.name_span,
                )
                .with_help("keep one of them, or write two rules"),
            );
            return None;
        }
    };
    let (value, mask) = match op.val {
        Val::MarkMask(v, m) => (v, m),
        _ => (0, None),
    };
    let num = |o: Opt| {
        items.iter().find(|i| i.opt == o).map(|i| match i.val {
            Val::MarkMask(v, _) => (v, i),
            _ => (0, i),
        })
    };
    let copy = matches!(op.opt, Opt::SaveMark | Opt::RestoreMark);
    if let Some(m) = masks.iter().find_map(|o| num(*o)).filter(|_| !copy) {
        diags.push(
            e008(
                format!("`{}` goes only with `--save-mark` or `--restore-mark`", m.1.spelling),
                m.1.name_span,
            )
            .with_help("remove it; the mask of the other operations is written as VALUE/MASK"),
        );
        return None;
    }
    let all = u32::MAX;
    Some((
        match op.opt {
            Opt::SetXmark => MarkOp::Xmark { value, mask: mask.unwrap_or(all) },
            // iptables: `--set-mark V/M` zeroes M and ORs V in, that is `--set-xmark V/(M|V)`.
            Opt::SetMark => MarkOp::Xmark { value, mask: mask.unwrap_or(all) | value },
            Opt::AndMark => MarkOp::Xmark { value: 0, mask: !value },
            Opt::OrMark => MarkOp::Xmark { value, mask: value },
            Opt::XorMark => MarkOp::Xmark { value, mask: 0 },
            _ => {
                if let (Some(m), Some(o)) =
                    (num(Opt::Mask), num(Opt::NfMask).or_else(|| num(Opt::CtMask)))
                {
                    diags.push(
                        e008(
                            format!("`{}` and `{}` both set the masks", m.1.spelling, o.1.spelling),
                            o.1.name_span,
                        )
                        .with_help("use `--mask` alone, or `--nfmask` and `--ctmask`"),
                    );
                    return None;
                }
                let both = num(Opt::Mask).map(|m| m.0);
                let nfmask = both.or(num(Opt::NfMask).map(|m| m.0)).unwrap_or(all);
                let ctmask = both.or(num(Opt::CtMask).map(|m| m.0)).unwrap_or(all);
                if op.opt == Opt::SaveMark {
                    MarkOp::Save { nfmask, ctmask }
                } else {
                    MarkOp::Restore { nfmask, ctmask }
                }
            }
        },
        written,
    ))
}

/// The protocols with ports (`--sport`, `--dport`, multiport): tcp, udp, udplite, sctp, dccp.
const PORT_PROTOCOLS: [Protocol; 5] =
    [Protocol::Tcp, Protocol::Udp, Protocol::Udplite, Protocol::Sctp, Protocol::Number(33)];

/// The IP protocol number of a `-p`/`--ctproto` value (0 for `all`).
fn proto_number(p: &Protocol) -> u8 {
    match p {
        Protocol::All => 0,
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
        Protocol::Udplite => 136,
        Protocol::Sctp => 132,
        Protocol::Icmp => 1,
        Protocol::Number(n) => *n,
    }
}

/// What `-m conntrack` allows but nft cannot say exactly.
fn conntrack_misuse(items: &[Item<'_>], it: &Item<'_>) -> Option<Diagnostic> {
    match (it.opt, &it.val) {
        // xt_conntrack's `! --ctstate SNAT` also matches a packet without a connection (its
        // state bits are INVALID or UNTRACKED); nft's `ct status` never matches one.
        (Opt::CtState, Val::Num(_)) if it.neg.is_some() => Some(
            e008(
                "`! --ctstate SNAT|DNAT` cannot be translated: it also matches packets without \
                 a connection, which nft's `ct status` never matches"
                    .to_string(),
                it.span,
            )
            .with_help("match the other connections positively, e.g. `--ctstatus` bits"),
        ),
        (Opt::CtProto, Val::Proto(p)) if proto_number(&p.node) == 0 => Some(
            e008("`--ctproto` of protocol 0 matches no connection".to_string(), p.span)
                .with_help("name a protocol such as tcp or udp"),
        ),
        (Opt::CtOrigSrcPort | Opt::CtOrigDstPort | Opt::CtReplSrcPort | Opt::CtReplDstPort, _) => {
            // nft reads a conntrack port only with a known protocol (`ct original protocol`
            // before it); xt_conntrack compares the tuple's port whatever the protocol.
            let ok = items.iter().any(|i| match (&i.val, i.opt, i.neg) {
                (Val::Proto(p), Opt::CtProto, None) => {
                    matches!(proto_number(&p.node), 6 | 17 | 33 | 132 | 136)
                }
                _ => false,
            });
            (!ok).then(|| {
                e008(
                    format!(
                        "`{}` needs `--ctproto tcp` (or udp, udplite, sctp, dccp) in the same \
                         rule: nft reads a conntrack port only for a known protocol",
                        it.spelling
                    ),
                    it.name_span,
                )
                .with_help("add `--ctproto tcp` (a port of any protocol has no nft form)")
            })
        }
        _ => None,
    }
}

/// The header value an option compares, for the options that make a [`MatchKind::Header`].
fn header_key(o: Opt) -> Option<HeaderKey> {
    Some(match o {
        Opt::Length => HeaderKey::Length,
        Opt::TtlEq | Opt::TtlGt | Opt::TtlLt => HeaderKey::Ttl,
        Opt::PktType => HeaderKey::PktType,
        Opt::Fragment => HeaderKey::Fragment,
        Opt::Dscp | Opt::DscpClass => HeaderKey::Dscp,
        Opt::EcnIpEct => HeaderKey::EcnIp,
        Opt::EcnTcpCwr => HeaderKey::EcnTcpCwr,
        Opt::EcnTcpEce => HeaderKey::EcnTcpEce,
        Opt::AhSpi => HeaderKey::AhSpi,
        Opt::EspSpi => HeaderKey::EspSpi,
        Opt::MssMatch => HeaderKey::Mss,
        Opt::CtProto => HeaderKey::CtProto,
        Opt::CtDir => HeaderKey::CtDir,
        Opt::CtExpire => HeaderKey::CtExpire,
        Opt::CtOrigSrcPort => HeaderKey::CtPort { repl: false, dst: false },
        Opt::CtOrigDstPort => HeaderKey::CtPort { repl: false, dst: true },
        Opt::CtReplSrcPort => HeaderKey::CtPort { repl: true, dst: false },
        Opt::CtReplDstPort => HeaderKey::CtPort { repl: true, dst: true },
        _ => return None,
    })
}

/// The matches in written order, and the comment.
pub(super) fn matches(items: Vec<Item<'_>>) -> (Vec<Match>, Option<Spanned<String>>) {
    let mut out = Vec::with_capacity(items.len());
    let mut comment = None;
    let burst = items.iter().find_map(|i| match i.val {
        Val::Num(n) if i.opt == Opt::Burst => Some(n),
        _ => None,
    });
    let has_limit = items.iter().any(|i| i.opt == Opt::Limit);
    let ct_marks: Vec<bool> = items
        .iter()
        .filter(|i| i.opt == Opt::Mark)
        .map(|i| owning_module(&items, i) == Some("connmark"))
        .collect();
    let mut ct_marks = ct_marks.into_iter();
    let num = |o: Opt| {
        items.iter().find(|i| i.opt == o).and_then(|i| match i.val {
            Val::Num(n) => Some(n),
            _ => None,
        })
    };
    let (probability, every, packet) = (num(Opt::Probability), num(Opt::Every), num(Opt::Packet));
    let (cb_dir, cb_mode) = (num(Opt::ConnbytesDir), num(Opt::ConnbytesMode));
    let stat_items = [Opt::StatMode, Opt::Probability, Opt::Every, Opt::Packet];
    let stat_written: Vec<crate::diagnostic::Span> =
        items.iter().filter(|i| stat_items.contains(&i.opt)).map(|i| i.span).collect();
    let stat_neg =
        items.iter().any(|i| matches!(i.opt, Opt::Probability | Opt::Every) && i.neg.is_some());
    // `meter_spec` reads the options while `items` is consumed below (only a line with a
    // meter needs them: most lines have a `-p`).
    let metered = |i: &Item<'_>| HASHLIMIT_OPTS.contains(&i.opt) || CONNLIMIT_OPTS.contains(&i.opt);
    let meter_items: Vec<Item<'_>> = if items.iter().any(metered) {
        items.iter().filter(|i| metered(i) || i.opt == Opt::Proto).cloned().collect()
    } else {
        Vec::new()
    };
    let (mut hashlimit_done, mut connlimit_done) = (false, false);
    let policy_none = items.iter().any(|i| i.opt == Opt::PolicyPol && matches!(i.val, Val::Num(1)));
    let iface = if items.iter().any(|i| i.opt == Opt::LimitIfaceIn) {
        Some(false)
    } else if items.iter().any(|i| i.opt == Opt::LimitIfaceOut) {
        Some(true)
    } else {
        None
    };
    for it in items {
        let kind = match (it.opt, it.val) {
            (Opt::In, Val::Iface(v)) => MatchKind::InIface(v),
            (Opt::Out, Val::Iface(v)) => MatchKind::OutIface(v),
            (Opt::Src, Val::Addrs(v)) => MatchKind::Source(v),
            (Opt::Dst, Val::Addrs(v)) => MatchKind::Destination(v),
            (Opt::Proto, Val::Proto(p)) => MatchKind::Protocol(p),
            (Opt::Sport, Val::Port(p)) => MatchKind::SrcPort(p),
            (Opt::Dport, Val::Port(p)) => MatchKind::DstPort(p),
            (Opt::Sports, Val::Ports(p)) => MatchKind::MultiSrcPorts(p),
            (Opt::Dports, Val::Ports(p)) => MatchKind::MultiDstPorts(p),
            (Opt::Ports, Val::Ports(p)) => MatchKind::MultiPorts(p),
            (Opt::CtState | Opt::State | Opt::Ctrack, Val::States(s)) => MatchKind::CtState(s),
            (Opt::SrcRange, Val::Range(r)) => MatchKind::SrcRange(r),
            (Opt::DstRange, Val::Range(r)) => MatchKind::DstRange(r),
            (Opt::Limit, Val::Rate(rate, unit)) => MatchKind::Limit { rate, unit, burst },
            // A burst alone keeps iptables' default rate of 3/hour.
            (Opt::Burst, Val::Num(n)) if !has_limit => {
                MatchKind::Limit { rate: 3, unit: RateUnit::Hour, burst: Some(n) }
            }
            (Opt::Set, Val::Set(name, dir)) => MatchKind::Set { name, dir },
            (Opt::Icmp, Val::Icmp(t)) => MatchKind::IcmpType(t),
            (Opt::Syn, _) => MatchKind::Syn,
            (Opt::TcpFlags, Val::TcpFlags { mask, comp }) => MatchKind::TcpFlags { mask, comp },
            (o, val) if header_key(o).is_some() => {
                let Some(key) = header_key(o) else { continue };
                let cmp = match (o, val) {
                    (Opt::TtlGt, Val::Num(n)) => Cmp::Gt(n),
                    (Opt::TtlLt, Val::Num(n)) => Cmp::Lt(n),
                    (_, Val::Num(n)) => Cmp::Range(n, n),
                    (_, Val::NumRange(a, b)) => Cmp::Range(a, b),
                    (_, Val::Proto(p)) => {
                        let n = u32::from(proto_number(&p.node));
                        Cmp::Range(n, n)
                    }
                    _ => Cmp::Range(1, 1),
                };
                MatchKind::Header { key, cmp }
            }
            (Opt::MacSource, Val::Mac(m)) => MatchKind::Mac(m),
            (Opt::DccpTypes, Val::Num(mask)) => MatchKind::DccpTypes(mask as u16),
            (Opt::DateStart, Val::Num(n)) => MatchKind::Time(TimeOpt::DateStart(n)),
            (Opt::DateStop, Val::Num(n)) => MatchKind::Time(TimeOpt::DateStop(n)),
            (Opt::TimeStart, Val::Num(n)) => MatchKind::Time(TimeOpt::TimeStart(n)),
            (Opt::TimeStop, Val::Num(n)) => MatchKind::Time(TimeOpt::TimeStop(n)),
            (Opt::WeekDays, Val::Num(n)) => MatchKind::Time(TimeOpt::WeekDays(n as u8)),
            (Opt::KernelTz, _) => MatchKind::Time(TimeOpt::KernelTz),
            (Opt::Utc, _) => MatchKind::Time(TimeOpt::Utc),
            (Opt::Contiguous, _) => MatchKind::Time(TimeOpt::Contiguous),
            (Opt::CtState | Opt::CtStatus, Val::Num(bits)) => MatchKind::CtStatus(bits),
            (Opt::CtOrigSrc, Val::Net(net)) => MatchKind::CtAddr { repl: false, dst: false, net },
            (Opt::CtOrigDst, Val::Net(net)) => MatchKind::CtAddr { repl: false, dst: true, net },
            (Opt::CtReplSrc, Val::Net(net)) => MatchKind::CtAddr { repl: true, dst: false, net },
            (Opt::CtReplDst, Val::Net(net)) => MatchKind::CtAddr { repl: true, dst: true, net },
            // The match stands where its module's first option was written.
            (o, _) if HASHLIMIT_OPTS.contains(&o) || CONNLIMIT_OPTS.contains(&o) => {
                let hashlimit = HASHLIMIT_OPTS.contains(&o);
                let done = if hashlimit { &mut hashlimit_done } else { &mut connlimit_done };
                if std::mem::replace(done, true) {
                    continue;
                }
                let Some(spec) = meter_spec(&meter_items, hashlimit) else { continue };
                out.push(Match {
                    span: it.span,
                    negated: false,
                    kind: MatchKind::Meter(Box::new(spec)),
                });
                continue;
            }
            (Opt::PolicyDir, Val::Num(dir)) => {
                MatchKind::Policy { out: dir == 1, none: policy_none }
            }
            (Opt::StatMode, Val::Num(mode)) if mode != names::POLICY_MODE => {
                out.push(Match {
                    span: it.span,
                    negated: stat_neg,
                    kind: MatchKind::Statistic {
                        nth: mode == 1,
                        probability,
                        every,
                        packet,
                        written: stat_written.clone(),
                    },
                });
                continue;
            }
            (Opt::UidOwner | Opt::GidOwner, Val::NumRange(lo, hi)) => {
                MatchKind::Owner { gid: it.opt == Opt::GidOwner, lo, hi }
            }
            (Opt::SrcType | Opt::DstType, Val::Num(types)) => {
                MatchKind::AddrType { dst: it.opt == Opt::DstType, types, iface }
            }
            (
                Opt::SrcGroup | Opt::DstGroup | Opt::Realm | Opt::Cpu | Opt::Cgroup,
                Val::MarkMask(value, mask),
            ) => {
                let key = match it.opt {
                    Opt::SrcGroup => MetaKey::IifGroup,
                    Opt::DstGroup => MetaKey::OifGroup,
                    Opt::Realm => MetaKey::RtClassid,
                    Opt::Cpu => MetaKey::Cpu,
                    _ => MetaKey::Cgroup,
                };
                MatchKind::Meta { key, value, mask: mask.unwrap_or(u32::MAX) }
            }
            (Opt::Quota, Val::Count(n, _)) => MatchKind::Quota(n),
            (Opt::Helper, Val::Text(name)) => MatchKind::Helper(name),
            (Opt::Label, Val::Text(label)) => MatchKind::ConnLabel(label),
            (Opt::TcpOption, Val::Num(n)) => MatchKind::TcpOption(n as u8),
            (Opt::Connbytes, Val::Count(lo, hi)) => {
                // The line checks stop a rule without the direction and mode.
                let dir = match cb_dir {
                    Some(0) => CtDir::Original,
                    Some(1) => CtDir::Reply,
                    _ => CtDir::Both,
                };
                let mode = match cb_mode {
                    Some(0) => CtCount::Packets,
                    Some(1) => CtCount::Bytes,
                    _ => CtCount::AvgPkt,
                };
                MatchKind::Connbytes { dir, mode, lo, hi }
            }
            (Opt::Mark, Val::MarkMask(value, mask)) => MatchKind::Mark {
                ct: ct_marks.next().unwrap_or(false),
                value,
                mask: mask.unwrap_or(u32::MAX),
            },
            (Opt::Comment, Val::Text(t)) => {
                comment = Some(t);
                continue;
            }
            _ => continue,
        };
        out.push(Match { span: it.span, negated: it.neg.is_some(), kind });
    }
    (out, comment)
}
