//! The IR: a ruleset of concrete values only (networks, kernel interface names, numeric ports),
//! already laid out as nftables chains. Produced by `resolve`, consumed by `emit`.
//!
//! Invariant: every string in the IR (table, chain, set, interface names, comments, log
//! prefixes) has been validated by `resolve` to be safe inside an nft script: identifiers match
//! `[A-Za-z_][A-Za-z0-9_-]*` (interface names also `.`, `*` at the end), and quoted texts hold no
//! `"`, `\`, or control character. The emitter relies on it and never fails.

use std::net::Ipv4Addr;
use std::num::NonZeroU32;

use ipnetwork::Ipv4Network;

use crate::diagnostic::FileId;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ruleset {
    /// `table ip NAME`.
    pub table: String,
    /// Hex digest identifying the inputs (rules files with their names, inventory, table): in
    /// the script's head and the state directory's record of the last apply.
    pub input_hash: String,
    /// Named sets, sorted by name: the inventory's FWsets, indexed by [`SetId`].
    pub sets: Vec<Set>,
    /// Chains in emission order: every chain before the first chain that jumps to it, base
    /// chains last.
    pub chains: Vec<Chain>,
    /// The names of the files the rules' origins point into.
    pub files: Files,
    /// The inventory's `ipv6:`: with `drop`, `table ip6 NAME` ([`crate::ip6`]) goes with the
    /// table in every script, batch, diff and persisted file.
    pub ipv6: crate::ip6::Ipv6,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Set {
    pub name: String,
    pub elements: SetElements,
}

/// Elements sorted ascending; overlaps are allowed (the set is declared `auto-merge`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetElements {
    Addrs(Vec<Ipv4Network>),
    Ports(Vec<(u16, u16)>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub name: String,
    /// `Some` for a base chain (hooked), `None` for a regular chain reached by `jump`.
    pub base: Option<BaseChain>,
    pub rules: Vec<Rule>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BaseChain {
    pub kind: ChainKind,
    pub hook: Hook,
    pub priority: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChainKind {
    Filter,
    Nat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

/// Where a rule came from; becomes its comment `FILE:LINE[ NOTE]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The rules file: its name is [`Ruleset::files`]`.name(file)`.
    pub file: FileId,
    /// The line number: never 0, so that `Option<Origin>` needs no tag and stays 24 bytes.
    pub line: NonZeroU32,
    /// The `-m comment` text, if any.
    pub note: Option<Box<str>>,
}

/// The names of the rules files, each held once, in the safe form rule comments carry
/// ([`crate::text::comment_name`]: nothing in it can end an nft string or a line); indexed by
/// the [`FileId`] of the file's spans.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Files(Vec<String>);

impl Files {
    /// Names the file `id`; an id never named (the inventory's) has the empty name.
    pub fn insert(&mut self, id: FileId, name: &str) {
        let i = id.0 as usize;
        if self.0.len() <= i {
            self.0.resize(i + 1, String::new());
        }
        self.0[i] = crate::text::comment_name(name);
    }

    /// The name of a rules file, in its safe form.
    pub fn name(&self, file: FileId) -> &str {
        self.0.get(file.0 as usize).map_or("", String::as_str)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// All must hold (logical AND), emitted in this order. A boxed slice: see
    /// `tests::matches_stay_small`.
    pub matches: Box<[Match]>,
    pub action: Action,
    /// `None` for rules overlayfw adds itself (base-chain jumps).
    pub origin: Option<Origin>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum L4 {
    Tcp,
    Udp,
    Udplite,
    Sctp,
    Dccp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dir {
    Src,
    Dst,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CtState {
    New,
    Established,
    Related,
    Invalid,
    Untracked,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RateUnit {
    Second,
    Minute,
    Hour,
    Day,
}

/// A short list of values, used as a slice (`Deref<Target = [T]>`; compared, ordered and hashed
/// as that slice). Nearly every match names one network or one port range, so one value is held
/// in place; several (or none) are boxed. A memory trick, kept behind this type because a `Vec`
/// or `Box<[T]>` would make [`AddrMatch`] and [`PortMatch`] 24 bytes and [`Match`] 32
/// (`tests::matches_stay_small`).
/// Build it with `From<Vec<T>>` or `collect`, which keep a single value in place.
#[derive(Clone)]
pub enum SmallList<T> {
    One(T),
    // A `Box<Vec>`, not a `Box<[T]>`: a thin pointer keeps `SmallList` 16 bytes.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<T>>),
}

impl<T> std::ops::Deref for SmallList<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        match self {
            SmallList::One(one) => std::slice::from_ref(one),
            SmallList::Many(many) => many,
        }
    }
}

impl<T> From<Vec<T>> for SmallList<T> {
    fn from(mut v: Vec<T>) -> SmallList<T> {
        if v.len() == 1
            && let Some(one) = v.pop()
        {
            return SmallList::One(one);
        }
        SmallList::Many(Box::new(v))
    }
}

impl<T> FromIterator<T> for SmallList<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> SmallList<T> {
        SmallList::from(iter.into_iter().collect::<Vec<T>>())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for SmallList<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: PartialEq> PartialEq for SmallList<T> {
    fn eq(&self, other: &SmallList<T>) -> bool {
        **self == **other
    }
}

impl<T: Eq> Eq for SmallList<T> {}

impl<T: PartialOrd> PartialOrd for SmallList<T> {
    fn partial_cmp(&self, other: &SmallList<T>) -> Option<std::cmp::Ordering> {
        (**self).partial_cmp(&**other)
    }
}

impl<T: Ord> Ord for SmallList<T> {
    fn cmp(&self, other: &SmallList<T>) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl<T: std::hash::Hash> std::hash::Hash for SmallList<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

/// A named set of this table: its index in [`Ruleset::sets`], which holds the inventory's
/// FWsets in name order ([`crate::inventory::Inventory::fwset_id`]), so ids order as names do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SetId(pub u32);

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AddrMatch {
    /// One network (single element) or several (an anonymous set), sorted.
    Nets(SmallList<Ipv4Network>),
    /// An inclusive address range.
    Range(Ipv4Addr, Ipv4Addr),
    /// `address & mask == addr` with a non-contiguous mask (iptables' `-s A/M.M.M.M`); `addr`
    /// has no bits outside `mask`.
    Masked { addr: Ipv4Addr, mask: Ipv4Addr },
    /// A named set of this table.
    Set(SetId),
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortMatch {
    /// Inclusive ranges (`(p, p)` for one port); several make an anonymous set. Sorted.
    Ports(SmallList<(u16, u16)>),
    /// A named set of this table.
    Set(SetId),
}

/// An interface name as an `iifname`/`oifname` string holds it (nft's string form): a
/// trailing `*` makes a prefix (iptables' `+`), `\*` at the end is a literal `*` (iptables
/// reads `*` literally: `-i *` is the interface named `*`); a `*` elsewhere is literal, as in
/// nft. Kernel names hold no `\` (the inventory checks them), so nothing else is escaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfName<'a> {
    /// Exactly this name: the text, and whether a `*` follows it.
    Exact(&'a str, bool),
    /// Every name starting with this.
    Prefix(&'a str),
}

impl<'a> IfName<'a> {
    /// Reads an `iifname`/`oifname` string.
    pub fn parse(s: &'a str) -> IfName<'a> {
        if let Some(name) = s.strip_suffix("\\*") {
            IfName::Exact(name, true)
        } else if let Some(prefix) = s.strip_suffix('*') {
            IfName::Prefix(prefix)
        } else {
            IfName::Exact(s, false)
        }
    }

    /// The bytes nft compares: a prefix as it is, a name with its NUL, padded to 16 bytes.
    pub fn bytes(self) -> Vec<u8> {
        match self {
            IfName::Prefix(p) => p.as_bytes().to_vec(),
            IfName::Exact(name, star) => {
                let mut d = name.as_bytes().to_vec();
                if star {
                    d.push(b'*');
                }
                d.resize(d.len().max(16), 0);
                d
            }
        }
    }

    /// The name or prefix as iptables writes it (`eth+` for a prefix).
    pub fn iptables(self) -> String {
        match self {
            IfName::Prefix(p) => format!("{p}+"),
            IfName::Exact(name, star) => format!("{name}{}", if star { "*" } else { "" }),
        }
    }
}

/// The nft string of a kernel interface name (`prefix`: of every name starting with it).
pub fn nft_ifname(name: &str, prefix: bool) -> String {
    match (prefix, name.ends_with('*')) {
        (true, _) => format!("{name}*"),
        (false, true) => format!("{}\\*", &name[..name.len() - 1]),
        (false, false) => name.to_string(),
    }
}
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Match {
    /// `iifname`, the name in nft's string form ([`IfName`]): a trailing `*` is iptables' `+`
    /// wildcard, a trailing `\*` a name ending in `*`. The name is shared by the rules
    /// naming the same interface (the resolver hands out one allocation per name).
    IifName {
        neg: bool,
        name: std::sync::Arc<str>,
    },
    OifName {
        neg: bool,
        name: std::sync::Arc<str>,
    },
    Saddr {
        neg: bool,
        addrs: AddrMatch,
    },
    Daddr {
        neg: bool,
        addrs: AddrMatch,
    },
    /// `ip protocol N` (only when no port or ICMP match already implies it).
    Protocol {
        neg: bool,
        proto: u8,
    },
    Port {
        proto: L4,
        dir: Dir,
        neg: bool,
        ports: PortMatch,
    },
    /// Any of the states (`neg`: none of them).
    CtState {
        neg: bool,
        states: Box<[CtState]>,
    },
    /// `limit rate N/unit burst B packets`.
    Limit {
        rate: u32,
        unit: RateUnit,
        burst: u32,
    },
    /// `icmp type T [icmp code C]`.
    IcmpType {
        neg: bool,
        kind: u8,
        code: Option<u8>,
    },
    /// iptables `--syn`: `tcp flags & (fin|syn|rst|ack) == syn`.
    TcpSyn {
        neg: bool,
    },
    /// iptables `--tcp-flags MASK COMP`: `tcp flags & MASK == COMP` (`neg`: `!=`). Bits as in
    /// the header: fin 0x01, syn 0x02, rst 0x04, psh 0x08, ack 0x10, urg 0x20; `comp` lies
    /// within `mask`, which is not empty. `--tcp-flags FIN,SYN,RST,ACK SYN` is [`Match::TcpSyn`].
    TcpFlags {
        neg: bool,
        mask: u8,
        comp: u8,
    },
    /// iptables `-m mark --mark V/M`: `meta mark & M == V` (`ct`: `-m connmark`, `ct mark`;
    /// `neg`: `!=`). `value` lies within `mask`; a mask of all ones is not printed.
    Mark {
        ct: bool,
        neg: bool,
        value: u32,
        mask: u32,
    },
    /// A header or meta value compared with a number or range (iptables `-m length`, `-m ttl`,
    /// `-m pkttype`, `-f`, `-m dscp`, `-m ecn --ecn-ip-ect`, `-m ah`, `-m esp`, `-m tcpmss`;
    /// `neg`: not). `Gt`/`Lt` are never negated.
    Value {
        key: Key,
        neg: bool,
        cmp: Cmp,
    },
    /// iptables `-m time --datestart` (`ge`: `meta time >= secs`) and `--datestop` (`meta time
    /// < secs`, the second after the last one that matches), seconds since the epoch.
    MetaTime {
        ge: bool,
        secs: u64,
    },
    /// iptables `-m time --timestart/--timestop` (UTC): `meta hour lo-hi`, seconds after
    /// midnight UTC, both included (`neg`: `!=`, for a range that wraps past midnight).
    MetaHour {
        neg: bool,
        lo: u32,
        hi: u32,
    },
    /// iptables `-m time --weekdays`: `meta day { … }`, bit `d` for day `d` of nft's numbering
    /// (0 Sunday … 6 Saturday). nft's `meta day` counts in the kernel's timezone; `utc`: the
    /// line meant UTC (no `--kerneltz`), the same only where the kernel's timezone is UTC,
    /// which `apply` checks ([`Ruleset::utc_weekdays`]).
    MetaDay {
        days: u8,
        utc: bool,
    },
    /// iptables `-m dccp --dccp-types`: `dccp type { … }` (nft adds `meta l4proto dccp`); bit
    /// `1 << t` for type `t` (0 request … 9 syncack, 10 what libxt_dccp calls INVALID).
    DccpType {
        neg: bool,
        types: u16,
    },
    /// iptables `-m mac --mac-source`: `ether saddr` (nft adds `meta iiftype ether`).
    EtherSaddr {
        neg: bool,
        addr: [u8; 6],
    },
    /// iptables `-m statistic --mode random`: `meta random & 0x7fffffff < below` (`neg`: `>=`).
    Random {
        neg: bool,
        below: u32,
    },
    /// iptables `-m statistic --mode nth`: `numgen inc mod every == value` (`neg`: `!=`). Its
    /// counter advances on every packet that reaches it, so matches never cross it.
    Nth {
        neg: bool,
        every: u32,
        value: u32,
    },
    /// iptables `-m addrtype`: `fib saddr|daddr [. iif|oif] type` is one of `types` (bit
    /// `1 << RTN_x`; `neg`: none of them). `iface`: `Some(Dir::Src)` for the input interface
    /// (`--limit-iface-in`), `Some(Dir::Dst)` for the output one.
    AddrType {
        neg: bool,
        dst: bool,
        iface: Option<Dir>,
        types: u16,
    },
    /// iptables `--ctstatus`, `--ctstate SNAT|DNAT`: `ct status & bits != 0` (`neg`: `== 0`).
    CtStatus {
        neg: bool,
        bits: u32,
    },
    /// iptables `--ctorigsrc` …: `ct original|reply ip saddr|daddr NET` (`repl`: reply,
    /// `dst`: daddr).
    CtAddr {
        neg: bool,
        repl: bool,
        dst: bool,
        net: Ipv4Network,
    },
    /// iptables `-m policy --dir in|out --pol ipsec|none`: the packet was decapsulated by IPsec
    /// (`meta secpath exists`; `out`: it will be encapsulated, `rt ipsec exists`), or not
    /// (`exists` false: `missing`).
    Ipsec {
        out: bool,
        exists: bool,
    },
    /// iptables `-m hashlimit` and `-m connlimit`: state per key in a dynamic set of this
    /// table. Boxed, as [`Match::Tuple`].
    Meter(Box<Meter>),
    /// iptables `-m devgroup`, `-m realm`, `-m cpu`, `-m cgroup --cgroup`: `KEY & mask == value`
    /// (`neg`: `!=`) on a host-endian 32-bit meta value; `value` lies within `mask`, and a mask
    /// of all ones is not printed.
    Meta {
        key: MetaKey,
        neg: bool,
        value: u32,
        mask: u32,
    },
    /// iptables `-m connbytes`: `ct [original|reply] packets|bytes|avgpkt` in `lo..=hi`
    /// (`neg`: outside it); `hi == u64::MAX` is `>= lo` (`< lo` negated).
    Connbytes {
        dir: CtDir,
        mode: CtCount,
        neg: bool,
        lo: u64,
        hi: u64,
    },
    /// iptables `-m quota --quota N`: `quota [over] N bytes`. Both xt_quota and nft's quota
    /// (kernel 6.18) pass a packet while `consumed + len <= N` (tests/it/quota.rs); every
    /// packet reaching it is counted (`neg`: `over`).
    Quota {
        neg: bool,
        bytes: u64,
    },
    /// iptables `-p tcp --tcp-option N` (2 to 255): `tcp option @N exists` (`neg`: `missing`,
    /// after `ip frag-off & 0x1fff == 0`: xt_tcpudp never matches a non-first fragment, nft's
    /// `missing` would). Both walk the options alike (a kind below 2 is one byte long, a zero
    /// length counts as one).
    TcpOption {
        neg: bool,
        kind: u8,
    },
    /// iptables `-m helper --helper NAME`: `ct helper "NAME"`. Both read the helper of the
    /// connection's master (an FTP data connection has the `ftp` control connection's); a
    /// connection without one never matches. `NAME`: at most 15 letters, digits, `.`, `_`, `-`.
    CtHelper {
        name: Box<str>,
    },
    /// iptables `-m connlabel --label N` (0 to 127): `ct label N`, a test of bit N of the
    /// connection's labels. Both never match a packet without a connection, and read a
    /// connection without the labels extension as no label set.
    CtLabel {
        bit: u8,
    },
    /// Made by the optimizer only: see [`Tuple`]. Boxed: every other match is at most 24
    /// bytes, and a 100,000-rule ruleset holds half a million of them.
    Tuple(Box<Tuple>),
}

/// A [`Match::Meter`]: `update @NAME { KEY timeout T limit rate [over] R/U burst B packets }`
/// (hashlimit) or `add @NAME { KEY ct count [over] N }` (connlimit). The set is declared in
/// the table from the meters of its rules ([`Ruleset::meters`]): `type` the key's fields,
/// `size 65535`, `flags dynamic` (and `timeout` for a limit). Its elements are runtime state:
/// never part of a plan.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Meter {
    /// The set's name: `hashlimit-NAME` or `connlimit-HASH` (never an FWset's: FWset names
    /// have no `-`).
    pub name: Box<str>,
    /// The fields of the key, concatenated in this order; not empty.
    pub keys: Vec<MeterKey>,
    pub stmt: MeterStmt,
}

/// A field of a [`Meter`]'s key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MeterKey {
    /// `ip saddr` under a prefix mask of this length (32: no mask).
    Saddr(u8),
    Daddr(u8),
    /// `tcp sport` … (the rule's protocol).
    Port(L4, Dir),
}

/// What a [`Meter`] keeps per key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MeterStmt {
    /// A token bucket (`over`: match when it is empty); an element idle for `timeout_s`
    /// seconds goes (xt_hashlimit's `--hashlimit-htable-expire`).
    Limit { rate: u32, unit: RateUnit, burst: u32, over: bool, timeout_s: u32 },
    /// The connections of the key (`over`: match when more than `count`, else when at most).
    CtCount { count: u32, over: bool },
}

impl Meter {
    /// The set's nft key type, `ipv4_addr . inet_service`.
    pub fn key_type(&self) -> String {
        self.keys
            .iter()
            .map(|k| match k {
                MeterKey::Saddr(_) | MeterKey::Daddr(_) => "ipv4_addr",
                MeterKey::Port(..) => "inet_service",
            })
            .collect::<Vec<_>>()
            .join(" . ")
    }

    /// Whether the set's elements time out (a limit's do).
    pub fn has_timeout(&self) -> bool {
        matches!(self.stmt, MeterStmt::Limit { .. })
    }
}

/// The value a [`Match::Value`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// `ip length`, the IP header's total length (what xt_length reads).
    IpLength,
    /// `ip ttl`.
    Ttl,
    /// `meta pkttype` (0 host/unicast, 1 broadcast, 2 multicast).
    PktType,
    /// `ip frag-off & 0x1fff`: the fragment offset, not 0 in a fragment other than the first.
    FragOffset,
    /// `ip dscp` (0-63).
    Dscp,
    /// `ip ecn` (0-3).
    Ecn,
    /// `ah spi` (needs the AH protocol).
    AhSpi,
    /// `esp spi` (needs the ESP protocol).
    EspSpi,
    /// `tcp option maxseg size`: a packet without the option matches neither way.
    TcpMss,
    /// `meta skuid` (host byte order): a packet without a local socket matches neither way.
    SkUid,
    /// `meta skgid`.
    SkGid,
    /// `ct original protocol` (before [`Key::CtPort`]: nft reads a port after it).
    CtProto,
    /// `ct original|reply proto-src|proto-dst` (`repl`: reply, `dst`: proto-dst).
    CtPort { repl: bool, dst: bool },
    /// `ct direction` (0 original, 1 reply).
    CtDir,
    /// `ct expiration` in milliseconds (host byte order).
    CtExpire,
}

/// The meta keys of [`Match::Meta`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetaKey {
    /// `meta iifgroup`: the input device's group.
    IifGroup,
    /// `meta oifgroup`.
    OifGroup,
    /// `meta rtclassid`: the route's realm.
    RtClassid,
    /// `meta cpu`.
    Cpu,
    /// `meta cgroup`: the socket's net_cls classid.
    Cgroup,
}

impl MetaKey {
    /// nft's name of the key.
    pub fn name(self) -> &'static str {
        match self {
            MetaKey::IifGroup => "iifgroup",
            MetaKey::OifGroup => "oifgroup",
            MetaKey::RtClassid => "rtclassid",
            MetaKey::Cpu => "cpu",
            MetaKey::Cgroup => "cgroup",
        }
    }
}

/// A conntrack counter's direction ([`Match::Connbytes`]); `Both` is nft's `ct` without one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CtDir {
    Original,
    Reply,
    Both,
}

/// What a [`Match::Connbytes`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CtCount {
    Packets,
    Bytes,
    /// Bytes per packet.
    AvgPkt,
}

impl CtCount {
    /// nft's `ct` key.
    pub fn name(self) -> &'static str {
        match self {
            CtCount::Packets => "packets",
            CtCount::Bytes => "bytes",
            CtCount::AvgPkt => "avgpkt",
        }
    }
}

/// How a [`Match::Value`] compares: an inclusive range (`(n, n)` is one value), `>` or `<`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cmp {
    Range(u32, u32),
    Gt(u32),
    Lt(u32),
}

/// The tuple of `fields` is one of `elements` (an anonymous concatenated set,
/// `ip saddr . tcp dport { a . b, … }`). Each element has one value per field. The optimizer
/// keys a set of single ports with their protocol (`meta l4proto . tcp dport { tcp . 22, … }`),
/// which the kernel hashes instead of filling a slow bitmap.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tuple {
    pub fields: Vec<Field>,
    pub elements: Vec<Vec<Elem>>,
}

/// A packet field in a [`Match::Tuple`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Saddr,
    Daddr,
    Port(L4, Dir),
    /// `meta l4proto`, its values [`Elem::L4`].
    L4Proto,
}

/// A value of a [`Field`]: a network for addresses, an inclusive range for ports, a transport
/// protocol for [`Field::L4Proto`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Elem {
    Net(Ipv4Network),
    Ports(u16, u16),
    L4(L4),
}

/// An address or inclusive range for NAT, with optional inclusive port range.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NatTarget {
    pub addr: Ipv4Addr,
    pub addr_end: Option<Ipv4Addr>,
    pub ports: Option<(u16, u16)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectWith {
    /// iptables' default, `icmp-port-unreachable`.
    PortUnreachable,
    NetUnreachable,
    HostUnreachable,
    ProtUnreachable,
    NetProhibited,
    HostProhibited,
    AdminProhibited,
    TcpReset,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogLevel {
    Emerg,
    Alert,
    Crit,
    Err,
    Warn,
    Notice,
    Info,
    Debug,
}

/// The first word of the chain that labels the version of the table: see
/// [`Ruleset::label_version`].
pub const VERSION_CHAIN: &str = "version_";

/// What follows the version chain's hash after `--optimize` ([`Ruleset::mark_optimized`]).
pub const OPTIMIZED: &str = "_optimized";

impl Ruleset {
    /// Where (`FILE:LINE`, in order) the rules are whose `meta day` means UTC weekdays
    /// (`--weekdays` without `--kerneltz`): they match as iptables means only where the
    /// kernel's timezone is UTC, which `apply` checks before it changes anything.
    pub fn utc_weekdays(&self) -> Vec<String> {
        let mut places: Vec<(&str, u32)> = Vec::new();
        for rule in self.chains.iter().flat_map(|c| &c.rules) {
            if rule.matches.iter().any(|m| matches!(m, Match::MetaDay { utc: true, .. }))
                && let Some(o) = &rule.origin
            {
                places.push((self.files.name(o.file), o.line.get()));
            }
        }
        places.sort_unstable();
        places.dedup();
        places.into_iter().map(|(file, line)| format!("{file}:{line}")).collect()
    }

    /// Adds the chain that says which version of the rules the table holds:
    /// `version_HASH[_optimized]`, HASH of the rules files' and inventories' content (not of
    /// their names), then the form. Empty and never jumped to, it is emitted first. Not the
    /// table's comment: the kernel sets that only when it creates the table, and an in-place
    /// apply keeps the table, while a chain is deleted and added like any other.
    pub fn label_version(&mut self, content_hash: &str) {
        let name = format!("{VERSION_CHAIN}{content_hash}");
        self.chains.insert(0, Chain { name, base: None, rules: Vec::new() });
    }

    /// Records the `--optimize` form in the version chain's name.
    pub fn mark_optimized(&mut self) {
        if let Some(c) = self.chains.iter_mut().find(|c| c.name.starts_with(VERSION_CHAIN))
            && !c.name.ends_with(OPTIMIZED)
        {
            c.name.push_str(OPTIMIZED);
        }
    }

    /// The meters of the rules, one per set name, sorted by name: the dynamic sets to declare.
    /// (A name stands for one declaration: `resolve` refuses two meters of one name whose
    /// key or timeout flag differ.)
    pub fn meters(&self) -> Vec<&Meter> {
        let mut out: std::collections::BTreeMap<&str, &Meter> = Default::default();
        for chain in &self.chains {
            for rule in &chain.rules {
                for m in rule.matches.iter() {
                    if let Match::Meter(meter) = m {
                        out.entry(&meter.name).or_insert(meter);
                    }
                }
            }
        }
        out.into_values().collect()
    }

    /// The name of the named set `id`.
    pub fn set_name(&self, id: SetId) -> &str {
        set_name(&self.sets, id)
    }
}

/// The name of the set `id` of `sets` (a ruleset's).
pub fn set_name(sets: &[Set], id: SetId) -> &str {
    sets.get(id.0 as usize).map_or("", |s| s.name.as_str())
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// No verdict: the rule only counts (an iptables rule without `-j`).
    Count,
    Accept,
    Drop,
    Return,
    Jump(Box<str>),
    Reject(RejectWith),
    /// Non-terminating.
    Log {
        prefix: Option<Box<str>>,
        level: Option<LogLevel>,
        flags: LogFlags,
    },
    Dnat {
        to: NatTarget,
        flags: NatFlags,
    },
    Snat {
        to: NatTarget,
        flags: NatFlags,
    },
    Masquerade {
        ports: Option<(u16, u16)>,
        flags: NatFlags,
    },
    Redirect {
        ports: Option<(u16, u16)>,
        flags: NatFlags,
    },
    /// NETMAP in prerouting/output: keep host bits, replace the prefix of the destination.
    NetmapDnat {
        to: Ipv4Network,
    },
    /// NETMAP in postrouting: the same for the source.
    NetmapSnat {
        to: Ipv4Network,
    },
    /// TCPMSS: rewrite the MSS option of a TCP SYN (non-terminating; the kernel only ever
    /// lowers it, as iptables' TCPMSS does).
    Tcpmss(Mss),
    /// MARK (`ct`: CONNMARK): the packet's (connection's) mark becomes `(mark & and) ^ xor`
    /// (non-terminating). `and` 0 sets `xor`.
    Mark {
        ct: bool,
        and: u32,
        xor: u32,
    },
    /// CONNMARK `--save-mark` (`to_ct`: ct mark = mark) or `--restore-mark` (mark = ct mark),
    /// whole marks (non-terminating).
    MarkCopy {
        to_ct: bool,
    },
    /// NFLOG: the packet to a netlink log group (non-terminating). Boxed, as [`Match::Tuple`].
    Nflog(Box<Nflog>),
    /// DSCP: the IP header's DSCP field becomes this (non-terminating): `ip dscp set N`.
    Dscp(u8),
    /// CLASSIFY: the packet's priority (tc class) becomes `MAJOR << 16 | MINOR`
    /// (non-terminating): `meta priority set MAJOR:MINOR`.
    Classify(u32),
    /// AUDIT: an audit record of the packet (non-terminating): `log level audit`. xt_AUDIT's
    /// `--type` is not part of the kernel's record.
    Audit,
    /// NFQUEUE: the packet to a userspace queue (a verdict): `queue num …`.
    Queue(Queue),
    /// Mirror a copy to this address (non-terminating).
    Dup {
        to: Ipv4Addr,
    },
    /// Made by the optimizer only: DNAT by destination port through a map
    /// (`dnat to tcp dport map { P : ADDR [. PORT], … }`); a port not in the map matches
    /// nothing. Keys are distinct and sorted; either every entry has a port or none has.
    DnatMap {
        proto: L4,
        entries: Box<[(u16, Ipv4Addr, Option<u16>)]>,
    },
    /// Optimizer output only: see [`Vmap`]. Boxed, as [`Match::Tuple`].
    Vmap(Box<Vmap>),
}

/// Where an [`Action::Queue`] sends a packet: one of the queues `first..=last` (by a hash of
/// the flow, or by CPU with `fanout`); `bypass`: accept it when no program listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Queue {
    pub first: u16,
    pub last: u16,
    pub bypass: bool,
    pub fanout: bool,
}

impl Queue {
    /// nft's words after `queue` (`num 1-3 bypass,fanout`), as nft 1.0.6 lists them.
    pub fn nft(&self) -> String {
        let mut out = if self.first == self.last {
            format!("num {}", self.first)
        } else {
            format!("num {}-{}", self.first, self.last)
        };
        let flags: Vec<&str> = [(self.bypass, "bypass"), (self.fanout, "fanout")]
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, w)| w)
            .collect();
        if !flags.is_empty() {
            out.push(' ');
            out.push_str(&flags.join(","));
        }
        out
    }
}

/// How nft writes a [`Match::MetaDay`]: one day, a run of days, or a set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DayForm {
    One(u8),
    Range(u8, u8),
    Set(Vec<u8>),
}

impl DayForm {
    /// The form of a day mask (bit `d`, 0 Sunday … 6 Saturday; not 0).
    pub fn of(days: u8) -> DayForm {
        let list: Vec<u8> = (0..7).filter(|d| days & (1 << d) != 0).collect();
        match list.as_slice() {
            [one] => DayForm::One(*one),
            [first, .., last] if usize::from(last - first) + 1 == list.len() => {
                DayForm::Range(*first, *last)
            }
            _ => DayForm::Set(list),
        }
    }
}

/// What an [`Action::Nflog`] sends: `log [prefix P] group G [snaplen N] [queue-threshold T]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Nflog {
    pub group: u16,
    /// Validated as a log prefix (at most 63 characters, no `$`).
    pub prefix: Option<Box<str>>,
    /// `--nflog-size`: bytes of the packet copied.
    pub snaplen: Option<u32>,
    /// `--nflog-threshold`: packets queued in the kernel before sending (0, the instance's, when
    /// not given: iptables' default too).
    pub threshold: Option<u16>,
}

/// What a NAT statement does besides its addresses and ports: iptables' `--random`,
/// `--random-fully`, `--persistent` (the kernel's `NF_NAT_RANGE_PROTO_RANDOM`,
/// `_PROTO_RANDOM_FULLY`, `_PERSISTENT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NatFlags(u8);

impl NatFlags {
    pub const NONE: NatFlags = NatFlags(0);
    pub const RANDOM: NatFlags = NatFlags(1);
    pub const FULLY_RANDOM: NatFlags = NatFlags(2);
    pub const PERSISTENT: NatFlags = NatFlags(4);

    /// These flags and `other`'s.
    pub fn with(self, other: NatFlags) -> NatFlags {
        NatFlags(self.0 | other.0)
    }

    pub fn contains(self, other: NatFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// nft's words for the flags set, in the order nft lists them.
    pub fn words(self) -> Vec<&'static str> {
        [
            (Self::RANDOM, "random"),
            (Self::FULLY_RANDOM, "fully-random"),
            (Self::PERSISTENT, "persistent"),
        ]
        .into_iter()
        .filter(|(f, _)| self.contains(*f))
        .map(|(_, w)| w)
        .collect()
    }
}

/// What LOG writes besides the headers: iptables' `--log-tcp-sequence`, `--log-tcp-options`,
/// `--log-ip-options`, `--log-uid`, `--log-macdecode` (the kernel's `NF_LOG_*` bits, which nft's
/// `log flags` set as they are).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LogFlags(pub u8);

impl LogFlags {
    pub const NONE: LogFlags = LogFlags(0);
    pub const TCP_SEQUENCE: LogFlags = LogFlags(0x01);
    pub const TCP_OPTIONS: LogFlags = LogFlags(0x02);
    pub const IP_OPTIONS: LogFlags = LogFlags(0x04);
    pub const UID: LogFlags = LogFlags(0x08);
    pub const MAC_DECODE: LogFlags = LogFlags(0x20);
    /// What nft's `log flags all` sets.
    pub const ALL: LogFlags = LogFlags(0x2f);

    /// These flags and `other`'s.
    pub fn with(self, other: LogFlags) -> LogFlags {
        LogFlags(self.0 | other.0)
    }

    pub fn contains(self, other: LogFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// nft's JSON names of the flags set (`nft -j` lists them so).
    pub fn words(self) -> Vec<&'static str> {
        [
            (Self::TCP_SEQUENCE, "tcp sequence"),
            (Self::TCP_OPTIONS, "tcp options"),
            (Self::IP_OPTIONS, "ip options"),
            (Self::UID, "skuid"),
            (Self::MAC_DECODE, "ether"),
        ]
        .into_iter()
        .filter(|(f, _)| self.contains(*f))
        .map(|(_, w)| w)
        .collect()
    }
}

/// The MSS a [`Action::Tcpmss`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mss {
    /// `--clamp-mss-to-pmtu`: `tcp option maxseg size set rt mtu` (the route's MTU less 40).
    ClampToPmtu,
    /// `--set-mss N`: `tcp option maxseg size set N`.
    Set(u16),
}

/// Which nftables chain types an action may stand in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Needs a nat-type chain.
    Nat,
    /// Must see every packet: a filter-type chain.
    Filter,
    /// Meaningful in both (accept, return, jump).
    Both,
}

impl Match {
    /// The match decides anew, from state of its own, each time a rule holding it is evaluated
    /// (a rate's bucket, a random draw, a packet count, a quota's bytes): two copies of one line
    /// decide apart.
    pub fn decides_anew(&self) -> Option<&'static str> {
        match self {
            Match::Limit { .. } => Some("`-m limit`"),
            Match::Random { .. } | Match::Nth { .. } => Some("`-m statistic`"),
            // Both copies would count the packet against one quota.
            Match::Quota { .. } => Some("`-m quota`"),
            // Both copies would charge one bucket, or count in one set, twice per packet.
            Match::Meter(m) => Some(match m.stmt {
                MeterStmt::Limit { .. } => "`-m hashlimit`",
                MeterStmt::CtCount { .. } => "`-m connlimit`",
            }),
            _ => None,
        }
    }
}

impl Action {
    /// The chain types the action belongs in: what the layout splits a VNS3 chain by.
    pub fn class(&self) -> Class {
        match self {
            Action::Dnat { .. }
            | Action::DnatMap { .. }
            | Action::Snat { .. }
            | Action::Masquerade { .. }
            | Action::Redirect { .. }
            | Action::NetmapDnat { .. }
            | Action::NetmapSnat { .. } => Class::Nat,
            Action::Accept | Action::Return | Action::Jump(_) => Class::Both,
            Action::Count
            | Action::Drop
            | Action::Reject(_)
            | Action::Log { .. }
            | Action::Dup { .. }
            | Action::Tcpmss(_)
            | Action::Mark { .. }
            | Action::MarkCopy { .. }
            | Action::Nflog(_)
            | Action::Dscp(_)
            | Action::Classify(_)
            | Action::Audit
            | Action::Queue(_)
            | Action::Vmap { .. } => Class::Filter,
        }
    }

    /// A packet the rule matches leaves the chain: a verdict or a NAT statement (terminal in
    /// the nat chains it may stand in). Not a jump (the subgroup may return), nor LOG, COPY,
    /// TCPMSS, MARK, CONNMARK, NFLOG or a counting rule.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Action::Accept
                | Action::Drop
                | Action::Reject(_)
                | Action::Return
                | Action::Dnat { .. }
                | Action::DnatMap { .. }
                | Action::Snat { .. }
                | Action::Masquerade { .. }
                | Action::Redirect { .. }
                | Action::NetmapDnat { .. }
                | Action::NetmapSnat { .. }
                | Action::Queue(_)
                | Action::Vmap(_)
        )
    }

    /// The action rewrites the destination (DNAT, REDIRECT, NETMAP in prerouting/output).
    pub fn is_dnat(&self) -> bool {
        matches!(
            self,
            Action::Dnat { .. }
                | Action::DnatMap { .. }
                | Action::Redirect { .. }
                | Action::NetmapDnat { .. }
        )
    }

    /// The iptables target as written, for messages.
    pub fn target_word(&self) -> &'static str {
        match self {
            Action::Count => "no target",
            Action::Accept => "ACCEPT",
            Action::Drop => "DROP",
            Action::Return => "RETURN",
            Action::Jump(_) => "a subgroup jump",
            Action::Reject(_) => "REJECT",
            Action::Log { .. } => "LOG",
            Action::Dnat { .. } | Action::DnatMap { .. } => "DNAT",
            Action::Vmap { .. } => "a verdict map",
            Action::Snat { .. } => "SNAT",
            Action::Masquerade { .. } => "MASQUERADE",
            Action::Redirect { .. } => "REDIRECT",
            Action::NetmapDnat { .. } | Action::NetmapSnat { .. } => "NETMAP",
            Action::Dup { .. } => "COPY",
            Action::Tcpmss(_) => "TCPMSS",
            Action::Mark { ct: false, .. } => "MARK",
            Action::Mark { ct: true, .. } | Action::MarkCopy { .. } => "CONNMARK",
            Action::Nflog(_) => "NFLOG",
            Action::Dscp(_) => "DSCP",
            Action::Classify(_) => "CLASSIFY",
            Action::Audit => "AUDIT",
            Action::Queue(_) => "NFQUEUE",
        }
    }
}

/// The packet's key fields looked up in a verdict map (`ip saddr . tcp dport vmap { K : accept,
/// … }`); a key not in the map matches nothing. Each key is one value per field; no two keys
/// overlap; sorted.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Vmap {
    pub fields: Vec<Field>,
    pub entries: Vec<(Vec<Elem>, MapVerdict)>,
}

/// What a [`Action::Vmap`] entry decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MapVerdict {
    Accept,
    Drop,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_list_is_compared_ordered_and_hashed_as_its_slice() {
        use std::hash::{BuildHasher, RandomState};
        let one: SmallList<u16> = vec![7].into();
        assert!(matches!(one, SmallList::One(7)));
        let many: SmallList<u16> = vec![7, 9].into();
        assert_eq!(&*many, &[7, 9]);
        let none: SmallList<u16> = Vec::new().into();
        assert!(none.is_empty());
        // The same values held the other way (only `From` chooses) are still equal.
        let boxed = SmallList::Many(Box::new(vec![7]));
        assert_eq!(one, boxed);
        let h = RandomState::new();
        assert_eq!(h.hash_one(&one), h.hash_one(&boxed));
        assert_eq!(h.hash_one(&one), h.hash_one([7u16].as_slice()));
        assert!(none < one && one < many);
        assert_eq!((3..6).collect::<SmallList<u16>>(), vec![3, 4, 5].into());
    }

    /// One of each action: the classes agree (a DNAT needs a nat chain; what is terminal
    /// decides, a jump, LOG, COPY and counting do not).
    #[test]
    fn action_classes_agree() {
        let to = NatTarget { addr: Ipv4Addr::new(192, 0, 2, 1), addr_end: None, ports: None };
        let net: Ipv4Network = "10.0.0.0/8".parse().expect("network");
        let vmap = Vmap { fields: Vec::new(), entries: Vec::new() };
        let all = [
            Action::Count,
            Action::Accept,
            Action::Drop,
            Action::Return,
            Action::Jump("S".into()),
            Action::Reject(RejectWith::PortUnreachable),
            Action::Log { prefix: None, level: None, flags: LogFlags::NONE },
            Action::Dnat { to: to.clone(), flags: NatFlags::NONE },
            Action::Snat { to: to.clone(), flags: NatFlags::NONE },
            Action::Masquerade { ports: None, flags: NatFlags::NONE },
            Action::Redirect { ports: None, flags: NatFlags::NONE },
            Action::NetmapDnat { to: net },
            Action::NetmapSnat { to: net },
            Action::Dup { to: to.addr },
            Action::Tcpmss(Mss::ClampToPmtu),
            Action::Tcpmss(Mss::Set(1360)),
            Action::Mark { ct: false, and: 0, xor: 1 },
            Action::Mark { ct: true, and: 0xff, xor: 0x100 },
            Action::MarkCopy { to_ct: true },
            Action::Nflog(Box::new(Nflog {
                group: 1,
                prefix: None,
                snaplen: None,
                threshold: None,
            })),
            Action::DnatMap { proto: L4::Tcp, entries: Box::new([]) },
            Action::Vmap(Box::new(vmap)),
        ];
        let words: Vec<&str> = all.iter().map(Action::target_word).collect();
        assert_eq!(words[..4], ["no target", "ACCEPT", "DROP", "RETURN"]);
        for a in &all {
            let word = a.target_word();
            assert!(!a.is_dnat() || a.class() == Class::Nat, "{word}");
            let both = matches!(a, Action::Accept | Action::Return | Action::Jump(_));
            assert_eq!(a.class() == Class::Both, both, "{word}");
            let passes_on = matches!(
                a,
                Action::Count
                    | Action::Jump(_)
                    | Action::Log { .. }
                    | Action::Dup { .. }
                    | Action::Tcpmss(_)
                    | Action::Mark { .. }
                    | Action::MarkCopy { .. }
                    | Action::Nflog(_)
            );
            assert_eq!(a.is_terminal(), !passes_on, "{word}");
        }
        let dnats = all.iter().filter(|a| a.is_dnat()).count();
        assert_eq!(dnats, 4, "DNAT, REDIRECT, NETMAP to a destination, a DNAT map");
    }

    /// An origin names its file by id; the name, held once, is in its safe form.
    #[test]
    fn origins_name_their_file_by_id() {
        let mut files = Files::default();
        files.insert(FileId(2), "a\"b.rules");
        assert_eq!(files.name(FileId(2)), crate::text::comment_name("a\"b.rules"));
        assert!(!files.name(FileId(2)).contains('"'));
        assert_eq!(files.name(FileId(0)), "", "an id never named");
        assert_eq!(files.name(FileId(9)), "");
        assert_eq!(std::mem::size_of::<Origin>(), 24);
    }

    /// A 100,000-rule ruleset holds about 300,000 matches: their size is the IR's memory.
    #[test]
    fn matches_stay_small() {
        assert_eq!(std::mem::size_of::<AddrMatch>(), 16);
        assert_eq!(std::mem::size_of::<PortMatch>(), 16);
        assert_eq!(std::mem::size_of::<Match>(), 24);
        assert_eq!(std::mem::size_of::<Action>(), 24);
        assert_eq!(std::mem::size_of::<Option<Origin>>(), 24);
        // As large as a placed line, so that the layout's last projection of a chain makes its
        // rules in the placed lines' own vector (`collect` reuses it) instead of a second one.
        assert_eq!(std::mem::size_of::<Rule>(), std::mem::size_of::<crate::resolve::Placed>());
    }
}

#[cfg(test)]
mod ifname_tests {
    use super::{IfName, nft_ifname};

    /// iptables' names (`*` literal, the last `+` a wildcard) in nft's string form, as
    /// generic.txlate writes them, and the bytes nft compares.
    #[test]
    fn interface_names_in_nft_form_and_back() {
        assert_eq!(nft_ifname("*", false), "\\*");
        assert_eq!(nft_ifname("eth*foo", false), "eth*foo");
        assert_eq!(nft_ifname("eth*foo*", true), "eth*foo**");
        assert_eq!(nft_ifname("eth+", true), "eth+*");
        assert_eq!(IfName::parse("\\*"), IfName::Exact("", true));
        assert_eq!(IfName::parse("eth*foo**"), IfName::Prefix("eth*foo*"));
        assert_eq!(IfName::parse("eth0"), IfName::Exact("eth0", false));
        let mut star = vec![b'*'];
        star.resize(16, 0);
        assert_eq!(IfName::parse("\\*").bytes(), star);
        assert_eq!(IfName::parse("eth+*").bytes(), b"eth+".to_vec());
        assert_eq!(IfName::parse("eth*foo**").iptables(), "eth*foo*+");
        assert_eq!(IfName::parse("x\\*").iptables(), "x*");
    }
}
