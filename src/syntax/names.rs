//! Fixed vocabularies of the rule language (chains, targets, modules, protocols, services, ICMP
//! types, …) and the "did you mean" matcher used to suggest a fix for a misspelt one.

/// Chain words that are not subgroups.
pub(super) const CHAIN_WORDS: &[&str] = &[
    "INPUT_CUST",
    "OUTPUT_CUST",
    "FORWARD_CUST",
    "PREROUTING_CUST",
    "POSTROUTING_CUST",
    "INPUT",
    "OUTPUT",
    "FORWARD",
    "PREROUTING",
    "POSTROUTING",
    "MACRO_CUST",
];

/// Subgroup prefixes (`PRE_C_name` …) with the builtin each hangs off.
pub(super) const SUBGROUP_PREFIXES: &[(&str, super::ast::Builtin)] = {
    use super::ast::Builtin::*;
    &[
        ("PRE_C_", Prerouting),
        ("PST_C_", Postrouting),
        ("FWD_C_", Forward),
        ("INP_C_", Input),
        ("OUT_C_", Output),
    ]
};

pub(super) const TARGETS: &[&str] = &[
    "ACCEPT",
    "DROP",
    "REJECT",
    "LOG",
    "RETURN",
    "DNAT",
    "SNAT",
    "MASQUERADE",
    "MASQUERADE-ONCE",
    "REDIRECT",
    "NETMAP",
    "COPY",
    "TCPMSS",
    "MARK",
    "CONNMARK",
    "NFLOG",
];

/// Match modules we support (`-m NAME`): those of the options table, in its order, then the
/// protocol modules (`-m tcp`, which `-p tcp` loads by itself).
pub(super) static MODULES: std::sync::LazyLock<Vec<&'static str>> =
    std::sync::LazyLock::new(|| {
        let mut out: Vec<&'static str> = Vec::new();
        let table = super::options::OPTIONS
            .iter()
            .flat_map(|d| d.module.into_iter().chain(d.also_modules.iter().copied()));
        for m in table.chain(PROTOCOL_MODULES.iter().copied()) {
            if !out.contains(&m) {
                out.push(m);
            }
        }
        out
    });

/// `-m pkttype --pkt-type` names (any case, as iptables) with the kernel's packet type.
pub(super) const PKT_TYPES: &[(&str, u8)] = &[("unicast", 0), ("broadcast", 1), ("multicast", 2)];

/// `-m dscp --dscp-class` names (any case, as iptables) with their DSCP value.
pub(super) const DSCP_CLASSES: &[(&str, u8)] = &[
    ("BE", 0x00),
    ("CS0", 0x00),
    ("CS1", 0x08),
    ("CS2", 0x10),
    ("CS3", 0x18),
    ("CS4", 0x20),
    ("CS5", 0x28),
    ("CS6", 0x30),
    ("CS7", 0x38),
    ("AF11", 0x0a),
    ("AF12", 0x0c),
    ("AF13", 0x0e),
    ("AF21", 0x12),
    ("AF22", 0x14),
    ("AF23", 0x16),
    ("AF31", 0x1a),
    ("AF32", 0x1c),
    ("AF33", 0x1e),
    ("AF41", 0x22),
    ("AF42", 0x24),
    ("AF43", 0x26),
    ("EF", 0x2e),
];

/// `-m statistic --mode` names (as written: iptables compares them exactly).
pub(super) const STAT_MODES: &[(&str, u8)] = &[("random", 0), ("nth", 1)];

/// `-m addrtype` types (any case, as iptables), in the kernel's `RTN_*` order.
pub(super) const ADDR_TYPES: &[&str] = &[
    "UNSPEC",
    "UNICAST",
    "LOCAL",
    "BROADCAST",
    "ANYCAST",
    "MULTICAST",
    "BLACKHOLE",
    "UNREACHABLE",
    "PROHIBIT",
    "THROW",
    "NAT",
    "XRESOLVE",
];

/// Modules named after a protocol; each needs `-p` of the same name (check.rs).
const PROTOCOL_MODULES: &[&str] = &["tcp", "udp", "udplite", "icmp", "sctp"];

/// The `[A-Za-z0-9_-]+` tail of a subgroup name.
pub(super) fn is_subgroup_tail(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Protocol names other than the ones with their own `ast::Protocol` variant.
pub(super) const PROTO_NUMBERS: &[(&str, u8)] =
    &[("esp", 50), ("ah", 51), ("gre", 47), ("igmp", 2), ("ipip", 4), ("ospf", 89), ("vrrp", 112)];

/// Well-known service names accepted as ports (the /etc/services subset firewall rules use).
pub(super) const SERVICES: &[(&str, u16)] = &[
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("bootps", 67),
    ("bootpc", 68),
    ("tftp", 69),
    ("http", 80),
    ("pop3", 110),
    ("ntp", 123),
    ("imap", 143),
    ("snmp", 161),
    ("snmp-trap", 162),
    ("bgp", 179),
    ("ldap", 389),
    ("https", 443),
    ("isakmp", 500),
    ("syslog", 514),
    ("submission", 587),
    ("ldaps", 636),
    ("imaps", 993),
    ("pop3s", 995),
    ("openvpn", 1194),
    ("mysql", 3306),
    ("ms-wbt-server", 3389),
    ("ipsec-nat-t", 4500),
    ("postgresql", 5432),
];

/// iptables' ICMP type names (`iptables -p icmp -h`), lower-cased, with the type and code
/// each stands for: the one list the syntax stage checks names against and the resolver maps.
pub const ICMP_TYPES: &[(&str, u8, Option<u8>)] = &[
    ("echo-reply", 0, None),
    ("pong", 0, None),
    ("destination-unreachable", 3, None),
    ("network-unreachable", 3, Some(0)),
    ("host-unreachable", 3, Some(1)),
    ("protocol-unreachable", 3, Some(2)),
    ("port-unreachable", 3, Some(3)),
    ("fragmentation-needed", 3, Some(4)),
    ("source-route-failed", 3, Some(5)),
    ("network-unknown", 3, Some(6)),
    ("host-unknown", 3, Some(7)),
    ("network-prohibited", 3, Some(9)),
    ("host-prohibited", 3, Some(10)),
    ("tos-network-unreachable", 3, Some(11)),
    ("tos-host-unreachable", 3, Some(12)),
    ("communication-prohibited", 3, Some(13)),
    ("host-precedence-violation", 3, Some(14)),
    ("precedence-cutoff", 3, Some(15)),
    ("source-quench", 4, None),
    ("redirect", 5, None),
    ("network-redirect", 5, Some(0)),
    ("host-redirect", 5, Some(1)),
    ("tos-network-redirect", 5, Some(2)),
    ("tos-host-redirect", 5, Some(3)),
    ("echo-request", 8, None),
    ("ping", 8, None),
    ("router-advertisement", 9, None),
    ("router-solicitation", 10, None),
    ("time-exceeded", 11, None),
    ("ttl-exceeded", 11, None),
    ("ttl-zero-during-transit", 11, Some(0)),
    ("ttl-zero-during-reassembly", 11, Some(1)),
    ("parameter-problem", 12, None),
    ("ip-header-bad", 12, Some(0)),
    ("required-option-missing", 12, Some(1)),
    ("timestamp-request", 13, None),
    ("timestamp-reply", 14, None),
    ("address-mask-request", 17, None),
    ("address-mask-reply", 18, None),
];

/// `--reject-with` types of the iptables REJECT target, with its short aliases.
pub(super) const REJECT_TYPES: &[&str] = &[
    "icmp-net-unreachable",
    "net-unreach",
    "icmp-host-unreachable",
    "host-unreach",
    "icmp-port-unreachable",
    "port-unreach",
    "icmp-proto-unreachable",
    "proto-unreach",
    "icmp-net-prohibited",
    "net-prohib",
    "icmp-host-prohibited",
    "host-prohib",
    "icmp-admin-prohibited",
    "admin-prohib",
    "tcp-reset",
    "tcp-rst",
];

/// The closest candidate to `word` (see [`crate::suggest::did_you_mean`]); words of fewer than
/// two letters get no suggestion.
pub(super) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if word.trim_start_matches('-').len() < 2 {
        return None;
    }
    crate::suggest::did_you_mean(word, candidates.iter().copied())
}
