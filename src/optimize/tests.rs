//! Structural properties of the optimizer (the packet-level equivalence is tested in
//! tests/it/optimize.rs; these cover what a stateless evaluator cannot see, like limits).

use crate::diagnostic::Sources;
use crate::ir::{Action, Dir, Elem, Field, L4, Match, Ruleset};
use crate::pipeline::{Text, compile};

fn optimized(text: &str) -> (Ruleset, Vec<super::Merge>) {
    let mut sources = Sources::new();
    let c = compile(
        &mut sources,
        vec![Text { name: "t.rules".into(), bytes: text.as_bytes().to_vec() }],
        None,
        "overlayfw",
    );
    let mut rs = c.ruleset.expect("compiles");
    let merges = super::optimize(&mut rs);
    (rs, merges)
}

fn chain<'a>(rs: &'a Ruleset, name: &str) -> &'a [crate::ir::Rule] {
    &rs.chains.iter().find(|c| c.name == name).expect("chain").rules
}

#[test]
fn rules_with_a_limit_or_a_log_are_never_merged() {
    let (rs, merges) = optimized(
        "INPUT_CUST -p tcp --dport 22 -m limit --limit 5/second -j ACCEPT\n\
         INPUT_CUST -p tcp --dport 23 -m limit --limit 5/second -j ACCEPT\n\
         INPUT_CUST -p tcp --dport 24 -j LOG\n\
         INPUT_CUST -p tcp --dport 25 -j LOG\n",
    );
    assert!(merges.is_empty());
    assert_eq!(chain(&rs, "INPUT_CUST").len(), 4);
}

#[test]
fn verdict_runs_become_one_set_and_keep_their_place() {
    // Ranges: one field with intervals never makes a verdict map.
    let (rs, merges) = optimized(
        "INPUT_CUST -p tcp --dport 22:23 -j ACCEPT\n\
         INPUT_CUST -p tcp --dport 30:31 -j ACCEPT\n\
         INPUT_CUST -p tcp --dport 24:25 -j DROP\n\
         INPUT_CUST -p tcp --dport 26:27 -j ACCEPT\n",
    );
    let rules = chain(&rs, "INPUT_CUST");
    assert_eq!(rules.len(), 3, "the first two merge; a DROP ends the run; the last stays after it");
    assert_eq!(merges.len(), 1);
    assert_eq!(merges[0].count, 2);
    assert_eq!(rules[1].action, Action::Drop);
}

#[test]
fn mixed_verdicts_on_disjoint_keys_become_one_verdict_map() {
    let (rs, merges) = optimized(
        "INPUT_CUST -p tcp --dport 22 -j ACCEPT\n\
         INPUT_CUST -p tcp --dport 23 -j ACCEPT\n\
         INPUT_CUST -p tcp --dport 24 -j DROP\n\
         INPUT_CUST -p tcp --dport 25 -j ACCEPT\n\
         INPUT_CUST -p tcp --dport 24 -j ACCEPT\n",
    );
    let rules = chain(&rs, "INPUT_CUST");
    assert_eq!(rules.len(), 2, "a repeated key (24) ends the map: first match must decide");
    assert_eq!(merges[0].count, 4);
    let Action::Vmap(map) = &rules[0].action else { panic!("{:?}", rules[0]) };
    let verdicts: Vec<_> = map.entries.iter().map(|e| e.1).collect();
    use crate::ir::MapVerdict::{Accept, Drop};
    assert_eq!(verdicts, [Accept, Accept, Drop, Accept]);
    assert_eq!(rules[1].action, Action::Accept);
    assert!(
        merges[0]
            .into
            .contains("tcp dport vmap { 22 : accept, 23 : accept, 24 : drop, 25 : accept }")
    );
}

#[test]
fn a_single_verdict_run_stays_a_set_not_a_map() {
    let (rs, _) = optimized(
        "INPUT_CUST -s 192.0.2.1 -j DROP\n\
         INPUT_CUST -s 192.0.2.2 -j DROP\n",
    );
    let rules = chain(&rs, "INPUT_CUST");
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].action, Action::Drop);
}

#[test]
fn a_repeated_dnat_port_ends_the_map() {
    let (rs, _) = optimized(
        "PREROUTING_CUST -i eth0 -p tcp --dport 80 -j DNAT --to 198.51.100.2\n\
         PREROUTING_CUST -i eth0 -p tcp --dport 81 -j DNAT --to 198.51.100.3\n\
         PREROUTING_CUST -i eth0 -p tcp --dport 80 -j DNAT --to 198.51.100.4\n",
    );
    let rules = chain(&rs, "PREROUTING_CUST");
    assert_eq!(rules.len(), 2);
    assert!(matches!(&rules[0].action, Action::DnatMap { entries, .. } if entries.len() == 2));
    assert!(matches!(&rules[1].action, Action::Dnat { .. }));
}

#[test]
fn overlapping_tuples_are_not_put_in_one_concatenation() {
    let (rs, _) = optimized(
        "FORWARD_CUST -s 10.0.0.0/8 -p tcp --dport 22 -j ACCEPT\n\
         FORWARD_CUST -s 10.1.0.0/16 -p tcp --dport 22 -j ACCEPT\n",
    );
    let rules = chain(&rs, "FORWARD_CUST");
    assert_eq!(rules.len(), 2, "the kernel refuses overlapping concatenated elements");
}

#[test]
fn grouping_by_input_interface_never_crosses_a_rule_without_one() {
    let (rs, _) = optimized(
        "FORWARD_CUST -i tun0 -p tcp --dport 1 -j ACCEPT\n\
         FORWARD_CUST -i eth0 -p tcp --dport 2 -j DROP\n\
         FORWARD_CUST -i eth+ -p tcp --dport 3 -j DROP\n\
         FORWARD_CUST -i tun0 -p tcp --dport 4 -j ACCEPT\n",
    );
    let rules = chain(&rs, "FORWARD_CUST");
    // A wildcard is not an exact name: it is a barrier for the grouping, so the two tun0
    // rules are not brought together across it.
    assert_eq!(rules.len(), 4);
    assert!(
        rules[2]
            .matches
            .iter()
            .any(|m| matches!(m, Match::IifName { name, .. } if &**name == "eth*"))
    );
}

#[test]
fn maps_match_their_keys_as_a_set_before_the_counter() {
    // The counter stands before the action: a map alone would count the packets it misses.
    let (rs, merges) = optimized(
        "PREROUTING_CUST -i eth0 -p tcp --dport 80 -j DNAT --to 198.51.100.2\n\
         PREROUTING_CUST -i eth0 -p tcp --dport 443 -j DNAT --to 198.51.100.3\n\
         INPUT_CUST -p tcp --dport 22 -j ACCEPT\n\
         INPUT_CUST -p tcp --dport 25 -j DROP\n\
         INPUT_CUST -s 10.1.0.0/16 -p tcp --dport 24 -j ACCEPT\n\
         INPUT_CUST -s 10.2.0.0/16 -p tcp --dport 24 -j DROP\n",
    );
    let into: Vec<&str> = merges.iter().map(|m| m.into.as_str()).collect();
    assert_eq!(
        into,
        [
            "iifname \"eth0\" meta l4proto . tcp dport { tcp . 80, tcp . 443 } counter \
             dnat to tcp dport map { 80 : 198.51.100.2, 443 : 198.51.100.3 }",
            "meta l4proto . tcp dport { tcp . 22, tcp . 25 } counter \
             tcp dport vmap { 22 : accept, 25 : drop }",
            "ip saddr . tcp dport { 10.1.0.0/16 . 24, 10.2.0.0/16 . 24 } counter \
             ip saddr . tcp dport vmap { 10.1.0.0/16 . 24 : accept, 10.2.0.0/16 . 24 : drop }",
        ]
    );
    let dnat = &chain(&rs, "PREROUTING_CUST")[0];
    let Some(Match::Tuple(keys)) = dnat.matches.last() else { panic!("{dnat:?}") };
    assert_eq!(keys.fields, [Field::L4Proto, Field::Port(L4::Tcp, Dir::Dst)]);
    assert_eq!(
        keys.elements,
        [[Elem::L4(L4::Tcp), Elem::Ports(80, 80)], [Elem::L4(L4::Tcp), Elem::Ports(443, 443)]]
    );
}

/// A union of single ports is matched with its protocol (`meta l4proto . udp sport { udp . 53,
/// … }`), a hashed set: a set of bare 2-byte keys is a bitmap in the kernel, whose inserts each
/// scan what it holds (25,000 ports of a DNAT map took 2 s to load). A union with a range is
/// an interval set, which has no such cost, and keeps the plain form.
#[test]
fn unions_of_single_ports_are_keyed_with_their_protocol() {
    let (rs, merges) = optimized(
        "INPUT_CUST -p udp --sport 53 -j ACCEPT\n\
         INPUT_CUST -p udp --sport 123 -j ACCEPT\n\
         INPUT_CUST -p udp --sport 67 -j ACCEPT\n\
         INPUT_CUST -p tcp --dport 22 -j DROP\n\
         INPUT_CUST -p tcp --dport 30:31 -j DROP\n\
         INPUT_CUST -s 192.0.2.1 -j REJECT\n\
         INPUT_CUST -s 192.0.2.2 -j REJECT\n",
    );
    let into: Vec<&str> = merges.iter().map(|m| m.into.as_str()).collect();
    assert_eq!(
        into,
        [
            "meta l4proto . udp sport { udp . 53, udp . 67, udp . 123 } counter accept",
            "tcp dport { 22, 30-31 } counter drop",
            "ip saddr { 192.0.2.1, 192.0.2.2 } counter reject",
        ]
    );
    assert_eq!(chain(&rs, "INPUT_CUST").len(), 3);
}

/// A one-field union is written as nft would join it while loading: adjacent ports as a range,
/// networks as the fewest that hold the same addresses (never `0.0.0.0/0`); a map keeps each
/// key.
#[test]
fn unions_join_adjacent_values() {
    let (_, merges) = optimized(
        "PREROUTING_CUST -i eth0 -p tcp --dport 80 -j DNAT --to 198.51.100.2\n\
         PREROUTING_CUST -i eth0 -p tcp --dport 81 -j DNAT --to 198.51.100.3\n\
         PREROUTING_CUST -i eth0 -p tcp --dport 82 -j DNAT --to 198.51.100.4\n\
         INPUT_CUST -p udp --dport 5 -j ACCEPT\n\
         INPUT_CUST -p udp --dport 6:9 -j ACCEPT\n\
         INPUT_CUST -p udp --dport 20 -j ACCEPT\n\
         POSTROUTING_CUST -o eth0 -s 10.0.0.0/24 -j MASQUERADE\n\
         POSTROUTING_CUST -o eth0 -s 10.0.1.0/24 -j MASQUERADE\n\
         POSTROUTING_CUST -o eth0 -s 10.0.2.0/24 -j MASQUERADE\n\
         POSTROUTING_CUST -o eth0 -s 10.0.2.128/25 -j MASQUERADE\n\
         FORWARD_CUST -d 0.0.0.0/1 -j DROP\n\
         FORWARD_CUST -d 128.0.0.0/1 -j DROP\n",
    );
    let into: Vec<&str> = merges.iter().map(|m| m.into.as_str()).collect();
    assert_eq!(
        into,
        [
            "iifname \"eth0\" tcp dport 80-82 counter dnat to tcp dport map { 80 : 198.51.100.2, \
             81 : 198.51.100.3, 82 : 198.51.100.4 }",
            "udp dport { 5-9, 20 } counter accept",
            "ip daddr { 0.0.0.0/1, 128.0.0.0/1 } counter drop",
            "oifname \"eth0\" ip saddr { 10.0.0.0/23, 10.0.2.0/24 } counter masquerade",
        ]
    );
}

/// The joined networks hold exactly the addresses of the given ones, and are never more: every
/// address of 10.0.0.0/24 checked, for lists of random prefixes in it.
#[test]
fn joined_networks_hold_the_same_addresses() {
    use ipnetwork::Ipv4Network;
    let mut x: u32 = 0x9e37_79b9;
    let mut next = |n: u32| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x % n
    };
    for _ in 0..500 {
        let given: Vec<Elem> = (0..1 + next(12))
            .map(|_| {
                let prefix = 24 + next(9) as u8;
                let addr = std::net::Ipv4Addr::new(10, 0, 0, next(256) as u8);
                let net = Ipv4Network::new(addr, prefix).expect("prefix");
                Elem::Net(Ipv4Network::new(net.network(), prefix).expect("prefix"))
            })
            .collect();
        let joined = super::net_union(&given);
        assert!(joined.len() <= given.len(), "{given:?} -> {joined:?}");
        let nets: Vec<Ipv4Network> =
            given.iter().map(|e| if let Elem::Net(n) = e { *n } else { unreachable!() }).collect();
        for last in 0..=255u8 {
            let a = std::net::Ipv4Addr::new(10, 0, 0, last);
            assert_eq!(
                nets.iter().any(|n| n.contains(a)),
                joined.iter().any(|n| n.contains(a)),
                "{a}: {given:?} -> {joined:?}"
            );
        }
    }
}
