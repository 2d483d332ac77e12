//! Unit tests of the covering logic: intervals, negation, wildcards, implied protocols.

use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

use super::space::*;
use crate::diagnostic::Sources;
use crate::inventory;
use crate::ir::{AddrMatch, CtState, Dir, L4, Match, PortMatch, SetId};

fn net(s: &str) -> Ipv4Network {
    s.parse().expect("network")
}

fn src(neg: bool, nets: &[&str]) -> Match {
    Match::Saddr { neg, addrs: AddrMatch::Nets(nets.iter().map(|n| net(n)).collect()) }
}

fn iif(neg: bool, name: &str) -> Match {
    Match::IifName { neg, name: name.into() }
}

fn dport(neg: bool, ports: &[(u16, u16)]) -> Match {
    Match::Port {
        proto: L4::Tcp,
        dir: Dir::Dst,
        neg,
        ports: PortMatch::Ports(ports.to_vec().into()),
    }
}

fn inv(yaml: &str) -> inventory::Inventory {
    let mut s = Sources::new();
    let id = s.add("t.yaml", yaml);
    inventory::load(yaml, id).expect("valid inventory")
}

/// Whether a rule with matches `a` covers one with matches `b`.
fn cov(a: &[Match], b: &[Match]) -> bool {
    let i = inv("plugin_network: 198.51.100.0/28\nfwsets:\n  bl: [192.0.2.0/24, 203.0.113.7]\n");
    let sets = Sets::new(&i);
    covers(&shape(a, &sets), &shape(b, &sets))
}

#[test]
fn intervals_merge_complement_and_compare() {
    assert_eq!(normalize(vec![(5, 9), (1, 3), (4, 4), (20, 30)]), vec![(1, 9), (20, 30)]);
    assert_eq!(complement(&[(0, 9), (20, 30)], 100), vec![(10, 19), (31, 100)]);
    assert_eq!(complement(&[], 7), vec![(0, 7)]);
    assert_eq!(complement(&[(0, u32::MAX)], u32::MAX), vec![]);
    assert_eq!(intersect(&[(0, 10), (20, 30)], &[(5, 25)]), vec![(5, 10), (20, 25)]);
    assert!(subset(&[(2, 3), (21, 22)], &[(0, 10), (20, 30)]));
    assert!(!subset(&[(8, 12)], &[(0, 10), (11, 30)][..1]));
    assert!(subset(&[], &[]));
    assert!(!subset(&[(1, 1)], &[]));
}

#[test]
fn a_wider_network_covers_a_narrower_one() {
    assert!(cov(&[src(false, &["10.0.0.0/8"])], &[src(false, &["10.1.2.0/24"])]));
    assert!(!cov(&[src(false, &["10.1.2.0/24"])], &[src(false, &["10.0.0.0/8"])]));
    assert!(cov(&[src(false, &["10.0.0.0/24", "10.0.1.0/24"])], &[src(false, &["10.0.0.0/23"])]));
    // No source match at all is not covered by one that has one.
    assert!(!cov(&[src(false, &["10.0.0.0/8"])], &[]));
    assert!(cov(&[], &[src(false, &["10.0.0.0/8"])]));
}

#[test]
fn a_negated_network_covers_its_complement() {
    assert!(cov(&[src(true, &["10.0.0.0/8"])], &[src(false, &["192.0.2.0/24"])]));
    assert!(!cov(&[src(true, &["10.0.0.0/8"])], &[src(false, &["10.9.0.0/16"])]));
    assert!(cov(&[src(true, &["10.1.0.0/16"])], &[src(true, &["10.0.0.0/8"])]));
    assert!(!cov(&[src(true, &["10.0.0.0/8"])], &[src(true, &["10.1.0.0/16"])]));
}

#[test]
fn named_sets_are_read_from_the_inventory() {
    let set = |neg| Match::Saddr { neg, addrs: AddrMatch::Set(SetId(0)) };
    assert!(cov(&[set(false)], &[src(false, &["192.0.2.128/25"])]));
    assert!(!cov(&[set(false)], &[src(false, &["198.51.100.0/24"])]));
    assert!(cov(&[set(true)], &[src(false, &["198.51.100.0/24"])]));
    // A set id the inventory lacks: the rule never covers.
    let unknown = Match::Saddr { neg: false, addrs: AddrMatch::Set(SetId(9)) };
    assert!(!cov(&[unknown], &[src(false, &["192.0.2.1/32"])]));
}

#[test]
fn ranges_and_networks_mix() {
    let range = Match::Saddr {
        neg: false,
        addrs: AddrMatch::Range(Ipv4Addr::new(10, 0, 0, 0), Ipv4Addr::new(10, 0, 0, 255)),
    };
    assert!(cov(std::slice::from_ref(&range), &[src(false, &["10.0.0.16/28"])]));
    assert!(cov(&[src(false, &["10.0.0.0/24"])], &[range]));
}

#[test]
fn wildcard_interfaces_cover_their_names() {
    assert!(cov(&[iif(false, "eth*")], &[iif(false, "eth0")]));
    assert!(cov(&[iif(false, "eth*")], &[iif(false, "eth1*")]));
    assert!(!cov(&[iif(false, "eth0")], &[iif(false, "eth*")]));
    assert!(!cov(&[iif(false, "eth0")], &[iif(false, "eth1")]));
    assert!(cov(&[iif(true, "eth0")], &[iif(false, "tun0")]));
    assert!(cov(&[iif(true, "eth*")], &[iif(false, "tun*")]));
    assert!(!cov(&[iif(true, "eth*")], &[iif(false, "eth0")]));
    assert!(!cov(&[iif(true, "e*")], &[iif(false, "eth*")]));
    assert!(cov(&[iif(true, "eth0")], &[iif(true, "eth*")]));
    assert!(!cov(&[iif(true, "eth*")], &[iif(true, "eth0")]));
    assert!(!cov(&[iif(false, "eth0")], &[]));
    assert!(pattern_matches("plugin*", "plugin0"));
    assert!(!pattern_matches("plugin0", "plugin1"));
}

#[test]
fn input_and_output_interfaces_keep_their_own_negation() {
    let oif = |neg, name: &str| Match::OifName { neg, name: name.into() };
    // Negated output, plain input; then the other way round.
    let a = [iif(false, "eth0"), oif(true, "eth1")];
    assert!(cov(&a, &[iif(false, "eth0"), oif(false, "tun0")]));
    assert!(!cov(&a, &[iif(false, "eth0"), oif(false, "eth1")]));
    let b = [iif(true, "eth1"), oif(false, "tun0")];
    assert!(cov(&b, &[iif(false, "eth0"), oif(false, "tun0")]));
    assert!(!cov(&b, &[iif(false, "eth1"), oif(false, "tun0")]));
    assert!(!cov(&b, &[iif(false, "eth0"), oif(true, "tun0")]));
}

#[test]
fn protocol_sets_narrow_and_compare() {
    let p = |neg, proto| Match::Protocol { neg, proto };
    // Neither TCP nor UDP: covers ICMP, not a TCP port, and meets nothing of TCP.
    let neither = [p(true, 6), p(true, 17)];
    assert!(cov(&neither, &[p(false, 1)]));
    assert!(!cov(&neither, &[dport(false, &[(22, 22)])]));
    assert!(cov(&[p(true, 6)], &neither));
    assert!(!cov(&neither, &[p(true, 6)]));
    // TCP and not TCP: no packet; a rule with no match covers it.
    assert!(cov(&[], &[p(false, 6), p(true, 6)]));
}

#[test]
fn ports_imply_their_protocol() {
    let tcp = Match::Protocol { neg: false, proto: 6 };
    let not_udp = Match::Protocol { neg: true, proto: 17 };
    assert!(cov(std::slice::from_ref(&tcp), &[dport(false, &[(22, 22)])]));
    assert!(cov(&[not_udp], &[dport(false, &[(22, 22)])]));
    assert!(cov(&[dport(false, &[(20, 30)])], &[dport(false, &[(22, 22), (25, 26)])]));
    assert!(!cov(&[dport(false, &[(20, 30)])], &[dport(false, &[(22, 22), (80, 80)])]));
    assert!(cov(&[dport(true, &[(22, 22)])], &[dport(false, &[(80, 80)])]));
    assert!(!cov(&[dport(true, &[(22, 22)])], &[dport(false, &[(1, 100)])]));
    // A port match never covers a rule without one (ICMP has no ports).
    assert!(!cov(&[dport(false, &[(0, 65535)])], &[tcp]));
    let udp22 = Match::Port {
        proto: L4::Udp,
        dir: Dir::Dst,
        neg: false,
        ports: PortMatch::Ports(vec![(22, 22)].into()),
    };
    assert!(!cov(&[dport(false, &[(22, 22)])], &[udp22]));
}

#[test]
fn ct_states_icmp_syn_and_limits() {
    let ct = |neg, s: &[CtState]| Match::CtState { neg, states: s.into() };
    let est = [CtState::Established, CtState::Related];
    assert!(cov(&[ct(true, &est)], &[ct(false, &[CtState::New])]));
    assert!(!cov(&[ct(true, &est)], &[ct(false, &[CtState::Related])]));
    assert!(cov(&[ct(false, &est)], &[ct(false, &[CtState::Established])]));
    let icmp = |neg, kind, code| Match::IcmpType { neg, kind, code };
    assert!(cov(&[icmp(false, 3, None)], &[icmp(false, 3, Some(4))]));
    assert!(!cov(&[icmp(false, 3, Some(4))], &[icmp(false, 3, None)]));
    assert!(cov(&[icmp(true, 8, None)], &[icmp(false, 0, None)]));
    assert!(cov(&[Match::Protocol { neg: false, proto: 1 }], &[icmp(false, 8, None)]));
    let syn = |neg| Match::TcpSyn { neg };
    assert!(cov(&[dport(false, &[(22, 22)])], &[dport(false, &[(22, 22)]), syn(false)]));
    assert!(!cov(&[syn(false)], &[syn(true)]));
    let limit = Match::Limit { rate: 5, unit: crate::ir::RateUnit::Second, burst: 5 };
    assert!(!cov(std::slice::from_ref(&limit), &[dport(false, &[(22, 22)])]));
    assert!(cov(&[dport(false, &[(22, 22)])], &[dport(false, &[(22, 22)]), limit]));
}

#[test]
fn contradictions_and_meeting() {
    let i = inv("plugin_network: 198.51.100.0/28\n");
    let sets = Sets::new(&i);
    let never = [src(false, &["10.0.0.0/8"]), src(false, &["192.0.2.0/24"])];
    assert_eq!(shape(&never, &sets).empty_field(), Some("source address"));
    assert_eq!(shape(&[src(true, &["0.0.0.0/0"])], &sets).empty_field(), Some("source address"));
    assert_eq!(shape(&[src(false, &["10.0.0.0/8"])], &sets).empty_field(), None);
    let (ma, mb, mc) = (
        [iif(false, "eth0"), dport(false, &[(22, 22)])],
        [iif(true, "eth0")],
        [dport(false, &[(1, 100)])],
    );
    let (a, b, c) = (shape(&ma, &sets), shape(&mb, &sets), shape(&mc, &sets));
    assert!(!meets(&a, &b));
    assert!(meets(&a, &c));
    assert!(shape(&[], &sets).is_universe());
    // Implied protocols: a TCP port keeps `-p tcp`, meets nothing of `-p udp` or ICMP.
    let proto = |n: u8, neg: bool| Match::Protocol { neg, proto: n };
    let icmp = Match::IcmpType { neg: false, kind: 8, code: None };
    let tcp_22 = [proto(6, false), dport(false, &[(22, 22)])];
    let tcp_port = shape(&tcp_22, &sets);
    assert_eq!((tcp_port.empty_field(), tcp_port.proto.single()), (None, Some(6)));
    for contradiction in [
        vec![proto(17, false), dport(false, &[(22, 22)])],
        vec![dport(false, &[(22, 22)]), proto(17, false)],
        vec![dport(false, &[(22, 22)]), icmp.clone()],
        vec![proto(6, true), dport(false, &[(22, 22)])],
        vec![Match::TcpSyn { neg: false }, icmp],
    ] {
        assert_eq!(
            shape(&contradiction, &sets).empty_field(),
            Some("protocol"),
            "{contradiction:?}"
        );
    }
    // A single interval narrowed twice (written in place, then intersected).
    let overlapping = [dport(false, &[(10, 30)]), dport(false, &[(20, 40)])];
    let two = shape(&overlapping, &sets);
    assert_eq!(two.dport.as_deref(), Some(&[(20, 30)][..]));
    let disjoint = [dport(false, &[(10, 15)]), dport(false, &[(20, 40)])];
    assert_eq!(shape(&disjoint, &sets).empty_field(), Some("destination port"));
}
