//! IR → the expressions and sets nft 1.0.6 itself sends for the same rule (read off
//! `nft --debug=netlink,mnl -f`), as plain data: no FFI here. `expr.rs` turns an [`Expr`] into
//! libnftnl objects, `mod.rs` puts them into the batch.
//!
//! What nft does that is easy to get wrong:
//! - A prefix on a byte boundary loads only its bytes (`10.0.0.0/8` is a 1-byte load and
//!   compare), other prefixes load 4 bytes and mask; a /32 compares all 4 bytes.
//! - A positive range is two compares (`>=`, `<=`); a negated one is a `range !=` expression.
//! - `tcp`/`udp`/… and `icmp` matches need `meta l4proto` first, once per rule, unless an earlier
//!   `ip protocol` match already set that protocol. `reject with tcp reset` without such a match
//!   gets `meta l4proto tcp` at the start of the rule.
//! - Interface names compare 16 zero-padded bytes; a `*` wildcard compares the prefix only,
//!   without the terminating NUL.
//! - An anonymous set of single values only is a plain set; with any prefix or range it is an
//!   interval set, merged.
//! - Interval sets (named and anonymous) hold merged intervals as start elements plus
//!   `INTERVAL_END` elements at `high + 1`, with a leading `0` end element unless the first
//!   interval starts at 0, and no end element after an interval reaching the top of the key
//!   space (that start element carries the "interval open" userdata flag instead).
//! - NAT flags are only sent when not zero; a single port or address sends only the minimum.
//! - Concatenations (optimizer output) load each field into the next 32-bit register from
//!   register 1 (`meta l4proto` too, after the dependency its port field brings); their
//!   anonymous set is an interval one (with `NFT_SET_CONCAT`, the field lengths, and a start
//!   and an end key per element) only when a value is a prefix or a range.
//!   A DNAT map's lookup writes the address to register 1 and the port to register 9, and the
//!   `nat` expression names them without flags; a verdict map's lookup writes register 0.

use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

use crate::emit::truncate;
use crate::ir::{
    Action, AddrMatch, Cmp, CtState, Dir, Elem as TupleElem, Field, Files, Key as ValueKey, L4,
    MapVerdict, Match, Mss, NatFlags, NatTarget, PortMatch, RejectWith, Rule, Ruleset, Set, SetId,
};
use crate::nft::LOG_PREFIX_MAX;

/// `NFT_PAYLOAD_NETWORK_HEADER` and `NFT_PAYLOAD_TRANSPORT_HEADER`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Base {
    Link,
    Network,
    Transport,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Neq,
    Gte,
    Lte,
    Gt,
    Lt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MetaKey {
    /// The input interface's index (`iif "lo"`).
    Iif,
    IifName,
    OifName,
    L4Proto,
    Mark,
    PktType,
    IifType,
    PRandom,
    SkUid,
    SkGid,
    /// `NFT_META_TIME_NS`, `_DAY`, `_HOUR` (30, 31, 32; not in libc).
    TimeNs,
    TimeDay,
    TimeHour,
    /// `meta secpath` (a boolean: the packet has an IPsec security path).
    Secpath,
    IifGroup,
    OifGroup,
    RtClassid,
    Cpu,
    Cgroup,
}

/// A set referenced by a lookup: its name (`__set%d` for anonymous ones) and its id in the
/// batch, by which the kernel finds a set created in the same transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SetRef {
    pub name: String,
    pub id: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NatKind {
    Snat,
    Dnat,
}

/// Registers of a NAT-like statement, loaded by the `Immediate`s before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct NatRegs {
    pub addr_min: Option<u32>,
    pub addr_max: Option<u32>,
    pub proto_min: Option<u32>,
    pub proto_max: Option<u32>,
    /// `NF_NAT_RANGE_*`; not sent when zero, as nft does.
    pub flags: u32,
}

// The kernel's `NFT_CT_*` keys (linux/netfilter/nf_tables.h) this lowering loads.
const CT_DIRECTION: u32 = 1;
const CT_STATUS: u32 = 2;
const CT_EXPIRATION: u32 = 5;
const CT_HELPER: u32 = 6;
const CT_LABELS: u32 = 13;
const CT_PKTS: u32 = 14;
const CT_BYTES: u32 = 15;
const CT_AVGPKT: u32 = 16;
pub(super) const CT_PROTOCOL: u32 = 10;
const CT_PROTO_SRC: u32 = 11;
const CT_PROTO_DST: u32 = 12;
const CT_SRC_IP: u32 = 19;
const CT_DST_IP: u32 = 20;

/// One nftables expression, with every integer already in the byte order the kernel wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expr {
    /// Load into register 1, or `dreg` (a 32-bit register) for concatenations.
    Payload {
        base: Base,
        offset: u32,
        len: u32,
        dreg: u32,
    },
    /// Load into register 1, or `dreg` as [`Expr::Payload`].
    Meta {
        key: MetaKey,
        dreg: u32,
    },
    CtState,
    Cmp(CmpOp, Vec<u8>),
    Bitwise {
        mask: Vec<u8>,
        xor: Vec<u8>,
    },
    /// `range !=` (nft only uses the negated form; a positive range is two compares).
    RangeNeq(Vec<u8>, Vec<u8>),
    Lookup {
        set: SetRef,
        inverted: bool,
        /// A map lookup: where the value goes.
        dreg: Option<u32>,
    },
    Counter,
    /// `rate` per `unit` seconds, `burst` packets (`over`: `NFT_LIMIT_F_INV`).
    Limit {
        rate: u64,
        unit: u64,
        burst: u32,
        over: bool,
    },
    /// `bitwise reg R = (reg R & mask) ^ xor` on another register than 1 (a concatenation's).
    BitwiseAt {
        reg: u32,
        mask: Vec<u8>,
        xor: Vec<u8>,
    },
    /// `dynset add|update reg_key 1 set S [timeout T] expr [ E ]`: a meter.
    Dynset {
        set: SetRef,
        update: bool,
        timeout_ms: Option<u64>,
        expr: Box<Expr>,
    },
    /// `connlimit count N flags F` (`over`: `NFT_CONNLIMIT_F_INV`).
    Connlimit {
        count: u32,
        over: bool,
    },
    Log {
        prefix: Option<String>,
        level: Option<u32>,
        /// `NF_LOG_*` bits; the kernel lists them only when some are set.
        flags: u32,
    },
    /// `log [prefix P] group G [snaplen N] [queue-threshold T]`.
    NfLog {
        prefix: Option<String>,
        group: u16,
        snaplen: Option<u32>,
        threshold: Option<u16>,
    },
    Immediate {
        dreg: u32,
        data: Vec<u8>,
    },
    Accept,
    Drop,
    Return,
    Jump(String),
    /// `NFT_REJECT_ICMP_UNREACH` with this ICMP code.
    RejectIcmp(u8),
    RejectTcpReset,
    Nat {
        kind: NatKind,
        regs: NatRegs,
    },
    Masq(NatRegs),
    Redir(NatRegs),
    Dup {
        sreg_addr: u32,
    },
    /// `ct load mark => reg 1`.
    CtMark,
    /// `ct load KEY => reg 1 [, dir D]` (`NFT_CT_*` key; `dir` 0 original, 1 reply).
    Ct {
        key: u32,
        dir: Option<u8>,
    },
    /// `exthdr load tcpopt 2b @ 2 + 2 => reg 1`: the size of the TCP MSS option.
    ReadMss,
    /// `numgen reg 1 = inc mod N`.
    NumgenInc(u32),
    /// `fib saddr|daddr [. iif|oif] type => reg 1` (`NFTA_FIB_F_*` flags).
    FibType(u32),
    /// `byteorder reg 1 = hton(reg 1, 4, 4)`.
    Hton32,
    /// `byteorder reg 1 = hton(reg 1, 8, 8)`.
    Hton64,
    /// `exthdr load tcpopt 1b @ KIND + 0 present => reg 1`.
    TcpOptPresent(u8),
    /// `quota [over] BYTES` (`inv`: `NFT_QUOTA_F_INV`).
    Quota {
        bytes: u64,
        inv: bool,
    },
    /// `meta set mark with reg 1` (`ct`: `ct set mark with reg 1`).
    SetMark {
        ct: bool,
    },
    /// `rt load tcpmss => reg 1` (the route's MTU less the headers, host order).
    RtTcpmss,
    /// `rt load ipsec => reg 1`: the route goes through an xfrm transform (a boolean).
    RtIpsec,
    /// `byteorder reg 1 = hton(reg 1, 2, 2)`.
    Hton16,
    /// `exthdr write tcpopt reg 1 => 2b @ 2 + 2`: the size of the TCP MSS option.
    WriteMss,
    /// `payload write reg 1 => 2b @ network header + 0 csum_type 1 csum_off 10`: the IP
    /// header's first two bytes (DSCP), the header checksum updated.
    WriteIpHead16,
    /// `meta set priority with reg 1`.
    SetPriority,
    /// `queue num N total T flags F` (`NFT_QUEUE_FLAG_*`).
    Queue {
        num: u16,
        total: u16,
        flags: u16,
    },
}

/// Register numbers (`NFT_REG_1`..`NFT_REG_4`, `NFT_REG32_01`).
/// `NFT_REG_VERDICT`, `NF_ACCEPT`, `NF_DROP`.
pub(crate) const REG_VERDICT: u32 = 0;
const NF_ACCEPT: u32 = 1;
const NF_DROP: u32 = 0;
pub(crate) const REG_1: u32 = 1;
pub(crate) const REG32_00: u32 = 8;
pub(crate) const REG32_01: u32 = 9;

/// `NF_NAT_RANGE_*` flags.
const NAT_PROTO_SPECIFIED: u32 = 0x2;
const NAT_PROTO_RANDOM: u32 = 0x4;
const NAT_PERSISTENT: u32 = 0x8;
const NAT_PROTO_RANDOM_FULLY: u32 = 0x10;
const NAT_NETMAP: u32 = 0x40;

/// The key (or map data) of a set: nft's datatype id and its length in bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    /// `ipv4_addr` (7), 4 bytes, big endian.
    Ipv4,
    /// `inet_service` (13), 2 bytes, big endian.
    Service,
    /// `inet_proto` (12), 1 byte (only in concatenations here).
    Proto,
    /// `icmp_type . icmp_code` (14 << 6 | 32), two 1-byte fields each padded to 4 bytes.
    IcmpTypeCode,
    /// A concatenation (`ipv4_addr . inet_service`, …): type ids shifted in 6 bits at a time,
    /// each field padded to 4 bytes.
    Concat(Vec<Key>),
    /// A verdict map's value (`NFT_DATA_VERDICT`, no length).
    Verdict,
    /// `fib_addrtype` (38), 4 bytes, host byte order.
    FibAddrType,
    /// `dccp_pkttype` (16), 1 byte (the type shifted left by one, as the header holds it).
    DccpType,
    /// `day` (45), 1 byte, host byte order.
    Day,
}

impl Key {
    pub(crate) fn type_id(&self) -> u32 {
        match self {
            Key::Ipv4 => 7,
            Key::Service => 13,
            Key::Proto => 12,
            Key::IcmpTypeCode => (14 << 6) | 32,
            Key::Concat(fields) => fields.iter().fold(0, |id, f| (id << 6) | f.type_id()),
            Key::Verdict => 0xffff_ff00,
            Key::FibAddrType => 38,
            Key::DccpType => 16,
            Key::Day => 45,
        }
    }

    pub(crate) fn len(&self) -> u32 {
        match self {
            Key::Ipv4 => 4,
            Key::Service => 2,
            Key::Proto => 1,
            Key::IcmpTypeCode => 8,
            Key::Concat(fields) => fields.iter().map(|f| f.len().next_multiple_of(4)).sum(),
            Key::Verdict => 0,
            Key::FibAddrType => 4,
            Key::DccpType => 1,
            Key::Day => 1,
        }
    }

    /// nft's `BYTEORDER_BIG_ENDIAN` (2) for the plain types; a concatenation has none (0).
    pub(crate) fn byteorder(&self) -> u32 {
        match self {
            Key::Ipv4 | Key::Service => 2,
            Key::Proto | Key::IcmpTypeCode | Key::Concat(_) | Key::Verdict | Key::DccpType => 0,
            Key::FibAddrType | Key::Day => 1,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub(crate) struct Elem {
    pub key: Vec<u8>,
    /// The end of a concatenated range (`NFTA_SET_ELEM_KEY_END`).
    pub key_end: Option<Vec<u8>>,
    /// A map element's value.
    pub data: Option<Vec<u8>>,
    /// A verdict map element's verdict (`NF_ACCEPT`, `NF_DROP`).
    pub verdict: Option<u32>,
    /// `NFT_SET_ELEM_INTERVAL_END`.
    pub end: bool,
    /// The interval runs to the top of the key space (nft's `NFTNL_SET_ELEM_F_INTERVAL_OPEN`
    /// userdata flag).
    pub open: bool,
}

/// A set to create in the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SetPlan {
    pub name: String,
    pub id: u32,
    pub key: Key,
    /// A map's value type.
    pub data: Option<Key>,
    pub anonymous: bool,
    pub interval: bool,
    /// The field lengths of a concatenated interval key (`NFTA_SET_DESC_CONCAT`); empty
    /// otherwise.
    pub concat: Vec<u32>,
    pub elems: Vec<Elem>,
    /// A meter's set (`flags dynamic`, `size` [`crate::nft::METER_SIZE`]): `Some(true)` with
    /// `flags timeout` too.
    pub dynamic: Option<bool>,
}

/// One rule, ready for the batch: the anonymous sets it needs first, then its expressions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RulePlan {
    pub anon_sets: Vec<SetPlan>,
    pub exprs: Vec<Expr>,
    pub comment: Option<String>,
}

/// Sorted, merged inclusive intervals: overlapping and adjacent ones joined, as nft's
/// auto-merge does, so that the kernel never sees an overlap. A reversed pair counts as its
/// ordered form.
pub(crate) fn merge(ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    crate::diff::canon::merge(ranges.into_iter().map(|(a, b)| (a.min(b), a.max(b))).collect())
}

/// The interval elements of a set over a key space `0..=max` of `width` bytes.
pub(crate) fn interval_elems(ranges: Vec<(u64, u64)>, max: u64, width: usize) -> Vec<Elem> {
    let be = |v: u64| v.to_be_bytes()[8 - width..].to_vec();
    let merged = merge(ranges);
    let mut out = Vec::with_capacity(merged.len() * 2 + 1);
    if merged.first().is_some_and(|&(lo, _)| lo != 0) {
        out.push(Elem { key: be(0), end: true, ..Elem::default() });
    }
    for (lo, hi) in merged {
        out.push(Elem { key: be(lo), open: hi == max, ..Elem::default() });
        if hi != max {
            out.push(Elem { key: be(hi + 1), end: true, ..Elem::default() });
        }
    }
    out
}

/// The elements of a plain (non-interval) set: sorted, without duplicates.
pub(crate) fn plain_elems(keys: impl Iterator<Item = Vec<u8>>) -> Vec<Elem> {
    let mut keys: Vec<Vec<u8>> = keys.collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter().map(|key| Elem { key, ..Elem::default() }).collect()
}

pub(crate) fn net_range(net: &Ipv4Network) -> (u64, u64) {
    (u64::from(u32::from(net.network())), u64::from(u32::from(net.broadcast())))
}

pub(crate) fn addr_elems(nets: &[Ipv4Network]) -> Vec<Elem> {
    interval_elems(nets.iter().map(net_range).collect(), u64::from(u32::MAX), 4)
}

pub(crate) fn port_elems(ports: &[(u16, u16)]) -> Vec<Elem> {
    let ranges = ports.iter().map(|&(a, b)| (u64::from(a), u64::from(b))).collect();
    interval_elems(ranges, u64::from(u16::MAX), 2)
}

/// Lowers rules; hands out ids for anonymous sets after the named ones.
/// The ruleset's named sets with the ids a batch gives them, in `Ruleset::sets` order (ids from
/// 1; anonymous sets are numbered after them).
pub(crate) fn named_ids(rs: &Ruleset) -> Vec<(String, u32)> {
    let names = rs.sets.iter().map(|s| s.name.clone());
    let meters = rs.meters().into_iter().map(|m| m.name.to_string());
    names.chain(meters).zip(1..).collect()
}

/// The plan of a meter's dynamic set (no elements: they are the kernel's runtime state).
pub(crate) fn meter_set_plan(m: &crate::ir::Meter, id: u32) -> SetPlan {
    let keys: Vec<Key> = m
        .keys
        .iter()
        .map(|k| match k {
            crate::ir::MeterKey::Saddr(_) | crate::ir::MeterKey::Daddr(_) => Key::Ipv4,
            crate::ir::MeterKey::Port(..) => Key::Service,
        })
        .collect();
    let key = if keys.len() == 1 { keys[0].clone() } else { Key::Concat(keys) };
    SetPlan {
        name: m.name.to_string(),
        id,
        key,
        data: None,
        anonymous: false,
        interval: false,
        concat: Vec::new(),
        elems: Vec::new(),
        dynamic: Some(m.has_timeout()),
    }
}

pub(crate) struct Lowerer<'a> {
    /// Named sets of the table (by [`SetId`]) and their kernel ids.
    pub named: &'a [(String, u32)],
    /// The names the rules' origins point into.
    pub files: &'a Files,
    /// The ruleset's sets (a rule's comment holds an id made from its nft text).
    pub sets: &'a [Set],
    pub next_set_id: u32,
}

struct RuleCx<'l, 'a> {
    lowerer: &'l mut Lowerer<'a>,
    exprs: Vec<Expr>,
    anon_sets: Vec<SetPlan>,
    /// The transport protocol known from earlier matches (nft's protocol context).
    l4: Option<u8>,
}

fn op(neg: bool) -> CmpOp {
    if neg { CmpOp::Neq } else { CmpOp::Eq }
}

impl<'a> Lowerer<'a> {
    /// A lowerer for the rules of `rs`, whose named sets have the batch ids `named`
    /// ([`named_ids`]); anonymous sets are numbered after them.
    pub(crate) fn new(rs: &'a Ruleset, named: &'a [(String, u32)]) -> Lowerer<'a> {
        Lowerer { named, files: &rs.files, sets: &rs.sets, next_set_id: named.len() as u32 + 1 }
    }

    pub(crate) fn rule(&mut self, chain: &str, rule: &Rule) -> RulePlan {
        let l4 = None;
        let mut cx = RuleCx { lowerer: self, exprs: Vec::new(), anon_sets: Vec::new(), l4 };
        for m in &rule.matches {
            cx.push_match(m);
        }
        if rule.action == Action::Reject(RejectWith::TcpReset) && cx.l4 != Some(6) {
            let meta = Expr::Meta { key: MetaKey::L4Proto, dreg: REG_1 };
            cx.exprs.splice(0..0, [meta, Expr::Cmp(CmpOp::Eq, vec![6])]);
        }
        if rule.origin.is_some() || rule.action == Action::Count {
            cx.exprs.push(Expr::Counter);
        }
        cx.push_action(&rule.action);
        RulePlan {
            anon_sets: cx.anon_sets,
            exprs: cx.exprs,
            comment: crate::emit::comment(chain, rule, self.sets, self.files),
        }
    }

    fn set_ref(&self, set: SetId) -> SetRef {
        // The IR only names sets of its table (`named` is `Ruleset::sets` in order); an
        // unknown id keeps id 0 and the kernel refuses the rule (ENOENT), which the error
        // then names.
        let (name, id) =
            self.named.get(set.0 as usize).map_or(("", 0), |(n, id)| (n.as_str(), *id));
        SetRef { name: name.to_owned(), id }
    }
}

impl RuleCx<'_, '_> {
    fn anon_set(&mut self, key: Key, interval: bool, elems: Vec<Elem>) -> SetRef {
        self.anon(SetPlan {
            name: "__set%d".to_owned(),
            id: 0,
            key,
            data: None,
            anonymous: true,
            interval,
            concat: Vec::new(),
            elems,
            dynamic: None,
        })
    }

    /// A meter as nft sends it: the key's fields (protocol dependencies first) in consecutive
    /// 32-bit registers from register 1, a prefix mask on its own register, then the dynset
    /// with the statement each new element gets.
    fn meter(&mut self, m: &crate::ir::Meter) {
        use crate::ir::{MeterKey, MeterStmt};
        for k in &m.keys {
            if let MeterKey::Port(proto, _) = k {
                self.l4_dependency(l4_number(*proto));
            }
        }
        let mut reg32 = 0;
        for k in &m.keys {
            let dreg = if reg32 == 0 { REG_1 } else { REG32_00 + reg32 };
            match *k {
                MeterKey::Saddr(p) | MeterKey::Daddr(p) => {
                    let offset = if matches!(k, MeterKey::Saddr(_)) { 12 } else { 16 };
                    self.exprs.push(Expr::Payload { base: Base::Network, offset, len: 4, dreg });
                    if p < 32 {
                        let mask = crate::emit::prefix_mask(p).octets().to_vec();
                        self.exprs.push(if dreg == REG_1 {
                            Expr::Bitwise { mask, xor: vec![0; 4] }
                        } else {
                            Expr::BitwiseAt { reg: dreg, mask, xor: vec![0; 4] }
                        });
                    }
                    reg32 += 1;
                }
                MeterKey::Port(_, dir) => {
                    let offset = if dir == Dir::Src { 0 } else { 2 };
                    self.exprs.push(Expr::Payload { base: Base::Transport, offset, len: 2, dreg });
                    reg32 += 1;
                }
            }
        }
        let id = self.lowerer.named.iter().find(|(n, _)| **n == *m.name).map_or(0, |(_, id)| *id);
        let set = SetRef { name: m.name.to_string(), id };
        let (update, timeout_ms, expr) = match m.stmt {
            MeterStmt::Limit { rate, unit, burst, over, timeout_s } => {
                let limit =
                    Expr::Limit { rate: u64::from(rate), unit: unit.seconds(), burst, over };
                (true, Some(u64::from(timeout_s) * 1000), limit)
            }
            MeterStmt::CtCount { count, over } => (false, None, Expr::Connlimit { count, over }),
        };
        self.exprs.push(Expr::Dynset { set, update, timeout_ms, expr: Box::new(expr) });
    }

    /// Adds an anonymous set or map (its id given here) to the rule's.
    fn anon(&mut self, mut plan: SetPlan) -> SetRef {
        plan.id = self.lowerer.next_set_id;
        self.lowerer.next_set_id += 1;
        let set = SetRef { name: plan.name.clone(), id: plan.id };
        self.anon_sets.push(plan);
        set
    }

    /// `ip saddr . tcp dport { … }` (optimizer output): the fields loaded into consecutive
    /// 32-bit registers from register 1, looked up in an anonymous concatenated set, an
    /// interval one (start and end keys per element) when any value is a prefix or a range.
    fn tuple(&mut self, fields: &[Field], elements: &[Vec<TupleElem>]) {
        let plan = self.keyed(fields, elements.iter().map(Vec::as_slice), "__set%d");
        let set = self.anon(plan);
        self.exprs.push(Expr::Lookup { set, inverted: false, dreg: None });
    }

    /// `ip saddr . tcp dport vmap { … : accept, … }` (optimizer output): the same lookup into
    /// an anonymous verdict map, whose value is the verdict (register 0).
    fn vmap(&mut self, fields: &[Field], entries: &[(Vec<TupleElem>, MapVerdict)]) {
        let mut plan = self.keyed(fields, entries.iter().map(|e| e.0.as_slice()), "__map%d");
        plan.data = Some(Key::Verdict);
        for (elem, (_, verdict)) in plan.elems.iter_mut().zip(entries) {
            elem.verdict = Some(match verdict {
                MapVerdict::Accept => NF_ACCEPT,
                MapVerdict::Drop => NF_DROP,
            });
        }
        let map = self.anon(plan);
        self.exprs.push(Expr::Lookup { set: map, inverted: false, dreg: Some(REG_VERDICT) });
    }

    /// Loads the key fields (protocol dependencies first) and plans the anonymous set of
    /// `elements` over them: one field keeps its own type, several are concatenated, each
    /// padded to 4 bytes, with start and end keys when any value is a prefix or a range.
    fn keyed<'e>(
        &mut self,
        fields: &[Field],
        elements: impl Iterator<Item = &'e [TupleElem]>,
        name: &str,
    ) -> SetPlan {
        for f in fields {
            if let Field::Port(proto, _) = f {
                self.l4_dependency(l4_number(*proto));
            }
        }
        let mut reg32 = 0;
        let mut keys = Vec::with_capacity(fields.len());
        for f in fields {
            let dreg = if reg32 == 0 { REG_1 } else { REG32_00 + reg32 };
            let payload = |base, offset, key: Key| {
                (Expr::Payload { base, offset, len: key.len(), dreg }, key)
            };
            let (load, key) = match f {
                Field::Saddr => payload(Base::Network, 12, Key::Ipv4),
                Field::Daddr => payload(Base::Network, 16, Key::Ipv4),
                Field::Port(_, Dir::Src) => payload(Base::Transport, 0, Key::Service),
                Field::Port(_, Dir::Dst) => payload(Base::Transport, 2, Key::Service),
                Field::L4Proto => (Expr::Meta { key: MetaKey::L4Proto, dreg }, Key::Proto),
            };
            self.exprs.push(load);
            reg32 += key.len().div_ceil(4);
            keys.push(key);
        }
        let elements: Vec<&[TupleElem]> = elements.collect();
        let interval = elements.iter().copied().flatten().any(|v| match v {
            TupleElem::Net(n) => n.prefix() != 32,
            TupleElem::Ports(a, b) => a != b,
            TupleElem::L4(_) => false,
        });
        let concat = keys.len() > 1;
        let put = |parts: &mut Vec<u8>, bytes: &[u8]| {
            parts.extend_from_slice(bytes);
            if concat {
                parts.resize(parts.len().next_multiple_of(4), 0);
            }
        };
        let elems = elements
            .iter()
            .map(|values| {
                let (mut lo, mut hi) = (Vec::new(), Vec::new());
                for v in *values {
                    match v {
                        TupleElem::Net(n) => {
                            put(&mut lo, &n.network().octets());
                            put(&mut hi, &n.broadcast().octets());
                        }
                        TupleElem::Ports(a, b) => {
                            put(&mut lo, &a.to_be_bytes());
                            put(&mut hi, &b.to_be_bytes());
                        }
                        TupleElem::L4(p) => {
                            put(&mut lo, &[l4_number(*p)]);
                            put(&mut hi, &[l4_number(*p)]);
                        }
                    }
                }
                Elem { key: lo, key_end: interval.then_some(hi), ..Elem::default() }
            })
            .collect();
        let field_lens =
            if interval && concat { keys.iter().map(Key::len).collect() } else { Vec::new() };
        let key = if concat { Key::Concat(keys) } else { keys.remove(0) };
        SetPlan {
            name: name.to_owned(),
            id: 0,
            key,
            data: None,
            anonymous: true,
            interval,
            concat: field_lens,
            elems,
            dynamic: None,
        }
    }

    /// `dnat to tcp dport map { PORT : ADDR [. PORT], … }` (optimizer output): the port
    /// looked up in an anonymous map whose value lands in register 1 (the address) and, with
    /// ports, register 9 (the port).
    fn dnat_map(&mut self, proto: L4, entries: &[(u16, Ipv4Addr, Option<u16>)]) {
        self.l4_dependency(l4_number(proto));
        self.payload(Base::Transport, 2, 2);
        let with_ports = entries.iter().any(|e| e.2.is_some());
        let data = if with_ports { Key::Concat(vec![Key::Ipv4, Key::Service]) } else { Key::Ipv4 };
        let elems = entries
            .iter()
            .map(|(port, addr, to)| {
                let mut value = addr.octets().to_vec();
                if let Some(to) = to {
                    value.extend_from_slice(&to.to_be_bytes());
                    value.resize(8, 0);
                }
                Elem { key: port.to_be_bytes().to_vec(), data: Some(value), ..Elem::default() }
            })
            .collect();
        let map = self.anon(SetPlan {
            name: "__map%d".to_owned(),
            id: 0,
            key: Key::Service,
            data: Some(data),
            anonymous: true,
            interval: false,
            concat: Vec::new(),
            elems,
            dynamic: None,
        });
        self.exprs.push(Expr::Lookup { set: map, inverted: false, dreg: Some(REG_1) });
        let regs = NatRegs {
            addr_min: Some(REG_1),
            proto_min: with_ports.then_some(REG32_01),
            ..NatRegs::default()
        };
        self.exprs.push(Expr::Nat { kind: NatKind::Dnat, regs });
    }

    fn payload(&mut self, base: Base, offset: u32, len: u32) {
        self.exprs.push(Expr::Payload { base, offset, len, dreg: REG_1 });
    }

    /// `meta l4proto P`, unless the protocol context already says P.
    fn l4_dependency(&mut self, proto: u8) {
        if self.l4 != Some(proto) {
            self.exprs.push(Expr::Meta { key: MetaKey::L4Proto, dreg: REG_1 });
            self.exprs.push(Expr::Cmp(CmpOp::Eq, vec![proto]));
            self.l4 = Some(proto);
        }
    }

    fn push_match(&mut self, m: &Match) {
        match m {
            Match::Tuple(t) => self.tuple(&t.fields, &t.elements),
            Match::IifName { neg, name } => self.ifname(MetaKey::IifName, *neg, name),
            Match::OifName { neg, name } => self.ifname(MetaKey::OifName, *neg, name),
            Match::Saddr { neg, addrs } => self.addr(12, *neg, addrs),
            Match::Daddr { neg, addrs } => self.addr(16, *neg, addrs),
            Match::Protocol { neg, proto } => {
                self.payload(Base::Network, 9, 1);
                self.exprs.push(Expr::Cmp(op(*neg), vec![*proto]));
                if !neg {
                    self.l4 = Some(*proto);
                }
            }
            Match::Port { proto, dir, neg, ports } => self.port(*proto, *dir, *neg, ports),
            Match::CtState { neg, states } => self.ct_state(*neg, states),
            Match::Limit { rate, unit, burst } => {
                let unit = unit.seconds();
                let (rate, burst) = (u64::from(*rate), *burst);
                self.exprs.push(Expr::Limit { rate, unit, burst, over: false });
            }
            Match::IcmpType { neg, kind, code } => {
                self.l4_dependency(1);
                match (neg, code) {
                    (_, None) => {
                        self.payload(Base::Transport, 0, 1);
                        self.exprs.push(Expr::Cmp(op(*neg), vec![*kind]));
                    }
                    (false, Some(code)) => {
                        self.payload(Base::Transport, 0, 2);
                        self.exprs.push(Expr::Cmp(CmpOp::Eq, vec![*kind, *code]));
                    }
                    // `icmp type . icmp code != { T . C }`: a concatenation, each field in its
                    // own 32-bit register, looked up in an anonymous set.
                    (true, Some(code)) => {
                        self.payload(Base::Transport, 0, 1);
                        self.exprs.push(Expr::Payload {
                            base: Base::Transport,
                            offset: 1,
                            len: 1,
                            dreg: REG32_01,
                        });
                        let key = vec![*kind, 0, 0, 0, *code, 0, 0, 0];
                        let elems = vec![Elem { key, ..Elem::default() }];
                        let set = self.anon_set(Key::IcmpTypeCode, false, elems);
                        self.exprs.push(Expr::Lookup { set, inverted: true, dreg: None });
                    }
                }
            }
            Match::TcpSyn { neg } => {
                self.l4_dependency(6);
                self.payload(Base::Transport, 13, 1);
                // fin|syn|rst|ack
                self.exprs.push(Expr::Bitwise { mask: vec![0x17], xor: vec![0] });
                self.exprs.push(Expr::Cmp(op(*neg), vec![0x02]));
            }
            Match::TcpFlags { neg, mask, comp } => {
                self.l4_dependency(6);
                self.payload(Base::Transport, 13, 1);
                self.exprs.push(Expr::Bitwise { mask: vec![*mask], xor: vec![0] });
                self.exprs.push(Expr::Cmp(op(*neg), vec![*comp]));
            }
            Match::Value { key: key @ (ValueKey::SkUid | ValueKey::SkGid), neg, cmp } => {
                let meta = if *key == ValueKey::SkUid { MetaKey::SkUid } else { MetaKey::SkGid };
                self.exprs.push(Expr::Meta { key: meta, dreg: REG_1 });
                // Host byte order: nft compares a range after turning it big-endian.
                match cmp {
                    Cmp::Range(a, b) if a == b => {
                        self.exprs.push(Expr::Cmp(op(*neg), a.to_ne_bytes().to_vec()))
                    }
                    Cmp::Range(a, b) => {
                        self.exprs.push(Expr::Hton32);
                        self.range(*neg, a.to_be_bytes().to_vec(), b.to_be_bytes().to_vec());
                    }
                    Cmp::Gt(n) | Cmp::Lt(n) => {
                        let o = if matches!(cmp, Cmp::Gt(_)) { CmpOp::Gt } else { CmpOp::Lt };
                        self.exprs.push(Expr::Hton32);
                        self.exprs.push(Expr::Cmp(o, n.to_be_bytes().to_vec()));
                    }
                }
            }
            // Host byte order, as `meta skuid`.
            Match::Value { key: ValueKey::CtExpire, neg, cmp } => {
                self.exprs.push(Expr::Ct { key: CT_EXPIRATION, dir: None });
                match cmp {
                    Cmp::Range(a, b) if a == b => {
                        self.exprs.push(Expr::Cmp(op(*neg), a.to_ne_bytes().to_vec()))
                    }
                    Cmp::Range(a, b) => {
                        self.exprs.push(Expr::Hton32);
                        self.range(*neg, a.to_be_bytes().to_vec(), b.to_be_bytes().to_vec());
                    }
                    Cmp::Gt(_) | Cmp::Lt(_) => {}
                }
            }
            Match::Value { key, neg, cmp } => self.value(*key, *neg, *cmp),
            // `ct status` is a host-endian 32-bit bitmask.
            Match::CtStatus { neg, bits } => {
                self.exprs.push(Expr::Ct { key: CT_STATUS, dir: None });
                self.exprs
                    .push(Expr::Bitwise { mask: bits.to_ne_bytes().to_vec(), xor: vec![0; 4] });
                let o = if *neg { CmpOp::Eq } else { CmpOp::Neq };
                self.exprs.push(Expr::Cmp(o, vec![0; 4]));
            }
            // As `ip saddr`, but the whole address is always loaded.
            Match::CtAddr { neg, repl, dst, net } => {
                let key = if *dst { CT_DST_IP } else { CT_SRC_IP };
                self.exprs.push(Expr::Ct { key, dir: Some(u8::from(*repl)) });
                let p = usize::from(net.prefix());
                let bytes = net.network().octets();
                if p % 8 == 0 {
                    self.exprs.push(Expr::Cmp(op(*neg), bytes[..p / 8].to_vec()));
                } else {
                    let mask = net.mask().octets().to_vec();
                    self.exprs.push(Expr::Bitwise { mask, xor: vec![0; 4] });
                    self.exprs.push(Expr::Cmp(op(*neg), bytes.to_vec()));
                }
            }
            // As nft 1.0.6 lowers `meta time >= N` (nanoseconds, compared big-endian).
            Match::MetaTime { ge, secs } => {
                self.exprs.push(Expr::Meta { key: MetaKey::TimeNs, dreg: REG_1 });
                self.exprs.push(Expr::Hton64);
                let ns = secs.saturating_mul(1_000_000_000);
                let o = if *ge { CmpOp::Gte } else { CmpOp::Lt };
                self.exprs.push(Expr::Cmp(o, ns.to_be_bytes().to_vec()));
            }
            // One second: compared in host order; a range: big-endian after a byteorder.
            Match::MetaHour { neg, lo, hi } => {
                self.exprs.push(Expr::Meta { key: MetaKey::TimeHour, dreg: REG_1 });
                if lo == hi {
                    self.exprs.push(Expr::Cmp(op(*neg), lo.to_ne_bytes().to_vec()));
                } else {
                    self.exprs.push(Expr::Hton32);
                    let (a, b) = (lo.to_be_bytes().to_vec(), hi.to_be_bytes().to_vec());
                    if *neg {
                        self.exprs.push(Expr::RangeNeq(a, b));
                    } else {
                        self.exprs.push(Expr::Cmp(CmpOp::Gte, a));
                        self.exprs.push(Expr::Cmp(CmpOp::Lte, b));
                    }
                }
            }
            Match::MetaDay { days, .. } => {
                self.exprs.push(Expr::Meta { key: MetaKey::TimeDay, dreg: REG_1 });
                match crate::ir::DayForm::of(*days) {
                    crate::ir::DayForm::One(d) => self.exprs.push(Expr::Cmp(CmpOp::Eq, vec![d])),
                    crate::ir::DayForm::Range(a, b) => {
                        self.exprs.push(Expr::Cmp(CmpOp::Gte, vec![a]));
                        self.exprs.push(Expr::Cmp(CmpOp::Lte, vec![b]));
                    }
                    crate::ir::DayForm::Set(l) => {
                        let elems = l.iter().map(|d| Elem { key: vec![*d], ..Elem::default() });
                        let set = self.anon_set(Key::Day, false, elems.collect());
                        self.exprs.push(Expr::Lookup { set, inverted: false, dreg: None });
                    }
                }
            }
            // As nft 1.0.6: the type is bits 1-4 of byte 8, compared shifted (`type << 1`).
            Match::DccpType { neg, types } => {
                self.l4_dependency(33);
                self.payload(Base::Transport, 8, 1);
                self.exprs.push(Expr::Bitwise { mask: vec![0x1e], xor: vec![0] });
                let shifted: Vec<u8> =
                    (0..16u8).filter(|t| types & (1 << t) != 0).map(|t| t << 1).collect();
                if let [one] = shifted.as_slice() {
                    self.exprs.push(Expr::Cmp(op(*neg), vec![*one]));
                } else {
                    let elems = shifted.iter().map(|t| Elem { key: vec![*t], ..Elem::default() });
                    let set = self.anon_set(Key::DccpType, false, elems.collect());
                    self.exprs.push(Expr::Lookup { set, inverted: *neg, dreg: None });
                }
            }
            Match::EtherSaddr { neg, addr } => {
                // nft's dependency: the input device is an Ethernet one (ARPHRD_ETHER).
                self.exprs.push(Expr::Meta { key: MetaKey::IifType, dreg: REG_1 });
                self.exprs.push(Expr::Cmp(CmpOp::Eq, 1u16.to_ne_bytes().to_vec()));
                self.payload(Base::Link, 6, 6);
                self.exprs.push(Expr::Cmp(op(*neg), addr.to_vec()));
            }
            // `meta random` is compared as a big-endian number.
            Match::Random { neg, below } => {
                self.exprs.push(Expr::Meta { key: MetaKey::PRandom, dreg: REG_1 });
                self.exprs.push(Expr::Bitwise {
                    mask: 0x7fff_ffffu32.to_be_bytes().to_vec(),
                    xor: vec![0; 4],
                });
                let o = if *neg { CmpOp::Gte } else { CmpOp::Lt };
                self.exprs.push(Expr::Cmp(o, below.to_be_bytes().to_vec()));
            }
            Match::Nth { neg, every, value } => {
                self.exprs.push(Expr::NumgenInc(*every));
                self.exprs.push(Expr::Cmp(op(*neg), value.to_ne_bytes().to_vec()));
            }
            Match::AddrType { neg, dst, iface, types } => {
                // NFTA_FIB_F_SADDR 1, DADDR 2, IIF 8, OIF 16.
                let mut flags = if *dst { 2 } else { 1 };
                flags |= match iface {
                    Some(Dir::Src) => 8,
                    Some(Dir::Dst) => 16,
                    None => 0,
                };
                self.exprs.push(Expr::FibType(flags));
                let list: Vec<u32> = (0..16).filter(|i| types & (1 << i) != 0).collect();
                if let [one] = list[..] {
                    self.exprs.push(Expr::Cmp(op(*neg), one.to_ne_bytes().to_vec()));
                } else {
                    let elems = plain_elems(list.iter().map(|t| t.to_ne_bytes().to_vec()));
                    let set = self.anon_set(Key::FibAddrType, false, elems);
                    self.exprs.push(Expr::Lookup { set, inverted: *neg, dreg: None });
                }
            }
            Match::Meter(m) => self.meter(m),
            // A boolean, one byte, as nft sends `exists` (1) and `missing` (0).
            Match::Ipsec { out, exists } => {
                self.exprs.push(if *out {
                    Expr::RtIpsec
                } else {
                    Expr::Meta { key: MetaKey::Secpath, dreg: REG_1 }
                });
                self.exprs.push(Expr::Cmp(CmpOp::Eq, vec![u8::from(*exists)]));
            }
            // Host-endian 32-bit values, as marks.
            Match::Meta { key, neg, value, mask } => {
                let key = match key {
                    crate::ir::MetaKey::IifGroup => MetaKey::IifGroup,
                    crate::ir::MetaKey::OifGroup => MetaKey::OifGroup,
                    crate::ir::MetaKey::RtClassid => MetaKey::RtClassid,
                    crate::ir::MetaKey::Cpu => MetaKey::Cpu,
                    crate::ir::MetaKey::Cgroup => MetaKey::Cgroup,
                };
                self.exprs.push(Expr::Meta { key, dreg: REG_1 });
                if *mask != u32::MAX {
                    self.exprs
                        .push(Expr::Bitwise { mask: mask.to_ne_bytes().to_vec(), xor: vec![0; 4] });
                }
                self.exprs.push(Expr::Cmp(op(*neg), value.to_ne_bytes().to_vec()));
            }
            // The name zero-padded to NF_CT_HELPER_NAME_LEN (16), as nft compares it.
            Match::CtHelper { name } => {
                self.exprs.push(Expr::Ct { key: CT_HELPER, dir: None });
                let mut bytes = name.as_bytes().to_vec();
                bytes.resize(16, 0);
                self.exprs.push(Expr::Cmp(CmpOp::Eq, bytes));
            }
            // The labels are a 128-bit host-endian bitmap: the bit masked, then compared with
            // zero, as nft sends `ct label N`.
            Match::CtLabel { bit } => {
                self.exprs.push(Expr::Ct { key: CT_LABELS, dir: None });
                let mask = (1u128 << bit).to_ne_bytes().to_vec();
                self.exprs.push(Expr::Bitwise { mask, xor: vec![0; 16] });
                self.exprs.push(Expr::Cmp(CmpOp::Neq, vec![0; 16]));
            }
            Match::TcpOption { neg, kind } => {
                self.exprs.push(Expr::TcpOptPresent(*kind));
                self.exprs.push(Expr::Cmp(CmpOp::Eq, vec![u8::from(!*neg)]));
            }
            Match::Quota { neg, bytes } => {
                self.exprs.push(Expr::Quota { bytes: *bytes, inv: *neg });
            }
            // Host-endian 64-bit counters: nft compares one value as it is, and orders them
            // after turning them big-endian.
            Match::Connbytes { dir, mode, neg, lo, hi } => {
                let key = match mode {
                    crate::ir::CtCount::Packets => CT_PKTS,
                    crate::ir::CtCount::Bytes => CT_BYTES,
                    crate::ir::CtCount::AvgPkt => CT_AVGPKT,
                };
                let dir = match dir {
                    crate::ir::CtDir::Original => Some(0),
                    crate::ir::CtDir::Reply => Some(1),
                    crate::ir::CtDir::Both => None,
                };
                self.exprs.push(Expr::Ct { key, dir });
                let be = |n: &u64| n.to_be_bytes().to_vec();
                if *hi == u64::MAX {
                    self.exprs.push(Expr::Hton64);
                    let o = if *neg { CmpOp::Lt } else { CmpOp::Gte };
                    self.exprs.push(Expr::Cmp(o, be(lo)));
                } else if lo == hi {
                    self.exprs.push(Expr::Cmp(op(*neg), lo.to_ne_bytes().to_vec()));
                } else {
                    self.exprs.push(Expr::Hton64);
                    self.range(*neg, be(lo), be(hi));
                }
            }
            // Marks are host-endian 32-bit values.
            Match::Mark { ct, neg, value, mask } => {
                self.load_mark(*ct);
                if *mask != u32::MAX {
                    self.exprs
                        .push(Expr::Bitwise { mask: mask.to_ne_bytes().to_vec(), xor: vec![0; 4] });
                }
                self.exprs.push(Expr::Cmp(op(*neg), value.to_ne_bytes().to_vec()));
            }
        }
    }

    /// A header value against a number or range, loaded and masked as nft does; numbers are
    /// big-endian of the field's width (`ip dscp` shifted to its bits).
    fn value(&mut self, key: ValueKey, neg: bool, cmp: Cmp) {
        let (width, mask, shift): (usize, Option<Vec<u8>>, u32) = match key {
            ValueKey::IpLength => {
                self.payload(Base::Network, 2, 2);
                (2, None, 0)
            }
            ValueKey::Ttl => {
                self.payload(Base::Network, 8, 1);
                (1, None, 0)
            }
            ValueKey::PktType => {
                self.exprs.push(Expr::Meta { key: MetaKey::PktType, dreg: REG_1 });
                (1, None, 0)
            }
            ValueKey::FragOffset => {
                self.payload(Base::Network, 6, 2);
                (2, Some(vec![0x1f, 0xff]), 0)
            }
            ValueKey::Dscp => {
                self.payload(Base::Network, 1, 1);
                (1, Some(vec![0xfc]), 2)
            }
            ValueKey::Ecn => {
                self.payload(Base::Network, 1, 1);
                (1, Some(vec![0x03]), 0)
            }
            ValueKey::AhSpi => {
                self.l4_dependency(51);
                self.payload(Base::Transport, 4, 4);
                (4, None, 0)
            }
            ValueKey::EspSpi => {
                self.l4_dependency(50);
                self.payload(Base::Transport, 0, 4);
                (4, None, 0)
            }
            // nft adds no protocol dependency: the kernel reads TCP options of TCP only.
            ValueKey::TcpMss => {
                self.exprs.push(Expr::ReadMss);
                (2, None, 0)
            }
            ValueKey::CtProto => {
                self.exprs.push(Expr::Ct { key: CT_PROTOCOL, dir: Some(0) });
                (1, None, 0)
            }
            ValueKey::CtPort { repl, dst } => {
                let key = if dst { CT_PROTO_DST } else { CT_PROTO_SRC };
                self.exprs.push(Expr::Ct { key, dir: Some(u8::from(repl)) });
                (2, None, 0)
            }
            ValueKey::CtDir => {
                self.exprs.push(Expr::Ct { key: CT_DIRECTION, dir: None });
                (1, None, 0)
            }
            // Host byte order: lowered in `push_match`.
            ValueKey::SkUid | ValueKey::SkGid | ValueKey::CtExpire => return,
        };
        if let Some(mask) = mask {
            let xor = vec![0; mask.len()];
            self.exprs.push(Expr::Bitwise { mask, xor });
        }
        let be = |n: u32| (n << shift).to_be_bytes()[4 - width..].to_vec();
        match cmp {
            Cmp::Gt(n) => self.exprs.push(Expr::Cmp(CmpOp::Gt, be(n))),
            Cmp::Lt(n) => self.exprs.push(Expr::Cmp(CmpOp::Lt, be(n))),
            Cmp::Range(a, b) if a == b => self.exprs.push(Expr::Cmp(op(neg), be(a))),
            Cmp::Range(a, b) => self.range(neg, be(a), be(b)),
        }
    }

    /// `meta load mark => reg 1`, or `ct load mark`.
    fn load_mark(&mut self, ct: bool) {
        self.exprs.push(if ct {
            Expr::CtMark
        } else {
            Expr::Meta { key: MetaKey::Mark, dreg: REG_1 }
        });
    }

    fn ifname(&mut self, key: MetaKey, neg: bool, name: &str) {
        self.exprs.push(Expr::Meta { key, dreg: REG_1 });
        let data = crate::ir::IfName::parse(name).bytes();
        self.exprs.push(Expr::Cmp(op(neg), data));
    }

    /// `ip saddr/daddr` against one network, with nft's choice of load width.
    fn prefix(&mut self, offset: u32, op: CmpOp, net: &Ipv4Network) {
        let p = u32::from(net.prefix());
        let bytes = net.network().octets();
        if p == 32 {
            self.payload(Base::Network, offset, 4);
            self.exprs.push(Expr::Cmp(op, net.ip().octets().to_vec()));
        } else if p > 0 && p % 8 == 0 {
            self.payload(Base::Network, offset, p / 8);
            self.exprs.push(Expr::Cmp(op, bytes[..(p / 8) as usize].to_vec()));
        } else {
            self.payload(Base::Network, offset, 4);
            self.exprs.push(Expr::Bitwise { mask: net.mask().octets().to_vec(), xor: vec![0; 4] });
            self.exprs.push(Expr::Cmp(op, bytes.to_vec()));
        }
    }

    fn range(&mut self, neg: bool, lo: Vec<u8>, hi: Vec<u8>) {
        if neg {
            self.exprs.push(Expr::RangeNeq(lo, hi));
        } else {
            self.exprs.push(Expr::Cmp(CmpOp::Gte, lo));
            self.exprs.push(Expr::Cmp(CmpOp::Lte, hi));
        }
    }

    fn addr(&mut self, offset: u32, neg: bool, addrs: &AddrMatch) {
        let any: Ipv4Network = Ipv4Network::new(Ipv4Addr::UNSPECIFIED, 0).expect("/0 is valid");
        match addrs {
            // The emitter prints `ip saddr != 0.0.0.0/0` (matches nothing) or its negation.
            AddrMatch::Nets(nets) if nets.is_empty() => self.prefix(offset, op(!neg), &any),
            AddrMatch::Nets(nets) if nets.len() == 1 => self.prefix(offset, op(neg), &nets[0]),
            AddrMatch::Nets(nets) => {
                self.payload(Base::Network, offset, 4);
                // Only single addresses: nft makes a plain set, not an interval set.
                let set = if nets.iter().all(|n| n.prefix() == 32) {
                    let keys = nets.iter().map(|n| n.ip().octets().to_vec());
                    self.anon_set(Key::Ipv4, false, plain_elems(keys))
                } else {
                    self.anon_set(Key::Ipv4, true, addr_elems(nets))
                };
                self.exprs.push(Expr::Lookup { set, inverted: neg, dreg: None });
            }
            AddrMatch::Range(a, b) => {
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                self.payload(Base::Network, offset, 4);
                if lo == hi {
                    self.exprs.push(Expr::Cmp(op(neg), lo.octets().to_vec()));
                } else {
                    self.range(neg, lo.octets().to_vec(), hi.octets().to_vec());
                }
            }
            AddrMatch::Set(id) => {
                self.payload(Base::Network, offset, 4);
                let set = self.lowerer.set_ref(*id);
                self.exprs.push(Expr::Lookup { set, inverted: neg, dreg: None });
            }
            AddrMatch::Masked { addr, mask } => {
                self.payload(Base::Network, offset, 4);
                self.exprs.push(Expr::Bitwise { mask: mask.octets().to_vec(), xor: vec![0; 4] });
                self.exprs.push(Expr::Cmp(op(neg), addr.octets().to_vec()));
            }
        }
    }

    fn port(&mut self, proto: L4, dir: Dir, neg: bool, ports: &PortMatch) {
        self.l4_dependency(l4_number(proto));
        let offset = match dir {
            Dir::Src => 0,
            Dir::Dst => 2,
        };
        self.payload(Base::Transport, offset, 2);
        let be = |p: u16| p.to_be_bytes().to_vec();
        match ports {
            // The emitter prints `!= 0-65535` (matches nothing) or, negated, `0-65535`.
            PortMatch::Ports(list) if list.is_empty() => self.range(!neg, be(0), be(u16::MAX)),
            PortMatch::Ports(list) if list.len() == 1 => {
                let (a, b) = list[0];
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                if lo == hi {
                    self.exprs.push(Expr::Cmp(op(neg), be(lo)));
                } else {
                    self.range(neg, be(lo), be(hi));
                }
            }
            PortMatch::Ports(list) => {
                let set = if list.iter().all(|(lo, hi)| lo == hi) {
                    let keys = list.iter().map(|(p, _)| p.to_be_bytes().to_vec());
                    self.anon_set(Key::Service, false, plain_elems(keys))
                } else {
                    self.anon_set(Key::Service, true, port_elems(list))
                };
                self.exprs.push(Expr::Lookup { set, inverted: neg, dreg: None });
            }
            PortMatch::Set(id) => {
                let set = self.lowerer.set_ref(*id);
                self.exprs.push(Expr::Lookup { set, inverted: neg, dreg: None });
            }
        }
    }

    fn ct_state(&mut self, neg: bool, states: &[CtState]) {
        // `ct state` is a host-endian 32-bit bitmask.
        let bit = |s: &CtState| s.kernel_bit();
        let mask: u32 = states.iter().map(bit).fold(0, |a, b| a | b);
        self.exprs.push(Expr::CtState);
        match (neg, states) {
            (true, [one]) => {
                self.exprs.push(Expr::Cmp(CmpOp::Neq, bit(one).to_ne_bytes().to_vec()))
            }
            _ => {
                self.exprs
                    .push(Expr::Bitwise { mask: mask.to_ne_bytes().to_vec(), xor: vec![0; 4] });
                // "any of them": masked != 0; "none of them": masked == 0.
                self.exprs.push(Expr::Cmp(op(!neg), vec![0; 4]));
            }
        }
    }

    /// Loads addresses and ports into registers 1.. for a NAT-like statement.
    fn nat_regs(
        &mut self,
        addrs: Option<(Ipv4Addr, Ipv4Addr)>,
        ports: Option<(u16, u16)>,
        flags: NatFlags,
    ) -> NatRegs {
        let mut regs = NatRegs::default();
        let mut next = REG_1;
        let mut load = |exprs: &mut Vec<Expr>, data: Vec<u8>| {
            exprs.push(Expr::Immediate { dreg: next, data });
            next += 1;
            next - 1
        };
        if let Some((lo, hi)) = addrs {
            regs.addr_min = Some(load(&mut self.exprs, lo.octets().to_vec()));
            if hi != lo {
                regs.addr_max = Some(load(&mut self.exprs, hi.octets().to_vec()));
            }
        }
        if let Some((a, b)) = ports {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            regs.proto_min = Some(load(&mut self.exprs, lo.to_be_bytes().to_vec()));
            if hi != lo {
                regs.proto_max = Some(load(&mut self.exprs, hi.to_be_bytes().to_vec()));
            }
            regs.flags |= NAT_PROTO_SPECIFIED;
        }
        for (f, bit) in [
            (NatFlags::RANDOM, NAT_PROTO_RANDOM),
            (NatFlags::FULLY_RANDOM, NAT_PROTO_RANDOM_FULLY),
            (NatFlags::PERSISTENT, NAT_PERSISTENT),
        ] {
            if flags.contains(f) {
                regs.flags |= bit;
            }
        }
        regs
    }

    fn nat(&mut self, kind: NatKind, to: &NatTarget, flags: NatFlags) {
        let end = to.addr_end.unwrap_or(to.addr);
        let addrs = if to.addr <= end { (to.addr, end) } else { (end, to.addr) };
        let regs = self.nat_regs(Some(addrs), to.ports, flags);
        self.exprs.push(Expr::Nat { kind, regs });
    }

    /// NETMAP: the whole network as an address range, with the kernel's NETMAP flag.
    fn netmap(&mut self, kind: NatKind, to: &Ipv4Network) {
        self.exprs.push(Expr::Immediate { dreg: REG_1, data: to.network().octets().to_vec() });
        self.exprs.push(Expr::Immediate { dreg: 2, data: to.broadcast().octets().to_vec() });
        let regs = NatRegs {
            addr_min: Some(REG_1),
            addr_max: Some(2),
            flags: NAT_NETMAP,
            ..NatRegs::default()
        };
        self.exprs.push(Expr::Nat { kind, regs });
    }

    fn push_action(&mut self, action: &Action) {
        match action {
            Action::DnatMap { proto, entries } => self.dnat_map(*proto, entries),
            Action::Vmap(map) => self.vmap(&map.fields, &map.entries),
            Action::Count => {}
            Action::Accept => self.exprs.push(Expr::Accept),
            Action::Drop => self.exprs.push(Expr::Drop),
            Action::Return => self.exprs.push(Expr::Return),
            Action::Jump(chain) => self.exprs.push(Expr::Jump(chain.to_string())),
            Action::Reject(with) => {
                self.exprs.push(with.icmp_code().map_or(Expr::RejectTcpReset, Expr::RejectIcmp))
            }
            Action::Log { prefix, level, flags } => {
                // As the emitter: `$` becomes `_` (nft 1.0.6 would expand it), then cut.
                let prefix = prefix.as_ref().map(|p| {
                    let p: String = p.chars().map(|c| if c == '$' { '_' } else { c }).collect();
                    truncate(&p, LOG_PREFIX_MAX).to_owned()
                });
                let level = level.map(|l| u32::from(l.number()));
                self.exprs.push(Expr::Log { prefix, level, flags: u32::from(flags.0) });
            }
            Action::Dnat { to, flags } => self.nat(NatKind::Dnat, to, *flags),
            Action::Snat { to, flags } => self.nat(NatKind::Snat, to, *flags),
            Action::Masquerade { ports, flags } => {
                let regs = self.nat_regs(None, *ports, *flags);
                self.exprs.push(Expr::Masq(regs));
            }
            Action::Redirect { ports, flags } => {
                let regs = self.nat_regs(None, *ports, *flags);
                self.exprs.push(Expr::Redir(regs));
            }
            Action::NetmapDnat { to } => self.netmap(NatKind::Dnat, to),
            Action::NetmapSnat { to } => self.netmap(NatKind::Snat, to),
            Action::Dup { to } => {
                self.exprs.push(Expr::Immediate { dreg: REG_1, data: to.octets().to_vec() });
                self.exprs.push(Expr::Dup { sreg_addr: REG_1 });
            }
            // As nft 1.0.6 lowers `meta mark set 0x1` (an immediate) and `meta mark set meta
            // mark & A ^ X` (one bitwise of mask and xor).
            Action::Mark { ct, and, xor } => {
                if *and == 0 {
                    self.exprs
                        .push(Expr::Immediate { dreg: REG_1, data: xor.to_ne_bytes().to_vec() });
                } else {
                    self.load_mark(*ct);
                    self.exprs.push(Expr::Bitwise {
                        mask: and.to_ne_bytes().to_vec(),
                        xor: xor.to_ne_bytes().to_vec(),
                    });
                }
                self.exprs.push(Expr::SetMark { ct: *ct });
            }
            Action::Nflog(n) => self.exprs.push(Expr::NfLog {
                prefix: n.prefix.as_ref().map(|p| p.to_string()),
                group: n.group,
                snaplen: n.snaplen,
                threshold: n.threshold,
            }),
            Action::MarkCopy { to_ct } => {
                self.load_mark(!*to_ct);
                self.exprs.push(Expr::SetMark { ct: *to_ct });
            }
            // As nft 1.0.6 lowers `ip dscp set N`: the version/IHL byte and the ECN bits
            // kept, the DSCP bits replaced, written back with the checksum fixed.
            Action::Dscp(n) => {
                self.exprs.push(Expr::Payload {
                    base: Base::Network,
                    offset: 0,
                    len: 2,
                    dreg: REG_1,
                });
                self.exprs.push(Expr::Bitwise { mask: vec![0xff, 0x03], xor: vec![0, *n << 2] });
                self.exprs.push(Expr::WriteIpHead16);
            }
            Action::Classify(c) => {
                self.exprs.push(Expr::Immediate { dreg: REG_1, data: c.to_ne_bytes().to_vec() });
                self.exprs.push(Expr::SetPriority);
            }
            // `log level audit` (NFT_LOGLEVEL_AUDIT).
            Action::Audit => self.exprs.push(Expr::Log { prefix: None, level: Some(8), flags: 0 }),
            Action::Queue(q) => self.exprs.push(Expr::Queue {
                num: q.first,
                total: q.last - q.first + 1,
                flags: u16::from(q.bypass) | (u16::from(q.fanout) << 1),
            }),
            // As nft 1.0.6 lowers `tcp option maxseg size set rt mtu` / `… set N`.
            Action::Tcpmss(Mss::ClampToPmtu) => {
                self.exprs.extend([Expr::RtTcpmss, Expr::Hton16, Expr::WriteMss]);
            }
            Action::Tcpmss(Mss::Set(n)) => {
                self.exprs.push(Expr::Immediate { dreg: REG_1, data: n.to_be_bytes().to_vec() });
                self.exprs.push(Expr::WriteMss);
            }
        }
    }
}

fn l4_number(proto: L4) -> u8 {
    match proto {
        L4::Tcp => 6,
        L4::Udp => 17,
        L4::Udplite => 136,
        L4::Sctp => 132,
        L4::Dccp => 33,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Origin;

    #[test]
    fn merging_joins_overlaps_and_neighbours_only() {
        assert_eq!(merge(vec![(85, 100), (22, 22), (80, 90)]), vec![(22, 22), (80, 100)]);
        assert_eq!(merge(vec![(1, 1), (2, 2), (4, 4)]), vec![(1, 2), (4, 4)]);
        assert_eq!(merge(vec![(5, 3)]), vec![(3, 5)]);
        assert_eq!(merge(vec![]), vec![]);
    }

    #[test]
    fn interval_elements_are_laid_out_like_nft() {
        let e = |v: u16, end: bool, open: bool| Elem {
            key: v.to_be_bytes().to_vec(),
            end,
            open,
            ..Elem::default()
        };
        assert_eq!(
            port_elems(&[(80, 100), (22, 22), (85, 90)]),
            vec![
                e(0, true, false),
                e(22, false, false),
                e(23, true, false),
                e(80, false, false),
                e(101, true, false)
            ]
        );
        // Starting at 0: no leading end; reaching 65535: no trailing end, "open" instead.
        assert_eq!(
            port_elems(&[(0, 100), (65535, 65535)]),
            vec![e(0, false, false), e(101, true, false), e(65535, false, true)]
        );
    }

    /// `meta l4proto . tcp dport { tcp . 80, tcp . 81 } dnat to tcp dport map { … }` as nft
    /// 1.0.6 sends it: the protocol dependency, the protocol in register 1 and the port in
    /// register 9, a hashed set of `inet_proto . inet_service` (each padded to 4 bytes), and no
    /// second dependency before the map.
    #[test]
    fn a_protocol_and_port_concatenation_is_laid_out_like_nft() {
        let files = Files::default();
        let mut lowerer = Lowerer { named: &[], files: &files, sets: &[], next_set_id: 1 };
        let keys = |p: u16| vec![TupleElem::L4(L4::Tcp), TupleElem::Ports(p, p)];
        let rule = Rule {
            matches: Box::new([Match::Tuple(Box::new(crate::ir::Tuple {
                fields: vec![Field::L4Proto, Field::Port(L4::Tcp, Dir::Dst)],
                elements: vec![keys(80), keys(81)],
            }))]),
            action: Action::DnatMap {
                proto: L4::Tcp,
                entries: Box::new([(80, Ipv4Addr::new(192, 0, 2, 1), None)]),
            },
            origin: None,
        };
        let plan = lowerer.rule("c", &rule);
        let meta = Expr::Meta { key: MetaKey::L4Proto, dreg: REG_1 };
        assert_eq!(
            plan.exprs[..4],
            [
                meta.clone(),
                Expr::Cmp(CmpOp::Eq, vec![6]),
                meta,
                Expr::Payload { base: Base::Transport, offset: 2, len: 2, dreg: REG32_01 },
            ]
        );
        assert_eq!(
            plan.exprs[5],
            Expr::Payload { base: Base::Transport, offset: 2, len: 2, dreg: REG_1 }
        );
        let set = &plan.anon_sets[0];
        assert_eq!((set.key.type_id(), set.key.len(), set.interval), ((12 << 6) | 13, 8, false));
        assert_eq!(set.elems[1].key, [6, 0, 0, 0, 0, 81, 0, 0]);
    }

    #[test]
    fn comments_are_cut_at_a_char_boundary() {
        let mut files = Files::default();
        files.insert(crate::diagnostic::FileId(0), "f");
        let o = Origin {
            file: crate::diagnostic::FileId(0),
            line: std::num::NonZeroU32::MIN,
            note: Some("é".repeat(100).into()),
        };
        let rule = Rule { matches: Box::new([]), action: Action::Accept, origin: Some(o) };
        let mut lowerer = Lowerer { named: &[], files: &files, sets: &[], next_set_id: 1 };
        let c = lowerer.rule("c", &rule).comment.expect("a comment");
        let id = crate::emit::rule_id("c", "counter accept") >> 16;
        assert!(c.len() <= crate::nft::COMMENT_MAX, "{c}");
        assert!(c.starts_with(&format!("f #{id:012x} é")), "{c}");
    }
}
