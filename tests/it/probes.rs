//! `--optimize` keeps the policy, checked in a real kernel: probe packets (5-tuples drawn from
//! the rules themselves, their boundaries and neighbours, ingress interface included) go through
//! a router namespace loaded with the plain and then with the optimized ruleset, and land (or
//! not) in a second namespace; every probe must land in the same place, with the same addresses
//! and ports, under both. A deliberately changed policy must show a difference, so the harness
//! can fail.
//!
//! The router `R` has veths `eth0`, `tun0`, `plugin0` and `obs0` whose peers (`c_eth0`, …) sit in
//! the probing namespace `C`; every route of `R` points back into `C`, so whatever `R` forwards
//! arrives there (after DNAT, masquerade, dup). Packets `R` accepts for itself are copied to
//! `c_obs0` by an observer table that runs after ours on the input hook. tests/probe/landings.py
//! sends the probes from `C` and reports what arrived where, by IP id.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use overlayfw::ir::{
    Action, AddrMatch, Dir, Elem, Field, L4, Match, PortMatch, Ruleset, SetElements,
};

use crate::netns;
use crate::optimize::{EDGE_POLICY, compile, policy, pools};

/// Ingress interfaces of the router, each with the MAC of its side and of the peer in `C`.
const LINKS: [(&str, &str, &str); 4] = [
    ("eth0", "02:00:00:00:01:01", "02:00:00:00:02:01"),
    ("tun0", "02:00:00:00:01:02", "02:00:00:00:02:02"),
    ("plugin0", "02:00:00:00:01:03", "02:00:00:00:02:03"),
    ("obs0", "02:00:00:00:01:04", "02:00:00:00:02:04"),
];
const INGRESS: [&str; 3] = ["eth0", "tun0", "plugin0"];
/// The router's own addresses (all /32 with on-link gateways, so no ARP is ever needed).
const ROUTER_ADDRS: [(&str, &str); 4] = [
    ("eth0", "10.0.1.120"),
    ("tun0", "172.31.0.1"),
    ("plugin0", "198.51.100.1"),
    ("obs0", "192.168.255.1"),
];

#[derive(Clone, Debug)]
struct Probe {
    id: u16,
    iif: &'static str,
    saddr: u32,
    daddr: u32,
    proto: u8,
    sport: u16,
    dport: u16,
    syn: bool,
}

/// Where a probe arrived: interface in `C`, addresses, protocol, source port, destination port.
/// The source port is `None` when NAT rewrote the packet: when a translated tuple clashes with
/// an earlier connection's, the kernel picks a free source port at random.
type Landing = (String, Ipv4Addr, Ipv4Addr, u8, Option<u16>, u16);

/// Two namespaces wired as described in the module comment; deleted on drop.
struct Rig {
    router: String,
    probe: String,
}

impl Rig {
    fn new() -> Rig {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let base =
            format!("ofw-probe-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let rig = Rig { router: format!("{base}-r"), probe: format!("{base}-c") };
        for ns in [&rig.router, &rig.probe] {
            netns::run("ip", &["netns", "add", ns]).unwrap_or_else(|e| panic!("{e}"));
        }
        rig.setup().unwrap_or_else(|e| panic!("setting up {base}: {e}"));
        rig
    }

    fn setup(&self) -> Result<(), String> {
        let (r, c) = (self.router.as_str(), self.probe.as_str());
        // Interfaces created from here inherit these: no reverse-path filter, no redirects.
        for key in ["all", "default"] {
            self.sysctl(r, &format!("net.ipv4.conf.{key}.rp_filter=0"))?;
            self.sysctl(r, &format!("net.ipv4.conf.{key}.send_redirects=0"))?;
        }
        self.sysctl(r, "net.ipv4.ip_forward=1")?;
        // Every REJECT must answer: no ICMP type is rate limited.
        self.sysctl(r, "net.ipv4.icmp_ratemask=0")?;
        for (name, mac, peer_mac) in LINKS {
            let peer = format!("c_{name}");
            netns::run(
                "ip",
                &[
                    "-n", c, "link", "add", &peer, "address", peer_mac, "type", "veth", "peer",
                    "name", name, "address", mac, "netns", r,
                ],
            )?;
            netns::run("ip", &["-n", c, "link", "set", &peer, "up"])?;
            netns::run("ip", &["-n", r, "link", "set", name, "up"])?;
        }
        for (dev, addr) in ROUTER_ADDRS {
            netns::run("ip", &["-n", r, "addr", "add", &format!("{addr}/32"), "dev", dev])?;
        }
        netns::run("ip", &["-n", r, "link", "set", "lo", "up"])?;
        // Gateways in C, with permanent neighbour entries.
        for (dev, gw, nets) in [
            ("eth0", "10.0.1.1", &["default"][..]),
            ("tun0", "172.31.0.2", &["100.64.0.0/10", "172.16.0.0/12"][..]),
            ("plugin0", "198.51.100.14", &["198.51.100.0/24"][..]),
            ("obs0", "192.168.255.2", &[][..]),
        ] {
            let mac = LINKS.iter().find(|l| l.0 == dev).map(|l| l.2).expect("link");
            netns::run("ip", &["-n", r, "route", "add", gw, "dev", dev])?;
            netns::run(
                "ip",
                &["-n", r, "neigh", "add", gw, "lladdr", mac, "dev", dev, "nud", "permanent"],
            )?;
            for net in nets {
                netns::run("ip", &["-n", r, "route", "add", net, "via", gw, "dev", dev])?;
            }
        }
        Ok(())
    }

    fn sysctl(&self, ns: &str, setting: &str) -> Result<String, String> {
        netns::run("ip", &["netns", "exec", ns, "sysctl", "-qw", setting])
    }

    fn nft(&self, script: &str) -> Result<(), String> {
        let dir = std::env::temp_dir().join(format!("{}.nft", self.router));
        std::fs::write(&dir, script).map_err(|e| e.to_string())?;
        let path = dir.to_string_lossy().into_owned();
        let out = netns::run("ip", &["netns", "exec", &self.router, "nft", "-f", &path]);
        let _ = std::fs::remove_file(&dir);
        out.map(drop)
    }

    /// Sends the probes from `C`; what arrived, per probe id.
    fn landings(&self, probes: &[Probe]) -> BTreeMap<u16, BTreeSet<Landing>> {
        let mut input = String::new();
        for p in probes {
            let mac = LINKS.iter().find(|l| l.0 == p.iif).map(|l| l.1).expect("ingress");
            input += &format!(
                "{} c_{} {mac} {} {} {} {} {} {}\n",
                p.id,
                p.iif,
                Ipv4Addr::from(p.saddr),
                Ipv4Addr::from(p.daddr),
                p.proto,
                p.sport,
                p.dport,
                if p.proto != 6 {
                    "-"
                } else if p.syn {
                    "S"
                } else {
                    "A"
                }
            );
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/probe/landings.py");
        let out = crate::output_with_stdin(
            Command::new("ip").args(["netns", "exec", &self.probe, "python3", script]),
            input.as_bytes(),
        );
        assert!(out.status.success(), "landings.py: {}", String::from_utf8_lossy(&out.stderr));
        let sent: BTreeMap<u16, &Probe> = probes.iter().map(|p| (p.id, p)).collect();
        let mut seen: BTreeMap<u16, BTreeSet<Landing>> = BTreeMap::new();
        for line in String::from_utf8(out.stdout).expect("utf8").lines() {
            let f: Vec<&str> = line.split(' ').collect();
            let id: u16 = f[0].parse().expect("id");
            let (saddr, daddr): (Ipv4Addr, Ipv4Addr) =
                (f[2].parse().expect("saddr"), f[3].parse().expect("daddr"));
            let dport: u16 = f[6].parse().expect("dport");
            let p = sent[&id];
            let untranslated =
                u32::from(saddr) == p.saddr && u32::from(daddr) == p.daddr && dport == p.dport;
            let proto: u8 = f[4].parse().expect("proto");
            let sport = (untranslated && proto != 1).then(|| f[5].parse().expect("sport"));
            seen.entry(id).or_default().insert((
                f[1].to_owned(),
                saddr,
                daddr,
                proto,
                sport,
                dport,
            ));
        }
        seen
    }

    /// Loads `script` (and the observer), sends the probes, and returns where they landed.
    fn run(probes: &[Probe], script: &str) -> BTreeMap<u16, BTreeSet<Landing>> {
        let rig = Rig::new();
        rig.nft(script).unwrap_or_else(|e| panic!("loading the ruleset: {e}"));
        rig.nft(
            "table ip probe_observer {\n\
             \tchain input { type filter hook input priority 1000; policy accept; \
             dup to 192.168.255.2 device \"obs0\"; }\n}\n",
        )
        .unwrap_or_else(|e| panic!("loading the observer: {e}"));
        rig.landings(probes)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for ns in [&self.router, &self.probe] {
            if let Err(e) = netns::run("ip", &["netns", "delete", ns]) {
                eprintln!("could not delete namespace {ns}: {e}");
            }
        }
    }
}

/// Addresses no router forwards or accepts from outside (0/8, loopback, multicast and above)
/// and the router's own, which would be martian sources.
fn usable(a: u32, as_source: bool) -> bool {
    let top = a >> 24;
    let own = ROUTER_ADDRS.iter().any(|(_, r)| r.parse::<Ipv4Addr>().map(u32::from) == Ok(a));
    top != 0 && top != 127 && top < 224 && !(as_source && own)
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }

    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }

    fn in_net(&mut self, n: &ipnetwork::Ipv4Network) -> u32 {
        let lo = u32::from(n.network());
        let hi = u32::from(n.broadcast());
        match self.below(3) {
            0 => lo,
            1 => hi,
            _ => lo + (self.below((hi - lo) as usize + 1) as u32),
        }
    }

    fn in_range(&mut self, (a, b): (u16, u16)) -> u16 {
        match self.below(3) {
            0 => a,
            1 => b,
            _ => a + self.below(usize::from(b - a) + 1) as u16,
        }
    }
}

fn proto_of(l4: L4) -> u8 {
    match l4 {
        L4::Tcp => 6,
        L4::Udp => 17,
        L4::Udplite => 136,
        L4::Sctp => 132,
        L4::Dccp => 33,
    }
}

/// `count` probes, each built to match a randomly chosen rule (its positive matches) and then,
/// one time in three, with one field moved to a neighbouring value the rules name. Only TCP and
/// UDP; no two probes share a 5-tuple (conntrack would merge them).
fn probes(rs: &Ruleset, count: usize, seed: u64) -> Vec<Probe> {
    let (addrs, ports, _) = pools(rs);
    let addr_set = |id: &overlayfw::ir::SetId| -> Vec<ipnetwork::Ipv4Network> {
        match rs.sets.get(id.0 as usize).map(|s| &s.elements) {
            Some(SetElements::Addrs(n)) => n.clone(),
            _ => Vec::new(),
        }
    };
    let port_set = |id: &overlayfw::ir::SetId| -> Vec<(u16, u16)> {
        match rs.sets.get(id.0 as usize).map(|s| &s.elements) {
            Some(SetElements::Ports(p)) => p.clone(),
            _ => Vec::new(),
        }
    };
    let rules: Vec<_> =
        rs.chains.iter().flat_map(|c| &c.rules).filter(|r| r.origin.is_some()).collect();
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    let mut tuples = HashSet::new();
    let mut attempts = 0;
    while out.len() < count && attempts < count * 20 {
        attempts += 1;
        let mut p = Probe {
            id: 0,
            iif: rng.pick(&INGRESS),
            saddr: rng.pick(&addrs),
            daddr: rng.pick(&addrs),
            proto: rng.pick(&[6, 17]),
            sport: rng.pick(&ports),
            dport: rng.pick(&ports),
            syn: rng.below(4) != 0,
        };
        let rule = rules[rng.below(rules.len())];
        let addr = |rng: &mut Rng, m: &AddrMatch| -> Option<u32> {
            let nets = match m {
                AddrMatch::Nets(n) => n.to_vec(),
                AddrMatch::Set(name) => addr_set(name),
                AddrMatch::Range(lo, hi) => {
                    vec![
                        ipnetwork::Ipv4Network::new(*lo, 32).ok()?,
                        ipnetwork::Ipv4Network::new(*hi, 32).ok()?,
                    ]
                }
                // Its one address with no bits outside the mask matches.
                AddrMatch::Masked { addr, .. } => {
                    vec![ipnetwork::Ipv4Network::new(*addr, 32).ok()?]
                }
            };
            if nets.is_empty() {
                return None;
            }
            let i = rng.below(nets.len());
            Some(rng.in_net(&nets[i]))
        };
        for m in &rule.matches {
            match m {
                Match::IifName { neg: false, name } => {
                    let prefix = name.trim_end_matches('*');
                    let fits: Vec<&'static str> = INGRESS
                        .iter()
                        .copied()
                        .filter(|i| {
                            if name.ends_with('*') { i.starts_with(prefix) } else { *i == &**name }
                        })
                        .collect();
                    if !fits.is_empty() {
                        p.iif = rng.pick(&fits);
                    }
                }
                Match::Saddr { neg: false, addrs } => {
                    p.saddr = addr(&mut rng, addrs).unwrap_or(p.saddr)
                }
                Match::Daddr { neg: false, addrs } => {
                    p.daddr = addr(&mut rng, addrs).unwrap_or(p.daddr)
                }
                Match::Protocol { neg: false, proto } if [6, 17].contains(proto) => {
                    p.proto = *proto
                }
                Match::Port { proto, dir, neg: false, ports }
                    if matches!(proto, L4::Tcp | L4::Udp) =>
                {
                    p.proto = proto_of(*proto);
                    let ranges = match ports {
                        PortMatch::Ports(r) => r.to_vec(),
                        PortMatch::Set(name) => port_set(name),
                    };
                    if !ranges.is_empty() {
                        let i = rng.below(ranges.len());
                        let v = rng.in_range(ranges[i]);
                        *if *dir == Dir::Src { &mut p.sport } else { &mut p.dport } = v;
                    }
                }
                Match::TcpSyn { neg } => {
                    p.proto = 6;
                    p.syn = !neg;
                }
                Match::Tuple(t) if !t.elements.is_empty() => {
                    let e = &t.elements[rng.below(t.elements.len())];
                    for (f, v) in t.fields.iter().zip(e) {
                        match (f, v) {
                            (Field::Saddr, Elem::Net(n)) => p.saddr = rng.in_net(n),
                            (Field::Daddr, Elem::Net(n)) => p.daddr = rng.in_net(n),
                            (Field::L4Proto, Elem::L4(l4)) => p.proto = proto_of(*l4),
                            (Field::Port(l4, dir), Elem::Ports(a, b)) => {
                                p.proto = proto_of(*l4);
                                let v = rng.in_range((*a, *b));
                                *if *dir == Dir::Src { &mut p.sport } else { &mut p.dport } = v;
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if let Action::DnatMap { proto, entries } = &rule.action
            && !entries.is_empty()
        {
            p.proto = proto_of(*proto);
            p.dport = entries[rng.below(entries.len())].0;
        }
        match rng.below(12) {
            0 => p.saddr = rng.pick(&addrs),
            1 => p.daddr = rng.pick(&addrs),
            2 => p.dport = rng.pick(&ports),
            3 => p.iif = rng.pick(&INGRESS),
            _ => {}
        }
        if !usable(p.saddr, true) || !usable(p.daddr, false) {
            continue;
        }
        if tuples.insert((p.saddr, p.daddr, p.proto, p.sport, p.dport)) {
            p.id = u16::try_from(out.len() + 1).expect("fewer than 65535 probes");
            out.push(p);
        }
    }
    out
}

/// The policy with a last FORWARD rule that rejects. The default policy accepts, so without it a
/// FORWARD ACCEPT and falling off the chain land alike; with it, a DROP and falling off land
/// alike (and a port-forward that then falls off is rejected too). Each policy is probed both
/// ways.
fn with_reject_tail(text: &str) -> String {
    format!("{text}FORWARD_CUST -j REJECT --reject-with icmp-port-unreachable\n")
}

/// Probes `plain` and its optimized form; returns (probes, landed, translated) after asserting
/// that every probe landed the same under both.
fn same_landings(name: &str, text: &str, count: usize) -> (usize, usize, usize) {
    let plain = compile(text);
    let mut optimized = plain.clone();
    let merges = overlayfw::optimize::optimize(&mut optimized);
    assert!(!merges.is_empty(), "{name}: nothing to optimize, nothing tested");
    let probes = probes(&plain, count, 0x9e37_79b9_7f4a_7c15);
    let a = Rig::run(&probes, &overlayfw::emit::nft_script(&plain));
    let b = Rig::run(&probes, &overlayfw::emit::nft_script(&optimized));
    let by_id: BTreeMap<u16, &Probe> = probes.iter().map(|p| (p.id, p)).collect();
    let mut differ = Vec::new();
    for id in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
        if a.get(id) != b.get(id) {
            differ.push(format!(
                "{:?}\n  plain:     {:?}\n  optimized: {:?}",
                by_id[id],
                a.get(id),
                b.get(id)
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{name}: {} probes land differently:\n{}",
        differ.len(),
        differ.join("\n")
    );
    // Forwarded (not an ICMP error) with an address rewritten.
    let translated = a
        .iter()
        .filter(|(id, l)| {
            let p = by_id[*id];
            l.iter().any(|l| l.3 != 1 && (u32::from(l.1) != p.saddr || u32::from(l.2) != p.daddr))
        })
        .count();
    (probes.len(), a.len(), translated)
}

#[test]
fn optimized_policies_forward_probe_packets_like_the_plain_ones() {
    if !netns::require_root() {
        return;
    }
    for (name, text, count) in [
        ("generated 2,000-rule policy", policy(2000), 3000),
        ("edge cases", EDGE_POLICY.to_owned(), 1500),
    ] {
        for (tail, text) in [("", text.clone()), (" + REJECT tail", with_reject_tail(&text))] {
            let (sent, landed, translated) = same_landings(name, &text, count);
            eprintln!(
                "{name}{tail}: {sent} probes, {landed} arrived alike under both (forwarded or \
                 rejected), {translated} of them forwarded with NAT"
            );
            // Not vacuous: many probes must cross the router, some translated, some stopped.
            assert!(sent >= count / 2, "{name}: only {sent} probes");
            assert!(landed * 10 >= sent && landed < sent, "{name}: {landed} of {sent} landed");
            if tail.is_empty() {
                assert!(translated > 0, "{name}: no probe was translated");
            }
        }
    }
}

#[test]
fn the_probe_harness_sees_a_changed_policy() {
    if !netns::require_root() {
        return;
    }
    // Dropping a port-forward that some probe uses must change where that probe lands.
    let text = policy(400);
    let plain = compile(&text);
    let probes = probes(&plain, 800, 7);
    let used = |l: &&str| {
        l.contains("-j DNAT")
            && probes.iter().any(|p| {
                p.iif == "eth0" && p.proto == 6 && l.contains(&format!(" --dport {} ", p.dport))
            })
    };
    let line = text.lines().position(|l| used(&l)).expect("a DNAT line some probe uses");
    let changed: String = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != line)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let a = Rig::run(&probes, &overlayfw::emit::nft_script(&plain));
    let b = Rig::run(&probes, &overlayfw::emit::nft_script(&compile(&changed)));
    let differ = probes.iter().filter(|p| a.get(&p.id) != b.get(&p.id)).count();
    let removed = text.lines().nth(line).unwrap_or_default();
    assert!(differ > 0, "removing `{removed}` went unnoticed");
}

/// A merged rule's counter counts the packets its rules matched, no more: a DNAT map, a verdict
/// map and a concatenated verdict map each see packets that pass every rule of their run (the
/// same interface and protocol, another port or address), which must leave the counter as the
/// plain rules left theirs. Its `counter` once stood before the map lookup and counted every new
/// connection on the interface.
#[test]
fn merged_counters_count_only_the_merged_rules_packets() {
    if !netns::require_root() {
        return;
    }
    let text = "PREROUTING_CUST -i eth0 -p tcp --dport 80 -j DNAT --to 198.51.100.2:8080\n\
                PREROUTING_CUST -i eth0 -p tcp --dport 82 -j DNAT --to 198.51.100.3:8081\n\
                FORWARD_CUST -i tun0 -p tcp --dport 22 -j ACCEPT\n\
                FORWARD_CUST -i tun0 -p tcp --dport 24 -j DROP\n\
                FORWARD_CUST -i plugin0 -d 10.1.0.0/16 -p tcp --dport 24 -j ACCEPT\n\
                FORWARD_CUST -i plugin0 -d 10.2.0.0/16 -p tcp --dport 24 -j DROP\n";
    let plain = compile(text);
    let mut optimized = plain.clone();
    let merges = overlayfw::optimize::optimize(&mut optimized);
    let into: Vec<&str> = merges.iter().map(|m| m.into.as_str()).collect();
    assert_eq!(merges.len(), 3, "{into:?}");
    assert!(into[0].contains("dnat to tcp dport map"), "{into:?}");
    assert!(into[1].contains("tcp dport vmap") && into[2].contains(". tcp dport vmap"));
    // Single ports: the key sets are keyed with the protocol.
    assert!(into[..2].iter().all(|m| m.contains("meta l4proto . tcp dport {")), "{into:?}");
    let ip = |s: &str| u32::from(s.parse::<Ipv4Addr>().expect("address"));
    let probe = |id: u16, iif: &'static str, daddr: &str, dport: u16| Probe {
        id,
        iif,
        saddr: ip("100.64.0.9"),
        daddr: ip(daddr),
        proto: 6,
        sport: 40_000 + id,
        dport,
        syn: true,
    };
    let misses = [
        // Not port-forwarded (the nat chain sees each: a new connection), 81 between the
        // forwarded ports.
        probe(1, "eth0", "10.0.1.120", 81),
        probe(2, "eth0", "10.0.1.120", 443),
        probe(3, "eth0", "10.0.1.120", 22),
        // Forwarded, on another port than the verdict map's.
        probe(4, "tun0", "203.0.113.7", 23),
        probe(5, "tun0", "203.0.113.7", 80),
        // Forwarded, outside the concatenation: right port, other address, or the reverse.
        probe(6, "plugin0", "10.3.0.1", 24),
        probe(7, "plugin0", "10.1.0.1", 25),
    ];
    let hits = [
        probe(11, "eth0", "10.0.1.120", 80),
        probe(12, "eth0", "10.0.1.120", 82),
        probe(13, "eth0", "10.0.1.120", 82),
        probe(14, "tun0", "203.0.113.7", 22),
        probe(15, "tun0", "203.0.113.7", 24),
        probe(16, "plugin0", "10.1.0.1", 24),
    ];
    // (line of the merged rule, lines of the plain rules, packets the run matched)
    let runs = [(1, [1, 2], 3), (3, [3, 4], 2), (5, [5, 6], 1)];
    let counters = |rs: &Ruleset, probes: &[Probe]| {
        let rig = Rig::new();
        rig.nft(&overlayfw::emit::nft_script(rs)).unwrap_or_else(|e| panic!("loading: {e}"));
        rig.landings(probes);
        let listing = netns::run(
            "ip",
            &["netns", "exec", &rig.router, "nft", "-j", "list", "table", "ip", "overlayfw"],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_str::<serde_json::Value>(&listing).expect("nft -j")
    };
    let count = |listing: &serde_json::Value, rs: &Ruleset, line: u32| {
        netns::packets_at(listing, rs, "p.rules", line)
            .unwrap_or_else(|| panic!("no counter for p.rules:{line}"))
    };
    // Misses only: every merged counter stays at 0.
    let listing = counters(&optimized, &misses);
    for (merged, _, _) in runs {
        let c = count(&listing, &optimized, merged);
        assert_eq!(c, 0, "merged rule {merged} counted packets its rules do not match");
    }
    // Misses and hits: each merged counter equals the plain rules' counters together.
    let all: Vec<Probe> = misses.iter().chain(&hits).cloned().collect();
    let (plain_listing, optimized_listing) = (counters(&plain, &all), counters(&optimized, &all));
    for (merged, lines, matched) in runs {
        let plain_sum: u64 = lines.iter().map(|&l| count(&plain_listing, &plain, l)).sum();
        assert_eq!(plain_sum, matched, "the plain rules {lines:?}");
        assert_eq!(count(&optimized_listing, &optimized, merged), matched, "merged {merged}");
    }
}

/// W107's premise, checked in the kernel: after DNAT a connection's first packet crosses
/// FORWARD as NEW, so a FORWARD that accepts only ESTABLISHED,RELATED before its drop-all
/// drops every port forward of the trigger case, and the near-miss's accepts let each through.
#[test]
fn w107_cases_forward_as_the_lint_says() {
    if !netns::require_root() {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let case = |name: &str| {
        let text = std::fs::read_to_string(root.join("tests/cases/lint").join(name)).expect("case");
        overlayfw::emit::nft_script(&compile(&text))
    };
    let ip = |s: &str| u32::from(s.parse::<Ipv4Addr>().expect("address"));
    let probe = |id: u16, proto: u8, dport: u16| Probe {
        id,
        iif: "eth0",
        saddr: ip("203.0.113.50"),
        daddr: ip("10.0.1.120"),
        proto,
        sport: 41_000 + id,
        dport,
        syn: true,
    };
    let landed =
        |seen: &BTreeMap<u16, BTreeSet<Landing>>, id: u16| -> Vec<(String, Ipv4Addr, u16)> {
            seen.get(&id).into_iter().flatten().map(|l| (l.0.clone(), l.2, l.5)).collect()
        };
    // The trigger case: both port forwards (2222 and 8080) are dropped.
    let probes = [probe(1, 6, 2222), probe(2, 6, 8080)];
    let seen = Rig::run(&probes, &case("W107-established-first.rules"));
    assert!(seen.is_empty(), "W107 says these are dropped, yet they arrived: {seen:?}");
    // The near-miss: each arrives on the plugin bridge's side, translated.
    let probes = [probe(1, 6, 2222), probe(2, 6, 8080), probe(3, 17, 5000)];
    let seen = Rig::run(&probes, &case("W107-established-near-miss.rules"));
    let plugin = |addr: &str, port: u16| {
        vec![("c_plugin0".to_string(), addr.parse().expect("address"), port)]
    };
    assert_eq!(landed(&seen, 1), plugin("198.51.100.2", 22), "{seen:?}");
    assert_eq!(landed(&seen, 2), plugin("198.51.100.3", 80), "{seen:?}");
    assert_eq!(landed(&seen, 3), plugin("198.51.100.4", 5000), "{seen:?}");
}
