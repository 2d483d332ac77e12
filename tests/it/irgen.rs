//! Builders for hand-made IR rulesets, and the ruleset using every IR variant, shared by the
//! kernel tests of the emitter and of the netlink backend.

#![allow(dead_code)] // Each user takes what it needs.

use std::net::Ipv4Addr;
use std::num::NonZeroU32;

use overlayfw::diagnostic::FileId;

use overlayfw::ir::*;

/// `blacklist`, the first set of [`every_variant`].
const BLACKLIST: SetId = SetId(0);

/// The file of every rule [`Lines`] makes.
pub const RULES_FW: FileId = FileId(0);
/// A file whose name alone is over nft's comment length.
const LONG_NAME: FileId = FileId(1);

/// The names of [`RULES_FW`] and [`LONG_NAME`].
pub fn files() -> Files {
    let mut files = Files::default();
    files.insert(RULES_FW, "rules.fw");
    files.insert(LONG_NAME, &"f".repeat(200));
    files
}

/// A rule's comment without its note: `FILE:LINE`.
pub fn file_line(o: &Origin) -> String {
    format!("{}:{}", files().name(o.file), o.line)
}

pub fn net(s: &str) -> ipnetwork::Ipv4Network {
    s.parse().expect("network")
}

pub fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("address")
}

/// Numbers origins by a running line counter so that every comment is distinct; every fifth
/// rule carries a note with a non-ASCII character.
pub struct Lines(pub u32);

impl Lines {
    pub fn rule(&mut self, matches: Vec<Match>, action: Action) -> Rule {
        self.0 += 1;
        let note = self.0.is_multiple_of(5).then(|| format!("note for line {} é", self.0));
        Rule {
            matches: matches.into(),
            action,
            origin: Some(Origin {
                file: RULES_FW,
                line: std::num::NonZeroU32::new(self.0).expect("lines count from 1"),
                note: note.map(String::into_boxed_str),
            }),
        }
    }

    /// One rule per match, each with `action`.
    pub fn each(&mut self, matches: Vec<Match>, action: Action) -> Vec<Rule> {
        matches.into_iter().map(|m| self.rule(vec![m], action.clone())).collect()
    }
}

pub fn jump(chain: &str) -> Rule {
    Rule { matches: Box::new([]), action: Action::Jump(chain.into()), origin: None }
}

pub fn chain(name: &str, rules: Vec<Rule>) -> Chain {
    Chain { name: name.into(), base: None, rules }
}

pub fn base(name: &str, kind: ChainKind, hook: Hook, priority: i32, rules: Vec<Rule>) -> Chain {
    Chain { name: name.into(), base: Some(BaseChain { kind, hook, priority }), rules }
}

pub fn iif(name: &str) -> Match {
    Match::IifName { neg: false, name: name.into() }
}

pub fn proto(p: u8) -> Match {
    Match::Protocol { neg: false, proto: p }
}

pub fn tcp_dport(port: u16) -> Match {
    Match::Port {
        proto: L4::Tcp,
        dir: Dir::Dst,
        neg: false,
        ports: PortMatch::Ports(vec![(port, port)].into()),
    }
}

pub fn nat(addr: &str, end: Option<&str>, ports: Option<(u16, u16)>) -> NatTarget {
    NatTarget { addr: ip(addr), addr_end: end.map(ip), ports }
}

/// Every match variant (and the forms each one prints), one rule each, then a few rules with
/// several matches.
fn all_matches(l: &mut Lines) -> Vec<Rule> {
    let mut ct_ports = Vec::new();
    let mut ms = vec![
        iif("eth0"),
        Match::IifName { neg: true, name: "eth*".into() },
        Match::OifName { neg: false, name: "tun*".into() },
        Match::OifName { neg: true, name: "plugin0".into() },
        proto(6),
        Match::Protocol { neg: true, proto: 17 },
        proto(47),
        Match::CtState { neg: false, states: vec![CtState::Established, CtState::Related].into() },
        Match::CtState { neg: false, states: vec![CtState::New].into() },
        Match::CtState { neg: false, states: vec![CtState::Untracked].into() },
        Match::CtState { neg: true, states: vec![CtState::Invalid].into() },
        Match::CtState { neg: true, states: vec![CtState::New, CtState::Established].into() },
        Match::CtState { neg: false, states: vec![].into() },
        Match::CtState { neg: true, states: vec![].into() },
        Match::TcpSyn { neg: false },
        Match::TcpSyn { neg: true },
        Match::TcpFlags { neg: false, mask: 0x06, comp: 0x02 },
        Match::TcpFlags { neg: true, mask: 0x3f, comp: 0x29 },
        Match::TcpFlags { neg: false, mask: 0x3f, comp: 0 },
        Match::Mark { ct: false, neg: false, value: 1, mask: u32::MAX },
        Match::Mark { ct: false, neg: true, value: 0x10, mask: 0xff },
        Match::Mark { ct: true, neg: false, value: 0x100, mask: 0xff00 },
        Match::Mark { ct: true, neg: true, value: 7, mask: u32::MAX },
        Match::TcpFlags { neg: true, mask: 0x80, comp: 0 },
        Match::TcpFlags { neg: false, mask: 0x40, comp: 0 },
    ];
    for (key, cmp) in [
        (Key::IpLength, Cmp::Range(100, 200)),
        (Key::IpLength, Cmp::Range(1500, 1500)),
        (Key::Ttl, Cmp::Range(5, 5)),
        (Key::Ttl, Cmp::Gt(5)),
        (Key::Ttl, Cmp::Lt(2)),
        (Key::PktType, Cmp::Range(1, 1)),
        (Key::PktType, Cmp::Range(0, 0)),
        (Key::FragOffset, Cmp::Range(0, 0)),
        (Key::Dscp, Cmp::Range(0x2e, 0x2e)),
        (Key::Dscp, Cmp::Range(3, 3)),
        (Key::Ecn, Cmp::Range(2, 2)),
        (Key::AhSpi, Cmp::Range(500, 500)),
        (Key::AhSpi, Cmp::Range(256, 511)),
        (Key::EspSpi, Cmp::Range(0x1000, 0xffff_ffff)),
        (Key::TcpMss, Cmp::Range(1000, 1460)),
        (Key::SkUid, Cmp::Range(1000, 1000)),
        (Key::SkGid, Cmp::Range(100, 199)),
        (Key::CtProto, Cmp::Range(47, 47)),
        (Key::CtDir, Cmp::Range(1, 1)),
        (Key::CtExpire, Cmp::Range(10_000, 10_999)),
        (Key::CtExpire, Cmp::Range(60_000, 60_000)),
        (Key::CtExpire, Cmp::Range(0, 4_294_966_999)),
    ] {
        let gt_lt = !matches!(cmp, Cmp::Range(..));
        for neg in [false, true] {
            let positive_only = matches!(key, Key::TcpMss | Key::SkUid | Key::SkGid);
            if !(neg && (gt_lt || positive_only)) {
                ms.push(Match::Value { key, neg, cmp });
            }
        }
    }
    for neg in [false, true] {
        ms.push(Match::EtherSaddr { neg, addr: [0x00, 0x11, 0x22, 0xaa, 0xbb, 0xcc] });
        ms.push(Match::MetaTime { ge: neg, secs: 1_704_067_200 });
        for days in [1u8, 0b11_1110, 0b100_1011, 0x7e] {
            if !neg {
                ms.push(Match::MetaDay { days, utc: false });
            }
        }
        ms.push(Match::MetaHour { neg, lo: 32_400, hi: 61_200 });
        ms.push(Match::MetaHour { neg, lo: 43_200, hi: 43_200 });
        for types in [0b1u16, 0b11, 1 << 7, (1 << 8) | (1 << 9) | (1 << 10)] {
            ms.push(Match::DccpType { neg, types });
        }
        ms.push(Match::Random { neg, below: 214_748_365 });
        ms.push(Match::Nth { neg, every: 3, value: 1 });
        ms.push(Match::CtStatus { neg, bits: 0x04 });
        ms.push(Match::CtStatus { neg, bits: 0x30 });
        for (repl, dst, n) in [
            (false, false, "10.0.0.0/8"),
            (false, true, "192.0.2.7/32"),
            (true, false, "100.127.255.192/29"),
            (true, true, "10.1.0.0/16"),
        ] {
            ms.push(Match::CtAddr { neg, repl, dst, net: net(n) });
        }
        for (repl, dst, cmp) in [
            (false, false, Cmp::Range(80, 80)),
            (false, true, Cmp::Range(1024, 65535)),
            (true, false, Cmp::Range(53, 53)),
            (true, true, Cmp::Range(1, 2)),
        ] {
            ct_ports.push((repl, dst, neg, cmp));
        }
        for (key, value, mask) in [
            (MetaKey::IifGroup, 2, u32::MAX),
            (MetaKey::OifGroup, 0xc, 0xc),
            (MetaKey::RtClassid, 1, 0xf),
            (MetaKey::RtClassid, 50, u32::MAX),
            (MetaKey::Cpu, 1, u32::MAX),
            (MetaKey::Cgroup, 0x10_0001, u32::MAX),
        ] {
            ms.push(Match::Meta { key, neg, value, mask });
        }
        ms.push(Match::Quota { neg, bytes: 111 });
        ms.push(Match::TcpOption { neg, kind: 8 });
        if !neg {
            for name in ["ftp", "Q.931", "netbios-ns", "snmp_trap"] {
                ms.push(Match::CtHelper { name: name.into() });
            }
            for bit in [0, 40, 127] {
                ms.push(Match::CtLabel { bit });
            }
        }
        for (dir, mode, lo, hi) in [
            (CtDir::Original, CtCount::Packets, 200, u64::MAX),
            (CtDir::Reply, CtCount::Packets, 200, u64::MAX),
            (CtDir::Both, CtCount::Bytes, 200, 600),
            (CtDir::Both, CtCount::AvgPkt, 200, 200),
            (CtDir::Original, CtCount::AvgPkt, 100, 1500),
            (CtDir::Reply, CtCount::Bytes, 1 << 40, 1 << 41),
        ] {
            ms.push(Match::Connbytes { dir, mode, neg, lo, hi });
        }
        for (dst, iface, types) in [
            (true, None, 1 << 2),
            (false, None, (1 << 3) | (1 << 5)),
            (true, Some(Dir::Src), 1 << 2),
        ] {
            ms.push(Match::AddrType { neg, dst, iface, types });
        }
    }
    for neg in [false, true] {
        for addrs in [
            AddrMatch::Nets(vec![net("10.0.0.0/8")].into()),
            AddrMatch::Nets(vec![net("10.1.0.0/16")].into()),
            AddrMatch::Nets(vec![net("10.1.2.0/24")].into()),
            AddrMatch::Nets(vec![net("192.0.2.7/32")].into()),
            AddrMatch::Nets(vec![net("100.127.255.193/29")].into()),
            AddrMatch::Nets(vec![net("0.0.0.0/0")].into()),
            AddrMatch::Nets(
                vec![net("10.0.0.0/8"), net("10.1.0.0/16"), net("192.0.2.7/32")].into(),
            ),
            AddrMatch::Nets(
                vec![net("10.0.0.0/8"), net("11.0.0.0/8"), net("255.255.255.255/32")].into(),
            ),
            AddrMatch::Nets(vec![net("0.0.0.0/8"), net("192.0.2.0/24")].into()),
            AddrMatch::Nets(
                vec![net("198.51.100.3/32"), net("198.51.100.2/32"), net("198.51.100.2/32")].into(),
            ),
            AddrMatch::Nets(vec![].into()),
            AddrMatch::Range(ip("10.0.0.1"), ip("10.0.0.9")),
            AddrMatch::Range(ip("10.0.0.9"), ip("10.0.0.1")),
            AddrMatch::Range(ip("10.0.0.5"), ip("10.0.0.5")),
            AddrMatch::Set(BLACKLIST),
            AddrMatch::Set(SetId(1)),
        ] {
            ms.push(Match::Saddr { neg, addrs: addrs.clone() });
            ms.push(Match::Daddr { neg, addrs });
        }
        for proto in [L4::Tcp, L4::Udp, L4::Udplite, L4::Sctp, L4::Dccp] {
            for dir in [Dir::Src, Dir::Dst] {
                for ports in [
                    PortMatch::Ports(vec![(22, 22)].into()),
                    PortMatch::Ports(vec![(1000, 2000)].into()),
                    PortMatch::Ports(vec![(80, 80), (443, 443), (8000, 8080)].into()),
                    PortMatch::Ports(vec![(0, 100), (90, 200), (65535, 65535)].into()),
                    PortMatch::Ports(vec![(53, 53), (52, 52), (65535, 65535)].into()),
                    PortMatch::Ports(vec![].into()),
                    PortMatch::Set(SetId(2)),
                ] {
                    ms.push(Match::Port { proto, dir, neg, ports });
                }
            }
        }
        for (kind, code) in [(8, None), (3, Some(3)), (200, None), (200, Some(7)), (0, Some(0))] {
            ms.push(Match::IcmpType { neg, kind, code });
        }
    }
    for unit in [RateUnit::Second, RateUnit::Minute, RateUnit::Hour, RateUnit::Day] {
        ms.push(Match::Limit { rate: 5, unit, burst: 10 });
    }
    let mut rules = l.each(ms, Action::Accept);
    // nft reads a conntrack port after the conntrack protocol.
    for (repl, dst, neg, cmp) in ct_ports {
        let ct_proto = Match::Value { key: Key::CtProto, neg: false, cmp: Cmp::Range(6, 6) };
        let port = Match::Value { key: Key::CtPort { repl, dst }, neg, cmp };
        rules.push(l.rule(vec![ct_proto, port], Action::Accept));
    }
    // Several matches in one rule: one protocol dependency for two ports, ip protocol first.
    rules.push(l.rule(
        vec![
            iif("tun0"),
            Match::Saddr { neg: false, addrs: AddrMatch::Set(BLACKLIST) },
            tcp_dport(22),
            Match::Port {
                proto: L4::Tcp,
                dir: Dir::Src,
                neg: true,
                ports: PortMatch::Ports(vec![(1, 1023)].into()),
            },
            Match::TcpSyn { neg: false },
            Match::CtState { neg: false, states: vec![CtState::New].into() },
            Match::Limit { rate: 1, unit: RateUnit::Second, burst: 1 },
        ],
        Action::Drop,
    ));
    rules.push(l.rule(vec![proto(6), tcp_dport(80)], Action::Accept));
    rules.push(
        l.rule(vec![proto(1), Match::IcmpType { neg: false, kind: 8, code: None }], Action::Accept),
    );
    rules
}

/// Every reject form, with and without a protocol context.
fn rejects(l: &mut Lines) -> Vec<Rule> {
    let mut rules: Vec<Rule> = [
        RejectWith::PortUnreachable,
        RejectWith::NetUnreachable,
        RejectWith::HostUnreachable,
        RejectWith::ProtUnreachable,
        RejectWith::NetProhibited,
        RejectWith::HostProhibited,
        RejectWith::AdminProhibited,
    ]
    .into_iter()
    .map(|with| l.rule(vec![], Action::Reject(with)))
    .collect();
    let reset = Action::Reject(RejectWith::TcpReset);
    rules.push(l.rule(vec![tcp_dport(23)], reset.clone()));
    rules.push(l.rule(vec![], reset.clone()));
    rules.push(l.rule(vec![iif("eth0")], reset.clone()));
    rules.push(l.rule(vec![proto(6)], reset.clone()));
    rules.push(l.rule(vec![Match::TcpSyn { neg: true }], reset));
    rules
}

/// A ruleset using every match and action variant, each in a hook where it belongs, with
/// texts long enough to be cut (log prefixes, comments, the table comment).
pub fn every_variant() -> Ruleset {
    let l = &mut Lines(0);
    let mut input = vec![
        l.rule(vec![iif("eth0")], Action::Accept),
        l.rule(vec![iif("eth0")], Action::Drop),
        l.rule(vec![], Action::Count),
        l.rule(
            vec![],
            Action::Log {
                prefix: Some("in: $HOME 100% ".into()),
                level: Some(LogLevel::Warn),
                flags: LogFlags::NONE,
            },
        ),
        l.rule(vec![], Action::Log { prefix: None, level: None, flags: LogFlags::NONE }),
        l.rule(
            vec![],
            Action::Log {
                prefix: Some("x".repeat(200).into()),
                level: None,
                flags: LogFlags::TCP_SEQUENCE.with(LogFlags::TCP_OPTIONS),
            },
        ),
        l.rule(
            vec![],
            Action::Log {
                prefix: None,
                level: Some(LogLevel::Info),
                flags: LogFlags::IP_OPTIONS.with(LogFlags::UID).with(LogFlags::MAC_DECODE),
            },
        ),
        l.rule(vec![], Action::Jump("INP_C_all-matches".into())),
    ];
    for level in [
        LogLevel::Emerg,
        LogLevel::Alert,
        LogLevel::Crit,
        LogLevel::Err,
        LogLevel::Notice,
        LogLevel::Info,
        LogLevel::Debug,
    ] {
        input.push(l.rule(
            vec![],
            Action::Log {
                prefix: Some("é".repeat(70).into()),
                level: Some(level),
                flags: LogFlags::NONE,
            },
        ));
    }
    input.extend(rejects(l));
    // Meters: a bucket per key (one field, or masked fields and a port concatenated) and
    // connection counts per key.
    let meter = |name: &str, keys: Vec<MeterKey>, stmt: MeterStmt| {
        Match::Meter(Box::new(Meter { name: name.into(), keys, stmt }))
    };
    let limit =
        |over| MeterStmt::Limit { rate: 3, unit: RateUnit::Minute, burst: 4, over, timeout_s: 10 };
    input.push(
        l.rule(vec![meter("hashlimit-ssh", vec![MeterKey::Saddr(32)], limit(true))], Action::Drop),
    );
    input.push(l.rule(
        vec![meter(
            "hashlimit-web",
            vec![MeterKey::Saddr(24), MeterKey::Daddr(16), MeterKey::Port(L4::Udp, Dir::Dst)],
            limit(false),
        )],
        Action::Accept,
    ));
    for (name, key, over) in [
        ("connlimit-1", MeterKey::Saddr(32), true),
        ("connlimit-2", MeterKey::Daddr(24), false),
        ("connlimit-3", MeterKey::Saddr(0), true),
    ] {
        let m = meter(name, vec![key], MeterStmt::CtCount { count: 10, over });
        input.push(l.rule(vec![m], Action::Drop));
    }
    // `-m policy --dir in`: where packets arrive.
    for exists in [true, false] {
        input.push(l.rule(vec![Match::Ipsec { out: false, exists }], Action::Count));
    }
    input.push(l.rule(vec![], Action::Return));
    input.push(Rule { matches: Box::new([]), action: Action::Count, origin: None });
    input.push(Rule {
        matches: Box::new([]),
        action: Action::Accept,
        origin: Some(Origin { file: LONG_NAME, line: NonZeroU32::new(7).expect("7"), note: None }),
    });
    let all = all_matches(l);
    let forward = vec![
        l.rule(vec![Match::OifName { neg: false, name: "plugin0".into() }], Action::Accept),
        l.rule(vec![Match::OifName { neg: true, name: "tun*".into() }], Action::Drop),
    ];
    let output = {
        let mut r = rejects(l);
        let syn = || vec![Match::TcpFlags { neg: false, mask: 0x06, comp: 0x02 }];
        r.push(l.rule(syn(), Action::Tcpmss(Mss::ClampToPmtu)));
        r.push(l.rule(syn(), Action::Tcpmss(Mss::Set(1360))));
        for (ct, and, xor) in [
            (false, 0, 5),
            (false, 0xffffff00, 5),
            (true, 0xf, 0),
            (true, !0xf, 0xf),
            (false, u32::MAX, 0xf),
            (true, 0xff, 0x100),
        ] {
            r.push(l.rule(vec![], Action::Mark { ct, and, xor }));
        }
        // `fib … . oif` exists only where packets have an output interface.
        for neg in [false, true] {
            let m = Match::AddrType { neg, dst: false, iface: Some(Dir::Dst), types: 1 << 2 };
            r.push(l.rule(vec![m], Action::Count));
        }
        for (group, prefix, snaplen, threshold) in [
            (0, None, None, None),
            (5, Some("nflog: ".into()), Some(128), Some(10)),
            (65535, Some("x".repeat(63).into()), Some(0), Some(0)),
        ] {
            let n = Nflog { group, prefix, snaplen, threshold };
            r.push(l.rule(vec![], Action::Nflog(Box::new(n))));
        }
        for n in [0u8, 10, 0x2e, 63] {
            r.push(l.rule(vec![], Action::Dscp(n)));
        }
        for c in [0u32, 0x0001_0010, 0xffff_0000, u32::MAX] {
            r.push(l.rule(vec![], Action::Classify(c)));
        }
        r.push(l.rule(vec![], Action::Audit));
        // Only where the kernel has nft_queue (netns::kernel_has_queue says why not).
        if crate::netns::kernel_has_queue() {
            for (first, last, bypass, fanout) in [
                (0, 0, false, false),
                (3, 3, true, false),
                (0, 3, true, true),
                (4, 5, false, false),
            ] {
                let q = overlayfw::ir::Queue { first, last, bypass, fanout };
                r.push(l.rule(vec![iif("eth9")], Action::Queue(q)));
            }
        }
        // `-m policy --dir out`: where packets leave.
        for exists in [true, false] {
            r.push(l.rule(vec![Match::Ipsec { out: true, exists }], Action::Count));
        }
        r.push(l.rule(vec![], Action::MarkCopy { to_ct: true }));
        r.push(l.rule(vec![], Action::MarkCopy { to_ct: false }));
        r.push(l.rule(vec![], Action::Accept));
        r
    };
    let mirror_in = vec![
        l.rule(vec![iif("tun0")], Action::Dup { to: ip("198.51.100.2") }),
        l.rule(vec![Match::Saddr { neg: false, addrs: AddrMatch::Set(BLACKLIST) }], Action::Drop),
        // VNS3's `PREROUTING … -j REJECT` lands in a filter prerouting chain.
        l.rule(vec![iif("eth0")], Action::Reject(RejectWith::PortUnreachable)),
    ];
    let mirror_out = vec![l.rule(
        vec![Match::OifName { neg: false, name: "tun0".into() }],
        Action::Dup { to: ip("198.51.100.2") },
    )];
    let web = vec![
        l.rule(
            vec![tcp_dport(2222)],
            Action::Dnat { to: nat("198.51.100.2", None, Some((22, 22))), flags: NatFlags::NONE },
        ),
        l.rule(vec![], Action::Return),
    ];
    let dnats = [
        (vec![iif("eth0")], nat("198.51.100.2", None, None), false),
        (vec![tcp_dport(1)], nat("198.51.100.2", None, Some((22, 22))), false),
        (vec![tcp_dport(1)], nat("198.51.100.2", None, Some((22, 25))), false),
        (vec![], nat("198.51.100.2", Some("198.51.100.9"), None), false),
        (vec![], nat("198.51.100.9", Some("198.51.100.2"), None), false),
        (vec![tcp_dport(2)], nat("198.51.100.2", Some("198.51.100.9"), Some((22, 25))), true),
        (vec![proto(17)], nat("198.51.100.2", Some("198.51.100.2"), Some((53, 53))), false),
        (vec![], nat("198.51.100.3", None, None), true),
    ];
    let random = |r: bool| if r { NatFlags::RANDOM } else { NatFlags::NONE };
    let mut prerouting: Vec<Rule> = dnats
        .iter()
        .map(|(m, to, r)| l.rule(m.clone(), Action::Dnat { to: to.clone(), flags: random(*r) }))
        .collect();
    prerouting.extend([
        l.rule(
            vec![tcp_dport(80)],
            Action::Redirect { ports: Some((8080, 8080)), flags: NatFlags::NONE },
        ),
        l.rule(
            vec![tcp_dport(81)],
            Action::Redirect { ports: Some((8080, 8090)), flags: NatFlags::RANDOM },
        ),
        l.rule(vec![], Action::Redirect { ports: None, flags: NatFlags::NONE }),
        l.rule(vec![], Action::Redirect { ports: None, flags: NatFlags::RANDOM }),
        l.rule(
            vec![],
            Action::Dnat { to: nat("198.51.100.2", None, None), flags: NatFlags::PERSISTENT },
        ),
        l.rule(
            vec![tcp_dport(5)],
            Action::Dnat {
                to: nat("198.51.100.2", Some("198.51.100.9"), Some((80, 81))),
                flags: NatFlags::PERSISTENT.with(NatFlags::RANDOM),
            },
        ),
        l.rule(
            vec![Match::Daddr {
                neg: false,
                addrs: AddrMatch::Nets(vec![net("10.0.1.0/24")].into()),
            }],
            Action::NetmapDnat { to: net("192.168.7.0/24") },
        ),
        l.rule(vec![], Action::NetmapDnat { to: net("192.168.7.5/32") }),
        l.rule(vec![iif("eth0")], Action::Jump("PRE_C_web-1".into())),
    ]);
    let nat_out = vec![l.rule(
        vec![tcp_dport(3)],
        Action::Dnat { to: nat("198.51.100.2", None, Some((22, 22))), flags: NatFlags::NONE },
    )];
    let masq = |ports, r| Action::Masquerade { ports, flags: random(r) };
    let postrouting = vec![
        l.rule(vec![Match::OifName { neg: false, name: "eth0".into() }], masq(None, false)),
        l.rule(vec![tcp_dport(4)], masq(Some((1024, 2000)), false)),
        l.rule(vec![tcp_dport(4)], masq(Some((1024, 1024)), false)),
        l.rule(vec![], masq(None, true)),
        l.rule(vec![proto(17)], masq(Some((1024, 2000)), true)),
        l.rule(vec![], Action::Masquerade { ports: None, flags: NatFlags::FULLY_RANDOM }),
        l.rule(
            vec![proto(6)],
            Action::Masquerade {
                ports: Some((1024, 2000)),
                flags: NatFlags::FULLY_RANDOM.with(NatFlags::RANDOM),
            },
        ),
        l.rule(
            vec![],
            Action::Snat {
                to: nat("10.0.1.120", None, None),
                flags: NatFlags::FULLY_RANDOM.with(NatFlags::PERSISTENT),
            },
        ),
        l.rule(vec![], Action::Snat { to: nat("10.0.1.120", None, None), flags: NatFlags::NONE }),
        l.rule(
            vec![tcp_dport(6)],
            Action::Snat {
                to: nat("10.0.1.120", None, Some((1000, 2000))),
                flags: NatFlags::RANDOM,
            },
        ),
        l.rule(
            vec![],
            Action::Snat { to: nat("10.0.1.120", Some("10.0.1.125"), None), flags: NatFlags::NONE },
        ),
        l.rule(
            vec![Match::Saddr {
                neg: false,
                addrs: AddrMatch::Nets(vec![net("192.168.7.0/24")].into()),
            }],
            Action::NetmapSnat { to: net("10.0.1.0/24") },
        ),
    ];
    use ChainKind::{Filter, Nat};
    Ruleset {
        table: "overlayfw".into(),
        files: files(),
        ipv6: Default::default(),
        input_hash: "0123456789abcdef".repeat(10),
        sets: vec![
            Set {
                name: "blacklist".into(),
                elements: SetElements::Addrs(vec![
                    net("192.0.2.0/24"),
                    net("192.0.2.5/32"),
                    net("192.0.3.0/24"),
                    net("203.0.113.7/32"),
                    net("255.255.255.0/24"),
                ]),
            },
            Set { name: "empty_set".into(), elements: SetElements::Addrs(vec![]) },
            Set {
                name: "webports".into(),
                elements: SetElements::Ports(vec![(22, 22), (80, 90), (85, 100), (101, 101)]),
            },
            Set { name: "lowports".into(), elements: SetElements::Ports(vec![(0, 1023)]) },
        ],
        chains: vec![
            chain("INP_C_all-matches", all),
            chain("INPUT_CUST", input),
            chain("FORWARD_CUST", forward),
            chain("OUTPUT_CUST", output),
            chain("MIRROR_IN", mirror_in),
            chain("MIRROR_OUT", mirror_out),
            chain("PRE_C_web-1", web),
            chain("PREROUTING_CUST", prerouting),
            chain("OUTPUT_NAT", nat_out),
            chain("POSTROUTING_CUST", postrouting),
            base("filter_prerouting", Filter, Hook::Prerouting, -150, vec![jump("MIRROR_IN")]),
            base("filter_input", Filter, Hook::Input, 0, vec![jump("INPUT_CUST")]),
            base("filter_forward", Filter, Hook::Forward, -5, vec![jump("FORWARD_CUST")]),
            base("filter_output", Filter, Hook::Output, 10, vec![jump("OUTPUT_CUST")]),
            base("filter_postrouting", Filter, Hook::Postrouting, -300, vec![jump("MIRROR_OUT")]),
            base("nat_prerouting", Nat, Hook::Prerouting, -100, vec![jump("PREROUTING_CUST")]),
            base("nat_input", Nat, Hook::Input, 100, vec![]),
            base("nat_output", Nat, Hook::Output, -100, vec![jump("OUTPUT_NAT")]),
            base("nat_postrouting", Nat, Hook::Postrouting, 100, vec![jump("POSTROUTING_CUST")]),
        ],
    }
}
