//! The fixed names of iptables and nft, one table per vocabulary, read in both directions: the
//! syntax stage checks a rules word against a table, the resolver maps it to the IR value, the
//! emitter and the netlink lowering write the IR value by the same table, and `diff` reads
//! nft's listing back by it. A name added here is known to every stage at once.
//!
//! Vocabularies: IP protocols, ICMP types, ICMP codes and reject types, log levels, rate
//! units, conntrack states, service names.

use crate::ir::{CtState, LogLevel, RateUnit, RejectWith};

/// An IP protocol's name.
#[derive(Clone, Copy, Debug)]
pub struct Protocol {
    pub name: &'static str,
    pub number: u8,
    /// nft's grammar knows the name (nft 1.0.6, without `/etc/protocols`): the emitter writes
    /// it; other protocols it writes as numbers, which always load (`gre` is a name only
    /// through `/etc/protocols`).
    pub nft: bool,
    /// `-p NAME` takes it in a rules file.
    pub rules: bool,
}

const fn proto(name: &'static str, number: u8, nft: bool, rules: bool) -> Protocol {
    Protocol { name, number, nft, rules }
}

/// Every protocol name any stage knows. `diff` reads all of them back from a listing: nft
/// shows a protocol its grammar has no name for by its `/etc/protocols` name (`gre`,
/// `ipencap`).
pub const PROTOCOLS: &[Protocol] = &[
    proto("icmp", 1, true, true),
    proto("igmp", 2, true, true),
    proto("ipip", 4, false, true),
    proto("ipencap", 4, false, false),
    proto("tcp", 6, true, true),
    proto("udp", 17, true, true),
    proto("dccp", 33, true, true),
    proto("gre", 47, false, true),
    proto("esp", 50, true, true),
    proto("ah", 51, true, true),
    proto("ospf", 89, false, true),
    proto("vrrp", 112, false, true),
    proto("sctp", 132, true, true),
    proto("udplite", 136, true, true),
];

/// The protocol `-p NAME` names (`name` lower-cased; `all` is not a protocol, the caller's).
pub fn protocol_in_rules(name: &str) -> Option<u8> {
    PROTOCOLS.iter().find(|p| p.rules && p.name == name).map(|p| p.number)
}

/// nft's name of a protocol number, if its grammar has one.
pub fn nft_protocol_name(number: u8) -> Option<&'static str> {
    NFT_PROTOCOL_NAMES[number as usize]
}

/// [`PROTOCOLS`]' nft names by number, made from it at compile time: the emitter asks once a
/// protocol match, so the answer is an index, not a search.
const NFT_PROTOCOL_NAMES: [Option<&str>; 256] = {
    let mut names = [None; 256];
    let mut i = 0;
    while i < PROTOCOLS.len() {
        let p = &PROTOCOLS[i];
        if p.nft && names[p.number as usize].is_none() {
            names[p.number as usize] = Some(p.name);
        }
        i += 1;
    }
    names
};

/// The number of a protocol name in an nft listing.
pub fn listed_protocol(name: &str) -> Option<u8> {
    PROTOCOLS.iter().find(|p| p.name == name).map(|p| p.number)
}

/// An ICMP type name: iptables' (`--icmp-type`, some standing for a type and code) or nft's
/// (`icmp type`, a type alone), or both.
#[derive(Clone, Copy, Debug)]
pub struct IcmpType {
    pub name: &'static str,
    pub kind: u8,
    pub code: Option<u8>,
    /// iptables' name (`iptables -p icmp -h`), which a rules file may use.
    pub rules: bool,
    /// nft's name of the type (`icmp_type`), which the emitter writes and a listing shows.
    pub nft: bool,
}

const fn icmp(name: &'static str, kind: u8, code: Option<u8>, rules: bool, nft: bool) -> IcmpType {
    IcmpType { name, kind, code, rules, nft }
}

/// ICMP type names, iptables' and nft's.
pub const ICMP_TYPES: &[IcmpType] = &[
    icmp("echo-reply", 0, None, true, true),
    icmp("pong", 0, None, true, false),
    icmp("destination-unreachable", 3, None, true, true),
    icmp("network-unreachable", 3, Some(0), true, false),
    icmp("host-unreachable", 3, Some(1), true, false),
    icmp("protocol-unreachable", 3, Some(2), true, false),
    icmp("port-unreachable", 3, Some(3), true, false),
    icmp("fragmentation-needed", 3, Some(4), true, false),
    icmp("source-route-failed", 3, Some(5), true, false),
    icmp("network-unknown", 3, Some(6), true, false),
    icmp("host-unknown", 3, Some(7), true, false),
    icmp("network-prohibited", 3, Some(9), true, false),
    icmp("host-prohibited", 3, Some(10), true, false),
    icmp("tos-network-unreachable", 3, Some(11), true, false),
    icmp("tos-host-unreachable", 3, Some(12), true, false),
    icmp("communication-prohibited", 3, Some(13), true, false),
    icmp("host-precedence-violation", 3, Some(14), true, false),
    icmp("precedence-cutoff", 3, Some(15), true, false),
    icmp("source-quench", 4, None, true, true),
    icmp("redirect", 5, None, true, true),
    icmp("network-redirect", 5, Some(0), true, false),
    icmp("host-redirect", 5, Some(1), true, false),
    icmp("tos-network-redirect", 5, Some(2), true, false),
    icmp("tos-host-redirect", 5, Some(3), true, false),
    icmp("echo-request", 8, None, true, true),
    icmp("ping", 8, None, true, false),
    icmp("router-advertisement", 9, None, true, true),
    icmp("router-solicitation", 10, None, true, true),
    icmp("time-exceeded", 11, None, true, true),
    icmp("ttl-exceeded", 11, None, true, false),
    icmp("ttl-zero-during-transit", 11, Some(0), true, false),
    icmp("ttl-zero-during-reassembly", 11, Some(1), true, false),
    icmp("parameter-problem", 12, None, true, true),
    icmp("ip-header-bad", 12, Some(0), true, false),
    icmp("required-option-missing", 12, Some(1), true, false),
    icmp("timestamp-request", 13, None, true, true),
    icmp("timestamp-reply", 14, None, true, true),
    icmp("info-request", 15, None, false, true),
    icmp("info-reply", 16, None, false, true),
    icmp("address-mask-request", 17, None, true, true),
    icmp("address-mask-reply", 18, None, true, true),
];

/// The type and code an iptables ICMP type name (lower-cased) stands for.
pub fn icmp_type_in_rules(name: &str) -> Option<(u8, Option<u8>)> {
    ICMP_TYPES.iter().find(|t| t.rules && t.name == name).map(|t| (t.kind, t.code))
}

/// The names `--icmp-type` takes.
pub fn icmp_type_names_in_rules() -> impl Iterator<Item = &'static str> {
    ICMP_TYPES.iter().filter(|t| t.rules).map(|t| t.name)
}

/// nft's name of an ICMP type, if it has one.
pub fn nft_icmp_type_name(kind: u8) -> Option<&'static str> {
    NFT_ICMP_TYPE_NAMES[kind as usize]
}

/// [`ICMP_TYPES`]' nft names by type, made from it at compile time (an index for the emitter,
/// as [`NFT_PROTOCOL_NAMES`]).
const NFT_ICMP_TYPE_NAMES: [Option<&str>; 256] = {
    let mut names = [None; 256];
    let mut i = 0;
    while i < ICMP_TYPES.len() {
        let t = &ICMP_TYPES[i];
        if t.nft && names[t.kind as usize].is_none() {
            names[t.kind as usize] = Some(t.name);
        }
        i += 1;
    }
    names
};

/// The number of an nft ICMP type name.
pub fn nft_icmp_type(name: &str) -> Option<u8> {
    ICMP_TYPES.iter().find(|t| t.nft && t.name == name).map(|t| t.kind)
}

/// nft's names of the destination-unreachable codes (`icmp_code`): what `reject with icmp
/// type NAME` writes and a listing's `icmp code` shows.
pub const NFT_ICMP_CODES: &[(&str, u8)] = &[
    ("net-unreachable", 0),
    ("host-unreachable", 1),
    ("prot-unreachable", 2),
    ("port-unreachable", 3),
    ("frag-needed", 4),
    ("net-prohibited", 9),
    ("host-prohibited", 10),
    ("admin-prohibited", 13),
];

/// The number of an nft ICMP code name.
pub fn nft_icmp_code(name: &str) -> Option<u8> {
    NFT_ICMP_CODES.iter().find(|(n, _)| *n == name).map(|&(_, c)| c)
}

/// The REJECT target's `--reject-with` types: iptables' spellings (long, then short) and the
/// ICMP code each sends (`None`: a TCP reset). In `RejectWith`'s order, as every table keyed
/// by an IR enum here: a value's entry is at its index (`tests::enum_tables_are_in_enum_order`).
pub const REJECT_TYPES: &[(RejectWith, [&str; 2], Option<u8>)] = &[
    (RejectWith::PortUnreachable, ["icmp-port-unreachable", "port-unreach"], Some(3)),
    (RejectWith::NetUnreachable, ["icmp-net-unreachable", "net-unreach"], Some(0)),
    (RejectWith::HostUnreachable, ["icmp-host-unreachable", "host-unreach"], Some(1)),
    (RejectWith::ProtUnreachable, ["icmp-proto-unreachable", "proto-unreach"], Some(2)),
    (RejectWith::NetProhibited, ["icmp-net-prohibited", "net-prohib"], Some(9)),
    (RejectWith::HostProhibited, ["icmp-host-prohibited", "host-prohib"], Some(10)),
    (RejectWith::AdminProhibited, ["icmp-admin-prohibited", "admin-prohib"], Some(13)),
    (RejectWith::TcpReset, ["tcp-reset", "tcp-rst"], None),
];

impl RejectWith {
    /// The type a `--reject-with` word names (case-insensitive).
    pub fn parse(word: &str) -> Option<RejectWith> {
        REJECT_TYPES
            .iter()
            .find(|(_, spellings, _)| spellings.iter().any(|s| s.eq_ignore_ascii_case(word)))
            .map(|&(with, _, _)| with)
    }

    /// Every spelling `--reject-with` takes.
    pub fn spellings() -> impl Iterator<Item = &'static str> {
        REJECT_TYPES.iter().flat_map(|(_, spellings, _)| spellings.iter().copied())
    }

    /// The ICMP code (destination unreachable) the reject sends; `None` for a TCP reset.
    pub fn icmp_code(self) -> Option<u8> {
        REJECT_TYPES[self as usize].2
    }

    /// nft's name of the ICMP code the reject sends; `None` for a TCP reset.
    pub fn nft_icmp_code_name(self) -> Option<&'static str> {
        let code = self.icmp_code()?;
        NFT_ICMP_CODES.iter().find(|&&(_, c)| c == code).map(|&(name, _)| name)
    }
}

/// Log levels: the syslog number, nft's name, and the other names `--log-level` takes
/// (iptables' `panic`, `error`, `warning`).
pub const LOG_LEVELS: &[(LogLevel, u8, &str, &[&str])] = &[
    (LogLevel::Emerg, 0, "emerg", &["panic"]),
    (LogLevel::Alert, 1, "alert", &[]),
    (LogLevel::Crit, 2, "crit", &[]),
    (LogLevel::Err, 3, "err", &["error"]),
    (LogLevel::Warn, 4, "warn", &["warning"]),
    (LogLevel::Notice, 5, "notice", &[]),
    (LogLevel::Info, 6, "info", &[]),
    (LogLevel::Debug, 7, "debug", &[]),
];

impl LogLevel {
    /// What to write instead of an unknown level.
    pub const HELP: &str =
        "use 0-7 or emerg (panic), alert, crit, err (error), warning (warn), notice, info, debug";

    /// The level a `--log-level` word names: its number, nft's name or another name, without
    /// regard to case.
    pub fn parse(word: &str) -> Option<LogLevel> {
        LOG_LEVELS
            .iter()
            .find(|(_, number, nft, others)| {
                (word.len() == 1 && word.as_bytes()[0] == b'0' + number)
                    || nft.eq_ignore_ascii_case(word)
                    || others.iter().any(|o| o.eq_ignore_ascii_case(word))
            })
            .map(|&(level, ..)| level)
    }

    fn entry(self) -> &'static (LogLevel, u8, &'static str, &'static [&'static str]) {
        &LOG_LEVELS[self as usize]
    }

    /// The syslog number (`emerg` 0 … `debug` 7).
    pub fn number(self) -> u8 {
        self.entry().1
    }

    /// nft's name.
    pub fn nft_name(self) -> &'static str {
        self.entry().2
    }
}

/// Rate units: nft's name (iptables takes any prefix of it) and the seconds in one.
pub const RATE_UNITS: &[(RateUnit, &str, u64)] = &[
    (RateUnit::Second, "second", 1),
    (RateUnit::Minute, "minute", 60),
    (RateUnit::Hour, "hour", 3600),
    (RateUnit::Day, "day", 86_400),
];

impl RateUnit {
    /// The unit a `--limit N/UNIT` word names: any prefix of its name (`s`, `sec`, `m`, `min`,
    /// `h`, `d`, …), lower-cased by the caller.
    pub fn parse_prefix(word: &str) -> Option<RateUnit> {
        RATE_UNITS.iter().find(|(_, name, _)| name.starts_with(word)).map(|&(unit, ..)| unit)
    }

    fn entry(self) -> &'static (RateUnit, &'static str, u64) {
        &RATE_UNITS[self as usize]
    }

    /// nft's name.
    pub fn nft_name(self) -> &'static str {
        self.entry().1
    }

    /// Seconds in one unit (what the kernel's limit expression counts in).
    pub fn seconds(self) -> u64 {
        self.entry().2
    }
}

/// Conntrack status bits: iptables' name (`--ctstatus`, any case; SNAT and DNAT are
/// `--ctstate` words), nft's name, the kernel's bit (`IPS_*`).
pub const CT_STATUS: &[(&str, &str, u32)] = &[
    ("EXPECTED", "expected", 0x01),
    ("SEEN_REPLY", "seen-reply", 0x02),
    ("ASSURED", "assured", 0x04),
    ("CONFIRMED", "confirmed", 0x08),
    ("SNAT", "snat", 0x10),
    ("DNAT", "dnat", 0x20),
];

/// nft's names of the conntrack status bits set in `bits`, lowest first.
pub fn ct_status_names(bits: u32) -> Vec<&'static str> {
    CT_STATUS.iter().filter(|e| bits & e.2 != 0).map(|e| e.1).collect()
}

/// An nft time text (`10s999ms`, `1h2m`, `500ms`) in milliseconds; `None` for anything else.
pub fn time_ms(text: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let scale = match &rest[..unit] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(scale)?)?;
        rest = &rest[unit..];
    }
    (!text.is_empty()).then_some(total)
}

/// Conntrack states: nft's name (iptables writes it in capitals, and takes any case) and the
/// kernel's bit in the `ct state` mask.
pub const CT_STATES: &[(CtState, &str, u32)] = &[
    (CtState::New, "new", 8),
    (CtState::Established, "established", 2),
    (CtState::Related, "related", 4),
    (CtState::Invalid, "invalid", 1),
    (CtState::Untracked, "untracked", 64),
];

impl CtState {
    /// The state a `--ctstate`/`--state` word names, without regard to case.
    pub fn parse(word: &str) -> Option<CtState> {
        CT_STATES.iter().find(|(_, name, _)| name.eq_ignore_ascii_case(word)).map(|e| e.0)
    }

    fn entry(self) -> &'static (CtState, &'static str, u32) {
        &CT_STATES[self as usize]
    }

    /// nft's name.
    pub fn nft_name(self) -> &'static str {
        self.entry().1
    }

    /// The kernel's bit for the state in a `ct state` mask.
    pub fn kernel_bit(self) -> u32 {
        self.entry().2
    }
}

/// Well-known service names accepted as ports (the /etc/services subset firewall rules use).
pub const SERVICES: &[(&str, u16)] = &[
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each name read back gives what it was written from, in every vocabulary.
    #[test]
    fn every_vocabulary_reads_back_what_it_writes() {
        for p in PROTOCOLS.iter().filter(|p| p.nft) {
            assert_eq!(nft_protocol_name(p.number), Some(p.name));
            assert_eq!(listed_protocol(p.name), Some(p.number));
        }
        for t in ICMP_TYPES {
            assert!(t.rules || t.nft, "{}", t.name);
            if t.nft {
                assert_eq!(t.code, None, "{}: nft names types only", t.name);
                assert_eq!(nft_icmp_type_name(t.kind), Some(t.name));
                assert_eq!(nft_icmp_type(t.name), Some(t.kind));
            }
            if t.rules {
                assert_eq!(icmp_type_in_rules(t.name), Some((t.kind, t.code)));
            }
        }
        for &(with, spellings, code) in REJECT_TYPES {
            for s in spellings {
                assert_eq!(RejectWith::parse(s), Some(with));
                assert_eq!(RejectWith::parse(&s.to_ascii_uppercase()), Some(with));
            }
            assert_eq!(with.icmp_code(), code);
            if let Some(name) = with.nft_icmp_code_name() {
                assert_eq!(nft_icmp_code(name), code);
            }
        }
        for &(level, number, nft, others) in LOG_LEVELS {
            assert_eq!(LogLevel::parse(&number.to_string()), Some(level));
            assert_eq!(LogLevel::parse(&nft.to_ascii_uppercase()), Some(level));
            assert!(others.iter().all(|o| LogLevel::parse(o) == Some(level)));
            assert_eq!((level.number(), level.nft_name()), (number, nft));
        }
        assert_eq!(LogLevel::parse("8"), None);
        assert_eq!(LogLevel::parse("04"), None);
        for &(unit, name, seconds) in RATE_UNITS {
            assert_eq!(RateUnit::parse_prefix(&name[..1]), Some(unit));
            assert_eq!(RateUnit::parse_prefix(name), Some(unit));
            assert_eq!((unit.nft_name(), unit.seconds()), (name, seconds));
        }
        assert_eq!(RateUnit::parse_prefix("secs"), None);
        for &(state, name, bit) in CT_STATES {
            assert_eq!(CtState::parse(&name.to_ascii_uppercase()), Some(state));
            assert_eq!((state.nft_name(), state.kernel_bit()), (name, bit));
        }
    }

    /// The tables keyed by an IR enum hold each value once, at its index.
    #[test]
    fn enum_tables_are_in_enum_order() {
        for (i, e) in REJECT_TYPES.iter().enumerate() {
            assert_eq!(e.0 as usize, i, "{:?}", e.0);
        }
        for (i, e) in LOG_LEVELS.iter().enumerate() {
            assert_eq!(e.0 as usize, i, "{:?}", e.0);
        }
        for (i, e) in RATE_UNITS.iter().enumerate() {
            assert_eq!(e.0 as usize, i, "{:?}", e.0);
        }
        for (i, e) in CT_STATES.iter().enumerate() {
            assert_eq!(e.0 as usize, i, "{:?}", e.0);
        }
        assert_eq!(REJECT_TYPES.len(), 8);
        assert_eq!(LOG_LEVELS.len(), 8);
        assert_eq!(RATE_UNITS.len(), 4);
        assert_eq!(CT_STATES.len(), 5);
    }

    /// The index tables answer as a search of their table would.
    #[test]
    fn number_indexes_agree_with_their_tables() {
        for n in 0..=255u8 {
            let proto = PROTOCOLS.iter().find(|p| p.nft && p.number == n).map(|p| p.name);
            assert_eq!(nft_protocol_name(n), proto, "{n}");
            let icmp = ICMP_TYPES.iter().find(|t| t.nft && t.kind == n).map(|t| t.name);
            assert_eq!(nft_icmp_type_name(n), icmp, "{n}");
        }
    }

    /// Each name stands for one value: no vocabulary lists a name twice.
    #[test]
    fn no_vocabulary_lists_a_name_twice() {
        fn distinct(what: &str, names: impl Iterator<Item = &'static str>) {
            let mut names: Vec<&str> = names.collect();
            let count = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), count, "{what}: a name is listed twice");
        }
        distinct("protocols", PROTOCOLS.iter().map(|p| p.name));
        distinct("ICMP types", ICMP_TYPES.iter().map(|t| t.name));
        distinct("ICMP codes", NFT_ICMP_CODES.iter().map(|c| c.0));
        distinct("reject types", RejectWith::spellings());
        distinct(
            "log levels",
            LOG_LEVELS.iter().flat_map(|(_, _, nft, others)| {
                std::iter::once(*nft).chain(others.iter().copied())
            }),
        );
        distinct("rate units", RATE_UNITS.iter().map(|u| u.1));
        distinct("conntrack states", CT_STATES.iter().map(|s| s.1));
        distinct("services", SERVICES.iter().map(|s| s.0));
    }
}
