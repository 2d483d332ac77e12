//! `--optimize` keeps the policy: an evaluator of IR chains runs sampled packets (field values
//! drawn from the rules themselves, their boundaries and their neighbours) through every chain
//! of the plain and the optimized ruleset and compares what happens to each packet; the
//! optimized scripts load in a real kernel.

use std::net::Ipv4Addr;

use overlayfw::diagnostic::Sources;
use overlayfw::ir::{
    Action, AddrMatch, Dir, Elem, Field, L4, Match, PortMatch, Rule, Ruleset, SetElements,
};
use overlayfw::pipeline::{self, Text};

use crate::netns::{self, Netns};

#[derive(Clone, Debug)]
struct Packet {
    iif: String,
    oif: String,
    saddr: u32,
    daddr: u32,
    proto: u8,
    sport: u16,
    dport: u16,
    icmp: (u8, u8),
    ct: overlayfw::ir::CtState,
    syn: bool,
}

fn l4(p: L4) -> u8 {
    match p {
        L4::Tcp => 6,
        L4::Udp => 17,
        L4::Udplite => 136,
        L4::Sctp => 132,
        L4::Dccp => 33,
    }
}

fn iface(name: &str, actual: &str) -> bool {
    match name.strip_suffix('*') {
        Some(prefix) => actual.starts_with(prefix),
        None => name == actual,
    }
}

fn in_nets(nets: &[ipnetwork::Ipv4Network], a: u32) -> bool {
    nets.iter().any(|n| n.contains(Ipv4Addr::from(a)))
}

struct Eval<'a> {
    /// By `SetId`.
    sets: Vec<&'a SetElements>,
}

impl Eval<'_> {
    fn addr(&self, m: &AddrMatch, a: u32) -> bool {
        match m {
            AddrMatch::Nets(n) => in_nets(n, a),
            AddrMatch::Range(lo, hi) => (u32::from(*lo)..=u32::from(*hi)).contains(&a),
            AddrMatch::Masked { addr, mask } => a & u32::from(*mask) == u32::from(*addr),
            AddrMatch::Set(id) => match self.sets[id.0 as usize] {
                SetElements::Addrs(n) => in_nets(n, a),
                SetElements::Ports(_) => false,
            },
        }
    }

    fn ports(&self, m: &PortMatch, p: u16) -> bool {
        match m {
            PortMatch::Ports(r) => r.iter().any(|&(a, b)| (a..=b).contains(&p)),
            PortMatch::Set(id) => match self.sets[id.0 as usize] {
                SetElements::Ports(r) => r.iter().any(|&(a, b)| (a..=b).contains(&p)),
                SetElements::Addrs(_) => false,
            },
        }
    }

    fn field(&self, f: Field, e: &Elem, p: &Packet) -> bool {
        match (f, e) {
            (Field::Saddr, Elem::Net(n)) => n.contains(Ipv4Addr::from(p.saddr)),
            (Field::Daddr, Elem::Net(n)) => n.contains(Ipv4Addr::from(p.daddr)),
            (Field::Port(proto, dir), Elem::Ports(a, b)) => {
                let v = if dir == Dir::Src { p.sport } else { p.dport };
                p.proto == l4(proto) && (*a..=*b).contains(&v)
            }
            (Field::L4Proto, Elem::L4(proto)) => p.proto == l4(*proto),
            _ => false,
        }
    }

    fn matches(&self, m: &Match, p: &Packet) -> bool {
        match m {
            Match::IifName { neg, name } => iface(name, &p.iif) != *neg,
            Match::OifName { neg, name } => iface(name, &p.oif) != *neg,
            Match::Saddr { neg, addrs } => self.addr(addrs, p.saddr) != *neg,
            Match::Daddr { neg, addrs } => self.addr(addrs, p.daddr) != *neg,
            Match::Protocol { neg, proto } => (p.proto == *proto) != *neg,
            // A port match implies its protocol, negated or not.
            Match::Port { proto, dir, neg, ports } => {
                let v = if *dir == Dir::Src { p.sport } else { p.dport };
                p.proto == l4(*proto) && self.ports(ports, v) != *neg
            }
            Match::CtState { neg, states } => states.contains(&p.ct) != *neg,
            Match::Limit { .. } | Match::Meter(_) => true,
            Match::IcmpType { neg, kind, code } => {
                p.proto == 1 && ((p.icmp.0 == *kind && code.is_none_or(|c| c == p.icmp.1)) != *neg)
            }
            Match::TcpSyn { neg } => p.proto == 6 && p.syn != *neg,
            // No clock in the model: a time match never holds, its negation always.
            Match::MetaHour { neg, .. } => *neg,
            Match::MetaTime { .. } | Match::MetaDay { .. } => false,
            // The model's DCCP packets are of type 0 (request); the match implies DCCP.
            Match::DccpType { neg, types } => p.proto == 33 && ((types & 1 != 0) != *neg),
            // The model's packets carry a SYN alone or an ACK alone.
            Match::TcpFlags { neg, mask, comp } => {
                let flags: u8 = if p.syn { 0x02 } else { 0x10 };
                p.proto == 6 && ((flags & mask == *comp) != *neg)
            }
            // No MAC, owner or address type in the model: such a match never holds, its
            // negation always; statistics are decided by the rule's own state, taken as "no".
            Match::EtherSaddr { neg, .. } | Match::AddrType { neg, .. } => *neg,
            Match::Random { neg, .. } | Match::Nth { neg, .. } | Match::Quota { neg, .. } => *neg,
            // The model's segments carry no TCP option.
            Match::TcpOption { neg, .. } => p.proto == 6 && *neg,
            // No conntrack status or tuple in the model: such a match never holds.
            Match::CtStatus { neg, .. } | Match::CtAddr { neg, .. } => *neg,
            // No connection of the model has a master, so none has its helper.
            Match::CtHelper { .. } => false,
            // Nor any label.
            Match::CtLabel { .. } => false,
            // The model's packets read 0 for every other header value.
            Match::Value { neg, cmp, .. } => {
                let hit = match cmp {
                    overlayfw::ir::Cmp::Range(a, _) => *a == 0,
                    overlayfw::ir::Cmp::Gt(_) => false,
                    overlayfw::ir::Cmp::Lt(n) => *n > 0,
                };
                hit != *neg
            }
            // The model's packets never went through IPsec.
            Match::Ipsec { exists, .. } => !*exists,
            // Device groups, realm, CPU, classid and connection counters read 0 in the model.
            Match::Meta { neg, value, .. } => (*value == 0) != *neg,
            Match::Connbytes { neg, lo, .. } => (*lo == 0) != *neg,
            // The model's packets and connections carry mark 0.
            Match::Mark { neg, value, .. } => (*value == 0) != *neg,
            Match::Tuple(t) => {
                t.elements.iter().any(|e| t.fields.iter().zip(e).all(|(f, v)| self.field(*f, v, p)))
            }
        }
    }

    /// What the chain does to the packet: the actions met, in order, up to the first
    /// terminal one.
    fn run(&self, rules: &[Rule], p: &Packet) -> Vec<String> {
        let mut trace = Vec::new();
        for r in rules {
            if !r.matches.iter().all(|m| self.matches(m, p)) {
                continue;
            }
            let outcome = match &r.action {
                Action::DnatMap { proto, entries } => {
                    match entries.iter().find(|e| p.proto == l4(*proto) && e.0 == p.dport) {
                        Some((_, a, port)) => format!("dnat {a} {port:?}"),
                        None => continue, // a miss matches nothing
                    }
                }
                Action::Dnat { to, .. } => format!("dnat {} {:?}", to.addr, to.ports.map(|p| p.0)),
                Action::Vmap(map) => {
                    let (fields, entries) = (&map.fields, &map.entries);
                    let hit = entries
                        .iter()
                        .find(|(el, _)| fields.iter().zip(el).all(|(f, v)| self.field(*f, v, p)));
                    match hit {
                        Some((_, overlayfw::ir::MapVerdict::Accept)) => "Accept".to_string(),
                        Some((_, overlayfw::ir::MapVerdict::Drop)) => "Drop".to_string(),
                        None => continue, // a miss matches nothing
                    }
                }
                other => format!("{other:?}"),
            };
            let terminal = !matches!(
                r.action,
                Action::Count
                    | Action::Log { .. }
                    | Action::Dup { .. }
                    | Action::Tcpmss(_)
                    | Action::Mark { .. }
                    | Action::MarkCopy { .. }
                    | Action::Nflog(_)
                    | Action::Jump(_)
            );
            trace.push(outcome);
            if terminal {
                break;
            }
        }
        trace
    }
}

/// Field values worth probing: those the rules name, their edges and neighbours.
pub(crate) fn pools(rs: &Ruleset) -> (Vec<u32>, Vec<u16>, Vec<String>) {
    let mut addrs = vec![0u32, u32::MAX, u32::from(Ipv4Addr::new(198, 51, 100, 2))];
    let mut ports = vec![0u16, 1, 22, 80, 443, 1024, 65535];
    let mut ifaces =
        vec!["eth0".to_string(), "tun0".into(), "plugin0".into(), "eth9".into(), "lo".into()];
    let mut net = |n: &ipnetwork::Ipv4Network| {
        let lo = u32::from(n.network());
        let hi = u32::from(n.broadcast());
        addrs.extend([lo.wrapping_sub(1), lo, lo.wrapping_add(1), hi, hi.wrapping_add(1)]);
    };
    let mut port = |a: u16, b: u16| ports.extend([a.saturating_sub(1), a, b, b.saturating_add(1)]);
    for c in &rs.chains {
        for r in &c.rules {
            for m in &r.matches {
                match m {
                    Match::IifName { name, .. } | Match::OifName { name, .. } => {
                        ifaces.push(name.trim_end_matches('*').to_string() + "0")
                    }
                    Match::Saddr { addrs: AddrMatch::Nets(n), .. }
                    | Match::Daddr { addrs: AddrMatch::Nets(n), .. } => n.iter().for_each(&mut net),
                    Match::Port { ports: PortMatch::Ports(p), .. } => {
                        p.iter().for_each(|&(a, b)| port(a, b))
                    }
                    Match::Tuple(t) => {
                        for e in t.elements.iter().flatten() {
                            match e {
                                Elem::Net(n) => net(n),
                                Elem::Ports(a, b) => port(*a, *b),
                                Elem::L4(_) => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            if let Action::DnatMap { entries, .. } = &r.action {
                entries.iter().for_each(|e| port(e.0, e.0));
            }
        }
    }
    addrs.sort_unstable();
    addrs.dedup();
    ports.sort_unstable();
    ports.dedup();
    ifaces.sort();
    ifaces.dedup();
    (addrs, ports, ifaces)
}

pub(crate) fn compile(text: &str) -> Ruleset {
    let mut sources = Sources::new();
    let c = pipeline::compile(
        &mut sources,
        vec![Text { name: "p.rules".into(), bytes: text.as_bytes().to_vec() }],
        None,
        "overlayfw",
    );
    c.ruleset.expect("compiles")
}

/// Runs `samples` packets per chain through both rulesets; returns (packets, rules before,
/// rules after).
fn equivalent(text: &str, samples: usize) -> (usize, usize, usize) {
    let plain = compile(text);
    let mut optimized = plain.clone();
    overlayfw::optimize::optimize(&mut optimized);
    let (addrs, ports, ifaces) = pools(&plain);
    let eval = Eval { sets: plain.sets.iter().map(|s| &s.elements).collect() };
    let mut x: u64 = 0x243f_6a88_85a3_08d3;
    let mut next = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    let states = [
        overlayfw::ir::CtState::New,
        overlayfw::ir::CtState::Established,
        overlayfw::ir::CtState::Related,
        overlayfw::ir::CtState::Invalid,
    ];
    let mut count = 0;
    for (a, b) in plain.chains.iter().zip(&optimized.chains) {
        // The version chain says the form (`…_optimized`); every other name stays.
        assert_eq!(a.name, b.name.trim_end_matches(overlayfw::ir::OPTIMIZED));
        for _ in 0..samples {
            let p = Packet {
                iif: ifaces[next(ifaces.len())].clone(),
                oif: ifaces[next(ifaces.len())].clone(),
                saddr: addrs[next(addrs.len())],
                daddr: addrs[next(addrs.len())],
                proto: [6, 17, 1, 50, 132][next(5)],
                sport: ports[next(ports.len())],
                dport: ports[next(ports.len())],
                icmp: ([0u8, 3, 8, 11][next(4)], [0u8, 4][next(2)]),
                ct: states[next(4)],
                syn: next(2) == 0,
            };
            assert_eq!(eval.run(&a.rules, &p), eval.run(&b.rules, &p), "chain {}: {p:?}", a.name);
            count += 1;
        }
    }
    let rules = |rs: &Ruleset| rs.chains.iter().map(|c| c.rules.len()).sum();
    (count, rules(&plain), rules(&optimized))
}

pub(crate) fn policy(n: usize) -> String {
    let out = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/gen.py"))
        .arg(n.to_string())
        .output()
        .expect("python3 bench/gen.py");
    String::from_utf8(out.stdout).expect("utf8")
}

/// Hand-made runs at the edges: overlapping tuples, repeated DNAT ports, limits, logs,
/// negations and wildcards between mergeable rules.
pub(crate) const EDGE_POLICY: &str = "FORWARD_CUST -i tun0 -s 10.0.0.0/8 -p tcp --dport 22 -j ACCEPT\n\
         FORWARD_CUST -i tun0 -s 10.1.0.0/16 -p tcp --dport 22 -j ACCEPT\n\
         FORWARD_CUST -i eth0 -s 10.2.0.0/16 -p tcp --dport 22 -j DROP\n\
         FORWARD_CUST -i tun0 -s 10.3.0.0/16 -p tcp --dport 23 -j ACCEPT\n\
         FORWARD_CUST -i eth+ -p tcp --dport 24 -j DROP\n\
         FORWARD_CUST -i tun0 -s 10.4.0.0/16 -p tcp --dport 25 -j ACCEPT\n\
         FORWARD_CUST -i tun0 ! -s 10.5.0.0/16 -p tcp --dport 26 -j ACCEPT\n\
         FORWARD_CUST -i tun0 -s 10.6.0.0/16 -p tcp --dport 27 -m limit --limit 5/second -j ACCEPT\n\
         FORWARD_CUST -i tun0 -s 10.7.0.0/16 -p tcp --dport 28 -j LOG\n\
         FORWARD_CUST -i tun0 -s 10.8.0.0/16 -p tcp --dport 29 -j ACCEPT\n\
         PREROUTING_CUST -i eth0 -p tcp --dport 80 -j DNAT --to 198.51.100.2:8080\n\
         PREROUTING_CUST -i eth0 -p tcp --dport 81 -j DNAT --to 198.51.100.3\n\
         PREROUTING_CUST -i eth0 -p tcp --dport 80 -j DNAT --to 198.51.100.4:9090\n\
         PREROUTING_CUST -i eth0 -p tcp --dport 82 -j DNAT --to 198.51.100.5:22\n\
         PREROUTING_CUST -i eth0 -p tcp --dport 83 -j DNAT --to 198.51.100.6:22\n\
         POSTROUTING_CUST -o eth0 -s 10.0.0.0/8 -j MASQUERADE\n\
         POSTROUTING_CUST -o eth0 -s 10.0.0.0/16 -j MASQUERADE\n\
         POSTROUTING_CUST -o eth0 -s 192.0.2.0/24 -j MASQUERADE\n\
         FORWARD_CUST -i plugin0 -s 10.20.0.1 -p tcp --dport 80 -j ACCEPT\n\
         FORWARD_CUST -i plugin0 -s 10.20.0.2 -p tcp --dport 80 -j DROP\n\
         FORWARD_CUST -i plugin0 -s 10.20.0.0/30 -p tcp --dport 81 -j ACCEPT\n\
         FORWARD_CUST -i plugin0 -s 10.20.0.0/24 -p tcp --dport 80 -j DROP\n\
         FORWARD_CUST -i plugin0 -s 10.20.0.9 -p tcp --dport 80 -j ACCEPT\n\
         FORWARD_CUST -i plugin0 -d 10.21.0.1 -j ACCEPT\n\
         FORWARD_CUST -i plugin0 -d 10.21.0.2 -j DROP\n\
         FORWARD_CUST -i plugin0 -d 10.21.0.3 -j ACCEPT\n\
         FORWARD_CUST -i plugin0 -d 10.21.0.3 -j DROP\n\
         FORWARD_CUST -i plugin0 -d 10.21.0.0/24 -j DROP\n";

#[test]
fn optimized_rulesets_treat_every_sampled_packet_the_same() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = vec![policy(2000)];
    for f in [
        "tests/cases/ok/prerouting-order.rules",
        "tests/cases/ok/output-split.rules",
        "tests/cases/ok/mirror.rules",
        "tests/cases/ok/filter-forms.rules",
        "tests/cases/ok/nat-forms.rules",
        "examples/blog/blog.rules",
    ] {
        texts.push(std::fs::read_to_string(root.join(f)).expect("case"));
    }
    texts.push(EDGE_POLICY.to_owned());
    for text in &texts {
        let (packets, before, after) = equivalent(text, 3000);
        eprintln!("optimize: {packets} packets agree; {before} rules -> {after}");
        assert!(after <= before);
    }
    let (_, before, after) = equivalent(&texts[0], 10);
    assert!(after * 10 < before, "the generated policy should shrink: {before} -> {after}");
}

#[test]
fn optimized_scripts_load_into_the_kernel() {
    if !netns::require_root() {
        return;
    }
    let ns = Netns::new();
    for n in [10, 2000] {
        let mut rs = compile(&policy(n));
        let merges = overlayfw::optimize::optimize(&mut rs);
        assert!(!merges.is_empty());
        ns.nft_load(&overlayfw::emit::nft_script(&rs)).unwrap_or_else(|e| panic!("{n}: {e}"));
        let listed: usize =
            netns::rule_counts(&ns.list_table_json("ip", "overlayfw"), "ip", "overlayfw")
                .values()
                .sum();
        let ours: usize = rs.chains.iter().map(|c| c.rules.len()).sum();
        assert_eq!(listed, ours);
    }
}
