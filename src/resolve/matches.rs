//! Match lowering: a line's options (`-s`, `-p`, `--dport`, `-m …`) → IR matches of concrete
//! values, in one canonical order; a `-s`/`-d` list mixing FWsets and networks becomes several
//! rules' match lists.

use crate::diagnostic::{Code, Diagnostic, Span, Spanned};
use crate::ir::{self, Match};
use crate::syntax::ast::{self, MatchKind, Protocol};

use super::Resolver;
use super::values::AddrPart;

/// The match lists of the nft rules one line becomes: nearly always one.
pub(super) enum Alts {
    One(Vec<Match>),
    /// A `-s`/`-d` list mixing FWsets and networks: a rule per combination.
    Many(Vec<Vec<Match>>),
}

impl Alts {
    pub(super) fn as_slice(&self) -> &[Vec<Match>] {
        match self {
            Alts::One(m) => std::slice::from_ref(m),
            Alts::Many(v) => v,
        }
    }
}

/// What one `-s`/`-d` option asks of a packet.
#[derive(Debug, PartialEq)]
pub(super) enum AddrAlts {
    /// Nothing (no option, or `0.0.0.0/0`).
    Any,
    /// One match.
    One(Match),
    /// Alternatives, each the matches of one rule.
    Many(Vec<Vec<Match>>),
}

impl AddrAlts {
    pub(super) fn from_alternatives(mut alts: Vec<Vec<Match>>) -> Self {
        match &mut alts[..] {
            [one] if one.is_empty() => AddrAlts::Any,
            [one] if one.len() == 1 => AddrAlts::One(one.pop().expect("one match")),
            _ => AddrAlts::Many(alts),
        }
    }

    pub(super) fn into_alternatives(self) -> Vec<Vec<Match>> {
        match self {
            AddrAlts::Any => vec![Vec::new()],
            AddrAlts::One(m) => vec![vec![m]],
            AddrAlts::Many(v) => v,
        }
    }
}

impl Resolver<'_> {
    /// Resolves the matches. Returns the alternatives: each is the match list of one nft rule
    /// (a `-s`/`-d` list mixing FWsets and networks expands to several rules, as iptables does).
    /// For a line with a syntax error: looks up the names its lowered options use (interfaces,
    /// variables, FWsets, plugins), so that one error does not hide another on the line. Only
    /// what holds whatever else the line says: the value of each option on its own.
    pub(super) fn names_only(&mut self, matches: &[ast::Match]) {
        for m in matches {
            match &m.kind {
                MatchKind::InIface(v) | MatchKind::OutIface(v) => {
                    self.v.iface(v);
                }
                MatchKind::Source(items) | MatchKind::Destination(items) => {
                    for item in items {
                        self.v.addr_item(item);
                    }
                }
                MatchKind::SrcPort(spec) | MatchKind::DstPort(spec) => {
                    self.v.ports(spec);
                }
                MatchKind::MultiSrcPorts(specs)
                | MatchKind::MultiDstPorts(specs)
                | MatchKind::MultiPorts(specs) => {
                    for spec in specs {
                        self.v.ports(spec);
                    }
                }
                _ => {}
            }
        }
    }

    pub(super) fn matches(
        &mut self,
        rule: &ast::Rule,
        proto: Option<(bool, &Protocol, Span)>,
    ) -> Option<Alts> {
        let mut ok = true;
        let (mut iface, mut ext) = std::mem::take(&mut self.scratch);
        iface.clear();
        ext.clear();
        let (mut src, mut dst) = (AddrAlts::Any, AddrAlts::Any);
        let l4 = proto.and_then(|(neg, p, _)| if neg { None } else { l4_of(p) });
        let mut implied = false;
        let mut seen_once: Vec<ast::HeaderKey> = Vec::new();
        let mut time: Vec<(ast::TimeOpt, bool, Span)> = Vec::new();
        for m in &rule.matches {
            let neg = m.negated;
            match &m.kind {
                // iptables' `+` alone matches every interface: no match at all.
                MatchKind::InIface(v) | MatchKind::OutIface(v) if every_iface(v) => {
                    if neg {
                        let opt = if matches!(m.kind, MatchKind::InIface(_)) { "-i" } else { "-o" };
                        self.error(
                            Diagnostic::error(
                                Code::E008,
                                format!("`! {opt} +` matches no packet"),
                                m.span,
                            )
                            .with_help(
                                "`+` is every interface: remove the rule, or name interfaces",
                            ),
                        );
                        ok = false;
                    }
                }
                MatchKind::InIface(v) => match self.v.iface(v) {
                    Some(name) => iface.push(Match::IifName { neg, name }),
                    None => ok = false,
                },
                MatchKind::OutIface(v) => match self.v.iface(v) {
                    Some(name) => iface.push(Match::OifName { neg, name }),
                    None => ok = false,
                },
                MatchKind::Source(items) | MatchKind::Destination(items) => {
                    let is_src = matches!(m.kind, MatchKind::Source(_));
                    let alts = if let [Spanned { node: ast::AddrItem::Net(n), span }] = &items[..] {
                        one_net(self.v.net(*n, *span), neg, is_src)
                    } else if let [Spanned { node: ast::AddrItem::Masked { addr, mask }, span }] =
                        &items[..]
                    {
                        self.v.masked(*addr, *mask, *span);
                        let bits = u32::from(*addr) & u32::from(*mask);
                        let addrs = ir::AddrMatch::Masked { addr: bits.into(), mask: *mask };
                        AddrAlts::One(if is_src {
                            Match::Saddr { neg, addrs }
                        } else {
                            Match::Daddr { neg, addrs }
                        })
                    } else {
                        let mut parts = Vec::new();
                        for item in items {
                            match self.v.addr_item(item) {
                                Some(p) => parts.push(p),
                                None => ok = false,
                            }
                        }
                        AddrAlts::from_alternatives(addr_alternatives(parts, neg, is_src))
                    };
                    if is_src { src = alts } else { dst = alts }
                }
                MatchKind::Protocol(_) => {}
                MatchKind::SrcPort(spec) | MatchKind::DstPort(spec) => {
                    let dir = if matches!(m.kind, MatchKind::SrcPort(_)) {
                        ir::Dir::Src
                    } else {
                        ir::Dir::Dst
                    };
                    match (self.needs_l4(l4, m.span), self.v.ports(spec)) {
                        (Some(proto), Some(ports)) => {
                            implied = true;
                            ext.push(Match::Port { proto, dir, neg, ports })
                        }
                        _ => ok = false,
                    }
                }
                MatchKind::MultiSrcPorts(specs)
                | MatchKind::MultiDstPorts(specs)
                | MatchKind::MultiPorts(specs) => {
                    let dir = match m.kind {
                        MatchKind::MultiSrcPorts(_) => Some(ir::Dir::Src),
                        MatchKind::MultiDstPorts(_) => Some(ir::Dir::Dst),
                        _ => None,
                    };
                    let Some(proto) = self.needs_l4(l4, m.span) else {
                        ok = false;
                        continue;
                    };
                    let mut ranges = Vec::new();
                    for spec in specs {
                        match self.v.ports(spec) {
                            Some(ir::PortMatch::Ports(p)) => ranges.extend_from_slice(&p),
                            Some(ir::PortMatch::Set(s)) => {
                                self.error(
                                    Diagnostic::error(
                                        Code::E018,
                                        format!(
                                            "FWset `{}` cannot be mixed into a multiport list",
                                            self.v.inv.fwset_name(s)
                                        ),
                                        spec.span,
                                    )
                                    .with_help("use `--dport ${fwset_NAME}` on its own"),
                                );
                                ok = false;
                            }
                            None => ok = false,
                        }
                    }
                    ranges.sort_unstable();
                    ranges.dedup();
                    implied = true;
                    let ports = || ir::PortMatch::Ports(ranges.clone().into());
                    match dir {
                        Some(dir) => ext.push(Match::Port { proto, dir, neg, ports: ports() }),
                        // `! --ports`: neither port is listed (xt_multiport inverts the "either").
                        None if neg => {
                            for dir in [ir::Dir::Src, ir::Dir::Dst] {
                                ext.push(Match::Port { proto, dir, neg, ports: ports() });
                            }
                        }
                        None => ext.push(either_port(proto, &ranges)),
                    }
                }
                MatchKind::CtState(states) => {
                    let mut s: Vec<ir::CtState> = states.iter().map(|s| s.node).collect();
                    s.sort_unstable();
                    s.dedup();
                    ext.push(Match::CtState { neg, states: s.into() });
                }
                MatchKind::SrcRange(r) | MatchKind::DstRange(r) => {
                    let (a, b) = r.node;
                    if a > b {
                        self.error(Diagnostic::error(
                            Code::E008,
                            format!("address range {a}-{b} is empty: the first address is larger"),
                            r.span,
                        ));
                        ok = false;
                        continue;
                    }
                    let addrs = ir::AddrMatch::Range(a, b);
                    ext.push(if matches!(m.kind, MatchKind::SrcRange(_)) {
                        Match::Saddr { neg, addrs }
                    } else {
                        Match::Daddr { neg, addrs }
                    });
                }
                MatchKind::Limit { rate, unit, burst } => {
                    if *rate == 0 {
                        self.error(Diagnostic::error(
                            Code::E008,
                            "a limit rate must be at least 1",
                            m.span,
                        ));
                        ok = false;
                        continue;
                    }
                    // iptables' default burst is 5; iptables-nft loads `--limit-burst 0` as
                    // the kernel's default burst, also 5 (iptables-legacy refuses it).
                    let burst = burst.filter(|b| *b != 0).unwrap_or(5);
                    ext.push(Match::Limit { rate: *rate, unit: *unit, burst });
                }
                MatchKind::Set { name, dir } => match self.v.addr_set(&name.node, name.span) {
                    Some(AddrPart::Set(s)) => {
                        let addrs = ir::AddrMatch::Set(s);
                        ext.push(match dir {
                            ast::SetDir::Src => Match::Saddr { neg, addrs },
                            ast::SetDir::Dst => Match::Daddr { neg, addrs },
                        });
                    }
                    _ => ok = false,
                },
                MatchKind::IcmpType(t) => match t.node {
                    ast::IcmpType::Type { kind, code } => {
                        implied = true;
                        ext.push(Match::IcmpType { neg, kind, code });
                    }
                    ast::IcmpType::Any => {}
                },
                MatchKind::Syn => {
                    implied = true;
                    ext.push(Match::TcpSyn { neg });
                }
                // `--syn` is `--tcp-flags FIN,SYN,RST,ACK SYN`: one match for both spellings.
                MatchKind::TcpFlags { mask: 0x17, comp: 0x02 } => {
                    implied = true;
                    ext.push(Match::TcpSyn { neg });
                }
                &MatchKind::Header { key, cmp } => {
                    use ast::HeaderKey as H;
                    let once = matches!(key, H::Ttl | H::Dscp);
                    if once && !seen_once.contains(&key) {
                        seen_once.push(key);
                    } else if once {
                        let module = if key == H::Ttl { "ttl" } else { "dscp" };
                        self.error(
                            Diagnostic::error(
                                Code::E006,
                                format!("`-m {module}` takes one condition per rule"),
                                m.span,
                            )
                            .with_help("keep one of them, or write two rules"),
                        );
                        ok = false;
                        continue;
                    }
                    let ir_key = match key {
                        // The flag bits of the TCP header: set (`& bit != 0`) or not.
                        H::EcnTcpCwr | H::EcnTcpEce => {
                            let bit = if key == H::EcnTcpCwr { 0x80 } else { 0x40 };
                            implied = true;
                            ext.push(Match::TcpFlags { neg: !neg, mask: bit, comp: 0 });
                            continue;
                        }
                        // `-f`: the fragment offset is not 0.
                        H::Fragment => {
                            ext.push(Match::Value {
                                key: ir::Key::FragOffset,
                                neg: !neg,
                                cmp: ir::Cmp::Range(0, 0),
                            });
                            continue;
                        }
                        H::Length => ir::Key::IpLength,
                        H::Ttl => ir::Key::Ttl,
                        H::PktType => ir::Key::PktType,
                        H::Dscp => ir::Key::Dscp,
                        H::EcnIp => ir::Key::Ecn,
                        H::AhSpi => ir::Key::AhSpi,
                        H::EspSpi => ir::Key::EspSpi,
                        H::Mss => ir::Key::TcpMss,
                        H::CtProto => ir::Key::CtProto,
                        H::CtDir => ir::Key::CtDir,
                        H::CtPort { repl, dst } => ir::Key::CtPort { repl, dst },
                        // xt_conntrack compares whole seconds left; nft reads milliseconds.
                        H::CtExpire => {
                            let ir::Cmp::Range(a, b) = cmp else { continue };
                            ext.push(Match::Value {
                                key: ir::Key::CtExpire,
                                neg,
                                cmp: ir::Cmp::Range(a * 1000, b * 1000 + 999),
                            });
                            continue;
                        }
                    };
                    if key == H::Mss && neg {
                        // xt_tcpmss matches `! --mss` on a packet without the option; nft's
                        // option load ends the rule there, negated or not.
                        self.error(
                            Diagnostic::error(
                                Code::E008,
                                "`! --mss` cannot be translated: nftables never matches a \
                                 packet without an MSS option, iptables' negation does",
                                m.span,
                            )
                            .with_help(
                                "match the MSS range you want positively, e.g. `--mss 0:1399` \
                                 for `! --mss 1400:65535` (packets without the option differ)",
                            ),
                        );
                        ok = false;
                        continue;
                    }
                    // An SPI is read from the protocol's own header: nft infers the protocol.
                    implied |= matches!(key, H::AhSpi | H::EspSpi);
                    ext.push(Match::Value { key: ir_key, neg, cmp });
                }
                MatchKind::Mac(addr) => ext.push(Match::EtherSaddr { neg, addr: *addr }),
                &MatchKind::Time(t) => time.push((t, neg, m.span)),
                &MatchKind::DccpTypes(types) => {
                    // nft reads the type from the DCCP header: it infers the protocol.
                    implied = true;
                    ext.push(Match::DccpType { neg, types });
                }
                &MatchKind::CtStatus(bits) => ext.push(Match::CtStatus { neg, bits }),
                &MatchKind::CtAddr { repl, dst, net } => {
                    ext.push(Match::CtAddr { neg, repl, dst, net })
                }
                &MatchKind::Statistic { nth, probability, every, packet, .. } => {
                    let bad = |me: &mut Self, msg: &str, help: &str| {
                        me.error(
                            Diagnostic::error(Code::E008, msg.to_string(), m.span)
                                .with_help(help.to_string()),
                        );
                    };
                    match (nth, probability, every) {
                        (false, Some(below), None) if packet.is_none() => {
                            ext.push(Match::Random { neg, below })
                        }
                        (true, None, Some(every)) if packet.is_some_and(|p| p < every) => {
                            // xt_statistic starts its counter so that the packet numbered
                            // `--packet` (from 0) of every `--every` matches: numgen's value
                            // (tests/it/marks.rs checks it against iptables-nft).
                            let value = packet.unwrap_or(0);
                            ext.push(Match::Nth { neg, every, value })
                        }
                        (false, None, _) => {
                            bad(
                                self,
                                "`--mode random` needs `--probability`",
                                "add `--probability 0.5`",
                            );
                            ok = false;
                        }
                        (false, _, _) => {
                            bad(
                                self,
                                "`--mode random` takes `--probability` alone",
                                "remove `--every` and `--packet`, which belong to `--mode nth`",
                            );
                            ok = false;
                        }
                        (true, _, None) => {
                            bad(self, "`--mode nth` needs `--every`", "add `--every 2`");
                            ok = false;
                        }
                        (true, Some(_), _) => {
                            bad(
                                self,
                                "`--mode nth` takes no `--probability`",
                                "remove it, or use `--mode random`",
                            );
                            ok = false;
                        }
                        (true, None, Some(_)) if packet.is_none() => {
                            bad(
                                self,
                                "`--every` needs `--packet`, as iptables requires",
                                "add `--packet 0` for the first of every `--every` packets",
                            );
                            ok = false;
                        }
                        (true, None, Some(_)) => {
                            bad(
                                self,
                                "`--packet` must be less than `--every`",
                                "count packets from 0: `--every 3 --packet 2` is the third of every three",
                            );
                            ok = false;
                        }
                    }
                }
                &MatchKind::Owner { gid, lo, hi } => {
                    if neg {
                        // xt_owner's negation matches a packet without a local socket (a
                        // forwarded or kernel-made one); `meta skuid` never matches one.
                        self.error(
                            Diagnostic::error(Code::E008,
                                "a negated owner match cannot be translated: iptables' matches \
                                 packets without a socket, nftables' never does",
                                m.span,
                            )
                            .with_help("match the ids you want positively, e.g. `--uid-owner 1000-4294967294` for `! --uid-owner 0-999`"),
                        );
                        ok = false;
                        continue;
                    }
                    let key = if gid { ir::Key::SkGid } else { ir::Key::SkUid };
                    ext.push(Match::Value { key, neg: false, cmp: ir::Cmp::Range(lo, hi) });
                }
                MatchKind::Meter(spec) => {
                    let mut keys = Vec::new();
                    keys.extend(spec.src.map(ir::MeterKey::Saddr));
                    keys.extend(spec.dst.map(ir::MeterKey::Daddr));
                    // The line checks made sure of a positive `-p` with ports.
                    for (on, dir) in [(spec.sport, ir::Dir::Src), (spec.dport, ir::Dir::Dst)] {
                        if !on {
                            continue;
                        }
                        match self.needs_l4(l4, m.span) {
                            Some(proto) => {
                                implied = true;
                                keys.push(ir::MeterKey::Port(proto, dir));
                            }
                            None => ok = false,
                        }
                    }
                    let (name, stmt) = match &spec.limit {
                        Some(l) => (
                            format!("hashlimit-{}", l.name.node),
                            ir::MeterStmt::Limit {
                                rate: l.rate,
                                unit: l.unit,
                                burst: l.burst,
                                over: spec.over,
                                timeout_s: l.expire_s,
                            },
                        ),
                        // Named once the rule's other matches are known (`name_meters`).
                        None => (
                            CONNLIMIT_PREFIX.to_string(),
                            ir::MeterStmt::CtCount { count: spec.count, over: spec.over },
                        ),
                    };
                    ext.push(Match::Meter(Box::new(ir::Meter { name: name.into(), keys, stmt })));
                }
                &MatchKind::Policy { out, none } => ext.push(Match::Ipsec { out, exists: !none }),
                &MatchKind::AddrType { dst, types, iface } => {
                    let iface = iface.map(|out| if out { ir::Dir::Dst } else { ir::Dir::Src });
                    ext.push(Match::AddrType { neg, dst, iface, types: types as u16 });
                }
                // xt_devgroup compares `(group ^ value) & mask == 0`: the value's bits outside
                // the mask do not count.
                &MatchKind::Meta {
                    key: key @ (ir::MetaKey::IifGroup | ir::MetaKey::OifGroup),
                    value,
                    mask,
                } => {
                    ext.push(Match::Meta { key, neg, value: value & mask, mask });
                }
                // xt_realm compares `value == realm & mask`.
                &MatchKind::Meta { key, value, mask } => {
                    if value & !mask != 0 {
                        self.error(
                            Diagnostic::error(
                                Code::E008,
                                format!(
                                    "`--realm {value:#x}/{mask:#x}` sets bits outside its mask: \
                                     the masked realm never equals it"
                                ),
                                m.span,
                            )
                            .with_help("clear the value's bits that the mask does not keep"),
                        );
                        ok = false;
                    } else {
                        ext.push(Match::Meta { key, neg, value, mask });
                    }
                }
                &MatchKind::Quota(bytes) => ext.push(Match::Quota { neg, bytes }),
                &MatchKind::TcpOption(kind) if kind < 2 => {
                    self.error(
                        Diagnostic::error(
                            Code::E008,
                            format!(
                                "`--tcp-option {kind}` cannot be translated: xt_tcpudp also finds \
                                 an end-of-list or no-op option in the last byte of the options, \
                                 nft's `tcp option` never looks there"
                            ),
                            m.span,
                        )
                        .with_help("match an option of kind 2 or more, such as 8 (timestamps)"),
                    );
                    ok = false;
                }
                &MatchKind::TcpOption(kind) => {
                    if neg {
                        let cmp = ir::Cmp::Range(0, 0);
                        ext.push(Match::Value { key: ir::Key::FragOffset, neg: false, cmp });
                    }
                    ext.push(Match::TcpOption { neg, kind });
                }
                MatchKind::ConnLabel(label) => match conn_label(neg, &label.node) {
                    Ok(bit) => ext.push(Match::CtLabel { bit }),
                    Err((why, help)) => {
                        self.error(Diagnostic::error(Code::E008, why, m.span).with_help(help));
                        ok = false;
                    }
                },
                MatchKind::Helper(name) => match helper_refusal(neg, &name.node) {
                    Some((why, help)) => {
                        self.error(Diagnostic::error(Code::E008, why, m.span).with_help(help));
                        ok = false;
                    }
                    None => ext.push(Match::CtHelper { name: name.node.as_str().into() }),
                },
                &MatchKind::Connbytes { dir, mode, lo, hi } => {
                    // libxt_connbytes negates by swapping the bounds, and xt_connbytes reads
                    // equal bounds as the range they make: `! --connbytes 200:200` is 200.
                    let neg = neg && lo != hi;
                    ext.push(Match::Connbytes { dir, mode, neg, lo, hi });
                }
                &MatchKind::Mark { ct, value, mask } => {
                    if value & !mask != 0 {
                        self.error(
                            Diagnostic::error(
                                Code::E008,
                                format!(
                                    "`--mark {value:#x}/{mask:#x}` sets bits outside its mask: \
                                     the masked mark never equals it"
                                ),
                                m.span,
                            )
                            .with_help("clear the value's bits that the mask does not keep"),
                        );
                        ok = false;
                    } else {
                        ext.push(Match::Mark { ct, neg, value, mask });
                    }
                }
                &MatchKind::TcpFlags { mask, comp } => {
                    if mask == 0 || comp & !mask != 0 {
                        let why = if mask == 0 {
                            "an empty mask (NONE) tests no flag"
                        } else {
                            "it names flags outside the mask, which can never be set in it"
                        };
                        self.error(
                            Diagnostic::error(
                                Code::E008,
                                format!("this `--tcp-flags` cannot be translated: {why}"),
                                m.span,
                            )
                            .with_help(
                                "list in the second word only flags of the first, e.g. \
                                 `--tcp-flags SYN,RST SYN`",
                            ),
                        );
                        ok = false;
                    } else {
                        implied = true;
                        ext.push(Match::TcpFlags { neg, mask, comp });
                    }
                }
            }
        }
        if !time.is_empty() && !self.time_matches(&time, &mut ext) {
            ok = false;
        }
        if !ok {
            self.scratch = (iface, ext);
            return None;
        }
        // The protocol match: nft infers it from a port, ICMP or TCP-flag match.
        let mut proto_match = None;
        if let Some((neg, p, _)) = proto
            && let Some(n) = proto_number(p)
            && (!implied || neg)
        {
            proto_match = Some(Match::Protocol { neg, proto: n });
        }
        canonical_order(&mut ext);
        let one = |a: &AddrAlts| match a {
            AddrAlts::Any => Some(0),
            AddrAlts::One(_) => Some(1),
            AddrAlts::Many(_) => None,
        };
        if let (Some(s), Some(d)) = (one(&src), one(&dst)) {
            // One rule (the common case): the matches move into it, a vector of exactly their
            // number (a 100,000-rule policy holds these until it is laid out).
            let p = usize::from(proto_match.is_some());
            let mut m = Vec::with_capacity(iface.len() + s + d + p + ext.len());
            m.append(&mut iface);
            for a in [src, dst] {
                if let AddrAlts::One(x) = a {
                    m.push(x);
                }
            }
            m.extend(proto_match);
            m.append(&mut ext);
            self.scratch = (iface, ext);
            name_meters(&mut m, rule);
            return Some(Alts::One(m));
        }
        let (src, dst) = (src.into_alternatives(), dst.into_alternatives());
        let mut out = Vec::with_capacity(src.len() * dst.len());
        for s in &src {
            for d in &dst {
                let mut m = Vec::with_capacity(iface.len() + s.len() + d.len() + 1 + ext.len());
                m.extend(iface.iter().cloned());
                m.extend(s.iter().cloned());
                m.extend(d.iter().cloned());
                m.extend(proto_match.iter().cloned());
                m.extend(ext.iter().cloned());
                name_meters(&mut m, rule);
                out.push(m);
            }
        }
        self.scratch = (iface, ext);
        Some(Alts::Many(out))
    }

    fn needs_l4(&mut self, l4: Option<ir::L4>, span: Span) -> Option<ir::L4> {
        if l4.is_none() {
            self.error(
                Diagnostic::error(
                    Code::E007,
                    "a port match needs `-p tcp`, `-p udp`, `-p udplite` or `-p sctp`",
                    span,
                )
                .with_help(
                    "add `-p tcp` (or udp/sctp) before it; a negated protocol cannot carry ports",
                ),
            );
        }
        l4
    }
}

impl Resolver<'_> {
    /// A rule's `-m time` options as nft's time matches, exactly as xt_time decides, or an
    /// E008 (false) for the forms nft cannot say exactly:
    /// - xt_time compares in UTC unless `--kerneltz`. nft's `meta time` and `meta hour` are
    ///   UTC in the kernel (nft converts a written time of day with the timezone of the nft
    ///   process, once, at load: overlayfw writes numbers, which nft takes as UTC), and
    ///   `meta day` is computed in the kernel's timezone. So dates and times of day need UTC.
    ///   Weekdays are exact with `--kerneltz`; without it they mean UTC weekdays, the same
    ///   only where the kernel's timezone is UTC: a warning (W005), and `apply` checks the
    ///   kernel's timezone first (`Match::MetaDay`'s `utc`).
    /// - `--datestop D` matches through the last second of D (xt_time compares whole seconds;
    ///   `meta time` nanoseconds): `meta time < D+1`. Without one, libxt_time's default
    ///   (2038-01-19 03:14:07 UTC, INT_MAX) still holds in xt_time: `meta time < 2147483648`.
    /// - A time range that wraps past midnight (`22:00` to `06:00`) is `meta hour !=
    ///   06:00:01-21:59:59`; equal start and stop match all day, as in xt_time.
    /// - `--contiguous` changes only which day a wrapped range's morning counts for (the day
    ///   before); iptables takes it only with a range that wraps (start at or after stop). With
    ///   weekdays it is refused (one rule cannot ask two days); without, it is a no-op.
    fn time_matches(&mut self, opts: &[(ast::TimeOpt, bool, Span)], ext: &mut Vec<Match>) -> bool {
        use ast::TimeOpt as T;
        let span = opts[0].2;
        let (mut kerneltz, mut utc, mut days_span, mut contiguous) = (None, None, None, None);
        let (mut dstart, mut dstop, mut tstart, mut tstop, mut days) =
            (None, None, None, None, None);
        for &(t, neg, s) in opts {
            match t {
                T::DateStart(n) => dstart = Some(n),
                T::DateStop(n) => dstop = Some(n),
                T::TimeStart(n) => tstart = Some(n),
                T::TimeStop(n) => tstop = Some(n),
                // libxt_time: `!` inverts the list.
                T::WeekDays(mask) => {
                    days = Some(if neg { !mask & 0xfe } else { mask });
                    days_span = Some(s);
                }
                T::KernelTz => kerneltz = Some(s),
                T::Utc => utc = Some(s),
                T::Contiguous => contiguous = Some(s),
            }
        }
        let bad = |me: &mut Self, msg: &str, at: Span, help: &str| {
            me.error(
                Diagnostic::error(Code::E008, msg.to_string(), at).with_help(help.to_string()),
            );
            false
        };
        if let (Some(_), Some(u)) = (kerneltz, utc) {
            return bad(self, "`--utc` and `--kerneltz` contradict each other", u, "keep one");
        }
        if let Some(k) = kerneltz
            && (dstart.is_some() || dstop.is_some() || tstart.is_some() || tstop.is_some())
        {
            return bad(
                self,
                "`--kerneltz` dates and times of day cannot be translated exactly: nft's \
                 `meta time` and `meta hour` are UTC in the kernel (nft converts a written time \
                 with its own process's timezone, once, at load, and never at a DST change)",
                k,
                "write the dates and times in UTC and drop `--kerneltz`",
            );
        }
        // libxt_time refuses `--contiguous` unless the range wraps (its default is all day).
        if let Some(c) = contiguous
            && tstart.unwrap_or(0) < tstop.unwrap_or(86_399)
        {
            return bad(
                self,
                "`--contiguous` needs a range that wraps past midnight (`--timestop` before \
                 `--timestart`), as iptables says",
                c,
                "remove `--contiguous`",
            );
        }
        if let (Some(c), Some(_)) = (contiguous, days) {
            return bad(
                self,
                "`--contiguous` with `--weekdays` and a range that wraps past midnight asks the \
                 day before for the morning's packets and the day itself for the evening's: one \
                 nft rule cannot ask both",
                c,
                "write two lines: the evening (`--timestart START --timestop 23:59:59 \
                 --weekdays DAYS`) and the morning (`--timestart 00:00 --timestop STOP \
                 --weekdays` each of DAYS' next days)",
            );
        }
        if let (Some(_), None) = (days, kerneltz) {
            self.error(
                Diagnostic::warning(
                    Code::W005,
                    "`--weekdays` without `--kerneltz` means UTC weekdays; nft's `meta day` \
                     counts in the kernel's timezone"
                        .to_string(),
                    days_span.unwrap_or(span),
                )
                .with_help(
                    "the same where the kernel's timezone is UTC, as it is unless the hardware \
                     clock keeps local time; `apply` checks it and changes nothing elsewhere. \
                     `--kerneltz` means the kernel's timezone",
                ),
            );
        }
        if let Some(s) = dstart {
            ext.push(Match::MetaTime { ge: true, secs: u64::from(s) });
        }
        // libxt_time's default `--datestop` is INT_MAX (2038-01-19 03:14:07 UTC), and xt_time
        // always compares it: without one, the rule stops matching then, and so does ours.
        let stop = dstop.unwrap_or(i32::MAX as u32);
        ext.push(Match::MetaTime { ge: false, secs: u64::from(stop) + 1 });
        let (lo, hi) = (tstart.unwrap_or(0), tstop.unwrap_or(86_399));
        if tstart.is_some() || tstop.is_some() {
            if lo < hi {
                if (lo, hi) != (0, 86_399) {
                    ext.push(Match::MetaHour { neg: false, lo, hi });
                }
            } else if lo > hi + 1 {
                // Wraps past midnight: every second but those strictly between stop and start.
                ext.push(Match::MetaHour { neg: true, lo: hi + 1, hi: lo - 1 });
            }
            // lo == hi (all day in xt_time) and lo == hi + 1 (every second): no match.
        }
        if let Some(d) = days {
            // xt_time: Monday 1 … Sunday 7; nft: Sunday 0 … Saturday 6.
            let nft: u8 =
                (1..=7u8).filter(|i| d & (1 << i) != 0).fold(0, |acc, i| acc | (1 << (i % 7)));
            if nft == 0 {
                return bad(
                    self,
                    "these weekdays leave no day: the rule never matches",
                    days_span.unwrap_or(span),
                    "remove the rule, or list the days it should match",
                );
            }
            if nft != 0x7f {
                ext.push(Match::MetaDay { days: nft, utc: kerneltz.is_none() });
            }
        }
        true
    }
}

/// The name a connlimit meter's set has until [`name_meters`] gives it its own.
const CONNLIMIT_PREFIX: &str = "connlimit-";

/// Names each connlimit meter's set after a hash of its rule's chain word and matches (the
/// meter's key and count among them), not of its line: a line that moves keeps its set and
/// the connections counted in it; a changed rule gets a new set. (iptables keeps a table per
/// rule; identical rules of one chain share one set here.)
fn name_meters(matches: &mut [Match], rule: &ast::Rule) {
    if !matches.iter().any(|m| matches!(m, Match::Meter(x) if &*x.name == CONNLIMIT_PREFIX)) {
        return;
    }
    use std::hash::Hasher as _;
    let mut h = siphasher::sip::SipHasher13::new();
    h.write(format!("{:?}", rule.chain.as_ref().map(|c| &c.node)).as_bytes());
    h.write(format!("{matches:?}").as_bytes());
    let name: Box<str> = format!("{CONNLIMIT_PREFIX}{:012x}", h.finish() >> 16).into();
    for m in matches {
        if let Match::Meter(x) = m
            && &*x.name == CONNLIMIT_PREFIX
        {
            x.name = name.clone();
        }
    }
}

/// `-p` of a rule: (negated, protocol, span).
pub(super) fn protocol(rule: &ast::Rule) -> Option<(bool, &Protocol, Span)> {
    rule.matches.iter().find_map(|m| match &m.kind {
        MatchKind::Protocol(p) => Some((m.negated, &p.node, m.span)),
        _ => None,
    })
}

pub(super) fn l4_of(p: &Protocol) -> Option<ir::L4> {
    match p {
        Protocol::Tcp => Some(ir::L4::Tcp),
        Protocol::Udp => Some(ir::L4::Udp),
        Protocol::Udplite => Some(ir::L4::Udplite),
        Protocol::Sctp => Some(ir::L4::Sctp),
        Protocol::Number(33) => Some(ir::L4::Dccp),
        _ => None,
    }
}

/// IP protocol number; `None` for `all`.
fn proto_number(p: &Protocol) -> Option<u8> {
    match p {
        Protocol::All | Protocol::Number(0) => None,
        Protocol::Tcp => Some(6),
        Protocol::Udp => Some(17),
        Protocol::Udplite => Some(136),
        Protocol::Sctp => Some(132),
        Protocol::Icmp => Some(1),
        Protocol::Number(n) => Some(*n),
    }
}

/// Turns the resolved items of one `-s`/`-d` into alternatives (each the matches of one rule).
/// Positive: networks together in one match, each FWset its own rule (an nft anonymous set
/// cannot hold a named set). Negated: one rule that excludes all of them. `0.0.0.0/0` alone is
/// no constraint, as in iptables.
pub(super) fn addr_alternatives(parts: Vec<AddrPart>, neg: bool, is_src: bool) -> Vec<Vec<Match>> {
    let mk = |addrs: ir::AddrMatch| {
        if is_src { Match::Saddr { neg, addrs } } else { Match::Daddr { neg, addrs } }
    };
    let mut nets = Vec::new();
    let mut sets = Vec::new();
    for p in parts {
        match p {
            AddrPart::Nets(n) => nets.extend(n),
            AddrPart::Set(s) => sets.push(s),
        }
    }
    nets.sort_unstable();
    nets.dedup();
    let everything = nets.iter().any(|n| n.prefix() == 0);
    if neg {
        let mut one = Vec::new();
        if !nets.is_empty() {
            one.push(mk(ir::AddrMatch::Nets(nets.into())));
        }
        one.extend(sets.into_iter().map(|s| mk(ir::AddrMatch::Set(s))));
        return vec![one];
    }
    if everything {
        return vec![Vec::new()];
    }
    let mut alts = Vec::new();
    if !nets.is_empty() {
        alts.push(vec![mk(ir::AddrMatch::Nets(nets.into()))]);
    }
    alts.extend(sets.into_iter().map(|s| vec![mk(ir::AddrMatch::Set(s))]));
    if alts.is_empty() {
        alts.push(Vec::new());
    }
    alts
}

/// [`addr_alternatives`] of one network (the common case), without its vectors.
pub(super) fn one_net(net: ipnetwork::Ipv4Network, neg: bool, is_src: bool) -> AddrAlts {
    if net.prefix() == 0 && !neg {
        return AddrAlts::Any;
    }
    let addrs = ir::AddrMatch::Nets(ir::SmallList::One(net));
    AddrAlts::One(if is_src { Match::Saddr { neg, addrs } } else { Match::Daddr { neg, addrs } })
}

/// The same match for the reply direction of a flow: source and destination swapped.
pub(super) fn reverse(m: &Match) -> Match {
    match m.clone() {
        Match::Saddr { neg, addrs } => Match::Daddr { neg, addrs },
        Match::Daddr { neg, addrs } => Match::Saddr { neg, addrs },
        Match::Port { proto, dir, neg, ports } => {
            let dir = match dir {
                ir::Dir::Src => ir::Dir::Dst,
                ir::Dir::Dst => ir::Dir::Src,
            };
            Match::Port { proto, dir, neg, ports }
        }
        other => other,
    }
}

/// Puts the extension matches in one canonical order, so that lines differing only in how
/// their options are ordered compile to the same rule (and `fmt` cannot change the result).
/// A `limit` spends a token on every packet that reaches it, and an nth statistic counts it, so
/// matches never cross them: each stretch between them is sorted on its own.
fn canonical_order(ext: &mut [Match]) {
    fn rank(m: &Match) -> u8 {
        match m {
            Match::Port { dir: ir::Dir::Src, .. } => 0,
            Match::Port { dir: ir::Dir::Dst, .. } => 1,
            Match::TcpSyn { .. } | Match::TcpFlags { .. } => 2,
            Match::IcmpType { .. } => 3,
            Match::Saddr { .. } => 4,
            Match::Daddr { .. } => 5,
            Match::CtState { .. } => 6,
            _ => 7,
        }
    }
    // Stateful matches keep their place: what comes before them decides which packets reach
    // them.
    let stateful = |m: &Match| {
        matches!(m, Match::Limit { .. } | Match::Nth { .. } | Match::Meter(_) | Match::Quota { .. })
    };
    for stretch in ext.split_mut(stateful) {
        stretch.sort_by(|a, b| (rank(a), a).cmp(&(rank(b), b)));
    }
}

/// `-i +` / `-o +`: iptables' wildcard with an empty prefix, every interface.
fn every_iface(v: &Spanned<ast::Value<String>>) -> bool {
    matches!(&v.node, ast::Value::Lit(s) if s == "+")
}

/// `--ports`: the source or the destination port in `ranges`, as one lookup of both ports in a
/// concatenated interval set (what iptables-nft loads): `tcp sport . tcp dport { 0-65535 . P,
/// P . 0-65535, … }`. Two rules would not do: a non-terminal action (a LOG, a
/// mark, no target) would run twice for a packet with both ports listed.
fn either_port(proto: ir::L4, ranges: &[(u16, u16)]) -> Match {
    let any = ir::Elem::Ports(0, u16::MAX);
    let mut elements = Vec::with_capacity(2 * ranges.len());
    for &(a, b) in ranges {
        elements.push(vec![any, ir::Elem::Ports(a, b)]);
        elements.push(vec![ir::Elem::Ports(a, b), any]);
    }
    elements.sort_unstable();
    Match::Tuple(Box::new(ir::Tuple {
        fields: vec![ir::Field::Port(proto, ir::Dir::Src), ir::Field::Port(proto, ir::Dir::Dst)],
        elements,
    }))
}

/// The kernel's conntrack helpers, by the names xt_helper compares.
const KERNEL_HELPERS: [&str; 13] = [
    "amanda",
    "ftp",
    "H.245",
    "Q.931",
    "RAS",
    "irc",
    "netbios-ns",
    "pptp",
    "sane",
    "sip",
    "snmp",
    "snmp_trap",
    "tftp",
];

/// The bit of `-m connlabel [!] --label LABEL`, or why it cannot be translated (E008 message
/// and help). LABEL is read as libxt_connlabel reads a number (`strtoul` base 0: decimal, `0x`
/// hex, `0` octal); the kernel takes bits 0 to 127.
fn conn_label(neg: bool, label: &str) -> Result<u8, (String, String)> {
    if neg {
        return Err((
            format!(
                "`! --label {label}` cannot be translated exactly: xt_connlabel's `!` also \
                 matches a packet without a connection (invalid or untracked), which nft's \
                 `ct label` never matches"
            ),
            format!(
                "put a `-m connlabel --label {label}` line that returns or accepts before this \
                 one (and a `-m conntrack --ctstate INVALID,UNTRACKED` line if those packets \
                 matter), so that this line sees every other packet"
            ),
        ));
    }
    match crate::syntax::strtoull(label) {
        Some(n) => u8::try_from(n).ok().filter(|b| *b <= 127).ok_or_else(|| {
            (
                format!("conntrack label {n} does not exist: the kernel keeps labels 0 to 127"),
                "write a label number from 0 to 127".to_string(),
            )
        }),
        None => Err((
            format!(
                "label name `{label}` cannot be translated: iptables looks names up in the \
                 connlabel.conf of the machine that loads the rule, which overlayfw does not read"
            ),
            "write the label's number (its bit in connlabel.conf), such as `--label 40`"
                .to_string(),
        )),
    }
}

/// Why `[!] --helper NAME` cannot be `ct helper "NAME"`, and what to write instead. Both read
/// the helper of the connection's master, but xt_helper compares only the helper name's own
/// length (`--helper snmp_trap` also matches the `snmp` helper's connections), matches any
/// helper for an empty name, and its `!` also matches a connection without a master, where
/// nft's `ct helper` leaves the rule.
fn helper_refusal(neg: bool, name: &str) -> Option<(String, String)> {
    if neg {
        return Some((
            format!(
                "`! --helper {name}` cannot be translated exactly: xt_helper's `!` also matches a \
                 packet whose connection has no master (most connections), which nft's `ct \
                 helper !=` never matches"
            ),
            format!(
                "put a `-m helper --helper {name}` line that returns or accepts before this one, \
                 so that this line sees every other packet"
            ),
        ));
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > 15 || !name.chars().all(plain) {
        return Some((
            format!("`{name}` is not a conntrack helper name nft can match"),
            "name a helper of at most 15 letters, digits, `.`, `_` or `-`, such as ftp or sip"
                .to_string(),
        ));
    }
    let shorter = KERNEL_HELPERS.iter().find(|h| h.len() < name.len() && name.starts_with(**h))?;
    Some((
        format!(
            "`--helper {name}` also matches the `{shorter}` helper's connections in iptables \
             (xt_helper compares only the helper's own name length), which nft's `ct helper` \
             does not"
        ),
        format!("write `--helper {shorter}` if that is the helper you mean"),
    ))
}
