//! The AST: one `Rule` per rule line, holding names and values as written (variables, plugin
//! names, aliases unresolved), each with its span. Produced by `syntax`, consumed by `resolve`.

use std::net::Ipv4Addr;

use crate::diagnostic::{Span, Spanned};

/// A parsed rules file: the rule lines in order (comments and blank lines dropped).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RulesFile {
    pub rules: Vec<Rule>,
}

/// One of the five iptables hooks VNS3's chains hang off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Builtin {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

/// The first word of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainWord {
    /// `INPUT_CUST` or (5.3+) `INPUT`, …
    Builtin(Builtin),
    /// `MACRO_CUST`.
    Macro,
    /// `PRE_C_name`, `PST_C_name`, `FWD_C_name`, `INP_C_name`, `OUT_C_name`: the whole word is
    /// kept as the chain name; `parent` is the builtin it belongs to.
    Subgroup { parent: Builtin, name: String },
}

/// One rule line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// 1-based line number in its file.
    pub line: u32,
    /// The rule text (without leading/trailing blanks and line end).
    pub span: Span,
    /// `None` for a line that starts with an option.
    pub chain: Option<Spanned<ChainWord>>,
    /// Matches in written order.
    pub matches: Vec<Match>,
    /// `None` when the line has no `-j`.
    pub target: Option<Target>,
    /// `-m comment --comment TEXT`.
    pub comment: Option<Spanned<String>>,
}

/// A value that may be written literally or as `${name}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<T> {
    Lit(T),
    /// `${name}`: the name without `${` `}`.
    Var(String),
}

/// An IPv4 network as written. `prefix` is 32 for a bare address. Host bits are kept as written
/// (`100.127.255.193/29`) so that resolve can warn and mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

/// One item of a `-s`/`-d` value (a comma-separated list of these).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddrItem {
    Net(Net),
    /// `A/M.M.M.M` with a non-contiguous mask (a contiguous one is a [`Net`]): iptables
    /// compares `address & mask`. The address is as written (host bits kept).
    Masked {
        addr: Ipv4Addr,
        mask: Ipv4Addr,
    },
    /// `${name}`: a custom or built-in variable, or `${fwset_NAME}`.
    Var(String),
    /// A bare identifier: a FWset name or a plugin name.
    Name(String),
}

/// A port or `a:b` range. Open ends (`:b`, `a:`) are filled in by the parser (0, 65535).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortSpec {
    Single(Value<u16>),
    Range(Value<u16>, Value<u16>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetDir {
    Src,
    Dst,
}

/// `--limit N/UNIT`'s unit, `--reject-with`'s type, `--log-level`'s level and `--ctstate`'s
/// states, as the IR holds them (their names are in [`crate::vocab`]).
pub use crate::ir::{CtState, LogLevel, RateUnit, RejectWith};

/// A match and whether `!` stood before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    /// From the `!` (if any) through the end of the value.
    pub span: Span,
    pub negated: bool,
    pub kind: MatchKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MatchKind {
    /// `-i` / `--in-interface`: an alias or kernel name, maybe ending in `+`, or `${var}`.
    InIface(Spanned<Value<String>>),
    /// `-o` / `--out-interface`.
    OutIface(Spanned<Value<String>>),
    /// `-s` / `--source` / `--src`: one or more items.
    Source(Vec<Spanned<AddrItem>>),
    /// `-d` / `--destination` / `--dst`.
    Destination(Vec<Spanned<AddrItem>>),
    /// `-p` / `--protocol`: a name (lower-cased: `tcp`, `udp`, `icmp`, `all`, …) or number.
    Protocol(Spanned<Protocol>),
    /// `--sport` / `--source-port`.
    SrcPort(Spanned<PortSpec>),
    /// `--dport` / `--destination-port`.
    DstPort(Spanned<PortSpec>),
    /// `-m multiport --sports`.
    MultiSrcPorts(Vec<Spanned<PortSpec>>),
    /// `-m multiport --dports`.
    MultiDstPorts(Vec<Spanned<PortSpec>>),
    /// `-m multiport --ports`: the source or the destination port is one of these.
    MultiPorts(Vec<Spanned<PortSpec>>),
    /// `-m conntrack --ctstate`, `-m state --state`, `-ctrack`.
    CtState(Vec<Spanned<CtState>>),
    /// `-m iprange --src-range a-b`.
    SrcRange(Spanned<(Ipv4Addr, Ipv4Addr)>),
    /// `-m iprange --dst-range a-b`.
    DstRange(Spanned<(Ipv4Addr, Ipv4Addr)>),
    /// `-m limit --limit N/unit [--limit-burst N]` (burst `None` = iptables' default 5).
    Limit { rate: u32, unit: RateUnit, burst: Option<u32> },
    /// `-m set --set NAME src|dst` or `--match-set NAME src|dst`.
    Set { name: Spanned<String>, dir: SetDir },
    /// `--icmp-type NAME|TYPE[/CODE]`; the name as written (lower-cased) or numbers.
    IcmpType(Spanned<IcmpType>),
    /// `--syn`.
    Syn,
    /// `--tcp-flags MASK COMP`: the flags of `mask` that are set are exactly `comp` (bits: fin
    /// 0x01, syn 0x02, rst 0x04, psh 0x08, ack 0x10, urg 0x20).
    TcpFlags { mask: u8, comp: u8 },
    /// `-m mark --mark V[/M]` (`ct`: `-m connmark --mark`): the mark under `mask` is `value`
    /// (`mask` 0xffffffff when not written).
    Mark { ct: bool, value: u32, mask: u32 },
    /// A header value compared with a number or range: `-m length`, `-m ttl`, `-m pkttype`,
    /// `-f`, `-m dscp`, `-m ecn`, `-m ah`, `-m esp`, `-m tcpmss`. `-f` and the ECN TCP flags
    /// carry `Range(1, 1)` (the flag is set).
    Header { key: HeaderKey, cmp: crate::ir::Cmp },
    /// `--ctstatus`, `--ctstate SNAT,DNAT`: any of the conntrack status bits is set.
    CtStatus(u32),
    /// `--ctorigsrc` (`repl`: `--ctrepl…`, `dst`: `…dst`).
    CtAddr { repl: bool, dst: bool, net: ipnetwork::Ipv4Network },
    /// A `-m time` option (`--weekdays` may be negated: the match's `negated`).
    Time(TimeOpt),
    /// `-m dccp --dccp-types`: the packet's DCCP type is one of these bits (1 << type).
    DccpTypes(u16),
    /// `-m mac --mac-source`.
    Mac([u8; 6]),
    /// `-m devgroup --src-group|--dst-group`, `-m realm`, `-m cpu`, `-m cgroup --cgroup`: a
    /// 32-bit meta value under a mask (all ones when none was written).
    Meta { key: crate::ir::MetaKey, value: u32, mask: u32 },
    /// `-m connbytes --connbytes lo[:hi] --connbytes-dir D --connbytes-mode M` (`hi` is
    /// `u64::MAX` for `lo` or `lo:`).
    Connbytes { dir: crate::ir::CtDir, mode: crate::ir::CtCount, lo: u64, hi: u64 },
    /// `-m quota --quota N`: the first N bytes.
    Quota(u64),
    /// `-m helper --helper NAME`: the connection's master has the conntrack helper NAME.
    Helper(Spanned<String>),
    /// `-p tcp --tcp-option N`: the segment carries an option of kind N.
    TcpOption(u8),
    /// `-m connlabel --label L`: the connection carries conntrack label L, as written
    /// (resolve reads the number and refuses names).
    ConnLabel(Spanned<String>),
    /// `-m statistic --mode random|nth` with its options (`probability` scaled to 2^31, as
    /// iptables stores it); `written`: the spans of the statistic options, printed by `fmt`.
    Statistic {
        nth: bool,
        probability: Option<u32>,
        every: Option<u32>,
        packet: Option<u32>,
        written: Vec<Span>,
    },
    /// `-m owner --uid-owner` (`gid`: `--gid-owner`) `lo[-hi]`.
    Owner { gid: bool, lo: u32, hi: u32 },
    /// `-m addrtype --src-type` (`dst`: `--dst-type`): bit `1 << RTN_x` per type;
    /// `iface`: `--limit-iface-in` (`Some(false)`) or `--limit-iface-out` (`Some(true)`).
    AddrType { dst: bool, types: u32, iface: Option<bool> },
    /// `-m policy --dir in|out [--pol ipsec|none]` (`out`: `--dir out`; `none`: `--pol
    /// none`): whether the packet was decapsulated (in) or is to be encapsulated (out) by
    /// IPsec. The per-SA options are refused (options.rs `POLICY_ELEMENT`).
    Policy { out: bool, none: bool },
    /// `-m hashlimit` or `-m connlimit`: state per key (see [`MeterSpec`]).
    Meter(Box<MeterSpec>),
}

/// A `-m hashlimit` or `-m connlimit` match, its options checked and gathered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterSpec {
    /// `-m hashlimit`: the bucket and the table's name and expiry; `None` for connlimit.
    pub limit: Option<HashLimit>,
    /// `-m connlimit`: the number of connections compared with.
    pub count: u32,
    /// `--hashlimit-above`, `--connlimit-above` (or `! --connlimit-upto`).
    pub over: bool,
    /// Keyed by the source address under this prefix length (`srcip`, `--connlimit-saddr`).
    pub src: Option<u8>,
    pub dst: Option<u8>,
    /// Keyed by the ports (`srcport`, `dstport`): the rule has a positive `-p` with ports.
    pub sport: bool,
    pub dport: bool,
    /// The spans of the module's options, printed by `fmt` as written.
    pub written: Vec<Span>,
}

/// The bucket of a [`MeterSpec`] from `-m hashlimit`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashLimit {
    pub rate: u32,
    pub unit: RateUnit,
    pub burst: u32,
    /// `--hashlimit-name`.
    pub name: Spanned<String>,
    /// `--hashlimit-htable-expire` in whole seconds.
    pub expire_s: u32,
}

/// What a [`MatchKind::Header`] compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderKey {
    /// `--length`: the IP total length.
    Length,
    /// `--ttl-eq`, `--ttl-gt`, `--ttl-lt`.
    Ttl,
    /// `--pkt-type`: the kernel's packet type (0 unicast, 1 broadcast, 2 multicast).
    PktType,
    /// `-f`: a fragment other than the first.
    Fragment,
    /// `--dscp`, `--dscp-class`.
    Dscp,
    /// `--ecn-ip-ect`: the IP header's ECN codepoint.
    EcnIp,
    /// `--ecn-tcp-cwr`.
    EcnTcpCwr,
    /// `--ecn-tcp-ece`.
    EcnTcpEce,
    /// `--ahspi`.
    AhSpi,
    /// `--espspi`.
    EspSpi,
    /// `-m tcpmss --mss`: the MSS option's value.
    Mss,
    /// `--ctproto`: the connection's protocol.
    CtProto,
    /// `--ctdir`: 0 original, 1 reply.
    CtDir,
    /// `--ctexpire`: the seconds left.
    CtExpire,
    /// `--ctorigsrcport` (`repl`: `--ctrepl…`, `dst`: `…dstport`).
    CtPort { repl: bool, dst: bool },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `all` / `0`.
    All,
    Tcp,
    Udp,
    Udplite,
    Sctp,
    Icmp,
    /// Any other protocol, by number (names like `esp`, `gre` are mapped to numbers).
    Number(u8),
}

/// One `-m time` option; the resolver combines a rule's into nft's time matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeOpt {
    /// Seconds since the epoch (UTC).
    DateStart(u32),
    DateStop(u32),
    /// Seconds after midnight.
    TimeStart(u32),
    TimeStop(u32),
    /// Bit `1 << d`, Monday 1 … Sunday 7, as xt_time.
    WeekDays(u8),
    KernelTz,
    Utc,
    Contiguous,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IcmpType {
    /// `any`.
    Any,
    /// A type, and a code if one was given: written as numbers (`3/4`) or as an iptables name
    /// that stands for them (`echo-request`, `port-unreachable`).
    Type { kind: u8, code: Option<u8> },
}

/// `ADDR[:PORT[-PORT]]` of `--to`/`--to-destination`/`--to-source`; ADDR may be a range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatTo {
    pub addr: Spanned<NatAddr>,
    pub ports: Option<(u16, u16)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NatAddr {
    Addr(Ipv4Addr),
    Range(Ipv4Addr, Ipv4Addr),
    /// `${name}` (an address variable or `${plugin_instance_N_ip}`).
    Var(String),
    /// A plugin name.
    Name(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The `-j NAME` part.
    pub span: Span,
    pub kind: TargetKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetKind {
    Accept,
    Drop,
    /// `--reject-with TYPE`, `None` for the default.
    Reject {
        with: Option<Spanned<RejectWith>>,
    },
    /// `--log-prefix TEXT --log-level LEVEL` and the flag options (`--log-uid` …).
    Log {
        prefix: Option<Spanned<String>>,
        level: Option<Spanned<LogLevel>>,
        flags: crate::ir::LogFlags,
    },
    Return,
    /// `-j PRE_C_name` etc: the subgroup's full chain name.
    Jump(Spanned<String>),
    /// `DNAT --to-destination … [--random] [--persistent]`.
    Dnat {
        to: Spanned<NatTo>,
        flags: crate::ir::NatFlags,
    },
    /// `SNAT --to-source … [--random] [--random-fully] [--persistent]`.
    Snat {
        to: Spanned<NatTo>,
        flags: crate::ir::NatFlags,
    },
    /// `MASQUERADE [--to-ports P[-Q]] [--random] [--random-fully]`; `once` for VNS3's
    /// `MASQUERADE-ONCE`.
    Masquerade {
        ports: Option<(u16, u16)>,
        flags: crate::ir::NatFlags,
        once: bool,
    },
    /// `REDIRECT [--to-ports P[-Q]] [--random]`.
    Redirect {
        ports: Option<(u16, u16)>,
        flags: crate::ir::NatFlags,
    },
    /// `NETMAP --to NET/LEN`.
    Netmap {
        to: Spanned<Value<Net>>,
    },
    /// `TCPMSS --set-mss N` (`Some(N)`) or `--clamp-mss-to-pmtu` (`None`).
    Tcpmss {
        mss: Option<u16>,
    },
    /// `MARK` (`ct`: `CONNMARK`) and what it does; `written`: the spans of its options, which
    /// `fmt` prints as they are.
    Mark {
        ct: bool,
        op: MarkOp,
        written: Vec<Span>,
    },
    /// `NFLOG`: its options as written (`range`, which the kernel ignores, only for `fmt`).
    Nflog {
        group: Option<u16>,
        prefix: Option<Spanned<String>>,
        range: Option<u32>,
        size: Option<u32>,
        threshold: Option<u16>,
    },
    /// `DSCP --set-dscp N` or `--set-dscp-class C`: the DSCP value; `written`: the option as
    /// written, which `fmt` prints.
    Dscp {
        value: u8,
        written: Span,
    },
    /// `CLASSIFY --set-class MAJOR:MINOR`: `MAJOR << 16 | MINOR`.
    Classify(u32),
    /// `AUDIT --type accept|drop|reject` (0, 1, 2): only `fmt` reads the type.
    Audit {
        kind: u8,
    },
    /// `NFQUEUE`: queues `first..=last` (`--queue-num N`: N..=N; neither: 0), `balance` when
    /// written `--queue-balance`.
    Nfqueue {
        first: u16,
        last: u16,
        bypass: bool,
        fanout: bool,
        balance: bool,
    },
    /// `COPY --from IF --to ADDR [--bidirectional]`.
    Copy {
        from: Spanned<Value<String>>,
        to: Spanned<NatAddr>,
        bidirectional: bool,
    },
}

/// What a MARK or CONNMARK target does, as the kernel's xt_MARK and xt_connmark do it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkOp {
    /// The mark becomes `(mark & !mask) ^ value`: `--set-xmark V/M`, to which `--set-mark
    /// V/M` (mask `M | V`), `--and-mark V` (0/!V), `--or-mark V` (V/V) and `--xor-mark V`
    /// (V/0) reduce, as iptables reduces them.
    Xmark { value: u32, mask: u32 },
    /// CONNMARK `--save-mark`: ct mark = `(ct mark & !ctmask) ^ (mark & nfmask)`.
    Save { nfmask: u32, ctmask: u32 },
    /// CONNMARK `--restore-mark`: mark = `(mark & !nfmask) ^ (ct mark & ctmask)`.
    Restore { nfmask: u32, ctmask: u32 },
}
