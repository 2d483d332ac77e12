//! What nft and the kernel accept: the words nft cannot take as a bare name, and the lengths
//! and depths it and the kernel refuse beyond (each checked by loading it with nft 1.0.6). Read
//! by `resolve` and `inventory` to refuse what would not load, and by `emit` to cut texts.

/// Longest comment nft 1.0.6 accepts, in bytes ("comment too long, 128 characters maximum").
pub const COMMENT_MAX: usize = 128;

/// Longest log prefix the kernel accepts, in bytes (128 fails with "Numerical result out of
/// range": the kernel counts the terminating NUL).
pub const LOG_PREFIX_MAX: usize = 127;

/// Longest chain name nft and the kernel take, in bytes (`NFT_NAME_MAXLEN`, 256 with the NUL;
/// checked: 255 loads, 256 is "Numerical result out of range").
pub const CHAIN_NAME_MAX: usize = 255;

/// How many chains deep jumps may nest below a base chain: the kernel refuses a ruleset whose
/// jumps nest deeper (`NFT_JUMP_STACK_SIZE` 16, EMLINK "Too many links"; checked: a base chain
/// and 15 chains below it load, 16 do not). A VNS3 chain is the first below its base chain, so
/// subgroups nest at most 14 deep.
pub const JUMP_DEPTH_MAX: usize = 15;

/// The size of a meter's dynamic set (nft's default for a `meter`): at most this many keys
/// are kept; a packet with a new key when it is full does not match (xt_hashlimit and
/// xt_connlimit drop it instead).
pub const METER_SIZE: u32 = 65535;

/// Longest kernel interface name, in bytes (`IFNAMSIZ` 16 with the NUL).
pub const IFNAME_MAX: usize = 15;

/// The bytes an interface name may hold, in the inventory and in the rules: letters, digits,
/// `_ . -`, and `*` and `+` as Linux and iptables allow them (a rule's last `+` is the
/// wildcard); no `\`, `"`, `/`, `:` or blank, which nft strings or the kernel refuse.
pub fn is_ifname_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'*' | b'+')
}

/// Every word of nft 1.0.6's scanner (`src/scanner.l` at tag v1.0.6: the quoted words its
/// rules match, whatever the start condition, `tests/data/nft-1.0.6-keywords.txt`), sorted
/// bytewise. nft 1.0.6 cannot quote a name in a declaration (`chain "fwd" {` is a syntax
/// error), and a set or chain named by one of these fails to load (`ipsec`, `exthdr`,
/// `exists`, `missing`, `xt` among them): `resolve` must refuse or rename it. Keywords are
/// lowercase and the scanner is case-sensitive, so a name with an uppercase letter is never one.
const NFT_1_0_6: &[&str] = &[
    "a-rwnd",
    "abort",
    "accept",
    "ackseq",
    "add",
    "addr",
    "ah",
    "all",
    "and",
    "arp",
    "asconf",
    "asconf-ack",
    "auto-merge",
    "avgpkt",
    "bridge",
    "burst",
    "bypass",
    "bytes",
    "cfi",
    "cgroup",
    "cgroupv2",
    "chain",
    "chains",
    "checksum",
    "chunk",
    "classid",
    "code",
    "comment",
    "comp",
    "constant",
    "continue",
    "cookie-ack",
    "cookie-echo",
    "count",
    "counter",
    "counters",
    "cpi",
    "cpu",
    "create",
    "csumcov",
    "ct",
    "cum-tsn-ack",
    "cwr",
    "daddr",
    "data",
    "day",
    "dccp",
    "define",
    "dei",
    "delete",
    "describe",
    "device",
    "devices",
    "direction",
    "dnat",
    "doff",
    "dport",
    "drop",
    "dscp",
    "dst",
    "dup",
    "dynamic",
    "echo",
    "ecn",
    "ecne",
    "element",
    "elements",
    "eol",
    "eq",
    "error",
    "esp",
    "ether",
    "event",
    "exists",
    "expectation",
    "expiration",
    "expires",
    "export",
    "exthdr",
    "fanout",
    "fastopen",
    "fib",
    "flags",
    "flow",
    "flowlabel",
    "flowtable",
    "flowtables",
    "flush",
    "forward-tsn",
    "frag",
    "frag-off",
    "fully-random",
    "fwd",
    "gateway",
    "gc-interval",
    "ge",
    "get",
    "goto",
    "group",
    "gt",
    "handle",
    "hbh",
    "hdrlength",
    "heartbeat",
    "heartbeat-ack",
    "helper",
    "helpers",
    "hlen",
    "hook",
    "hooks",
    "hoplimit",
    "hour",
    "htype",
    "ibriport",
    "ibrname",
    "icmp",
    "icmpv6",
    "icmpx",
    "id",
    "igmp",
    "iif",
    "iifgroup",
    "iifname",
    "iiftype",
    "import",
    "in",
    "inc",
    "include",
    "index",
    "inet",
    "init",
    "init-ack",
    "init-tag",
    "initial-tsn",
    "insert",
    "interval",
    "ip",
    "ip6",
    "ipsec",
    "jhash",
    "json",
    "jump",
    "l3proto",
    "label",
    "last-entry",
    "le",
    "left",
    "length",
    "level",
    "limit",
    "limits",
    "list",
    "ll",
    "log",
    "lowest-tsn",
    "lshift",
    "lsrr",
    "lt",
    "map",
    "maps",
    "mark",
    "masquerade",
    "max-delay",
    "maxseg",
    "md5sig",
    "memory",
    "meta",
    "meter",
    "meters",
    "mh",
    "minute",
    "missing",
    "mod",
    "monitor",
    "more-fragments",
    "mptcp",
    "mrt",
    "mss",
    "mtu",
    "name",
    "ne",
    "netdev",
    "new-cum-tsn",
    "nexthdr",
    "nexthop",
    "nftrace",
    "nh",
    "noop",
    "nop",
    "not",
    "notrack",
    "num",
    "num-dup-tsns",
    "num-gap-ack-blocks",
    "num-inbound-streams",
    "num-outbound-streams",
    "numgen",
    "obriport",
    "obrname",
    "offload",
    "offset",
    "oif",
    "oifgroup",
    "oifname",
    "oiftype",
    "operation",
    "option",
    "options",
    "or",
    "original",
    "osf",
    "out",
    "over",
    "packets",
    "param-problem",
    "pcp",
    "performance",
    "persistent",
    "pkttype",
    "plen",
    "policy",
    "port",
    "position",
    "ppid",
    "prefix",
    "priority",
    "proto-dst",
    "proto-src",
    "protocol",
    "ptr",
    "ptype",
    "queue",
    "queue-threshold",
    "quota",
    "quotas",
    "ra",
    "random",
    "rate",
    "redefine",
    "redirect",
    "reject",
    "rename",
    "replace",
    "reply",
    "reqid",
    "reserved",
    "reserved2",
    "reset",
    "return",
    "right",
    "rr",
    "rshift",
    "rt",
    "rt0",
    "rt2",
    "rtclassid",
    "rule",
    "rules",
    "ruleset",
    "sack",
    "sack-perm",
    "sack-permitted",
    "sack0",
    "sack1",
    "sack2",
    "sack3",
    "saddr",
    "sctp",
    "secmark",
    "secmarks",
    "second",
    "seed",
    "seg-left",
    "seqno",
    "sequence",
    "set",
    "sets",
    "shutdown",
    "shutdown-ack",
    "shutdown-complete",
    "sid",
    "size",
    "skgid",
    "skuid",
    "snaplen",
    "snat",
    "socket",
    "spi",
    "spnum",
    "sport",
    "srh",
    "ssn",
    "ssrr",
    "state",
    "status",
    "stream",
    "subtype",
    "symhash",
    "synproxy",
    "synproxys",
    "table",
    "tables",
    "tag",
    "tcp",
    "th",
    "time",
    "timeout",
    "timestamp",
    "to",
    "tproxy",
    "trace",
    "transparent",
    "tsecr",
    "tsn",
    "tsval",
    "ttl",
    "type",
    "typeof",
    "udp",
    "udplite",
    "undefine",
    "until",
    "update",
    "urgptr",
    "used",
    "value",
    "version",
    "vlan",
    "vm",
    "vmap",
    "vtag",
    "week",
    "wildcard",
    "window",
    "with",
    "wscale",
    "xml",
    "xor",
    "xt",
    "zone",
];

/// Words that later nft scanners (to 1.1.x) match in every state (`destroy`, `vxlan`, …), and
/// words this list held before it was rebuilt from the scanner: refused as well, so that a
/// policy keeps loading when nft is upgraded. (Later words matched only after another keyword,
/// such as log levels after `level`, are not: `debug` stays a valid FWset name.) Sorted
/// bytewise.
const LATER: &[&str] = &[
    "at", "check", "destroy", "geneve", "gre", "gretap", "last", "never", "taddr", "tos", "tunnel",
    "tunnels", "vni", "vxlan",
];

/// Whether `name` is an nft keyword, which nft cannot take as a chain or set name.
pub fn is_nft_keyword(name: &str) -> bool {
    NFT_1_0_6.binary_search(&name).is_ok() || LATER.binary_search(&name).is_ok()
}

/// Whether a name read from a live table can be written into a script as it is: letters,
/// digits, `_` and `-` after a letter or `_`, not a keyword, within nft's length. Every name
/// overlayfw makes is one; another (a foreign chain named `a b`) is not written at all.
pub fn is_plain_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && name.len() <= CHAIN_NAME_MAX
        && !is_nft_keyword(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names() {
        for ok in ["FORWARD_CUST", "FWD_C_web-1", "_x", "FORWARD_CUST__0a1b2c"] {
            assert!(is_plain_name(ok), "{ok}");
        }
        for bad in ["", "1a", "a b", "a\"b", "a;b", "tcp", "-a", "a.b", &"a".repeat(256)] {
            assert!(!is_plain_name(bad), "{bad}");
        }
    }

    #[test]
    fn lists_are_sorted_and_apart() {
        assert!(NFT_1_0_6.windows(2).all(|w| w[0] < w[1]));
        assert!(LATER.windows(2).all(|w| w[0] < w[1]));
        assert!(LATER.iter().all(|w| !NFT_1_0_6.contains(w)));
        assert_eq!(NFT_1_0_6.len(), 340);
    }

    #[test]
    fn keywords() {
        assert!(is_nft_keyword("fwd"));
        assert!(is_nft_keyword("tcp"));
        assert!(!is_nft_keyword("blacklist"));
        assert!(!is_nft_keyword("PRE_C_web-1"));
    }
}
