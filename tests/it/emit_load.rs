//! Emitted scripts loaded into a real kernel: every IR variant in the hook where it belongs,
//! atomic replacement, and other tables left alone.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use overlayfw::emit::nft_script;
use overlayfw::ir::*;
use overlayfw::nft::is_nft_keyword;
use serde_json::Value;

use crate::netns::{Netns, objects, packets, require_root, rule_counts};

const TABLE: &str = "overlayfw";

use crate::irgen::{Lines, base, chain, every_variant, ip, jump, nat, net, tcp_dport};

/// A comment as nft keeps it: at most `COMMENT_MAX` bytes, cut at a character boundary.
fn cut(mut text: String) -> String {
    let mut end = text.len().min(overlayfw::nft::COMMENT_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

fn expected_counts(rs: &Ruleset) -> BTreeMap<String, usize> {
    rs.chains.iter().map(|c| (c.name.clone(), c.rules.len())).collect()
}

fn load(ns: &Netns, script: &str) {
    if let Err(e) = ns.nft_load(script) {
        panic!("{e}\n--- script ---\n{script}");
    }
}

fn tables(listing: &Value) -> Vec<(String, String)> {
    objects(listing, "table")
        .map(|t| {
            (
                t["family"].as_str().unwrap_or_default().to_owned(),
                t["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_variant_loads_with_its_chains_rules_and_comments() {
    if !require_root() {
        return;
    }
    let rs = every_variant();
    let script = nft_script(&rs);
    let ns = Netns::new();
    load(&ns, &script);
    let listing = ns.list_table_json("ip", TABLE);

    assert_eq!(rule_counts(&listing, "ip", TABLE), expected_counts(&rs));

    // Base chains come back with the IR's type, hook and (numeric) priority.
    let mut bases = BTreeMap::new();
    for c in objects(&listing, "chain").filter(|c| c.get("hook").is_some()) {
        bases.insert(
            c["name"].as_str().unwrap().to_owned(),
            (
                c["type"].as_str().unwrap().to_owned(),
                c["hook"].as_str().unwrap().to_owned(),
                c["prio"].as_i64().unwrap(),
            ),
        );
    }
    let want: BTreeMap<_, _> = rs
        .chains
        .iter()
        .filter_map(|c| {
            let b = c.base?;
            let kind = match b.kind {
                ChainKind::Filter => "filter",
                ChainKind::Nat => "nat",
            };
            let hook = format!("{:?}", b.hook).to_lowercase();
            Some((c.name.clone(), (kind.to_owned(), hook, i64::from(b.priority))))
        })
        .collect();
    assert_eq!(bases, want);

    // Every rule from the source carries its origin, cut to nft's comment length; overlayfw's
    // own jumps carry none.
    let mut comments: Vec<String> = objects(&listing, "rule")
        .filter_map(|r| r["comment"].as_str().map(str::to_owned))
        .collect();
    let mut want: Vec<String> = rs
        .chains
        .iter()
        .flat_map(|c| c.rules.iter().map(move |r| (c, r)))
        .filter_map(|(c, r)| Some((c, r, r.origin.as_ref()?)))
        .map(|(c, r, o)| {
            // `FILE #ID`: the id is of the chain and the statement, not of the line.
            let mut statement = String::new();
            overlayfw::emit::push_statement(&mut statement, r, &rs.sets);
            let id = overlayfw::emit::rule_id(&c.name, &statement) >> 16;
            let place = format!("{} #{id:012x}", rs.files.name(o.file));
            match &o.note {
                Some(n) => cut(format!("{place} {n}")),
                None => cut(place),
            }
        })
        .collect();
    comments.sort();
    want.sort();
    assert_eq!(comments, want);

    // The table comment marks the table as overlayfw's (the version is a chain's name). nft
    // 1.0.6 leaves table comments out of its JSON (later versions print them), so read that
    // one line from the text listing.
    let want = overlayfw::emit::TABLE_COMMENT.to_string();
    let table = objects(&listing, "table").next().expect("our table");
    match table["comment"].as_str() {
        Some(comment) => assert_eq!(comment, want),
        None => {
            let text = ns.exec(&["nft", "list", "table", "ip", TABLE]).unwrap();
            let line = text.lines().nth(1).map(str::trim);
            assert_eq!(line, Some(format!("comment \"{want}\"").as_str()));
        }
    }
}

#[test]
fn loading_twice_replaces_the_table() {
    if !require_root() {
        return;
    }
    let rs = every_variant();
    let script = nft_script(&rs);
    let ns = Netns::new();
    // First into a namespace without the table, then over it.
    load(&ns, &script);
    load(&ns, &script);
    let listing = ns.list_json();
    assert_eq!(tables(&listing), vec![("ip".to_owned(), TABLE.to_owned())]);
    assert_eq!(rule_counts(&listing, "ip", TABLE), expected_counts(&rs));

    // A smaller ruleset replaces the bigger one entirely: nothing of the old one survives.
    let mut small = rs.clone();
    small.sets.clear();
    small.chains = vec![base(
        "filter_input",
        ChainKind::Filter,
        Hook::Input,
        0,
        vec![Lines(0).rule(vec![], Action::Accept)],
    )];
    load(&ns, &nft_script(&small));
    let listing = ns.list_json();
    assert_eq!(rule_counts(&listing, "ip", TABLE), expected_counts(&small));
    assert_eq!(objects(&listing, "set").count(), 0);
}

const FOREIGN: &str = "table inet other {
	set allowed {
		type ipv4_addr
		elements = { 192.0.2.1 }
	}
	chain c {
		type filter hook input priority 0; policy accept;
		tcp dport 22 ip saddr @allowed counter accept comment \"theirs\"
		counter drop
	}
}
table ip overlayfw_not {
	chain c {
		type nat hook postrouting priority srcnat; policy accept;
		oifname \"eth0\" masquerade
	}
}
";

#[test]
fn other_tables_are_left_alone() {
    if !require_root() {
        return;
    }
    let ns = Netns::new();
    load(&ns, FOREIGN);
    let other = ns.list_table_json("inet", "other");
    let other_ip = ns.list_table_json("ip", "overlayfw_not");
    let script = nft_script(&every_variant());
    load(&ns, &script);
    load(&ns, &script);
    assert_eq!(ns.list_table_json("inet", "other"), other);
    assert_eq!(ns.list_table_json("ip", "overlayfw_not"), other_ip);
    let mut names = tables(&ns.list_json());
    names.sort();
    assert_eq!(
        names,
        vec![
            ("inet".to_owned(), "other".to_owned()),
            ("ip".to_owned(), TABLE.to_owned()),
            ("ip".to_owned(), "overlayfw_not".to_owned()),
        ]
    );
}

/// `is_nft_keyword` says which names the resolver must refuse: check a sample against nft.
#[test]
fn keyword_names_fail_and_others_load() {
    if !require_root() {
        return;
    }
    let ns = Netns::new();
    let named = |name: &str| {
        let mut rs = every_variant();
        rs.sets.clear();
        rs.chains = vec![
            chain(name, vec![Lines(0).rule(vec![], Action::Accept)]),
            base("filter_input", ChainKind::Filter, Hook::Input, 0, vec![jump(name)]),
        ];
        ns.nft_load(&nft_script(&rs))
    };
    for word in ["fwd", "tcp", "counter", "dnat", "hour", "jump", "ip", "meta"] {
        assert!(is_nft_keyword(word), "{word}");
        assert!(named(word).is_err(), "nft accepted a chain named {word}");
    }
    for name in ["blacklist", "web", "Input", "FWD_C_fwd", "PRE_C_web-1", "a-b-c"] {
        assert!(!is_nft_keyword(name), "{name}");
        named(name).unwrap_or_else(|e| panic!("chain {name}: {e}"));
    }
}

/// What nft 1.0.6 and the kernel refuse, per chain type and hook: the resolver must never
/// produce the `false` cases. Kept as a test so that a new nft or kernel that changes any of
/// them is noticed.
#[test]
fn hook_restrictions() {
    if !require_root() {
        return;
    }
    use ChainKind::{Filter, Nat};
    use Hook::{Forward, Input, Output, Postrouting, Prerouting};
    let dnat = |ports| Action::Dnat { to: nat("198.51.100.2", None, ports), flags: NatFlags::NONE };
    let snat = |ports| Action::Snat { to: nat("10.0.1.120", None, ports), flags: NatFlags::NONE };
    let masq = |ports| Action::Masquerade { ports, flags: NatFlags::NONE };
    let reject = Action::Reject(RejectWith::PortUnreachable);
    let reset = Action::Reject(RejectWith::TcpReset);
    let dup = Action::Dup { to: ip("198.51.100.2") };
    let netmap_d = Action::NetmapDnat { to: net("192.168.7.0/24") };
    let netmap_s = Action::NetmapSnat { to: net("192.168.7.0/24") };
    let proto = |neg, proto| Match::Protocol { neg, proto };
    let cases: Vec<(ChainKind, Hook, i32, Vec<Match>, Action, bool)> = vec![
        // reject: every filter hook but postrouting; nat chains too, except postrouting.
        (Filter, Prerouting, 0, vec![], reject.clone(), true),
        (Filter, Input, 0, vec![], reject.clone(), true),
        (Filter, Forward, 0, vec![], reject.clone(), true),
        (Filter, Output, 0, vec![], reject.clone(), true),
        (Filter, Postrouting, 0, vec![], reject.clone(), false),
        (Nat, Prerouting, -100, vec![], reject.clone(), true),
        (Nat, Postrouting, 100, vec![], reject.clone(), false),
        // `reject with tcp reset` loads without a tcp match (nft adds it).
        (Filter, Input, 0, vec![], reset, true),
        // dup: filter prerouting and postrouting, as COPY needs.
        (Filter, Prerouting, 0, vec![], dup.clone(), true),
        (Filter, Postrouting, 0, vec![], dup, true),
        // drop loads in nat chains (it only ever sees a connection's first packet).
        (Nat, Prerouting, -100, vec![], Action::Drop, true),
        (Nat, Postrouting, 100, vec![], Action::Drop, true),
        // NAT statements per hook.
        (Nat, Prerouting, -100, vec![], dnat(None), true),
        (Nat, Output, -100, vec![], dnat(None), true),
        (Nat, Input, 100, vec![], dnat(None), false),
        (Nat, Postrouting, 100, vec![], dnat(None), false),
        (Nat, Postrouting, 100, vec![], snat(None), true),
        (Nat, Input, 100, vec![], snat(None), true),
        (Nat, Prerouting, -100, vec![], snat(None), false),
        (Nat, Output, -100, vec![], snat(None), false),
        (Nat, Postrouting, 100, vec![], masq(None), true),
        (Nat, Prerouting, -100, vec![], masq(None), false),
        (Nat, Input, 100, vec![], masq(None), false),
        (
            Nat,
            Prerouting,
            -100,
            vec![],
            Action::Redirect { ports: None, flags: NatFlags::NONE },
            true,
        ),
        (Nat, Output, -100, vec![], Action::Redirect { ports: None, flags: NatFlags::NONE }, true),
        (
            Nat,
            Postrouting,
            100,
            vec![],
            Action::Redirect { ports: None, flags: NatFlags::NONE },
            false,
        ),
        (Nat, Prerouting, -100, vec![], netmap_d.clone(), true),
        (Nat, Output, -100, vec![], netmap_d.clone(), true),
        (Nat, Postrouting, 100, vec![], netmap_d, false),
        (Nat, Postrouting, 100, vec![], netmap_s.clone(), true),
        (Nat, Input, 100, vec![], netmap_s.clone(), true),
        (Nat, Prerouting, -100, vec![], netmap_s, false),
        // A port in a NAT target needs a positive l4 protocol match first.
        (Nat, Prerouting, -100, vec![], dnat(Some((22, 22))), false),
        (Nat, Prerouting, -100, vec![proto(false, 6)], dnat(Some((22, 22))), true),
        (Nat, Prerouting, -100, vec![tcp_dport(1)], dnat(Some((22, 22))), true),
        (Nat, Prerouting, -100, vec![proto(true, 6)], dnat(Some((22, 22))), false),
        (Nat, Postrouting, 100, vec![], snat(Some((1000, 2000))), false),
        (Nat, Postrouting, 100, vec![proto(false, 17)], snat(Some((1000, 2000))), true),
        (Nat, Postrouting, 100, vec![], masq(Some((1000, 2000))), false),
        (Nat, Postrouting, 100, vec![proto(false, 17)], masq(Some((1000, 2000))), true),
        (
            Nat,
            Prerouting,
            -100,
            vec![],
            Action::Redirect { ports: Some((80, 80)), flags: NatFlags::NONE },
            false,
        ),
        (
            Nat,
            Prerouting,
            -100,
            vec![proto(false, 6)],
            Action::Redirect { ports: Some((80, 80)), flags: NatFlags::NONE },
            true,
        ),
        // Chains themselves: no nat chain in forward; nat chains need priority > -200.
        (Nat, Forward, 0, vec![], Action::Accept, false),
        (Nat, Prerouting, -300, vec![], Action::Accept, false),
        (Nat, Prerouting, -150, vec![], Action::Accept, true),
        (Filter, Forward, -300, vec![], Action::Accept, true),
    ];
    let ns = Netns::new();
    let mut wrong = Vec::new();
    for (kind, hook, priority, matches, action, loads) in cases {
        let rs = Ruleset {
            table: TABLE.into(),
            files: crate::irgen::files(),
            ipv6: Default::default(),
            input_hash: "h".into(),
            sets: vec![],
            chains: vec![base("c", kind, hook, priority, vec![Lines(0).rule(matches, action)])],
        };
        let script = nft_script(&rs);
        let result = ns.nft_load(&script);
        if result.is_ok() != loads {
            let rule = script.lines().nth(8).unwrap_or_default().trim().to_owned();
            wrong.push(format!("{kind:?} {hook:?} {priority}: `{rule}`: {result:?}"));
        }
    }
    assert!(wrong.is_empty(), "unexpected outcomes:\n{}", wrong.join("\n"));
}

/// NETMAP keeps the host bits: 10.9.9.77 becomes 10.0.1.77. A UDP datagram sent from the
/// namespace crosses nat output (the mapping) and filter postrouting (counters on both names).
#[test]
fn netmap_keeps_host_bits() {
    if !require_root() {
        return;
    }
    let l = &mut Lines(0);
    let daddr = |s: &str| Match::Daddr { neg: false, addrs: AddrMatch::Nets(vec![net(s)].into()) };
    let map = l.rule(vec![daddr("10.9.9.0/24")], Action::NetmapDnat { to: net("10.0.1.0/24") });
    let mapped = l.rule(vec![daddr("10.0.1.77/32")], Action::Count);
    let unmapped = l.rule(vec![daddr("10.9.9.77/32")], Action::Count);
    let files = crate::irgen::files();
    let comment = |chain: &str, r: &Rule| {
        overlayfw::emit::comment(chain, r, &[], &files).expect("a rule from the source")
    };
    let (map_c, mapped_c, unmapped_c) = (
        comment("nat_output", &map),
        comment("filter_postrouting", &mapped),
        comment("filter_postrouting", &unmapped),
    );
    let rs = Ruleset {
        table: TABLE.into(),
        files: crate::irgen::files(),
        ipv6: Default::default(),
        input_hash: "h".into(),
        sets: vec![],
        chains: vec![
            base("nat_output", ChainKind::Nat, Hook::Output, -100, vec![map]),
            base(
                "filter_postrouting",
                ChainKind::Filter,
                Hook::Postrouting,
                0,
                vec![mapped, unmapped],
            ),
        ],
    };
    let ns = Netns::new();
    load(&ns, &nft_script(&rs));
    ns.exec(&["bash", "-c", "echo probe > /dev/udp/10.9.9.77/9"]).expect("sending a datagram");
    let listing = ns.list_table_json("ip", TABLE);
    assert_eq!(packets(&listing, &map_c), Some(1));
    assert_eq!(packets(&listing, &mapped_c), Some(1));
    assert_eq!(packets(&listing, &unmapped_c), Some(0));
}

/// A large script (10k rules, a 5k-element set) goes through `nft -f -` whole.
#[test]
fn large_ruleset_loads() {
    if !require_root() {
        return;
    }
    let l = &mut Lines(0);
    let rules: Vec<Rule> = (0..10_000u32)
        .map(|i| {
            l.rule(
                vec![
                    Match::Saddr {
                        neg: false,
                        addrs: AddrMatch::Nets(
                            vec![net(&format!("10.{}.{}.0/24", i / 256, i % 256))].into(),
                        ),
                    },
                    tcp_dport(1 + (i % 60_000) as u16),
                ],
                Action::Accept,
            )
        })
        .collect();
    let elements =
        (0..5_000u32).map(|i| net(&format!("172.16.{}.{}/32", i / 256, i % 256))).collect();
    let rs = Ruleset {
        table: TABLE.into(),
        files: crate::irgen::files(),
        ipv6: Default::default(),
        input_hash: "h".into(),
        sets: vec![Set { name: "big".into(), elements: SetElements::Addrs(elements) }],
        chains: vec![
            chain("INPUT_CUST", rules),
            base("filter_input", ChainKind::Filter, Hook::Input, 0, vec![jump("INPUT_CUST")]),
        ],
    };
    let ns = Netns::new();
    load(&ns, &nft_script(&rs));
    let listing = ns.list_table_json("ip", TABLE);
    assert_eq!(rule_counts(&listing, "ip", TABLE), expected_counts(&rs));
    let set = objects(&listing, "set").next().expect("the set");
    // auto-merge joins adjacent /32s into ranges, so count addresses rather than elements.
    let addresses: u64 = set["elem"]
        .as_array()
        .expect("elements")
        .iter()
        .map(|e| match e.get("range") {
            Some(r) => {
                let a: Ipv4Addr = r[0].as_str().unwrap().parse().unwrap();
                let b: Ipv4Addr = r[1].as_str().unwrap().parse().unwrap();
                u64::from(u32::from(b) - u32::from(a)) + 1
            }
            None => match e["prefix"]["len"].as_u64() {
                Some(len) => 1 << (32 - len),
                None => 1,
            },
        })
        .sum();
    assert_eq!(addresses, 5_000);
}
