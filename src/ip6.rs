//! The `table ip6` overlayfw owns when the inventory says `ipv6: drop`. The rules are IPv4
//! (`table ip`); without this table a dual-stack router's IPv6 traffic passes unfiltered.
//! The table is fixed: defined once here ([`RULES`]) and written by the nft script
//! ([`script`]), the nft JSON listing `diff` compares with ([`listing`]) and the netlink
//! batch (`live::netlink::ip6`), in the same transaction as the `ip` table.
//!
//! What passes, as a careful operator would choose (RFC 4890's "must not be dropped"), and
//! why; everything else arriving for the router (input) or through it (forward) is dropped
//! by the chains' policy. The output hook is left alone, so the router's own IPv6
//! connections work and their replies come back as established.
//! - input: loopback; `ct state established,related` (replies to the router's own traffic,
//!   with the ICMPv6 errors conntrack relates to them); the ICMPv6 errors destination
//!   unreachable, packet too big, time exceeded and parameter problem (IPv6 routers never
//!   fragment: a dropped "packet too big" is a path-MTU black hole, and an error arriving
//!   on another path than its flow's, or after its conntrack entry expired, is not
//!   "related"); neighbour discovery (router solicitation and advertisement, neighbour
//!   solicitation and advertisement: without them no IPv6 address on the link resolves,
//!   and SLAAC stops; conntrack leaves these untracked, so no `ct state` rule passes them);
//!   MLD queries (so the router answers them and MLD-snooping switches keep sending it its
//!   solicited-node multicast, which neighbour discovery needs); DHCPv6 replies to the
//!   router's client (UDP 547 → 546 from a link-local address: clouds hand out IPv6
//!   addresses by DHCPv6, and conntrack cannot relate a reply to a multicast request).
//! - forward: `ct state established,related` and the same four ICMPv6 errors. Neighbour
//!   discovery and MLD are link-local and never forwarded.
//! - Not passed: echo requests (ping to or through the router: not needed for IPv6 to work,
//!   and `drop` means no new exchange from outside; the router's own pings get their
//!   replies as established), redirects (a router does not take them), everything else.

use std::fmt::Write as _;

use serde_json::{Value, json};

/// What overlayfw does with IPv6: the inventory's `ipv6:` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Ipv6 {
    /// No `ipv6:` in the inventory: as [`Ipv6::Unmanaged`], and `apply` notes a machine with
    /// global IPv6 addresses, whose IPv6 the rules leave unfiltered.
    #[default]
    Unset,
    /// `ipv6: unmanaged`: overlayfw makes no `table ip6`, and removes one it made earlier (the
    /// setting was switched off).
    Unmanaged,
    /// `ipv6: drop`: overlayfw owns `table ip6 NAME` (see the module documentation).
    Drop,
}

impl Ipv6 {
    /// The inventory's spelling.
    pub fn word(self) -> &'static str {
        match self {
            Ipv6::Unset => "unset",
            Ipv6::Unmanaged => "unmanaged",
            Ipv6::Drop => "drop",
        }
    }

    pub fn managed(self) -> bool {
        self == Ipv6::Drop
    }
}

impl std::fmt::Display for Ipv6 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// The comment of the table: `overlayfw …`, as every table overlayfw makes carries
/// ([`crate::live::apply::foreign`]); fixed, so that the table stays the same from one apply
/// to the next.
pub const COMMENT: &str = "overlayfw ipv6: drop";

/// The two base chains, both `type filter … priority filter; policy drop;`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chain {
    Input,
    Forward,
}

impl Chain {
    pub const ALL: [Chain; 2] = [Chain::Input, Chain::Forward];

    /// Its name, which is also its hook's.
    pub fn name(self) -> &'static str {
        match self {
            Chain::Input => "input",
            Chain::Forward => "forward",
        }
    }
}

/// What a rule accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allow {
    /// `iif "lo"`.
    Loopback,
    /// `ct state established,related`.
    EstablishedRelated,
    /// `icmpv6 type NAME` (its number).
    Icmpv6(u8),
    /// `ip6 saddr fe80::/10 udp sport 547 udp dport 546`.
    Dhcpv6Reply,
}

/// One accepting rule of the table.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub chain: Chain,
    pub allow: Allow,
    /// The rule's comment: why it is there.
    pub comment: &'static str,
}

const ERRORS: &str = "overlayfw ipv6: ICMPv6 errors, path MTU";
const ND: &str = "overlayfw ipv6: neighbour discovery";

/// The rules, chain by chain, in order.
pub const RULES: &[Rule] = &[
    Rule { chain: Chain::Input, allow: Allow::Loopback, comment: "overlayfw ipv6: loopback" },
    Rule {
        chain: Chain::Input,
        allow: Allow::EstablishedRelated,
        comment: "overlayfw ipv6: replies",
    },
    Rule { chain: Chain::Input, allow: Allow::Icmpv6(1), comment: ERRORS },
    Rule { chain: Chain::Input, allow: Allow::Icmpv6(2), comment: ERRORS },
    Rule { chain: Chain::Input, allow: Allow::Icmpv6(3), comment: ERRORS },
    Rule { chain: Chain::Input, allow: Allow::Icmpv6(4), comment: ERRORS },
    Rule { chain: Chain::Input, allow: Allow::Icmpv6(133), comment: ND },
    Rule { chain: Chain::Input, allow: Allow::Icmpv6(134), comment: ND },
    Rule { chain: Chain::Input, allow: Allow::Icmpv6(135), comment: ND },
    Rule { chain: Chain::Input, allow: Allow::Icmpv6(136), comment: ND },
    Rule {
        chain: Chain::Input,
        allow: Allow::Icmpv6(130),
        comment: "overlayfw ipv6: multicast listener queries",
    },
    Rule {
        chain: Chain::Input,
        allow: Allow::Dhcpv6Reply,
        comment: "overlayfw ipv6: DHCPv6 replies",
    },
    Rule {
        chain: Chain::Forward,
        allow: Allow::EstablishedRelated,
        comment: "overlayfw ipv6: replies",
    },
    Rule { chain: Chain::Forward, allow: Allow::Icmpv6(1), comment: ERRORS },
    Rule { chain: Chain::Forward, allow: Allow::Icmpv6(2), comment: ERRORS },
    Rule { chain: Chain::Forward, allow: Allow::Icmpv6(3), comment: ERRORS },
    Rule { chain: Chain::Forward, allow: Allow::Icmpv6(4), comment: ERRORS },
];

/// nft's name of an ICMPv6 type this table uses.
pub fn icmpv6_name(ty: u8) -> &'static str {
    match ty {
        1 => "destination-unreachable",
        2 => "packet-too-big",
        3 => "time-exceeded",
        4 => "parameter-problem",
        130 => "mld-listener-query",
        133 => "nd-router-solicit",
        134 => "nd-router-advert",
        135 => "nd-neighbor-solicit",
        136 => "nd-neighbor-advert",
        _ => "?",
    }
}

/// The rules of one chain, in order.
pub fn rules_of(chain: Chain) -> impl Iterator<Item = &'static Rule> {
    RULES.iter().filter(move |r| r.chain == chain)
}

/// A rule's statement in nft syntax, without its comment.
pub fn statement(allow: Allow) -> String {
    match allow {
        Allow::Loopback => "iif \"lo\" accept".to_string(),
        Allow::EstablishedRelated => "ct state established,related accept".to_string(),
        Allow::Icmpv6(ty) => format!("icmpv6 type {} accept", icmpv6_name(ty)),
        Allow::Dhcpv6Reply => "ip6 saddr fe80::/10 udp sport 547 udp dport 546 accept".to_string(),
    }
}

/// The nft script that replaces (or creates) `table ip6 TABLE` with this table; appended to
/// the `ip` table's script, so one `nft -f` changes both in one transaction.
pub fn script(table: &str) -> String {
    let mut out = String::with_capacity(2048);
    let _ = writeln!(out, "table ip6 {table} {{}}");
    let _ = writeln!(out, "delete table ip6 {table}");
    let _ = writeln!(out, "table ip6 {table} {{");
    let _ = writeln!(out, "\tcomment \"{COMMENT}\"");
    for chain in Chain::ALL {
        let name = chain.name();
        let _ = writeln!(out, "\tchain {name} {{");
        let _ = writeln!(out, "\t\ttype filter hook {name} priority filter; policy drop;");
        for r in rules_of(chain) {
            let _ = writeln!(out, "\t\t{} comment \"{}\"", statement(r.allow), r.comment);
        }
        out.push_str("\t}\n");
    }
    out.push_str("}\n");
    out
}

/// The lines that remove `table ip6 TABLE` whether it exists or not (one transaction with
/// what comes before them).
pub fn delete_script(table: &str) -> String {
    format!("table ip6 {table} {{}}\ndelete table ip6 {table}\n")
}

/// One rule's expressions as `nft -j` lists them.
fn exprs(allow: Allow) -> Value {
    let payload = |protocol: &str, field: &str, right: Value| json!({"match": {"op": "==", "left": {"payload": {"protocol": protocol, "field": field}}, "right": right}});
    let mut e = match allow {
        Allow::Loopback => {
            vec![json!({"match": {"op": "==", "left": {"meta": {"key": "iif"}}, "right": "lo"}})]
        }
        Allow::EstablishedRelated => vec![
            json!({"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}),
        ],
        Allow::Icmpv6(ty) => vec![payload("icmpv6", "type", json!(icmpv6_name(ty)))],
        Allow::Dhcpv6Reply => vec![
            payload("ip6", "saddr", json!({"prefix": {"addr": "fe80::", "len": 10}})),
            payload("udp", "sport", json!(547)),
            payload("udp", "dport", json!(546)),
        ],
    };
    e.push(json!({"accept": null}));
    Value::Array(e)
}

/// The table as `nft -j list table ip6 TABLE` lists it (what `diff` compares the live one
/// with).
pub fn listing(table: &str) -> Value {
    let mut objects = vec![json!({"table": {"family": "ip6", "name": table}})];
    for chain in Chain::ALL {
        let name = chain.name();
        objects.push(json!({"chain": {"family": "ip6", "table": table, "name": name,
            "type": "filter", "hook": name, "prio": 0, "policy": "drop"}}));
    }
    for r in RULES {
        objects.push(json!({"rule": {"family": "ip6", "table": table, "chain": r.chain.name(),
            "comment": r.comment, "expr": exprs(r.allow)}}));
    }
    json!({"nftables": objects})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_icmpv6_type_used_has_a_name() {
        for r in RULES {
            if let Allow::Icmpv6(ty) = r.allow {
                assert_ne!(icmpv6_name(ty), "?", "{ty}");
            }
        }
    }

    #[test]
    fn the_comment_marks_the_table_as_overlayfws() {
        assert_eq!(crate::live::apply::foreign("t", Some(COMMENT)), None);
    }

    #[test]
    fn the_script_replaces_the_table_with_both_chains_dropping() {
        let s = script("t");
        assert!(s.starts_with("table ip6 t {}\ndelete table ip6 t\ntable ip6 t {\n"), "{s}");
        assert_eq!(s.matches("policy drop;").count(), 2, "{s}");
        assert_eq!(s.matches(" accept comment ").count(), RULES.len(), "{s}");
        assert!(!s.contains("echo-request"), "{s}");
    }
}
