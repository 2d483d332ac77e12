//! Fixed words of the rule language (chains, targets, modules) and the "did you mean" matcher
//! used to suggest a fix for a misspelt one. The names the rules share with nft (protocols,
//! services, ICMP and reject types, log levels, rate units) are in [`crate::vocab`].

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
    "DSCP",
    "CLASSIFY",
    "AUDIT",
    "NFQUEUE",
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

/// `-m connbytes --connbytes-dir` names (exact, as libxt_connbytes): original, reply, both.
pub(super) const CONNBYTES_DIRS: &[(&str, u8)] = &[("original", 0), ("reply", 1), ("both", 2)];

/// `-m connbytes --connbytes-mode` names (exact): packets, bytes, avgpkt.
pub(super) const CONNBYTES_MODES: &[(&str, u8)] = &[("packets", 0), ("bytes", 1), ("avgpkt", 2)];

/// `-m conntrack --ctdir` names (any case) with nft's `ct direction` value.
pub(super) const CT_DIRS: &[(&str, u8)] = &[("ORIGINAL", 0), ("REPLY", 1)];

/// `-j AUDIT --type` names (any case, as libxt_AUDIT); the kernel records none of them.
pub(super) const AUDIT_TYPES: &[(&str, u8)] = &[("accept", 0), ("drop", 1), ("reject", 2)];

/// `-m dccp --dccp-types` names (any case, as libxt_dccp), by the kernel's type number.
pub(crate) const DCCP_TYPES: &[&str] = &[
    "REQUEST", "RESPONSE", "DATA", "ACK", "DATAACK", "CLOSEREQ", "CLOSE", "RESET", "SYNC",
    "SYNCACK", "INVALID",
];

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

/// `-m policy --dir` names (as written: iptables compares them exactly); 1 is `out`.
pub(super) const POLICY_DIRS: &[(&str, u8)] = &[("in", 0), ("out", 1)];

/// `-m policy --pol` names (as written); 1 is `none`.
pub(super) const POLICY_POLS: &[(&str, u8)] = &[("ipsec", 0), ("none", 1)];

/// The value lowering gives `--mode tunnel|transport` (`-m policy`'s), which no statistic
/// mode has.
pub(super) const POLICY_MODE: u32 = 2;

/// `-m hashlimit --hashlimit-mode` names (exact, as iptables) with their bit.
pub(super) const HASH_MODES: &[(&str, u8)] =
    &[("srcip", 1), ("dstip", 2), ("srcport", 4), ("dstport", 8)];

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
/// (`dccp` is also the options table's, for `--dccp-types`, so it is listed there.)
const PROTOCOL_MODULES: &[&str] = &["tcp", "udp", "udplite", "icmp", "sctp"];

/// The `[A-Za-z0-9_-]+` tail of a subgroup name.
pub(super) fn is_subgroup_tail(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The closest candidate to `word` (see [`crate::suggest::did_you_mean`]); words of fewer than
/// two letters get no suggestion.
pub(super) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if word.trim_start_matches('-').len() < 2 {
        return None;
    }
    crate::suggest::did_you_mean(word, candidates.iter().copied())
}
