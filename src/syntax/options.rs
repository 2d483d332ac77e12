//! The options of the rule language, one descriptor each: spellings, the grammar rule that
//! parses it, the `-m` module it needs, whether `!` may precede it, the targets it belongs to,
//! what its value is and how to describe that value in a message. Lowering, the line checks,
//! the rewording of pest errors and `fmt` read this table; `syntax::tests` holds the grammar's
//! spellings to it.

use super::grammar::Rule as G;

/// The options we know, one per grammar rule `o_*` and per entry of [`OPTIONS`] (in this order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Opt {
    In,
    Out,
    Src,
    Dst,
    Proto,
    Sport,
    Dport,
    Sports,
    Dports,
    Ports,
    CtState,
    State,
    Ctrack,
    Comment,
    SrcRange,
    DstRange,
    Limit,
    Burst,
    Set,
    Icmp,
    Syn,
    TcpFlags,
    Module,
    Jump,
    RejectWith,
    LogPrefix,
    LogLevel,
    To,
    ToPorts,
    Random,
    From,
    Bidir,
    SetMss,
    ClampMss,
    Mark,
    SetMark,
    SetXmark,
    AndMark,
    OrMark,
    XorMark,
    SaveMark,
    RestoreMark,
    Mask,
    NfMask,
    CtMask,
    Length,
    TtlEq,
    TtlGt,
    TtlLt,
    PktType,
    Fragment,
    Dscp,
    DscpClass,
    EcnTcpCwr,
    EcnTcpEce,
    EcnIpEct,
    AhSpi,
    EspSpi,
    MssMatch,
    MacSource,
    StatMode,
    Probability,
    Every,
    Packet,
    UidOwner,
    GidOwner,
    SocketExists,
    SrcType,
    DstType,
    LimitIfaceIn,
    LimitIfaceOut,
    NflogGroup,
    NflogPrefix,
    NflogRange,
    NflogSize,
    NflogThreshold,
    RandomFully,
    Persistent,
    CtStatus,
    CtProto,
    CtOrigSrc,
    CtOrigDst,
    CtReplSrc,
    CtReplDst,
    CtOrigSrcPort,
    CtOrigDstPort,
    CtReplSrcPort,
    CtReplDstPort,
    CtDir,
    CtExpire,
    LogTcpSequence,
    LogTcpOptions,
    LogIpOptions,
    LogUid,
    LogMacDecode,
    // -- helper C: DSCP, CLASSIFY, AUDIT, NFQUEUE targets; -m dccp; -m time.
    SetDscp,
    SetDscpClass,
    SetClass,
    AuditType,
    QueueNum,
    QueueBalance,
    QueueBypass,
    QueueCpuFanout,
    DccpTypes,
    DccpOption,
    DateStart,
    DateStop,
    TimeStart,
    TimeStop,
    MonthDays,
    WeekDays,
    KernelTz,
    Utc,
    Contiguous,
    // -- end helper C.
    // -m policy, -m hashlimit, -m connlimit (helper B's block).
    PolicyDir,
    PolicyPol,
    PolicyStrict,
    PolicyReqid,
    PolicySpi,
    PolicyProto,
    PolicyTunnelSrc,
    PolicyTunnelDst,
    PolicyNext,
    HlUpto,
    HlAbove,
    HlBurst,
    HlMode,
    HlSrcMask,
    HlDstMask,
    HlName,
    HlExpire,
    HlUptoOld,
    ConnlimitAbove,
    ConnlimitUpto,
    ConnlimitMask,
    ConnlimitSaddr,
    ConnlimitDaddr,
    HlSize,
    HlMax,
    HlGc,
    SrcGroup,
    DstGroup,
    Realm,
    Cpu,
    Cgroup,
    Connbytes,
    ConnbytesDir,
    ConnbytesMode,
    Helper,
    Quota,
    TcpOption,
    Label,
}

/// Number of `Opt` variants.
pub(crate) const OPT_COUNT: usize = Opt::Label as usize + 1;

/// What an option's value is: decides how lowering reads it and how many value words it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ValueKind {
    /// No value (`--syn`).
    Flag,
    /// An interface name, wildcard or variable.
    Iface,
    /// A comma-separated list of addresses, networks, variables or set names.
    Addrs,
    Proto,
    /// One port or range (`--dport`).
    Port,
    /// A multiport list of ports and ranges, at most 15 ports.
    PortList,
    /// A list of connection states.
    States,
    /// Free text of at most `max` characters; `what` names it in the message.
    Text {
        max: usize,
        what: &'static str,
    },
    /// An address range `a-b`.
    Range,
    /// `N[/unit]`.
    Rate,
    /// A `--limit-burst` number.
    Burst,
    /// A set name and a direction: two value words.
    SetDir,
    Icmp,
    /// A `-m` module name.
    Module,
    /// A `-j` target name.
    Target,
    /// `--tcp-flags MASK COMP`: two comma-separated lists of TCP flag names.
    TcpFlags,
    /// A `--set-mss` value, 0 to 65535.
    Mss,
    /// A 32-bit mark with an optional mask, `VALUE[/MASK]`, each decimal, 0x hex or 0 octal.
    MarkMask,
    /// A 32-bit mark or mask alone.
    Mark32,
    /// `N`, `N:M`, `N:` or `:M`, numbers up to `max` (`--length`, `--ahspi`, `--mss`).
    NumRange {
        max: u32,
    },
    /// One number up to `max`, decimal or 0x hex (`--ttl-eq`, `--dscp`, `--ecn-ip-ect`).
    Num {
        max: u32,
    },
    /// A MAC address `XX:XX:XX:XX:XX:XX`.
    Mac,
    /// A probability from 0 to 1 (`--probability 0.25`).
    Probability,
    /// A numeric user or group id, or a range `N-M`.
    IdRange,
    /// A comma-separated list of address types (`LOCAL,BROADCAST`).
    AddrTypes,
    /// A comma-separated list of conntrack status bits (`ASSURED,SEEN_REPLY`).
    CtStatus,
    /// One IPv4 address or network, the mask a length or dotted (`--ctorigsrc`).
    CtAddr,
    /// A CLASSIFY class `MAJOR:MINOR`, each hexadecimal up to ffff.
    ClassId,
    /// A comma-separated list of DCCP packet types (`REQUEST,RESPONSE`).
    DccpTypes,
    /// A `-m time` date `YYYY[-MM[-DD[Thh[:mm[:ss]]]]]`, UTC.
    Date,
    /// A `-m time` time of day `hh:mm[:ss]`.
    DayTime,
    /// A `-m time` list of weekdays (`Mon,Tue` or `1,2`).
    WeekDays,
    /// A name checked in Rust (`--pkt-type`, `--dscp-class`); `sample` is one.
    Name {
        sample: &'static str,
    },
    RejectType,
    LogLevel,
    /// A NAT/NETMAP/COPY `--to` value.
    To,
    /// A port or `lo-hi` range of `--to-ports`.
    PortPair,
    /// `--hashlimit-mode`: a comma-separated list of srcip, dstip, srcport, dstport.
    HashMode,
    /// A `--hashlimit-name`: the name of iptables' hash table.
    MeterName,
    /// `N`, `N:M` or `N:` of 64-bit numbers, decimal or 0x hex (`--connbytes`).
    Count,
    /// One 64-bit number, decimal or 0x hex (`--quota`).
    Count64,
}

impl ValueKind {
    /// How many value words the option takes.
    pub(crate) fn words(self) -> usize {
        match self {
            ValueKind::Flag => 0,
            ValueKind::SetDir | ValueKind::TcpFlags => 2,
            _ => 1,
        }
    }

    /// A value each kind of option takes, so that a line of the option alone parses.
    #[cfg(test)]
    pub(crate) fn example(self) -> &'static str {
        match self {
            ValueKind::Flag => "",
            ValueKind::Iface => " eth0",
            ValueKind::Addrs => " 10.0.0.0/8",
            ValueKind::Proto => " tcp",
            ValueKind::Port => " 22",
            ValueKind::PortList => " 22,80",
            ValueKind::States => " NEW",
            ValueKind::Text { .. } => " \"a text\"",
            ValueKind::Range => " 10.0.0.1-10.0.0.9",
            ValueKind::Rate => " 5/minute",
            ValueKind::Burst => " 10",
            ValueKind::SetDir => " name src",
            ValueKind::Icmp => " echo-request",
            ValueKind::Module => " multiport",
            ValueKind::Target => " ACCEPT",
            ValueKind::TcpFlags => " SYN,RST SYN",
            ValueKind::Mss => " 1400",
            ValueKind::MarkMask => " 0x10/0xff",
            ValueKind::Mark32 => " 0xff",
            ValueKind::NumRange { .. } => " 100:200",
            ValueKind::Num { .. } => " 2",
            ValueKind::Name { sample } => sample,
            ValueKind::Mac => " 00:11:22:33:44:55",
            ValueKind::Probability => " 0.25",
            ValueKind::IdRange => " 1000",
            ValueKind::CtStatus => " ASSURED",
            ValueKind::CtAddr => " 10.0.0.0/8",
            ValueKind::AddrTypes => " LOCAL",
            ValueKind::ClassId => " 1:10",
            ValueKind::DccpTypes => " REQUEST",
            ValueKind::Date => " 2024-01-01",
            ValueKind::DayTime => " 09:00",
            ValueKind::WeekDays => " Mon,Tue",
            ValueKind::RejectType => " tcp-reset",
            ValueKind::LogLevel => " warning",
            ValueKind::To => " 10.0.0.1:80",
            ValueKind::PortPair => " 8080-8090",
            ValueKind::HashMode => " srcip",
            ValueKind::MeterName => " web",
            ValueKind::Count => " 200:600",
            ValueKind::Count64 => " 1000000",
        }
    }
}

/// Protocols (`-p`) an option needs in the same rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProtoNeed {
    /// tcp, udp, udplite, sctp or dccp: the protocols with ports.
    Ports,
    Tcp,
    Icmp,
    /// `-p ah` (51).
    Ah,
    /// `-p esp` (50).
    Esp,
    /// `-p dccp` (33).
    Dccp,
}

/// Why an option we parse is not supported: the E002 label and help.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Refusal {
    pub label: &'static str,
    pub help: &'static str,
}

/// One option.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OptDesc {
    pub opt: Opt,
    /// Every spelling; the first is the one `fmt` prints.
    pub spellings: &'static [&'static str],
    /// The grammar rule that parses it (`o_*` in grammar/vns3.pest).
    pub(super) rule: G,
    /// The `-m` module it belongs to.
    pub module: Option<&'static str>,
    /// Other modules with an option of the same spelling (`-m connmark --mark`): the option
    /// belongs to the last of these modules loaded before it.
    pub also_modules: &'static [&'static str],
    /// Whether iptables accepts `!` before it.
    pub negatable: bool,
    /// Whether a rule may give it more than once (each `-m set` is its own match).
    pub repeatable: bool,
    /// For a target option, the targets it belongs to; `None` for a match option.
    pub targets: Option<&'static [&'static str]>,
    /// Spellings that belong to fewer targets than `targets` (`--to-destination`: DNAT only).
    pub spelling_targets: &'static [(&'static str, &'static [&'static str])],
    /// The protocol it needs.
    pub needs_proto: Option<ProtoNeed>,
    pub value: ValueKind,
    /// Parsed only to be refused (E002) with a better reason than "unknown".
    pub refused: Option<Refusal>,
    /// What its value looks like, for messages: "expected {wants} after `-s`".
    pub wants: &'static str,
}

const ADDR_DESC: &str =
    "an IPv4 address or network such as 10.0.0.0/24, a ${variable} or a set name";
const IFACE_DESC: &str = "an interface such as eth0, tun+ or ${var}";
const PORT_DESC: &str = "a port or range such as 22, 1024:65535 or ${var}";
const PORTS_DESC: &str = "a comma-separated list of ports or ranges such as 80,443,8000:8080";
const STATES_DESC: &str = "a comma-separated list of states such as NEW,ESTABLISHED";
const TEXT_DESC: &str = "a text: \"double quoted\", 'single quoted' or one word";
const RANGE_DESC: &str = "an address range such as 10.0.0.1-10.0.0.9";
const MARK_DESC: &str = "a mark with an optional mask such as 0x10 or 0x10/0xff";
const MARK32_DESC: &str = "a 32-bit value such as 0xff";
const TTL_DESC: &str = "a TTL from 0 to 255";
const SPI_DESC: &str = "an SPI or range such as 256 or 256:511";
const ADDRTYPE_DESC: &str = "address types such as LOCAL or BROADCAST,MULTICAST";
const CT_ADDR_DESC: &str = "an address or network such as 10.0.0.0/8 or 10.0.0.0/255.0.0.0";
const DATE_DESC: &str = "a UTC date such as 2024-01-31 or 2024-01-31T08:00:00";
const DAYTIME_DESC: &str = "a UTC time of day such as 09:00 or 17:30:00";
const CT_PORT_DESC: &str = "a port or range such as 80 or 1024:65535";
/// The largest `--ctexpire` in seconds: nft compares the expiry in 32-bit milliseconds, and
/// the end of a second `N` is `N * 1000 + 999`.
pub(crate) const CT_EXPIRE_MAX: u32 = 4_294_966;
const GROUP_DESC: &str = "a device group with an optional mask such as 2 or 0xc/0xc";
const TO_DESC: &str = "an address, address range or network (optionally with :PORT or \
                       :PORT-PORT), a ${variable} or a plugin name";

/// A match option with no module, not negatable, not repeatable: the fields most options share.
const BASE: OptDesc = OptDesc {
    opt: Opt::In,
    spellings: &[],
    rule: G::o_in,
    module: None,
    also_modules: &[],
    negatable: false,
    repeatable: false,
    targets: None,
    spelling_targets: &[],
    needs_proto: None,
    value: ValueKind::Flag,
    refused: None,
    wants: "nothing",
};

/// Every option, in `Opt` order (`syntax::tests` checks it).
// A `const`, not a `static`: `BY_RULE` reads it at compile time; uses are promoted, not copied.
#[allow(clippy::large_const_arrays)]
pub(crate) const OPTIONS: [OptDesc; OPT_COUNT] = [
    OptDesc {
        opt: Opt::In,
        spellings: &["-i", "--in-interface"],
        rule: G::o_in,
        negatable: true,
        value: ValueKind::Iface,
        wants: IFACE_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::Out,
        spellings: &["-o", "--out-interface"],
        rule: G::o_out,
        negatable: true,
        value: ValueKind::Iface,
        wants: IFACE_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::Src,
        spellings: &["-s", "--source", "--src"],
        rule: G::o_src,
        negatable: true,
        value: ValueKind::Addrs,
        wants: ADDR_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::Dst,
        spellings: &["-d", "--destination", "--dst"],
        rule: G::o_dst,
        negatable: true,
        value: ValueKind::Addrs,
        wants: ADDR_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::Proto,
        spellings: &["-p", "--protocol"],
        rule: G::o_proto,
        negatable: true,
        value: ValueKind::Proto,
        wants: "a protocol such as tcp, udp, icmp or a number",
        ..BASE
    },
    OptDesc {
        opt: Opt::Sport,
        spellings: &["--sport", "--source-port"],
        rule: G::o_sport,
        negatable: true,
        needs_proto: Some(ProtoNeed::Ports),
        value: ValueKind::Port,
        wants: PORT_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::Dport,
        spellings: &["--dport", "--destination-port"],
        rule: G::o_dport,
        negatable: true,
        needs_proto: Some(ProtoNeed::Ports),
        value: ValueKind::Port,
        wants: PORT_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::Sports,
        spellings: &["--sports", "--source-ports"],
        rule: G::o_sports,
        module: Some("multiport"),
        negatable: true,
        needs_proto: Some(ProtoNeed::Ports),
        value: ValueKind::PortList,
        wants: PORTS_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::Dports,
        spellings: &["--dports", "--destination-ports"],
        rule: G::o_dports,
        module: Some("multiport"),
        negatable: true,
        needs_proto: Some(ProtoNeed::Ports),
        value: ValueKind::PortList,
        wants: PORTS_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::Ports,
        spellings: &["--ports"],
        rule: G::o_ports,
        module: Some("multiport"),
        negatable: true,
        needs_proto: Some(ProtoNeed::Ports),
        value: ValueKind::PortList,
        wants: PORTS_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::CtState,
        spellings: &["--ctstate"],
        rule: G::o_ctstate,
        module: Some("conntrack"),
        negatable: true,
        value: ValueKind::States,
        wants: STATES_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::State,
        spellings: &["--state"],
        rule: G::o_state,
        module: Some("state"),
        negatable: true,
        value: ValueKind::States,
        wants: STATES_DESC,
        ..BASE
    },
    // VNS3's own spelling of a state match; it needs no `-m`.
    OptDesc {
        opt: Opt::Ctrack,
        spellings: &["-ctrack"],
        rule: G::o_ctrack,
        negatable: true,
        value: ValueKind::States,
        wants: STATES_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::Comment,
        spellings: &["--comment"],
        rule: G::o_comment,
        module: Some("comment"),
        value: ValueKind::Text { max: 256, what: "a comment" },
        wants: TEXT_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::SrcRange,
        spellings: &["--src-range"],
        rule: G::o_src_range,
        module: Some("iprange"),
        negatable: true,
        value: ValueKind::Range,
        wants: RANGE_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::DstRange,
        spellings: &["--dst-range"],
        rule: G::o_dst_range,
        module: Some("iprange"),
        negatable: true,
        value: ValueKind::Range,
        wants: RANGE_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::Limit,
        spellings: &["--limit"],
        rule: G::o_limit,
        module: Some("limit"),
        value: ValueKind::Rate,
        wants: "a rate such as 5/minute",
        ..BASE
    },
    OptDesc {
        opt: Opt::Burst,
        spellings: &["--limit-burst"],
        rule: G::o_burst,
        module: Some("limit"),
        value: ValueKind::Burst,
        wants: "a number such as 10",
        ..BASE
    },
    OptDesc {
        opt: Opt::Set,
        spellings: &["--match-set", "--set"],
        rule: G::o_set,
        module: Some("set"),
        negatable: true,
        repeatable: true,
        value: ValueKind::SetDir,
        wants: "a set name followed by src or dst",
        ..BASE
    },
    OptDesc {
        opt: Opt::Icmp,
        spellings: &["--icmp-type"],
        rule: G::o_icmp,
        negatable: true,
        needs_proto: Some(ProtoNeed::Icmp),
        value: ValueKind::Icmp,
        wants: "an ICMP type such as echo-request, 8 or 3/4",
        ..BASE
    },
    OptDesc {
        opt: Opt::Syn,
        spellings: &["--syn"],
        rule: G::o_syn,
        negatable: true,
        needs_proto: Some(ProtoNeed::Tcp),
        ..BASE
    },
    OptDesc {
        opt: Opt::TcpFlags,
        spellings: &["--tcp-flags"],
        rule: G::o_tcp_flags,
        negatable: true,
        needs_proto: Some(ProtoNeed::Tcp),
        value: ValueKind::TcpFlags,
        wants: "a mask and the flags that must be set in it, such as SYN,RST SYN (flags: \
                SYN, ACK, FIN, RST, URG, PSH, ALL, NONE)",
        ..BASE
    },
    OptDesc {
        opt: Opt::Module,
        spellings: &["-m", "--match"],
        rule: G::o_module,
        repeatable: true,
        value: ValueKind::Module,
        wants: "a match module such as multiport or conntrack",
        ..BASE
    },
    OptDesc {
        opt: Opt::Jump,
        spellings: &["-j", "--jump"],
        rule: G::o_jump,
        value: ValueKind::Target,
        wants: "a target such as ACCEPT, DROP or LOG",
        ..BASE
    },
    OptDesc {
        opt: Opt::RejectWith,
        spellings: &["--reject-with"],
        rule: G::o_reject_with,
        targets: Some(&["REJECT"]),
        value: ValueKind::RejectType,
        wants: "a reject type such as icmp-port-unreachable",
        ..BASE
    },
    OptDesc {
        opt: Opt::LogPrefix,
        spellings: &["--log-prefix"],
        rule: G::o_log_prefix,
        targets: Some(&["LOG"]),
        value: ValueKind::Text { max: 29, what: "a log prefix" },
        wants: TEXT_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::LogLevel,
        spellings: &["--log-level"],
        rule: G::o_log_level,
        targets: Some(&["LOG"]),
        value: ValueKind::LogLevel,
        wants: "a log level such as 4 or warning",
        ..BASE
    },
    OptDesc {
        opt: Opt::To,
        spellings: &["--to", "--to-destination", "--to-source"],
        rule: G::o_to,
        targets: Some(&["DNAT", "SNAT", "NETMAP", "COPY"]),
        spelling_targets: &[("--to-destination", &["DNAT"]), ("--to-source", &["SNAT"])],
        value: ValueKind::To,
        wants: TO_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::ToPorts,
        spellings: &["--to-ports"],
        rule: G::o_to_ports,
        targets: Some(&["MASQUERADE", "MASQUERADE-ONCE", "REDIRECT"]),
        value: ValueKind::PortPair,
        wants: "a port or port range such as 8080 or 8000-8010",
        ..BASE
    },
    OptDesc {
        opt: Opt::Random,
        spellings: &["--random"],
        rule: G::o_random,
        targets: Some(&["DNAT", "SNAT", "MASQUERADE", "MASQUERADE-ONCE", "REDIRECT"]),
        ..BASE
    },
    OptDesc {
        opt: Opt::From,
        spellings: &["--from"],
        rule: G::o_from,
        targets: Some(&["COPY"]),
        value: ValueKind::Iface,
        wants: "an interface such as tun0 or ${var}",
        ..BASE
    },
    OptDesc {
        opt: Opt::Bidir,
        spellings: &["--bidirectional"],
        rule: G::o_bidir,
        targets: Some(&["COPY"]),
        ..BASE
    },
    OptDesc {
        opt: Opt::SetMss,
        spellings: &["--set-mss"],
        rule: G::o_set_mss,
        targets: Some(&["TCPMSS"]),
        value: ValueKind::Mss,
        wants: "an MSS value such as 1360",
        ..BASE
    },
    OptDesc {
        opt: Opt::ClampMss,
        spellings: &["--clamp-mss-to-pmtu"],
        rule: G::o_clamp_mss,
        targets: Some(&["TCPMSS"]),
        ..BASE
    },
    OptDesc {
        opt: Opt::Mark,
        spellings: &["--mark"],
        rule: G::o_mark,
        module: Some("mark"),
        also_modules: &["connmark"],
        negatable: true,
        // Once per module: `-m mark --mark 1 -m connmark --mark 2` (check.rs).
        repeatable: true,
        value: ValueKind::MarkMask,
        wants: MARK_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::SetMark,
        spellings: &["--set-mark"],
        rule: G::o_set_mark,
        targets: Some(&["MARK", "CONNMARK"]),
        value: ValueKind::MarkMask,
        wants: MARK_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::SetXmark,
        spellings: &["--set-xmark"],
        rule: G::o_set_xmark,
        targets: Some(&["MARK", "CONNMARK"]),
        value: ValueKind::MarkMask,
        wants: MARK_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::AndMark,
        spellings: &["--and-mark"],
        rule: G::o_and_mark,
        targets: Some(&["MARK", "CONNMARK"]),
        value: ValueKind::Mark32,
        wants: MARK32_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::OrMark,
        spellings: &["--or-mark"],
        rule: G::o_or_mark,
        targets: Some(&["MARK", "CONNMARK"]),
        value: ValueKind::Mark32,
        wants: MARK32_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::XorMark,
        spellings: &["--xor-mark"],
        rule: G::o_xor_mark,
        targets: Some(&["MARK", "CONNMARK"]),
        value: ValueKind::Mark32,
        wants: MARK32_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::SaveMark,
        spellings: &["--save-mark"],
        rule: G::o_save_mark,
        targets: Some(&["CONNMARK"]),
        ..BASE
    },
    OptDesc {
        opt: Opt::RestoreMark,
        spellings: &["--restore-mark"],
        rule: G::o_restore_mark,
        targets: Some(&["CONNMARK"]),
        ..BASE
    },
    OptDesc {
        opt: Opt::Mask,
        spellings: &["--mask"],
        rule: G::o_mask,
        targets: Some(&["CONNMARK"]),
        value: ValueKind::Mark32,
        wants: MARK32_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::NfMask,
        spellings: &["--nfmask"],
        rule: G::o_nfmask,
        targets: Some(&["CONNMARK"]),
        value: ValueKind::Mark32,
        wants: MARK32_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::CtMask,
        spellings: &["--ctmask"],
        rule: G::o_ctmask,
        targets: Some(&["CONNMARK"]),
        value: ValueKind::Mark32,
        wants: MARK32_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::Length,
        spellings: &["--length"],
        rule: G::o_length,
        module: Some("length"),
        negatable: true,
        value: ValueKind::NumRange { max: 65535 },
        wants: "a length or range such as 1400:65535",
        ..BASE
    },
    OptDesc {
        opt: Opt::TtlEq,
        spellings: &["--ttl-eq"],
        rule: G::o_ttl_eq,
        module: Some("ttl"),
        negatable: true,
        value: ValueKind::Num { max: 255 },
        wants: TTL_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::TtlGt,
        spellings: &["--ttl-gt"],
        rule: G::o_ttl_gt,
        module: Some("ttl"),
        value: ValueKind::Num { max: 255 },
        wants: TTL_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::TtlLt,
        spellings: &["--ttl-lt"],
        rule: G::o_ttl_lt,
        module: Some("ttl"),
        value: ValueKind::Num { max: 255 },
        wants: TTL_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::PktType,
        spellings: &["--pkt-type"],
        rule: G::o_pkt_type,
        module: Some("pkttype"),
        negatable: true,
        value: ValueKind::Name { sample: " broadcast" },
        wants: "a packet type: unicast, broadcast or multicast",
        ..BASE
    },
    OptDesc {
        opt: Opt::Fragment,
        spellings: &["-f", "--fragment"],
        rule: G::o_fragment,
        negatable: true,
        ..BASE
    },
    OptDesc {
        opt: Opt::Dscp,
        spellings: &["--dscp"],
        rule: G::o_dscp,
        module: Some("dscp"),
        negatable: true,
        value: ValueKind::Num { max: 63 },
        wants: "a DSCP value from 0 to 63 such as 0x2e",
        ..BASE
    },
    OptDesc {
        opt: Opt::DscpClass,
        spellings: &["--dscp-class"],
        rule: G::o_dscp_class,
        module: Some("dscp"),
        negatable: true,
        value: ValueKind::Name { sample: " EF" },
        wants: "a DiffServ class such as EF, AF41, CS1 or BE",
        ..BASE
    },
    OptDesc {
        opt: Opt::EcnTcpCwr,
        spellings: &["--ecn-tcp-cwr"],
        rule: G::o_ecn_tcp_cwr,
        module: Some("ecn"),
        negatable: true,
        needs_proto: Some(ProtoNeed::Tcp),
        ..BASE
    },
    OptDesc {
        opt: Opt::EcnTcpEce,
        spellings: &["--ecn-tcp-ece"],
        rule: G::o_ecn_tcp_ece,
        module: Some("ecn"),
        negatable: true,
        needs_proto: Some(ProtoNeed::Tcp),
        ..BASE
    },
    OptDesc {
        opt: Opt::EcnIpEct,
        spellings: &["--ecn-ip-ect"],
        rule: G::o_ecn_ip_ect,
        module: Some("ecn"),
        negatable: true,
        value: ValueKind::Num { max: 3 },
        wants: "an ECN codepoint from 0 to 3",
        ..BASE
    },
    OptDesc {
        opt: Opt::AhSpi,
        spellings: &["--ahspi"],
        rule: G::o_ahspi,
        module: Some("ah"),
        negatable: true,
        needs_proto: Some(ProtoNeed::Ah),
        value: ValueKind::NumRange { max: u32::MAX },
        wants: SPI_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::EspSpi,
        spellings: &["--espspi"],
        rule: G::o_espspi,
        module: Some("esp"),
        negatable: true,
        needs_proto: Some(ProtoNeed::Esp),
        value: ValueKind::NumRange { max: u32::MAX },
        wants: SPI_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::MssMatch,
        spellings: &["--mss"],
        rule: G::o_mss,
        module: Some("tcpmss"),
        negatable: true,
        needs_proto: Some(ProtoNeed::Tcp),
        value: ValueKind::NumRange { max: 65535 },
        wants: "an MSS or range such as 1400:1500",
        ..BASE
    },
    OptDesc {
        opt: Opt::MacSource,
        spellings: &["--mac-source"],
        rule: G::o_mac_source,
        module: Some("mac"),
        negatable: true,
        value: ValueKind::Mac,
        wants: "a MAC address such as 00:11:22:33:44:55",
        ..BASE
    },
    OptDesc {
        opt: Opt::StatMode,
        spellings: &["--mode"],
        rule: G::o_stat_mode,
        module: Some("statistic"),
        // `-m policy --mode tunnel|transport`, a per-SA option (refused in check.rs).
        also_modules: &["policy"],
        value: ValueKind::Name { sample: " random" },
        wants: "a statistic mode: random or nth",
        ..BASE
    },
    OptDesc {
        opt: Opt::Probability,
        spellings: &["--probability"],
        rule: G::o_probability,
        module: Some("statistic"),
        negatable: true,
        value: ValueKind::Probability,
        wants: "a probability from 0 to 1 such as 0.25",
        ..BASE
    },
    OptDesc {
        opt: Opt::Every,
        spellings: &["--every"],
        rule: G::o_every,
        module: Some("statistic"),
        negatable: true,
        value: ValueKind::Num { max: u32::MAX },
        wants: "a number of packets such as 10",
        ..BASE
    },
    OptDesc {
        opt: Opt::Packet,
        spellings: &["--packet"],
        rule: G::o_packet,
        module: Some("statistic"),
        value: ValueKind::Num { max: u32::MAX },
        wants: "the packet to match, from 0 to one less than `--every`",
        ..BASE
    },
    OptDesc {
        opt: Opt::UidOwner,
        spellings: &["--uid-owner"],
        rule: G::o_uid_owner,
        module: Some("owner"),
        negatable: true,
        value: ValueKind::IdRange,
        wants: "a numeric user id or range such as 1000 or 1000-1999",
        ..BASE
    },
    OptDesc {
        opt: Opt::GidOwner,
        spellings: &["--gid-owner"],
        rule: G::o_gid_owner,
        module: Some("owner"),
        negatable: true,
        value: ValueKind::IdRange,
        wants: "a numeric group id or range such as 100 or 100-199",
        ..BASE
    },
    OptDesc {
        opt: Opt::SocketExists,
        spellings: &["--socket-exists"],
        rule: G::o_socket_exists,
        module: Some("owner"),
        negatable: true,
        refused: Some(Refusal {
            label: "nftables has no match for a packet's socket alone",
            help: "match `--uid-owner 0-4294967294` for packets of any local user's socket",
        }),
        ..BASE
    },
    OptDesc {
        opt: Opt::SrcType,
        spellings: &["--src-type"],
        rule: G::o_src_type,
        module: Some("addrtype"),
        negatable: true,
        value: ValueKind::AddrTypes,
        wants: ADDRTYPE_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::DstType,
        spellings: &["--dst-type"],
        rule: G::o_dst_type,
        module: Some("addrtype"),
        negatable: true,
        value: ValueKind::AddrTypes,
        wants: ADDRTYPE_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::LimitIfaceIn,
        spellings: &["--limit-iface-in"],
        rule: G::o_limit_iface_in,
        module: Some("addrtype"),
        ..BASE
    },
    OptDesc {
        opt: Opt::LimitIfaceOut,
        spellings: &["--limit-iface-out"],
        rule: G::o_limit_iface_out,
        module: Some("addrtype"),
        ..BASE
    },
    OptDesc {
        opt: Opt::NflogGroup,
        spellings: &["--nflog-group"],
        rule: G::o_nflog_group,
        targets: Some(&["NFLOG"]),
        value: ValueKind::Num { max: 65535 },
        wants: "a netlink log group from 0 to 65535",
        ..BASE
    },
    OptDesc {
        opt: Opt::NflogPrefix,
        spellings: &["--nflog-prefix"],
        rule: G::o_nflog_prefix,
        targets: Some(&["NFLOG"]),
        value: ValueKind::Text { max: 63, what: "an NFLOG prefix" },
        wants: TEXT_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::NflogRange,
        spellings: &["--nflog-range"],
        rule: G::o_nflog_range,
        targets: Some(&["NFLOG"]),
        value: ValueKind::Num { max: u32::MAX },
        wants: "a number of bytes",
        ..BASE
    },
    OptDesc {
        opt: Opt::NflogSize,
        spellings: &["--nflog-size"],
        rule: G::o_nflog_size,
        targets: Some(&["NFLOG"]),
        value: ValueKind::Num { max: u32::MAX },
        wants: "a number of bytes to copy such as 128",
        ..BASE
    },
    OptDesc {
        opt: Opt::NflogThreshold,
        spellings: &["--nflog-threshold"],
        rule: G::o_nflog_threshold,
        targets: Some(&["NFLOG"]),
        value: ValueKind::Num { max: 65535 },
        wants: "a number of packets from 0 to 65535",
        ..BASE
    },
    OptDesc {
        opt: Opt::RandomFully,
        spellings: &["--random-fully"],
        rule: G::o_random_fully,
        targets: Some(&["SNAT", "MASQUERADE", "MASQUERADE-ONCE"]),
        ..BASE
    },
    OptDesc {
        opt: Opt::Persistent,
        spellings: &["--persistent"],
        rule: G::o_persistent,
        targets: Some(&["DNAT", "SNAT"]),
        ..BASE
    },
    OptDesc {
        opt: Opt::CtStatus,
        spellings: &["--ctstatus"],
        rule: G::o_ctstatus,
        module: Some("conntrack"),
        negatable: true,
        value: ValueKind::CtStatus,
        wants: "a list of conntrack status bits such as ASSURED,SEEN_REPLY",
        ..BASE
    },
    OptDesc {
        opt: Opt::CtProto,
        spellings: &["--ctproto"],
        rule: G::o_ctproto,
        module: Some("conntrack"),
        negatable: true,
        value: ValueKind::Proto,
        wants: "a protocol name or number such as tcp or 47",
        ..BASE
    },
    OptDesc {
        opt: Opt::CtOrigSrc,
        spellings: &["--ctorigsrc"],
        rule: G::o_ctorigsrc,
        module: Some("conntrack"),
        negatable: true,
        value: ValueKind::CtAddr,
        wants: CT_ADDR_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::CtOrigDst,
        spellings: &["--ctorigdst"],
        rule: G::o_ctorigdst,
        module: Some("conntrack"),
        negatable: true,
        value: ValueKind::CtAddr,
        wants: CT_ADDR_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::CtReplSrc,
        spellings: &["--ctreplsrc"],
        rule: G::o_ctreplsrc,
        module: Some("conntrack"),
        negatable: true,
        value: ValueKind::CtAddr,
        wants: CT_ADDR_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::CtReplDst,
        spellings: &["--ctrepldst"],
        rule: G::o_ctrepldst,
        module: Some("conntrack"),
        negatable: true,
        value: ValueKind::CtAddr,
        wants: CT_ADDR_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::CtOrigSrcPort,
        spellings: &["--ctorigsrcport"],
        rule: G::o_ctorigsrcport,
        module: Some("conntrack"),
        negatable: true,
        value: ValueKind::NumRange { max: 65535 },
        wants: CT_PORT_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::CtOrigDstPort,
        spellings: &["--ctorigdstport"],
        rule: G::o_ctorigdstport,
        module: Some("conntrack"),
        negatable: true,
        value: ValueKind::NumRange { max: 65535 },
        wants: CT_PORT_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::CtReplSrcPort,
        spellings: &["--ctreplsrcport"],
        rule: G::o_ctreplsrcport,
        module: Some("conntrack"),
        negatable: true,
        value: ValueKind::NumRange { max: 65535 },
        wants: CT_PORT_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::CtReplDstPort,
        spellings: &["--ctrepldstport"],
        rule: G::o_ctrepldstport,
        module: Some("conntrack"),
        negatable: true,
        value: ValueKind::NumRange { max: 65535 },
        wants: CT_PORT_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::CtDir,
        spellings: &["--ctdir"],
        rule: G::o_ctdir,
        module: Some("conntrack"),
        negatable: false,
        value: ValueKind::Name { sample: " REPLY" },
        wants: "a direction: ORIGINAL or REPLY",
        ..BASE
    },
    OptDesc {
        opt: Opt::CtExpire,
        spellings: &["--ctexpire"],
        rule: G::o_ctexpire,
        module: Some("conntrack"),
        negatable: true,
        value: ValueKind::NumRange { max: CT_EXPIRE_MAX },
        wants: "a number of seconds or a range such as 10:60",
        ..BASE
    },
    OptDesc {
        opt: Opt::LogTcpSequence,
        spellings: &["--log-tcp-sequence"],
        rule: G::o_log_tcp_sequence,
        targets: Some(&["LOG"]),
        ..BASE
    },
    OptDesc {
        opt: Opt::LogTcpOptions,
        spellings: &["--log-tcp-options"],
        rule: G::o_log_tcp_options,
        targets: Some(&["LOG"]),
        ..BASE
    },
    OptDesc {
        opt: Opt::LogIpOptions,
        spellings: &["--log-ip-options"],
        rule: G::o_log_ip_options,
        targets: Some(&["LOG"]),
        ..BASE
    },
    OptDesc {
        opt: Opt::LogUid,
        spellings: &["--log-uid"],
        rule: G::o_log_uid,
        targets: Some(&["LOG"]),
        ..BASE
    },
    OptDesc {
        opt: Opt::LogMacDecode,
        spellings: &["--log-macdecode"],
        rule: G::o_log_macdecode,
        targets: Some(&["LOG"]),
        ..BASE
    },
    // -- helper C: DSCP, CLASSIFY, AUDIT, NFQUEUE targets; -m dccp; -m time.
    OptDesc {
        opt: Opt::SetDscp,
        spellings: &["--set-dscp"],
        rule: G::o_set_dscp,
        targets: Some(&["DSCP"]),
        value: ValueKind::Num { max: 63 },
        wants: "a DSCP value from 0 to 63 such as 0x2e",
        ..BASE
    },
    OptDesc {
        opt: Opt::SetDscpClass,
        spellings: &["--set-dscp-class"],
        rule: G::o_set_dscp_class,
        targets: Some(&["DSCP"]),
        value: ValueKind::Name { sample: " EF" },
        wants: "a DiffServ class such as EF, AF41, CS1 or BE",
        ..BASE
    },
    OptDesc {
        opt: Opt::SetClass,
        spellings: &["--set-class"],
        rule: G::o_set_class,
        targets: Some(&["CLASSIFY"]),
        value: ValueKind::ClassId,
        wants: "a traffic class MAJOR:MINOR in hexadecimal such as 1:10",
        ..BASE
    },
    OptDesc {
        opt: Opt::AuditType,
        spellings: &["--type"],
        rule: G::o_audit_type,
        targets: Some(&["AUDIT"]),
        value: ValueKind::Name { sample: " drop" },
        wants: "an audit type: accept, drop or reject",
        ..BASE
    },
    OptDesc {
        opt: Opt::QueueNum,
        spellings: &["--queue-num"],
        rule: G::o_queue_num,
        targets: Some(&["NFQUEUE"]),
        value: ValueKind::Num { max: 65535 },
        wants: "a queue number from 0 to 65535",
        ..BASE
    },
    OptDesc {
        opt: Opt::QueueBalance,
        spellings: &["--queue-balance"],
        rule: G::o_queue_balance,
        targets: Some(&["NFQUEUE"]),
        value: ValueKind::NumRange { max: 65535 },
        wants: "a range of queue numbers such as 0:3",
        ..BASE
    },
    OptDesc {
        opt: Opt::QueueBypass,
        spellings: &["--queue-bypass"],
        rule: G::o_queue_bypass,
        targets: Some(&["NFQUEUE"]),
        ..BASE
    },
    OptDesc {
        opt: Opt::QueueCpuFanout,
        spellings: &["--queue-cpu-fanout"],
        rule: G::o_queue_cpu_fanout,
        targets: Some(&["NFQUEUE"]),
        ..BASE
    },
    OptDesc {
        opt: Opt::DccpTypes,
        spellings: &["--dccp-types"],
        rule: G::o_dccp_types,
        module: Some("dccp"),
        negatable: true,
        needs_proto: Some(ProtoNeed::Dccp),
        value: ValueKind::DccpTypes,
        wants: "DCCP packet types such as REQUEST,RESPONSE",
        ..BASE
    },
    OptDesc {
        opt: Opt::DccpOption,
        spellings: &["--dccp-option"],
        rule: G::o_dccp_option,
        module: Some("dccp"),
        negatable: true,
        needs_proto: Some(ProtoNeed::Dccp),
        value: ValueKind::Num { max: 255 },
        refused: Some(Refusal {
            label: "nft 1.0.6 has no match for a DCCP option",
            help: "nft 1.0.6 cannot parse `dccp option` (and its kernel side needs \
                   CONFIG_NFT_EXTHDR_DCCP); match `--dccp-types` or ports instead, or inspect \
                   options in an IPS through `-j NFQUEUE`",
        }),
        wants: "a DCCP option number from 0 to 255",
        ..BASE
    },
    OptDesc {
        opt: Opt::DateStart,
        spellings: &["--datestart"],
        rule: G::o_datestart,
        module: Some("time"),
        value: ValueKind::Date,
        wants: DATE_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::DateStop,
        spellings: &["--datestop"],
        rule: G::o_datestop,
        module: Some("time"),
        value: ValueKind::Date,
        wants: DATE_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::TimeStart,
        spellings: &["--timestart"],
        rule: G::o_timestart,
        module: Some("time"),
        value: ValueKind::DayTime,
        wants: DAYTIME_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::TimeStop,
        spellings: &["--timestop"],
        rule: G::o_timestop,
        module: Some("time"),
        value: ValueKind::DayTime,
        wants: DAYTIME_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::MonthDays,
        spellings: &["--monthdays"],
        rule: G::o_monthdays,
        module: Some("time"),
        negatable: true,
        value: ValueKind::WeekDays,
        refused: Some(Refusal {
            label: "nftables has no day-of-month match",
            help: "nft's `meta day` is the day of the week; list the dates with `--datestart` \
                   and `--datestop` in rules of their own",
        }),
        wants: "days of the month such as 1,15",
        ..BASE
    },
    OptDesc {
        opt: Opt::WeekDays,
        spellings: &["--weekdays"],
        rule: G::o_weekdays,
        module: Some("time"),
        negatable: true,
        value: ValueKind::WeekDays,
        wants: "days of the week such as Mon,Tue or 1,2",
        ..BASE
    },
    OptDesc {
        opt: Opt::KernelTz,
        spellings: &["--kerneltz"],
        rule: G::o_kerneltz,
        module: Some("time"),
        ..BASE
    },
    OptDesc { opt: Opt::Utc, spellings: &["--utc"], rule: G::o_utc, module: Some("time"), ..BASE },
    OptDesc {
        opt: Opt::Contiguous,
        spellings: &["--contiguous"],
        rule: G::o_contiguous,
        module: Some("time"),
        ..BASE
    },
    // -- end helper C.
    // -m policy, -m hashlimit, -m connlimit (helper B's block).
    OptDesc {
        opt: Opt::PolicyDir,
        spellings: &["--dir"],
        rule: G::o_policy_dir,
        module: Some("policy"),
        value: ValueKind::Name { sample: " in" },
        wants: "a direction: in or out",
        ..BASE
    },
    OptDesc {
        opt: Opt::PolicyPol,
        spellings: &["--pol"],
        rule: G::o_policy_pol,
        module: Some("policy"),
        value: ValueKind::Name { sample: " ipsec" },
        wants: "a policy: ipsec or none",
        ..BASE
    },
    OptDesc {
        opt: Opt::PolicyStrict,
        spellings: &["--strict"],
        rule: G::o_policy_strict,
        module: Some("policy"),
        refused: Some(POLICY_ELEMENT),
        ..BASE
    },
    OptDesc {
        opt: Opt::PolicyReqid,
        // Once per policy element (`--next` starts another).
        repeatable: true,
        spellings: &["--reqid"],
        rule: G::o_policy_reqid,
        module: Some("policy"),
        negatable: true,
        value: ValueKind::Num { max: u32::MAX },
        refused: Some(POLICY_ELEMENT),
        wants: "a request id such as 1",
        ..BASE
    },
    OptDesc {
        opt: Opt::PolicySpi,
        // Once per policy element (`--next` starts another).
        repeatable: true,
        spellings: &["--spi"],
        rule: G::o_policy_spi,
        module: Some("policy"),
        negatable: true,
        value: ValueKind::Num { max: u32::MAX },
        refused: Some(POLICY_ELEMENT),
        wants: "an SPI such as 0x100",
        ..BASE
    },
    OptDesc {
        opt: Opt::PolicyProto,
        // Once per policy element (`--next` starts another).
        repeatable: true,
        spellings: &["--proto"],
        rule: G::o_policy_proto,
        module: Some("policy"),
        negatable: true,
        value: ValueKind::Proto,
        refused: Some(POLICY_ELEMENT),
        wants: "an IPsec protocol: esp, ah or ipcomp",
        ..BASE
    },
    OptDesc {
        opt: Opt::PolicyTunnelSrc,
        // Once per policy element (`--next` starts another).
        repeatable: true,
        spellings: &["--tunnel-src"],
        rule: G::o_policy_tunnel_src,
        module: Some("policy"),
        negatable: true,
        value: ValueKind::CtAddr,
        refused: Some(POLICY_ELEMENT),
        wants: CT_ADDR_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::PolicyTunnelDst,
        // Once per policy element (`--next` starts another).
        repeatable: true,
        spellings: &["--tunnel-dst"],
        rule: G::o_policy_tunnel_dst,
        module: Some("policy"),
        negatable: true,
        value: ValueKind::CtAddr,
        refused: Some(POLICY_ELEMENT),
        wants: CT_ADDR_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::PolicyNext,
        // Once per policy element (`--next` starts another).
        repeatable: true,
        spellings: &["--next"],
        rule: G::o_policy_next,
        module: Some("policy"),
        refused: Some(POLICY_ELEMENT),
        ..BASE
    },
    OptDesc {
        opt: Opt::HlUpto,
        spellings: &["--hashlimit-upto"],
        rule: G::o_hl_upto_new,
        module: Some("hashlimit"),
        value: ValueKind::Rate,
        wants: HL_RATE_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::HlAbove,
        spellings: &["--hashlimit-above"],
        rule: G::o_hl_above,
        module: Some("hashlimit"),
        value: ValueKind::Rate,
        wants: HL_RATE_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::HlBurst,
        spellings: &["--hashlimit-burst"],
        rule: G::o_hl_burst,
        module: Some("hashlimit"),
        value: ValueKind::Num { max: 10_000 },
        wants: "a burst such as 5",
        ..BASE
    },
    OptDesc {
        opt: Opt::HlMode,
        spellings: &["--hashlimit-mode"],
        rule: G::o_hl_mode,
        module: Some("hashlimit"),
        value: ValueKind::HashMode,
        wants: "a list of srcip, dstip, srcport, dstport such as srcip,dstport",
        ..BASE
    },
    OptDesc {
        opt: Opt::HlSrcMask,
        spellings: &["--hashlimit-srcmask"],
        rule: G::o_hl_srcmask,
        module: Some("hashlimit"),
        value: ValueKind::Num { max: 32 },
        wants: HL_MASK_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::HlDstMask,
        spellings: &["--hashlimit-dstmask"],
        rule: G::o_hl_dstmask,
        module: Some("hashlimit"),
        value: ValueKind::Num { max: 32 },
        wants: HL_MASK_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::HlName,
        spellings: &["--hashlimit-name"],
        rule: G::o_hl_name,
        module: Some("hashlimit"),
        value: ValueKind::MeterName,
        wants: "a table name such as ssh (letters, digits, _ and -, at most 15)",
        ..BASE
    },
    OptDesc {
        opt: Opt::HlExpire,
        spellings: &["--hashlimit-htable-expire"],
        rule: G::o_hl_expire,
        module: Some("hashlimit"),
        value: ValueKind::Num { max: u32::MAX },
        wants: "a time in milliseconds such as 10000",
        ..BASE
    },
    OptDesc {
        opt: Opt::HlUptoOld,
        spellings: &["--hashlimit"],
        rule: G::o_hl_upto,
        module: Some("hashlimit"),
        value: ValueKind::Rate,
        wants: HL_RATE_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::ConnlimitAbove,
        spellings: &["--connlimit-above"],
        rule: G::o_connlimit_above,
        module: Some("connlimit"),
        negatable: true,
        value: ValueKind::Num { max: u32::MAX },
        wants: CONNLIMIT_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::ConnlimitUpto,
        spellings: &["--connlimit-upto"],
        rule: G::o_connlimit_upto,
        module: Some("connlimit"),
        negatable: true,
        value: ValueKind::Num { max: u32::MAX },
        wants: CONNLIMIT_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::ConnlimitMask,
        spellings: &["--connlimit-mask"],
        rule: G::o_connlimit_mask,
        module: Some("connlimit"),
        value: ValueKind::Num { max: 32 },
        wants: HL_MASK_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::ConnlimitSaddr,
        spellings: &["--connlimit-saddr"],
        rule: G::o_connlimit_saddr,
        module: Some("connlimit"),
        value: ValueKind::Flag,
        wants: "nothing",
        ..BASE
    },
    OptDesc {
        opt: Opt::ConnlimitDaddr,
        spellings: &["--connlimit-daddr"],
        rule: G::o_connlimit_daddr,
        module: Some("connlimit"),
        value: ValueKind::Flag,
        wants: "nothing",
        ..BASE
    },
    OptDesc {
        opt: Opt::HlSize,
        spellings: &["--hashlimit-htable-size"],
        rule: G::o_hl_size,
        module: Some("hashlimit"),
        value: ValueKind::Num { max: u32::MAX },
        refused: Some(HASHLIMIT_TABLE),
        wants: "a number such as 1024",
        ..BASE
    },
    OptDesc {
        opt: Opt::HlMax,
        spellings: &["--hashlimit-htable-max"],
        rule: G::o_hl_max,
        module: Some("hashlimit"),
        value: ValueKind::Num { max: u32::MAX },
        refused: Some(HASHLIMIT_TABLE),
        wants: "a number such as 1024",
        ..BASE
    },
    OptDesc {
        opt: Opt::HlGc,
        spellings: &["--hashlimit-htable-gcinterval"],
        rule: G::o_hl_gc,
        module: Some("hashlimit"),
        value: ValueKind::Num { max: u32::MAX },
        refused: Some(HASHLIMIT_TABLE),
        wants: "a number such as 1024",
        ..BASE
    },
    // Helper A2's options (devgroup, realm, cpu, cgroup, connbytes, helper), one block.
    OptDesc {
        opt: Opt::SrcGroup,
        spellings: &["--src-group"],
        rule: G::o_src_group,
        module: Some("devgroup"),
        negatable: true,
        value: ValueKind::MarkMask,
        wants: GROUP_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::DstGroup,
        spellings: &["--dst-group"],
        rule: G::o_dst_group,
        module: Some("devgroup"),
        negatable: true,
        value: ValueKind::MarkMask,
        wants: GROUP_DESC,
        ..BASE
    },
    OptDesc {
        opt: Opt::Realm,
        spellings: &["--realm"],
        rule: G::o_realm,
        module: Some("realm"),
        negatable: true,
        value: ValueKind::MarkMask,
        wants: "a routing realm with an optional mask such as 4 or 0x1/0xf",
        ..BASE
    },
    OptDesc {
        opt: Opt::Cpu,
        spellings: &["--cpu"],
        rule: G::o_cpu,
        module: Some("cpu"),
        negatable: true,
        value: ValueKind::Mark32,
        wants: "a CPU number such as 0",
        ..BASE
    },
    OptDesc {
        opt: Opt::Cgroup,
        spellings: &["--cgroup"],
        rule: G::o_cgroup,
        module: Some("cgroup"),
        negatable: true,
        value: ValueKind::Mark32,
        wants: "a net_cls classid such as 0x100001",
        ..BASE
    },
    OptDesc {
        opt: Opt::Connbytes,
        spellings: &["--connbytes"],
        rule: G::o_connbytes,
        module: Some("connbytes"),
        negatable: true,
        value: ValueKind::Count,
        wants: "a count or range such as 200 or 200:600",
        ..BASE
    },
    OptDesc {
        opt: Opt::ConnbytesDir,
        spellings: &["--connbytes-dir"],
        rule: G::o_connbytes_dir,
        module: Some("connbytes"),
        value: ValueKind::Name { sample: " original" },
        wants: "original, reply or both",
        ..BASE
    },
    OptDesc {
        opt: Opt::ConnbytesMode,
        spellings: &["--connbytes-mode"],
        rule: G::o_connbytes_mode,
        module: Some("connbytes"),
        value: ValueKind::Name { sample: " packets" },
        wants: "packets, bytes or avgpkt",
        ..BASE
    },
    OptDesc {
        opt: Opt::Helper,
        spellings: &["--helper"],
        rule: G::o_helper,
        module: Some("helper"),
        negatable: true,
        value: ValueKind::Text { max: 29, what: "a helper name" },
        wants: "a helper name such as ftp",
        ..BASE
    },
    OptDesc {
        opt: Opt::Quota,
        spellings: &["--quota"],
        rule: G::o_quota,
        module: Some("quota"),
        negatable: true,
        value: ValueKind::Count64,
        wants: "a number of bytes such as 1000000",
        ..BASE
    },
    OptDesc {
        opt: Opt::TcpOption,
        spellings: &["--tcp-option"],
        rule: G::o_tcp_option,
        negatable: true,
        needs_proto: Some(ProtoNeed::Tcp),
        value: ValueKind::Num { max: 255 },
        wants: "a TCP option kind from 2 to 255 such as 8",
        ..BASE
    },
    // The value is read by resolve (a number 0 to 127; a name is refused): iptables-save
    // writes it quoted, `--label "40"`.
    OptDesc {
        opt: Opt::Label,
        spellings: &["--label"],
        rule: G::o_label,
        module: Some("connlabel"),
        negatable: true,
        value: ValueKind::Text { max: 64, what: "a conntrack label" },
        wants: "a conntrack label number from 0 to 127 such as 40",
        ..BASE
    },
];

/// Why xt_hashlimit's table sizing is refused.
const HASHLIMIT_TABLE: Refusal = Refusal {
    label: "xt_hashlimit's table sizing has no nftables form",
    help: "remove it: the meter's set holds up to 65535 keys and drops a key idle for \
           --hashlimit-htable-expire; a full xt_hashlimit table drops new keys' packets, a full \
           set does not match them",
};

/// Where `--hashlimit*` rates and burst are described.
const HL_RATE_DESC: &str = "a rate such as 10/second, 100/minute or 5";
const HL_MASK_DESC: &str = "a prefix length from 0 to 32";
const CONNLIMIT_DESC: &str = "a number of connections such as 10";

/// Why `-m policy`'s per-SA options are refused: xt_policy tests the packet's whole SA bundle
/// (any SA; with `--strict`, each SA in order and no more), nft's `ipsec in|out` reads one SA
/// by its position and cannot test how many there are.
pub(crate) const POLICY_ELEMENT: Refusal = Refusal {
    label: "per-SA policy options have no exact nftables form",
    help: "xt_policy matches when any SA of the packet's bundle fits (with --strict: each SA in \
           order and no other); nft's `ipsec in|out` reads one SA by position and cannot count \
           them. Match `-m policy --dir in|out --pol ipsec` alone, and tell tunnels apart by \
           their addresses (-s/-d) or their vti/xfrm interface (-i/-o)",
};

/// Grammar rule (as `usize`) → index in [`OPTIONS`], `u8::MAX` for rules that are no option:
/// lowering looks an option up by its parse pair's rule without a search.
const BY_RULE: [u8; 256] = {
    let mut t = [u8::MAX; 256];
    let mut i = 0;
    while i < OPT_COUNT {
        t[OPTIONS[i].rule as usize] = i as u8;
        i += 1;
    }
    t
};

impl Opt {
    /// This option's descriptor.
    pub(crate) fn desc(self) -> &'static OptDesc {
        &OPTIONS[self as usize]
    }

    /// The option a grammar rule `o_*` parses.
    pub(super) fn of_rule(rule: G) -> Option<Opt> {
        let i = *BY_RULE.get(rule as usize)?;
        OPTIONS.get(usize::from(i)).map(|d| d.opt)
    }

    /// The option written `s` (any of its spellings).
    pub(crate) fn of_spelling(s: &str) -> Option<Opt> {
        OPTIONS.iter().find(|d| d.spellings.contains(&s)).map(|d| d.opt)
    }

    /// The spelling `fmt` prints.
    pub(crate) fn canonical(self) -> &'static str {
        self.desc().spellings[0]
    }

    /// Targets a target option written `spelling` belongs to; `None` for a match option.
    pub(crate) fn owners(self, spelling: &str) -> Option<&'static [&'static str]> {
        let d = self.desc();
        let by_spelling = d.spelling_targets.iter().find(|(s, _)| *s == spelling);
        by_spelling.map(|(_, t)| *t).or(d.targets)
    }
}

/// Every spelling of every option.
pub(super) fn spellings() -> impl Iterator<Item = &'static str> {
    OPTIONS.iter().flat_map(|d| d.spellings.iter().copied())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use pest::Parser;

    use super::super::grammar::{Rule as G, Vns3Parser};
    use super::super::names;
    use super::{OPT_COUNT, OPTIONS, Opt, spellings};

    #[test]
    fn the_table_is_in_opt_order_and_found_by_rule_and_spelling() {
        for (i, d) in OPTIONS.iter().enumerate() {
            assert_eq!(d.opt as usize, i, "{:?} out of place", d.opt);
            assert_eq!(Opt::of_rule(d.rule), Some(d.opt));
            assert!(!d.spellings.is_empty(), "{:?} has no spelling", d.opt);
            for s in d.spellings {
                assert_eq!(Opt::of_spelling(s), Some(d.opt), "{s}");
            }
            assert_eq!(d.value.words() == 0, d.wants == "nothing", "{:?}", d.opt);
            // A target option needs no module and takes no `!`.
            if d.targets.is_some() {
                assert!(d.module.is_none() && !d.negatable, "{:?}", d.opt);
            }
            for (s, _) in d.spelling_targets {
                assert!(d.spellings.contains(s), "{s} is not a spelling of {:?}", d.opt);
            }
        }
        assert_eq!(OPTIONS.len(), OPT_COUNT);
        assert_eq!(Opt::of_rule(G::line), None);
        assert_eq!(Opt::of_rule(G::o_unknown), None);
        let all: Vec<&str> = spellings().collect();
        let unique: BTreeSet<&str> = all.iter().copied().collect();
        assert_eq!(all.len(), unique.len(), "a spelling names two options");
    }

    /// The `-m` modules are the table's, then the protocols': E004's help lists them so.
    #[test]
    fn the_known_modules_are_the_tables_then_the_protocols() {
        let expected = [
            "multiport",
            "conntrack",
            "state",
            "comment",
            "iprange",
            "limit",
            "set",
            "mark",
            "connmark",
            "length",
            "ttl",
            "pkttype",
            "dscp",
            "ecn",
            "ah",
            "esp",
            "tcpmss",
            "mac",
            "statistic",
            "policy",
            "owner",
            "addrtype",
            "dccp",
            "time",
            "hashlimit",
            "connlimit",
            "devgroup",
            "realm",
            "cpu",
            "cgroup",
            "connbytes",
            "helper",
            "quota",
            "connlabel",
            "tcp",
            "udp",
            "udplite",
            "icmp",
            "sctp",
        ];
        assert_eq!(*names::MODULES, expected);
    }

    /// Every spelling in the table parses, as its own option's grammar rule, alone, negated
    /// where it may be, and after another option.
    #[test]
    fn every_spelling_of_the_table_parses_as_its_option() {
        for d in &OPTIONS {
            for s in d.spellings {
                let option = format!("{s}{}", d.value.example());
                let mut lines = vec![option.clone(), format!("-p tcp {option}")];
                if d.negatable {
                    lines.push(format!("! {option}"));
                }
                for line in lines {
                    let parsed = Vns3Parser::parse(G::line, &line)
                        .unwrap_or_else(|e| panic!("{line:?} does not parse: {e}"));
                    let pair = parsed.into_iter().next().expect("one `line`");
                    let rules: Vec<G> = pair.into_inner().map(|p| p.as_rule()).collect();
                    assert!(rules.contains(&d.rule), "{line:?} parsed as {rules:?}");
                    assert!(!rules.contains(&G::o_unknown), "{line:?} parsed as {rules:?}");
                }
            }
        }
    }

    /// The quoted `-…` words of a piece of the grammar.
    fn option_words(text: &str) -> BTreeSet<String> {
        text.split('"')
            .skip(1)
            .step_by(2)
            .filter(|w| w.starts_with('-') && w.len() > 1 && *w != "--")
            .map(str::to_string)
            .collect()
    }

    /// Every option word in the grammar is in the table: each `o_*` rule spells exactly its
    /// descriptor's spellings, and `known_name` lists exactly the table's.
    #[test]
    fn every_option_word_of_the_grammar_is_in_the_table() {
        let grammar = include_str!("../../grammar/vns3.pest");
        let rule_text = |name: &str| -> String {
            let start = grammar
                .lines()
                .position(|l| l.split_whitespace().next() == Some(name))
                .unwrap_or_else(|| panic!("grammar rule {name} not found"));
            // A rule runs to the next blank line or the next rule's definition.
            let mut out = String::new();
            for (i, l) in grammar.lines().enumerate().skip(start) {
                let defines = l.contains(" = ") && !l.starts_with(' ');
                if i > start && (l.trim().is_empty() || defines || l.starts_with("//")) {
                    break;
                }
                out.push_str(l);
                out.push('\n');
            }
            out
        };
        let mut in_rules = BTreeSet::new();
        for d in &OPTIONS {
            let name = format!("{:?}", d.rule);
            let words = option_words(&rule_text(&name));
            let table: BTreeSet<String> = d.spellings.iter().map(|s| s.to_string()).collect();
            assert_eq!(words, table, "grammar rule {name} and the table for {:?}", d.opt);
            in_rules.extend(words);
        }
        let table: BTreeSet<String> = spellings().map(str::to_string).collect();
        assert_eq!(option_words(&rule_text("known_name")), table, "known_name");
        // Every `o_*` rule but the catch-all is an option of the table.
        for l in grammar.lines() {
            let Some(name) = l.split_whitespace().next().filter(|n| n.starts_with("o_")) else {
                continue;
            };
            if l.contains(" = ") && name != "o_unknown" {
                let known = OPTIONS.iter().any(|d| format!("{:?}", d.rule) == name);
                assert!(known, "grammar rule {name} has no descriptor");
            }
        }
        // No other grammar rule spells an option word the table lacks (the dispatch in
        // `option` and `long_option` only looks ahead at prefixes such as "--d").
        for w in option_words(grammar) {
            let prefix = w.len() <= 3 && w.starts_with("--");
            assert!(prefix || table.contains(&w), "grammar spells {w:?}, the table does not");
        }
    }
}
