//! The set of packets a rule matches, field by field, and the two questions lints ask of it:
//! does one rule's set contain another's (`covers`), and can two sets share a packet
//! (`meets`). Each field is exact (interval sets, bit masks, interface patterns), so both
//! answers are exact per field; a rule matches the product of its fields, so "every field
//! covers" is a sound (sufficient) test for covering, and "some field cannot meet" a sound test
//! for disjointness.

use std::sync::Arc;

use ipnetwork::Ipv4Network;

use crate::inventory::{FwSetElements, Inventory};
use crate::ir::{AddrMatch, CtState, L4, Match, PortMatch};

/// Sorted, disjoint, non-adjacent inclusive intervals.
pub type Ivs = Vec<(u32, u32)>;

pub const ADDR_MAX: u32 = u32::MAX;
pub const PORT_MAX: u32 = u16::MAX as u32;
/// ICMP type and code as `type << 8 | code`.
pub const ICMP_MAX: u32 = u16::MAX as u32;
pub const CT_ALL: u8 = 0b1_1111;

/// Sorts and merges overlapping or adjacent intervals.
pub fn normalize(mut v: Vec<(u32, u32)>) -> Ivs {
    v.sort_unstable();
    let mut out: Ivs = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Everything in `0..=max` not in `v`.
pub fn complement(v: &[(u32, u32)], max: u32) -> Ivs {
    let mut out = Vec::with_capacity(v.len() + 1);
    let mut next = Some(0u32);
    for &(a, b) in v {
        if let Some(n) = next
            && a > n
        {
            out.push((n, a - 1));
        }
        next = b.checked_add(1);
    }
    if let Some(n) = next
        && n <= max
    {
        out.push((n, max));
    }
    out
}

pub fn intersect(a: &[(u32, u32)], b: &[(u32, u32)]) -> Ivs {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        let lo = a[i].0.max(b[j].0);
        let hi = a[i].1.min(b[j].1);
        if lo <= hi {
            out.push((lo, hi));
        }
        if a[i].1 < b[j].1 { i += 1 } else { j += 1 }
    }
    out
}

/// Every value of `a` is in `b`.
pub fn subset(a: &[(u32, u32)], b: &[(u32, u32)]) -> bool {
    let mut j = 0;
    for &(lo, hi) in a {
        while j < b.len() && b[j].1 < lo {
            j += 1;
        }
        // `b` is merged, so one interval of `b` must hold all of `(lo, hi)`.
        if j == b.len() || b[j].0 > lo || b[j].1 < hi {
            return false;
        }
    }
    true
}

pub fn overlaps(a: &[(u32, u32)], b: &[(u32, u32)]) -> bool {
    !intersect(a, b).is_empty()
}

pub fn net_ivs(n: &Ipv4Network) -> (u32, u32) {
    (u32::from(n.network()), u32::from(n.broadcast()))
}

/// The values of one field as [`Ivs`]; a single interval (most fields of most rules) is kept
/// inline, without an allocation: a 100,000-rule lint holds a shape per rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Vals {
    One((u32, u32)),
    Many(Arc<Ivs>),
}

impl Vals {
    pub fn new(v: Ivs) -> Vals {
        match v.as_slice() {
            [one] => Vals::One(*one),
            _ => Vals::Many(Arc::new(v)),
        }
    }
}

impl std::ops::Deref for Vals {
    type Target = [(u32, u32)];

    fn deref(&self) -> &[(u32, u32)] {
        match self {
            Vals::One(one) => std::slice::from_ref(one),
            Vals::Many(v) => v,
        }
    }
}

/// One field constrained to a set of values, or `None`: unconstrained (for ports and ICMP
/// also packets that have no such field).
pub type Field = Option<Vals>;

/// An interface match: negated, and the name (`eth*` is a prefix wildcard).
pub type Iface<'a> = Option<(bool, &'a str)>;

/// IP protocol numbers, one bit each, kept small: a lint holds a shape per rule, and nearly
/// every rule allows all protocols or one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protos {
    All,
    One(u8),
    /// Any other set (canonical: never all, never a single protocol).
    Bits(Box<[u64; 4]>),
}

impl Protos {
    fn from_bits(bits: [u64; 4]) -> Protos {
        if bits == [u64::MAX; 4] {
            return Protos::All;
        }
        if bits.iter().map(|w| w.count_ones()).sum::<u32>() == 1 {
            let (i, w) = bits.iter().enumerate().find(|(_, w)| **w != 0).expect("one bit");
            return Protos::One((i * 64) as u8 + w.trailing_zeros() as u8);
        }
        Protos::Bits(Box::new(bits))
    }

    pub fn bits(&self) -> [u64; 4] {
        match self {
            Protos::All => [u64::MAX; 4],
            Protos::One(n) => proto_bit(*n),
            Protos::Bits(b) => **b,
        }
    }

    /// No protocol at all. (Without making [`Protos::bits`]: building the four words and
    /// reading them back at once stalled on every rule; the shadow lint of a 50,000-rule chain
    /// 8.2 -> 7.7 ms.)
    pub fn is_empty(&self) -> bool {
        matches!(self, Protos::Bits(b) if **b == [0; 4])
    }

    /// The protocol, when exactly one is allowed.
    pub fn single(&self) -> Option<u8> {
        match self {
            Protos::One(n) => Some(*n),
            _ => None,
        }
    }

    /// Narrows to protocol `n` alone (what a port, ICMP or `--syn` match implies).
    fn and_only(&mut self, n: u8) {
        match self {
            Protos::All => *self = Protos::One(n),
            Protos::One(m) if *m == n => {}
            _ => self.and(proto_bit(n)),
        }
    }

    /// Narrows to the protocols also in `m`.
    fn and(&mut self, m: [u64; 4]) {
        let mut bits = self.bits();
        for (a, b) in bits.iter_mut().zip(m) {
            *a &= b;
        }
        *self = Protos::from_bits(bits);
    }
}

/// The packets one rule matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape<'a> {
    /// The interface names of [`Shape::iif`] and [`Shape::oif`]; their negations are in
    /// `if_neg` (bit 0 input, bit 1 output), which keeps the shape 16 bytes smaller.
    iif_name: Option<&'a str>,
    oif_name: Option<&'a str>,
    if_neg: u8,
    pub saddr: Field,
    pub daddr: Field,
    pub proto: Protos,
    pub sport: Field,
    pub dport: Field,
    pub icmp: Field,
    /// Conntrack states, one bit each (`CtState as u8`).
    pub ct: u8,
    /// `--syn` (true) or `! --syn` (false).
    pub syn: Option<bool>,
    /// A rate limit: the rule may let packets through to later rules, so it never covers.
    pub limited: bool,
    /// A match whose values are unknown (a set the inventory lacks): the rule never covers,
    /// and the field is taken as unconstrained (which only widens what the rule may match).
    pub opaque: bool,
}

impl<'a> Shape<'a> {
    /// Every packet: the shape of a rule without matches.
    pub fn universe() -> Shape<'a> {
        Shape {
            iif_name: None,
            oif_name: None,
            if_neg: 0,
            saddr: None,
            daddr: None,
            proto: Protos::All,
            sport: None,
            dport: None,
            icmp: None,
            ct: CT_ALL,
            syn: None,
            limited: false,
            opaque: false,
        }
    }

    /// The input-interface match.
    pub fn iif(&self) -> Iface<'a> {
        self.iif_name.map(|n| (self.if_neg & 1 != 0, n))
    }

    /// The output-interface match.
    pub fn oif(&self) -> Iface<'a> {
        self.oif_name.map(|n| (self.if_neg & 2 != 0, n))
    }

    fn set_iif(&mut self, i: Iface<'a>) {
        self.iif_name = i.map(|(_, n)| n);
        self.if_neg = (self.if_neg & !1) | u8::from(i.is_some_and(|(neg, _)| neg));
    }

    pub fn set_oif(&mut self, o: Iface<'a>) {
        self.oif_name = o.map(|(_, n)| n);
        self.if_neg = (self.if_neg & !2) | (u8::from(o.is_some_and(|(neg, _)| neg)) << 1);
    }

    /// Matches every packet: no match constrains anything.
    pub fn is_universe(&self) -> bool {
        self.iif_name.is_none()
            && self.oif_name.is_none()
            && self.saddr.is_none()
            && self.daddr.is_none()
            && self.proto == Protos::All
            && self.sport.is_none()
            && self.dport.is_none()
            && self.icmp.is_none()
            && self.ct == CT_ALL
            && self.syn.is_none()
            && !self.limited
            && !self.opaque
    }

    /// Which field can match no packet at all, if any (the rule never matches).
    pub fn empty_field(&self) -> Option<&'static str> {
        let empty = |f: &Field| f.as_ref().is_some_and(|v| v.is_empty());
        if empty(&self.saddr) {
            Some("source address")
        } else if empty(&self.daddr) {
            Some("destination address")
        } else if self.proto.is_empty() {
            Some("protocol")
        } else if empty(&self.sport) {
            Some("source port")
        } else if empty(&self.dport) {
            Some("destination port")
        } else if empty(&self.icmp) {
            Some("ICMP type")
        } else if self.ct == 0 {
            Some("connection state")
        } else {
            None
        }
    }
}

/// FWset contents as intervals, and their complements, computed once per set.
/// Indexed by [`crate::ir::SetId`]: the inventory's FWsets in name order.
pub struct Sets {
    vals: Vec<(Vals, Vals)>,
}

impl Sets {
    pub fn new(inv: &Inventory) -> Sets {
        let vals = inv
            .fwsets
            .values()
            .map(|s| {
                let (ivs, max) = match &s.elements {
                    FwSetElements::Addrs(a) => {
                        (normalize(a.iter().map(net_ivs).collect()), ADDR_MAX)
                    }
                    FwSetElements::Ports(p) => (
                        normalize(p.iter().map(|&(a, b)| (u32::from(a), u32::from(b))).collect()),
                        PORT_MAX,
                    ),
                };
                let comp = complement(&ivs, max);
                (Vals::new(ivs), Vals::new(comp))
            })
            .collect();
        Sets { vals }
    }

    fn get(&self, id: crate::ir::SetId, neg: bool) -> Option<Vals> {
        self.vals.get(id.0 as usize).map(|(p, n)| if neg { n.clone() } else { p.clone() })
    }
}

fn l4_number(p: L4) -> u8 {
    match p {
        L4::Tcp => 6,
        L4::Udp => 17,
        L4::Udplite => 136,
        L4::Sctp => 132,
        L4::Dccp => 33,
    }
}

fn proto_bit(n: u8) -> [u64; 4] {
    let mut m = [0u64; 4];
    m[usize::from(n / 64)] = 1 << (n % 64);
    m
}

pub fn ct_bit(s: CtState) -> u8 {
    1 << (s as u8)
}

/// Narrows a field by one more constraint (a rule's matches all hold).
fn and_field(into: &mut Field, v: Vals) {
    match into {
        None => *into = Some(v),
        Some(old) => *old = Vals::new(intersect(old, &v)),
    }
}

/// Narrows a field to the values of intervals (within `0..=max`), or of their complement if
/// `neg`. The common case, one interval not negated, allocates nothing and writes the interval
/// straight into the field: returned as a `Vals`, it was stored in two halves and loaded whole
/// at once (a store-forwarding stall on every match: a 50,000-rule chain's shadow lint took
/// 13.3 ms, 9.8 ms with the interval written in place).
fn and_ivs(
    into: &mut Field,
    mut ivs: impl ExactSizeIterator<Item = (u32, u32)>,
    neg: bool,
    max: u32,
) {
    if ivs.len() == 1 && !neg {
        let iv = ivs.next().expect("one interval");
        match into {
            None => *into = Some(Vals::One(iv)),
            Some(old) => *old = Vals::new(intersect(old, &[iv])),
        }
        return;
    }
    let v = normalize(ivs.collect());
    and_field(into, Vals::new(if neg { complement(&v, max) } else { v }));
}

/// The shape of a rule's matches.
pub fn shape<'a>(matches: &'a [Match], sets: &Sets) -> Shape<'a> {
    let mut s = Shape::universe();
    shape_into(matches, sets, &mut s);
    s
}

/// [`shape`], made in place: a lint that makes a shape for every rule keeps them where they are
/// used. (A shape returned by value was stored field by field and copied whole before the
/// stores had landed, a stall on every copy: 9.5 ms for a 50,000-rule chain's shadow lint,
/// 8.2 ms in place.)
pub fn shape_into<'a>(matches: &'a [Match], sets: &Sets, s: &mut Shape<'a>) {
    *s = Shape::universe();
    for m in matches {
        match m {
            Match::IifName { neg, name } => s.set_iif(Some((*neg, name))),
            Match::OifName { neg, name } => s.set_oif(Some((*neg, name))),
            Match::Saddr { neg, addrs } | Match::Daddr { neg, addrs } => {
                let field =
                    if matches!(m, Match::Saddr { .. }) { &mut s.saddr } else { &mut s.daddr };
                match addrs {
                    AddrMatch::Nets(n) => and_ivs(field, n.iter().map(net_ivs), *neg, ADDR_MAX),
                    AddrMatch::Range(a, b) => {
                        let iv = (u32::from(*a), u32::from(*b));
                        and_ivs(field, std::iter::once(iv), *neg, ADDR_MAX);
                    }
                    AddrMatch::Set(id) => match sets.get(*id, *neg) {
                        Some(v) => and_field(field, v),
                        None => s.opaque = true,
                    },
                    // Not an interval set: this rule covers nothing, and may meet anything.
                    AddrMatch::Masked { .. } => s.opaque = true,
                }
            }
            Match::Protocol { neg, proto } => {
                let mut bit = proto_bit(*proto);
                if *neg {
                    bit = bit.map(|w| !w);
                }
                s.proto.and(bit);
            }
            Match::Port { proto, dir, neg, ports } => {
                s.proto.and_only(l4_number(*proto));
                let field = if *dir == crate::ir::Dir::Src { &mut s.sport } else { &mut s.dport };
                match ports {
                    PortMatch::Ports(p) => {
                        let ivs = p.iter().map(|&(a, b)| (u32::from(a), u32::from(b)));
                        and_ivs(field, ivs, *neg, PORT_MAX);
                    }
                    PortMatch::Set(id) => match sets.get(*id, *neg) {
                        Some(v) => and_field(field, v),
                        None => s.opaque = true,
                    },
                }
            }
            Match::CtState { neg, states } => {
                let mut bits = states.iter().fold(0u8, |b, &st| b | ct_bit(st));
                if *neg {
                    bits = !bits & CT_ALL;
                }
                s.ct &= bits;
            }
            Match::Limit { .. } => s.limited = true,
            Match::IcmpType { neg, kind, code } => {
                s.proto.and_only(1);
                let base = u32::from(*kind) << 8;
                let iv = match code {
                    Some(c) => (base | u32::from(*c), base | u32::from(*c)),
                    None => (base, base | 0xff),
                };
                and_ivs(&mut s.icmp, std::iter::once(iv), *neg, ICMP_MAX);
            }
            // Only the optimizer makes tuples; lints never see one, and would not reason on it.
            Match::Tuple { .. } => s.opaque = true,
            // TCP flags other than `--syn`'s are not modelled: the rule never covers, and may
            // meet any TCP packet.
            Match::TcpFlags { .. } => {
                s.proto.and_only(6);
                s.opaque = true;
            }
            // Marks, MAC addresses and address types are not modelled: the rule never covers,
            // and may meet any packet.
            Match::Mark { .. }
            | Match::Meta { .. }
            | Match::Connbytes { .. }
            | Match::TcpOption { .. }
            | Match::CtHelper { .. }
            | Match::CtLabel { .. }
            | Match::EtherSaddr { .. }
            | Match::AddrType { .. } => s.opaque = true,
            // Time is not modelled.
            Match::MetaTime { .. } | Match::MetaHour { .. } | Match::MetaDay { .. } => {
                s.opaque = true
            }
            // Only DCCP packets; the type is not modelled.
            Match::DccpType { .. } => {
                s.proto.and_only(33);
                s.opaque = true;
            }
            // A statistic match takes some of the packets, as a limit does; so do the meters
            // and a quota.
            Match::Random { .. } | Match::Nth { .. } | Match::Meter(_) | Match::Quota { .. } => {
                s.limited = true;
                s.opaque = true;
            }
            // Header values are not modelled either; some need their protocol.
            Match::CtStatus { .. } | Match::CtAddr { .. } | Match::Ipsec { .. } => s.opaque = true,
            Match::Value { key, .. } => {
                match key {
                    crate::ir::Key::AhSpi => s.proto.and_only(51),
                    crate::ir::Key::EspSpi => s.proto.and_only(50),
                    crate::ir::Key::TcpMss => s.proto.and_only(6),
                    _ => {}
                }
                s.opaque = true;
            }
            Match::TcpSyn { neg } => {
                s.proto.and_only(6);
                s.syn = match s.syn {
                    Some(old) if old == *neg => {
                        // `--syn` and `! --syn` together: nothing matches.
                        s.proto = Protos::from_bits([0; 4]);
                        Some(!*neg)
                    }
                    _ => Some(!*neg),
                };
            }
        }
    }
}

/// An `iifname`/`oifname` string as the exact name (its text, and whether a `*` ends it) or the
/// prefix it matches; without allocating, as the shadow lint compares names for every
/// candidate rule.
fn pattern(s: &str) -> Result<(&str, bool), &str> {
    match crate::ir::IfName::parse(s) {
        crate::ir::IfName::Prefix(p) => Err(p),
        crate::ir::IfName::Exact(name, star) => Ok((name, star)),
    }
}

/// Whether the exact name `(name, star)` starts with `p`.
fn exact_starts_with((name, star): (&str, bool), p: &str) -> bool {
    name.starts_with(p)
        || (star && p.len() == name.len() + 1 && p.starts_with(name) && p.ends_with('*'))
}

/// Every name `a` matches, `b` matches too.
fn pattern_subset(a: &str, b: &str) -> bool {
    match (pattern(a), pattern(b)) {
        (Ok(a), Ok(b)) => a == b,
        (Ok(a), Err(pb)) => exact_starts_with(a, pb),
        (Err(_), Ok(_)) => false,
        (Err(pa), Err(pb)) => pa.starts_with(pb),
    }
}

/// No name matches both.
fn pattern_disjoint(a: &str, b: &str) -> bool {
    match (pattern(a), pattern(b)) {
        (Ok(a), Ok(b)) => a != b,
        (Ok(a), Err(pb)) => !exact_starts_with(a, pb),
        (Err(pa), Ok(b)) => !exact_starts_with(b, pa),
        (Err(pa), Err(pb)) => !pa.starts_with(pb) && !pb.starts_with(pa),
    }
}

fn iface_covers(a: Iface, b: Iface) -> bool {
    match (a, b) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some((false, x)), Some((false, y))) => pattern_subset(y, x),
        (Some((true, x)), Some((false, y))) => pattern_disjoint(y, x),
        // all∖Y ⊆ all∖X exactly when X ⊆ Y.
        (Some((true, x)), Some((true, y))) => pattern_subset(x, y),
        (Some((false, _)), Some((true, _))) => false,
    }
}

fn iface_meets(a: Iface, b: Iface) -> bool {
    match (a, b) {
        (None, _) | (_, None) | (Some((true, _)), Some((true, _))) => true,
        (Some((false, x)), Some((false, y))) => !pattern_disjoint(x, y),
        (Some((true, x)), Some((false, y))) | (Some((false, y)), Some((true, x))) => {
            !pattern_subset(y, x)
        }
    }
}

fn field_covers(a: &Field, b: &Field) -> bool {
    match (a, b) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(x), Some(y)) => subset(y, x),
    }
}

fn field_meets(a: &Field, b: &Field) -> bool {
    match (a, b) {
        (None, None) => true,
        (None, Some(v)) | (Some(v), None) => !v.is_empty(),
        (Some(x), Some(y)) => overlaps(x, y),
    }
}

/// Every packet `b` matches, `a` matches too (sound: `false` when unsure).
pub fn covers(a: &Shape, b: &Shape) -> bool {
    !a.limited
        && !a.opaque
        && b.proto.bits().iter().zip(a.proto.bits()).all(|(bw, aw)| bw & !aw == 0)
        && b.ct & !a.ct == 0
        && (a.syn.is_none() || a.syn == b.syn)
        && iface_covers(a.iif(), b.iif())
        && iface_covers(a.oif(), b.oif())
        && field_covers(&a.saddr, &b.saddr)
        && field_covers(&a.daddr, &b.daddr)
        && field_covers(&a.dport, &b.dport)
        && field_covers(&a.sport, &b.sport)
        && field_covers(&a.icmp, &b.icmp)
}

/// Some packet may match both (sound for "never both": `true` when unsure).
pub fn meets(a: &Shape, b: &Shape) -> bool {
    a.proto.bits().iter().zip(b.proto.bits()).any(|(x, y)| x & y != 0)
        && a.ct & b.ct != 0
        && !matches!((a.syn, b.syn), (Some(x), Some(y)) if x != y)
        && iface_meets(a.iif(), b.iif())
        && iface_meets(a.oif(), b.oif())
        && field_meets(&a.saddr, &b.saddr)
        && field_meets(&a.daddr, &b.daddr)
        && field_meets(&a.dport, &b.dport)
        && field_meets(&a.sport, &b.sport)
        && field_meets(&a.icmp, &b.icmp)
}

/// Whether an interface match pattern (`eth0`, `eth*`) matches the kernel name `kernel`.
pub fn pattern_matches(pattern: &str, kernel: &str) -> bool {
    pattern_subset(kernel, pattern)
}

#[cfg(test)]
mod pattern_tests {
    use super::{pattern_disjoint, pattern_subset};
    use crate::ir::IfName;

    /// The names a pattern matches among `universe`.
    fn matched<'a>(p: &str, universe: &[&'a str]) -> Vec<&'a str> {
        let filter = |n: &&str| match IfName::parse(p) {
            IfName::Prefix(prefix) => n.starts_with(prefix),
            exact => *n == exact.iptables(),
        };
        universe.iter().copied().filter(filter).collect()
    }

    /// Subset and disjointness of nft interface patterns (exact names, names ending in `*`,
    /// prefixes) agree with the sets of names they match.
    #[test]
    fn patterns_compare_as_the_names_they_match() {
        let universe = ["eth", "eth0", "eth*", "eth*x", "e", "", "x", "eth0*", "eth+"];
        let patterns =
            ["eth0", "eth*", "eth\\*", "eth0\\*", "e*", "*", "eth\\**", "x", "eth+", "eth+*", "e"];
        for a in patterns {
            for b in patterns {
                let (ma, mb) = (matched(a, &universe), matched(b, &universe));
                if pattern_subset(a, b) {
                    assert!(ma.iter().all(|n| mb.contains(n)), "{a} ⊆ {b}");
                }
                if pattern_disjoint(a, b) {
                    assert!(ma.iter().all(|n| !mb.contains(n)), "{a} ∩ {b} = ∅");
                }
            }
        }
        assert!(pattern_subset("eth\\*", "eth*") && pattern_subset("eth\\*", "eth\\*"));
        assert!(!pattern_subset("eth*", "eth\\*") && pattern_disjoint("eth0", "eth\\*"));
        assert!(pattern_subset("eth0\\*", "eth0*") && !pattern_disjoint("eth\\*", "e*"));
    }
}
