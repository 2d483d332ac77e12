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
];

/// Match modules we support (`-m NAME`).
pub(super) const MODULES: &[&str] = &[
    "multiport",
    "conntrack",
    "state",
    "comment",
    "iprange",
    "limit",
    "set",
    "tcp",
    "udp",
    "udplite",
    "icmp",
    "sctp",
];

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

/// iptables' ICMP type names (`iptables -p icmp -h`), lower-cased.
pub(super) const ICMP_TYPES: &[&str] = &[
    "echo-reply",
    "pong",
    "destination-unreachable",
    "network-unreachable",
    "host-unreachable",
    "protocol-unreachable",
    "port-unreachable",
    "fragmentation-needed",
    "source-route-failed",
    "network-unknown",
    "host-unknown",
    "network-prohibited",
    "host-prohibited",
    "tos-network-unreachable",
    "tos-host-unreachable",
    "communication-prohibited",
    "host-precedence-violation",
    "precedence-cutoff",
    "source-quench",
    "redirect",
    "network-redirect",
    "host-redirect",
    "tos-network-redirect",
    "tos-host-redirect",
    "echo-request",
    "ping",
    "router-advertisement",
    "router-solicitation",
    "time-exceeded",
    "ttl-exceeded",
    "ttl-zero-during-transit",
    "ttl-zero-during-reassembly",
    "parameter-problem",
    "ip-header-bad",
    "required-option-missing",
    "timestamp-request",
    "timestamp-reply",
    "address-mask-request",
    "address-mask-reply",
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
