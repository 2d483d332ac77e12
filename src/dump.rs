//! `overlayfw debug ir`: the IR as plain text, one line a rule, so that a change of the layout
//! (which chain a rule lands in, its order, the matches it is made of) shows in a review of the
//! case snapshots before it shows in the kernel. Deterministic: it prints the IR's own order.
//!
//! A match or action without a line here of its own is shown by its `Debug` form: a new one
//! is visible at once, and reads better once it gets a line.

use std::fmt::Write as _;

use crate::ir::{
    Action, AddrMatch, BaseChain, Chain, Dir, Elem, Field, L4, Match, Mss, NatTarget, PortMatch,
    Rule, Ruleset, SetElements,
};

/// The ruleset: its table, named sets, then each chain (with its hook if it is a base chain)
/// and its rules as `[ORIGIN] MATCH, MATCH => ACTION`.
pub fn ruleset(rs: &Ruleset) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "table ip {}", rs.table);
    // The fixed `table ip6` of `ipv6: drop` (`crate::ip6`): named, not dumped.
    if rs.ipv6.managed() {
        let _ = writeln!(out, "table ip6 {} (ipv6: drop)", rs.table);
    }
    for set in &rs.sets {
        let elements = match &set.elements {
            SetElements::Addrs(nets) => ("addrs", list(nets.iter().map(|n| n.to_string()))),
            SetElements::Ports(ports) => ("ports", list(ports.iter().map(|&p| range(p)))),
        };
        let _ = writeln!(out, "set {} {}: {}", set.name, elements.0, elements.1);
    }
    for chain in &rs.chains {
        out.push('\n');
        chain_text(&mut out, rs, chain);
    }
    out
}

fn chain_text(out: &mut String, rs: &Ruleset, chain: &Chain) {
    let _ = write!(out, "chain {}", chain.name);
    if let Some(BaseChain { kind, hook, priority }) = chain.base {
        let _ = write!(out, " ({} hook {} priority {priority})", word(kind), word(hook));
    }
    out.push('\n');
    for rule in &chain.rules {
        rule_text(out, rs, rule);
    }
}

fn rule_text(out: &mut String, rs: &Ruleset, rule: &Rule) {
    match &rule.origin {
        Some(o) => {
            let _ = write!(out, "  [{}:{}", rs.files.name(o.file), o.line);
            if let Some(note) = &o.note {
                let _ = write!(out, " \"{note}\"");
            }
            out.push(']');
        }
        None => out.push_str("  [added]"),
    }
    for (i, m) in rule.matches.iter().enumerate() {
        out.push_str(if i == 0 { " " } else { ", " });
        match_text(out, rs, m);
    }
    out.push_str(" => ");
    action_text(out, &rule.action);
    out.push('\n');
}

fn match_text(out: &mut String, rs: &Ruleset, m: &Match) {
    let not = |neg: bool| if neg { "!" } else { "" };
    let _ = match m {
        Match::IifName { neg, name } => write!(out, "{}iifname {name}", not(*neg)),
        Match::OifName { neg, name } => write!(out, "{}oifname {name}", not(*neg)),
        Match::Saddr { neg, addrs } => write!(out, "{}saddr {}", not(*neg), addr(rs, addrs)),
        Match::Daddr { neg, addrs } => write!(out, "{}daddr {}", not(*neg), addr(rs, addrs)),
        Match::Protocol { neg, proto } => write!(out, "{}protocol {proto}", not(*neg)),
        Match::Port { proto, dir, neg, ports } => {
            let ports = match ports {
                PortMatch::Ports(p) => list(p.iter().map(|&p| range(p))),
                PortMatch::Set(id) => format!("@{}", rs.set_name(*id)),
            };
            write!(out, "{}{}", not(*neg), port_field(*proto, *dir)).and(write!(out, " {ports}"))
        }
        Match::CtState { neg, states } => {
            write!(out, "{}ct state {}", not(*neg), list(states.iter().map(word)))
        }
        Match::Limit { rate, unit, burst } => {
            write!(out, "limit {rate}/{} burst {burst}", word(unit))
        }
        Match::IcmpType { neg, kind, code } => {
            let _ = write!(out, "{}icmp type {kind}", not(*neg));
            match code {
                Some(code) => write!(out, " code {code}"),
                None => Ok(()),
            }
        }
        Match::TcpSyn { neg } => write!(out, "{}tcp syn", not(*neg)),
        Match::MetaTime { ge, secs } => {
            write!(out, "meta time {} {secs}", if *ge { ">=" } else { "<" })
        }
        Match::MetaHour { neg, lo, hi } => write!(out, "{}meta hour {lo}-{hi}", not(*neg)),
        Match::MetaDay { days, utc } => {
            write!(out, "meta day {days:#09b}{}", if *utc { " (UTC weekdays)" } else { "" })
        }
        Match::DccpType { neg, types } => {
            let names = crate::emit::rule::dccp_type_names(*types);
            write!(out, "{}dccp type {}", not(*neg), list(names.into_iter()))
        }
        Match::TcpFlags { neg, mask, comp } => {
            write!(out, "{}tcp flags & {} == {}", not(*neg), flags(*mask), flags(*comp))
        }
        Match::Tuple(t) => {
            let elements = t.elements.iter().map(|e| e.iter().map(elem).collect::<Vec<_>>());
            write!(out, "{} in {}", fields(&t.fields), list(elements.map(|e| e.join(" . "))))
        }
        #[allow(unreachable_patterns)]
        other => write!(out, "{other:?}"),
    };
}

fn action_text(out: &mut String, a: &Action) {
    let _ = match a {
        Action::Count => write!(out, "count"),
        Action::Accept => write!(out, "accept"),
        Action::Drop => write!(out, "drop"),
        Action::Return => write!(out, "return"),
        Action::Jump(to) => write!(out, "jump {to}"),
        Action::Reject(with) => write!(out, "reject with {}", word(with)),
        Action::Log { prefix, level, flags } => {
            let _ = write!(out, "log");
            if let Some(prefix) = prefix {
                let _ = write!(out, " prefix \"{prefix}\"");
            }
            if let Some(level) = level {
                let _ = write!(out, " level {}", word(level));
            }
            match flags.is_empty() {
                true => Ok(()),
                false => write!(out, " flags {}", flags.words().join(",")),
            }
        }
        Action::Dnat { to, flags } => write!(out, "dnat to {}{}", nat(to), nat_flags(*flags)),
        Action::Snat { to, flags } => write!(out, "snat to {}{}", nat(to), nat_flags(*flags)),
        Action::Masquerade { ports, flags } => {
            write!(out, "masquerade{}{}", to_ports(*ports), nat_flags(*flags))
        }
        Action::Redirect { ports, flags } => {
            write!(out, "redirect{}{}", to_ports(*ports), nat_flags(*flags))
        }
        Action::NetmapDnat { to } => write!(out, "netmap daddr to {to}"),
        Action::NetmapSnat { to } => write!(out, "netmap saddr to {to}"),
        Action::Tcpmss(Mss::ClampToPmtu) => write!(out, "tcpmss clamp to pmtu"),
        Action::Tcpmss(Mss::Set(mss)) => write!(out, "tcpmss set {mss}"),
        Action::Dup { to } => write!(out, "dup to {to}"),
        Action::Dscp(n) => write!(out, "dscp set {n}"),
        Action::Classify(c) => write!(out, "priority set {:x}:{:x}", c >> 16, c & 0xffff),
        Action::Audit => write!(out, "audit"),
        Action::Queue(q) => write!(out, "queue {}", q.nft()),
        Action::DnatMap { proto, entries } => {
            let entries = entries.iter().map(|&(port, addr, to_port)| match to_port {
                Some(p) => format!("{port}: {addr}:{p}"),
                None => format!("{port}: {addr}"),
            });
            write!(out, "dnat to {} map {}", port_field(*proto, Dir::Dst), list(entries))
        }
        Action::Vmap(v) => {
            let entries = v.entries.iter().map(|(key, verdict)| {
                let key: Vec<String> = key.iter().map(elem).collect();
                format!("{}: {}", key.join(" . "), word(verdict))
            });
            write!(out, "{} vmap {}", fields(&v.fields), list(entries))
        }
        #[allow(unreachable_patterns)]
        other => write!(out, "{other:?}"),
    };
}

/// One value as is, several (or none) in braces.
fn list(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    match items.as_slice() {
        [one] => one.clone(),
        _ => format!("{{{}}}", items.join(", ")),
    }
}

fn range((lo, hi): (u16, u16)) -> String {
    if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") }
}

fn addr(rs: &Ruleset, a: &AddrMatch) -> String {
    match a {
        AddrMatch::Nets(nets) => list(nets.iter().map(|n| n.to_string())),
        AddrMatch::Range(lo, hi) => format!("{lo}-{hi}"),
        AddrMatch::Set(id) => format!("@{}", rs.set_name(*id)),
        AddrMatch::Masked { addr, mask } => format!("& {mask} == {addr}"),
    }
}

fn port_field(proto: L4, dir: Dir) -> String {
    let dir = match dir {
        Dir::Src => "sport",
        Dir::Dst => "dport",
    };
    format!("{} {dir}", word(proto))
}

fn fields(fields: &[Field]) -> String {
    let names: Vec<String> = fields
        .iter()
        .map(|f| match f {
            Field::Saddr => "saddr".to_owned(),
            Field::Daddr => "daddr".to_owned(),
            Field::Port(proto, dir) => port_field(*proto, *dir),
            Field::L4Proto => "l4proto".to_owned(),
        })
        .collect();
    format!("({})", names.join(" . "))
}

fn elem(e: &Elem) -> String {
    match e {
        Elem::Net(net) => net.to_string(),
        Elem::Ports(lo, hi) => range((*lo, *hi)),
        Elem::L4(proto) => word(proto),
    }
}

fn nat(to: &NatTarget) -> String {
    let mut s = to.addr.to_string();
    if let Some(end) = to.addr_end {
        let _ = write!(s, "-{end}");
    }
    if let Some(ports) = to.ports {
        let _ = write!(s, ":{}", range(ports));
    }
    s
}

fn nat_flags(flags: crate::ir::NatFlags) -> String {
    flags.words().iter().map(|w| format!(" {w}")).collect()
}

fn to_ports(ports: Option<(u16, u16)>) -> String {
    ports.map_or(String::new(), |p| format!(" to :{}", range(p)))
}

/// The TCP flags of a mask, by name, `|`-separated (bits as in the header).
fn flags(bits: u8) -> String {
    const NAMES: [&str; 8] = ["fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr"];
    let names: Vec<&str> =
        NAMES.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, n)| *n).collect();
    if names.is_empty() { "0".to_owned() } else { names.join("|") }
}

/// A unit-like IR value by its variant's name, in kebab case (`PortUnreachable` →
/// `port-unreachable`): the IR's own word for it, not nft's.
fn word(value: impl std::fmt::Debug) -> String {
    let name = format!("{value:?}");
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Sources;
    use crate::pipeline::{Text, compile};

    fn dump(rules: &str) -> String {
        let mut sources = Sources::new();
        let file = Text { name: "t.rules".into(), bytes: rules.as_bytes().to_vec() };
        let compiled = compile(&mut sources, vec![file], None, "overlayfw");
        ruleset(compiled.ruleset.as_ref().expect("compiles"))
    }

    #[test]
    fn a_rule_shows_its_origin_matches_and_action_in_its_chain() {
        let text = dump(
            "INPUT_CUST -s 10.0.0.0/8,192.0.2.1 -p tcp --dport 22:23 -m comment --comment hi \
             -j ACCEPT\nINPUT_CUST ! -i eth0 -p tcp -j REJECT --reject-with tcp-reset\n",
        );
        assert!(
            text.contains(
                "chain INPUT_CUST\n  [t.rules:1 \"hi\"] saddr {10.0.0.0/8, 192.0.2.1/32}, \
                 tcp dport 22-23 => accept\n  [t.rules:2] !iifname eth0, protocol 6 => reject with tcp-reset\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "chain filter_input (filter hook input priority 0)\n  [added] => jump INPUT_CUST\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn words_are_kebab_case_and_flags_named() {
        assert_eq!(word(crate::ir::RejectWith::PortUnreachable), "port-unreachable");
        assert_eq!(word(crate::ir::Hook::Postrouting), "postrouting");
        assert_eq!(flags(0x17), "fin|syn|rst|ack");
        assert_eq!(flags(0), "0");
    }
}
