//! `compile --optimize`: merges runs of rules into sets, concatenations and DNAT maps where the
//! result is provably the same policy, and reports each merge.
//!
//! A run is a stretch of consecutive rules of one chain (so first-match order is untouched) that
//! differ only in "key" fields and share everything else: the other matches, equal and in the
//! same order, and the action.
//! - Verdict runs (accept, drop, reject, return: terminal, so a packet meets at most one rule of
//!   the run) whose keys are non-negated address lists or port lists become one rule whose key
//!   is the union: one field → an anonymous set, several → a concatenation of the tuples. A
//!   concatenation may not hold overlapping tuples (the kernel refuses them), so a run ends
//!   before a rule whose tuple overlaps one already taken.
//! - DNAT runs whose one key is a single destination port become one `dnat to … map`; a run
//!   ends before a port it already holds (first match wins, a map holds one entry per key).
//! - Runs that mix accept and drop become one verdict map (`… vmap { K : accept, K : drop }`)
//!   when that is longer than the set run at the same place. A map gives one verdict per key,
//!   so no two keys of the run may overlap at all (first match would decide between them); with
//!   one field only single values are taken (an interval map would join neighbouring values
//!   whatever their verdicts).
//!
//! Counters: a merged rule's `counter` counts what the run's rules counted together. A map's
//! keys are therefore also matched as a set before the counter (`meta l4proto . tcp dport {
//! tcp . 80, tcp . 443 } counter dnat to tcp dport map { 80 : …, 443 : … }`): a packet the map
//! misses goes on to the next rule uncounted, as it passed every rule of the run.
//!
//! A one-field union (a run's keys, a map's keys) is written with adjacent values joined, the
//! fewest networks or port ranges (nft would join them while loading, at a cost per element),
//! and single ports keyed with their protocol, as above: the kernel keeps a set of bare ports
//! as a bitmap, slow to fill (see [`port_union`]).
//!
//! Rules naming different input interfaces are disjoint, so a stretch of them is first grouped
//! by interface (keeping order within each), which lets interleaved runs merge.
//!
//! Never merged: rules with a `limit` (each has its own token bucket), non-terminal actions
//! (log, counting, mirroring, jumps: a packet may meet several), negated keys (the union of
//! negations is not the negation of the union), named sets, ranges, bit tests (`tcp flags`,
//! ct state): those stay in the shared part, compared for equality only.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

use crate::ir::{
    Action, AddrMatch, Chain, Dir, Elem, Field, L4, MapVerdict, Match, Origin, PortMatch, Rule,
    Ruleset, Set, Tuple, Vmap,
};

/// One merge: which rules became which.
#[derive(Clone, Debug)]
pub struct Merge {
    pub chain: String,
    /// The rules merged, in order.
    pub origins: Vec<Origin>,
    /// How many rules the run had.
    pub count: usize,
    /// The merged rule, as nft text.
    pub into: String,
}

/// Optimizes every chain in place (and says so in the version chain's name); returns the
/// merges made.
pub fn optimize(rs: &mut Ruleset) -> Vec<Merge> {
    rs.mark_optimized();
    let mut merges = Vec::new();
    for chain in &mut rs.chains {
        optimize_chain(chain, &rs.sets, &mut merges);
    }
    merges
}

/// The key fields of a rule and the rest; `None` when the rule may not be merged at all.
struct Split {
    /// (position in `matches`, field, values).
    keys: Vec<(usize, Field, Vec<Elem>)>,
    rest: Vec<Match>,
}

fn split(rule: &Rule) -> Option<Split> {
    // Terminal actions: a packet that meets one leaves the chain, so it meets at most one
    // rule of a run. A DNAT only to one address, not at random (a DNAT map's entry holds one).
    let mergeable = match &rule.action {
        Action::Dnat { to, flags } => flags.is_empty() && to.addr_end.is_none(),
        a => a.is_terminal(),
    };
    // A limit's bucket and an nth statistic's counter belong to their rule.
    let stateful =
        |m: &Match| matches!(m, Match::Limit { .. } | Match::Nth { .. } | Match::Quota { .. });
    if !mergeable || rule.matches.iter().any(stateful) {
        return None;
    }
    let mut keys = Vec::new();
    let mut rest = Vec::new();
    for (i, m) in rule.matches.iter().enumerate() {
        match m {
            Match::Saddr { neg: false, addrs: AddrMatch::Nets(n) } if !n.is_empty() => {
                keys.push((i, Field::Saddr, n.iter().map(|n| Elem::Net(*n)).collect()));
            }
            Match::Daddr { neg: false, addrs: AddrMatch::Nets(n) } if !n.is_empty() => {
                keys.push((i, Field::Daddr, n.iter().map(|n| Elem::Net(*n)).collect()));
            }
            Match::Port { proto, dir, neg: false, ports: PortMatch::Ports(p) } if !p.is_empty() => {
                keys.push((
                    i,
                    Field::Port(*proto, *dir),
                    p.iter().map(|&(a, b)| Elem::Ports(a, b)).collect(),
                ));
            }
            other => rest.push(other.clone()),
        }
    }
    if keys.is_empty()
        || keys.iter().map(|k| k.1).collect::<std::collections::BTreeSet<_>>().len() != keys.len()
    {
        return None;
    }
    Some(Split { keys, rest })
}

/// Whether two rules may be in one run: same key fields at the same places, same rest, same
/// action shape.
fn compatible(a: &Rule, sa: &Split, b: &Rule, sb: &Split) -> bool {
    let same_action = match (&a.action, &b.action) {
        (Action::Dnat { to: x, .. }, Action::Dnat { to: y, .. }) => {
            x.ports.is_some() == y.ports.is_some()
        }
        (x, y) => x == y,
    };
    alike(sa, sb) && same_action
}

/// Same key fields at the same places, same rest.
fn alike(sa: &Split, sb: &Split) -> bool {
    sa.keys.len() == sb.keys.len()
        && sa.keys.iter().zip(&sb.keys).all(|(x, y)| x.0 == y.0 && x.1 == y.1)
        && sa.rest == sb.rest
}

/// The verdict a verdict map can give for this action.
fn map_verdict(a: &Action) -> Option<MapVerdict> {
    match a {
        Action::Accept => Some(MapVerdict::Accept),
        Action::Drop => Some(MapVerdict::Drop),
        _ => None,
    }
}

/// The exact, positive input interface of a rule, if it has one.
fn exact_iif(rule: &Rule) -> Option<&str> {
    rule.matches.iter().find_map(|m| match m {
        Match::IifName { neg: false, name } if !name.ends_with('*') => Some(&**name),
        _ => None,
    })
}

/// Rules with different exact input interfaces never match the same packet, so within a
/// stretch of rules that all name one, their order across interfaces does not matter: group
/// them by interface (stable, so order within an interface is kept), which makes longer runs.
fn group_by_input_interface(rules: Vec<Rule>) -> Vec<Rule> {
    let mut out = Vec::with_capacity(rules.len());
    let mut stretch: Vec<Rule> = Vec::new();
    let flush = |stretch: &mut Vec<Rule>, out: &mut Vec<Rule>| {
        let mut order: Vec<String> = Vec::new();
        let mut groups: HashMap<String, Vec<Rule>> = HashMap::new();
        for r in stretch.drain(..) {
            let key = exact_iif(&r).expect("stretch rules name one").to_string();
            if !groups.contains_key(&key) {
                order.push(key.clone());
            }
            groups.entry(key).or_default().push(r);
        }
        for k in order {
            out.extend(groups.remove(&k).expect("grouped"));
        }
    };
    for r in rules {
        if exact_iif(&r).is_some() {
            stretch.push(r);
        } else {
            flush(&mut stretch, &mut out);
            out.push(r);
        }
    }
    flush(&mut stretch, &mut out);
    out
}

fn optimize_chain(chain: &mut Chain, sets: &[Set], merges: &mut Vec<Merge>) {
    let rules = group_by_input_interface(std::mem::take(&mut chain.rules));
    let splits: Vec<Option<Split>> = rules.iter().map(split).collect();
    let mut out = Vec::with_capacity(rules.len());
    let mut i = 0;
    while i < rules.len() {
        let Some(first) = &splits[i] else {
            out.push(rules[i].clone());
            i += 1;
            continue;
        };
        let (end, vmap) = if matches!(rules[i].action, Action::Dnat { .. }) {
            (dnat_run(&rules, &splits, i), false)
        } else {
            let set_end = set_run(&rules, &splits, i);
            let vmap_end = vmap_run(&rules, &splits, i);
            if vmap_end > set_end { (vmap_end, true) } else { (set_end, false) }
        };
        if end - i < 2 {
            out.push(rules[i].clone());
            i += 1;
            continue;
        }
        let merged = if vmap {
            merge_vmap(&rules[i..end], &splits[i..end], first)
        } else {
            merge(&rules[i..end], &splits[i..end], first)
        };
        merges.push(Merge {
            chain: chain.name.clone(),
            origins: rules[i..end].iter().filter_map(|r| r.origin.clone()).collect(),
            count: end - i,
            into: crate::emit::rule_text(&merged, sets),
        });
        out.push(merged);
        i = end;
    }
    chain.rules = out;
}

/// End (exclusive) of the DNAT run starting at `start`: one single-port destination key,
/// distinct ports.
fn dnat_run(rules: &[Rule], splits: &[Option<Split>], start: usize) -> usize {
    let single_port = |s: &Split| match s.keys.as_slice() {
        [(_, Field::Port(_, Dir::Dst), v)] => match v.as_slice() {
            [Elem::Ports(a, b)] if a == b => Some(*a),
            _ => None,
        },
        _ => None,
    };
    let first = splits[start].as_ref().expect("checked");
    let single_target = |r: &Rule| {
        matches!(&r.action, Action::Dnat { to, flags }
            if flags.is_empty() && to.addr_end.is_none() && to.ports.is_none_or(|(a, b)| a == b))
    };
    let Some(p) = single_port(first).filter(|_| single_target(&rules[start])) else {
        return start + 1;
    };
    let mut seen = std::collections::HashSet::from([p]);
    let mut end = start + 1;
    while let Some(Some(s)) = splits.get(end) {
        let fits = compatible(&rules[start], first, &rules[end], s) && single_target(&rules[end]);
        match (fits, single_port(s)) {
            (true, Some(p)) if seen.insert(p) => end += 1,
            _ => break,
        }
    }
    end
}

/// Whether two values of one field overlap.
fn overlap(a: &Elem, b: &Elem) -> bool {
    match (a, b) {
        (Elem::Net(x), Elem::Net(y)) => x.contains(y.network()) || y.contains(x.network()),
        (Elem::Ports(a1, a2), Elem::Ports(b1, b2)) => a1 <= b2 && b1 <= a2,
        (Elem::L4(a), Elem::L4(b)) => a == b,
        _ => true,
    }
}

fn single(e: &Elem) -> Option<u64> {
    match e {
        Elem::Net(n) if n.prefix() == 32 => Some(u64::from(u32::from(n.ip()))),
        Elem::Ports(a, b) if a == b => Some(u64::from(*a) | 1 << 40),
        _ => None,
    }
}

/// Cartesian product of a rule's key values: its tuples.
fn tuples(s: &Split) -> Vec<Vec<Elem>> {
    let mut out = vec![Vec::new()];
    for (_, _, values) in &s.keys {
        out = out
            .iter()
            .flat_map(|t| values.iter().map(move |v| [t.clone(), vec![*v]].concat()))
            .collect();
    }
    out
}

/// Tuples of one run, with an index for the overlap check: tuples can only overlap when they
/// agree on a field that holds single values (bucketed), else they are compared pairwise, which
/// `MAX_UNBUCKETED` bounds.
struct Tuples {
    all: Vec<Vec<Elem>>,
    bucket_field: Option<usize>,
    buckets: HashMap<u64, Vec<usize>>,
    /// No overlap at all, also with one field (a verdict map).
    strict: bool,
}

const MAX_UNBUCKETED: usize = 64;

impl Tuples {
    /// An empty holder for a run starting with `first`: bucketed on the first field that holds
    /// single values only in `first`'s tuples.
    fn new(first: &[Vec<Elem>], strict: bool) -> Tuples {
        let fields = first.first().map_or(0, Vec::len);
        let bucket_field = (0..fields).find(|&f| first.iter().all(|t| single(&t[f]).is_some()));
        Tuples { all: Vec::new(), bucket_field, buckets: HashMap::new(), strict }
    }

    /// Adds a rule's tuples unless one overlaps a tuple already held.
    fn try_add(&mut self, new: Vec<Vec<Elem>>) -> bool {
        let fields = new.first().map_or(0, Vec::len);
        if fields == 1 && !self.strict {
            // One field: an anonymous interval set, which merges overlaps itself.
            self.all.extend(new);
            return true;
        }
        for t in &new {
            let candidates: Vec<usize> = match self.bucket_field {
                Some(f) => match single(&t[f]) {
                    Some(k) => self.buckets.get(&k).cloned().unwrap_or_default(),
                    None => return false,
                },
                None if self.all.len() + new.len() > MAX_UNBUCKETED => return false,
                None => (0..self.all.len()).collect(),
            };
            if candidates.iter().any(|&c| self.all[c].iter().zip(t).all(|(a, b)| overlap(a, b))) {
                return false;
            }
        }
        // Within the rule itself (a product of lists) tuples differ in some list: no overlap
        // unless a list overlaps itself, which `-s a,b` with a inside b would.
        for (x, tx) in new.iter().enumerate() {
            for ty in &new[x + 1..] {
                if tx.iter().zip(ty).all(|(a, b)| overlap(a, b)) {
                    return false;
                }
            }
        }
        for t in new {
            if let Some(f) = self.bucket_field {
                let k = single(&t[f]).expect("checked above");
                self.buckets.entry(k).or_default().push(self.all.len());
            }
            self.all.push(t);
        }
        true
    }
}

/// End (exclusive) of the verdict run starting at `start`.
fn set_run(rules: &[Rule], splits: &[Option<Split>], start: usize) -> usize {
    let first = splits[start].as_ref().expect("checked");
    let first_tuples = tuples(first);
    // Bound the product a single rule may contribute (a rule with long lists stays as it is).
    if first_tuples.len() > 1024 {
        return start + 1;
    }
    let mut acc = Tuples::new(&first_tuples, false);
    if !acc.try_add(first_tuples) {
        return start + 1;
    }
    let mut end = start + 1;
    while let Some(Some(s)) = splits.get(end) {
        let t = tuples(s);
        if t.len() > 1024 || !compatible(&rules[start], first, &rules[end], s) || !acc.try_add(t) {
            break;
        }
        end += 1;
    }
    end
}

/// End (exclusive) of the verdict-map run starting at `start`: accept and drop rules alike in
/// all but keys and verdict, no two tuples overlapping, single values when there is one field.
/// A run of one verdict only is left to [`set_run`].
fn vmap_run(rules: &[Rule], splits: &[Option<Split>], start: usize) -> usize {
    let first = splits[start].as_ref().expect("checked");
    let Some(first_verdict) = map_verdict(&rules[start].action) else { return start + 1 };
    let one_field = first.keys.len() == 1;
    let fits = |t: &[Vec<Elem>]| {
        t.len() <= 1024 && (!one_field || t.iter().all(|v| single(&v[0]).is_some()))
    };
    let first_tuples = tuples(first);
    if !fits(&first_tuples) {
        return start + 1;
    }
    let mut acc = Tuples::new(&first_tuples, true);
    if !acc.try_add(first_tuples) {
        return start + 1;
    }
    let (mut end, mut mixed) = (start + 1, false);
    while let Some(Some(s)) = splits.get(end) {
        let Some(v) = map_verdict(&rules[end].action) else { break };
        let t = tuples(s);
        if !alike(first, s) || !fits(&t) || !acc.try_add(t) {
            break;
        }
        mixed |= v != first_verdict;
        end += 1;
    }
    if mixed { end } else { start + 1 }
}

/// The rule a verdict-map run becomes: the run's matches with the keys replaced by their union
/// (see [`union_matches`]), then the map of every rule's tuples to its verdict.
fn merge_vmap(run: &[Rule], splits: &[Option<Split>], first: &Split) -> Rule {
    let mut entries: Vec<(Vec<Elem>, MapVerdict)> = run
        .iter()
        .zip(splits)
        .flat_map(|(r, s)| {
            let v = map_verdict(&r.action).expect("vmap run");
            tuples(s.as_ref().expect("in run")).into_iter().map(move |t| (t, v))
        })
        .collect();
    entries.sort_unstable();
    let fields = first.keys.iter().map(|k| k.1).collect();
    Rule {
        matches: union_matches(run, splits, first),
        action: Action::Vmap(Box::new(Vmap { fields, entries })),
        origin: merged_origin(run),
    }
}

/// The origin of a merged rule: the first rule's, noting how many more were merged into it.
fn merged_origin(run: &[Rule]) -> Option<Origin> {
    let note = Some(format!("+{} merged", run.len() - 1).into_boxed_str());
    run[0].origin.clone().map(|o| Origin { note, ..o })
}

/// The rule a run becomes: its matches with the keys replaced by their union (see
/// [`union_matches`]), and the shared action, or for DNAT the map of each rule's port to its
/// target.
fn merge(run: &[Rule], splits: &[Option<Split>], first: &Split) -> Rule {
    let head = &run[0];
    let matches = union_matches(run, splits, first);
    let origin = merged_origin(run);
    if let Action::Dnat { to, .. } = &head.action {
        let Field::Port(proto, _) = first.keys[0].1 else {
            unreachable!("dnat runs key on a port")
        };
        let mut entries: Vec<(u16, std::net::Ipv4Addr, Option<u16>)> = run
            .iter()
            .zip(splits)
            .map(|(r, s)| {
                let Elem::Ports(p, _) = s.as_ref().expect("in run").keys[0].2[0] else {
                    unreachable!()
                };
                let Action::Dnat { to, .. } = &r.action else { unreachable!("dnat run") };
                (p, to.addr, to.ports.map(|(a, _)| a))
            })
            .collect();
        entries.sort_unstable();
        debug_assert!(to.addr_end.is_none());
        return Rule {
            matches,
            action: Action::DnatMap { proto, entries: entries.into() },
            origin,
        };
    }
    Rule { matches, action: head.action.clone(), origin }
}

/// The first rule's matches with its keys replaced by the union of the run's keys: one field
/// gives an anonymous set (`ip saddr { 10.0.0.1, 10.0.0.2 }`, `tcp dport { 22, 30-31 }`, but
/// single ports with their protocol, see [`port_union`]), several a concatenation of the
/// tuples.
///
/// A verdict or DNAT map keeps this match in front of it although the map holds the same keys:
/// the rule's `counter` stands before the map lookup, and a packet the map misses would still
/// be counted. With the keys matched first, the counter counts exactly the packets one of the
/// merged rules matched, as each rule's own counter did.
fn union_matches(run: &[Rule], splits: &[Option<Split>], first: &Split) -> Box<[Match]> {
    let head = &run[0];
    let key_positions: Vec<usize> = first.keys.iter().map(|k| k.0).collect();
    let mut matches = Vec::with_capacity(head.matches.len());
    if first.keys.len() == 1 {
        let mut values: Vec<Elem> =
            splits.iter().flat_map(|s| s.as_ref().expect("in run").keys[0].2.clone()).collect();
        values.sort_unstable();
        values.dedup();
        for (i, m) in head.matches.iter().enumerate() {
            if i != key_positions[0] {
                matches.push(m.clone());
                continue;
            }
            matches.push(match first.keys[0].1 {
                Field::Saddr | Field::Daddr => {
                    let nets = net_union(&values).into();
                    if first.keys[0].1 == Field::Saddr {
                        Match::Saddr { neg: false, addrs: AddrMatch::Nets(nets) }
                    } else {
                        Match::Daddr { neg: false, addrs: AddrMatch::Nets(nets) }
                    }
                }
                Field::Port(proto, dir) => port_union(proto, dir, &values),
                Field::L4Proto => unreachable!("`split` never keys on the protocol"),
            });
        }
        return matches.into();
    }
    let mut elements: Vec<Vec<Elem>> =
        splits.iter().flat_map(|s| tuples(s.as_ref().expect("in run"))).collect();
    elements.sort_unstable();
    let fields: Vec<Field> = first.keys.iter().map(|k| k.1).collect();
    for (i, m) in head.matches.iter().enumerate() {
        if i == key_positions[0] {
            matches.push(Match::Tuple(Box::new(Tuple {
                fields: fields.clone(),
                elements: std::mem::take(&mut elements),
            })));
        } else if !key_positions.contains(&i) {
            matches.push(m.clone());
        }
    }
    matches.into()
}

/// Sorted inclusive intervals with overlapping and adjacent ones joined: the same values.
fn joined(mut ranges: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    ranges.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The union of a run's networks as the fewest networks that hold the same addresses
/// (`10.0.0.0/24, 10.0.1.0/24` is `10.0.0.0/23`): nft would merge them while loading, at a cost
/// per element given. Never more networks than given; never `0.0.0.0/0` (kept as given).
fn net_union(values: &[Elem]) -> Vec<Ipv4Network> {
    let given: Vec<Ipv4Network> =
        values.iter().map(|v| if let Elem::Net(n) = v { *n } else { unreachable!() }).collect();
    let ranges = given.iter().map(|n| (u32::from(n.network()), u32::from(n.broadcast())));
    let mut out = Vec::new();
    for (lo, hi) in joined(ranges.collect()) {
        // The largest aligned block at `lo` that ends by `hi`, and on.
        let (mut lo, hi) = (u64::from(lo), u64::from(hi));
        while lo <= hi {
            let mut size = 1u64 << lo.trailing_zeros().min(32);
            while lo + size - 1 > hi {
                size >>= 1;
            }
            let prefix = 32 - size.trailing_zeros() as u8;
            out.push(Ipv4Network::new(Ipv4Addr::from(lo as u32), prefix).expect("prefix <= 32"));
            lo += size;
        }
    }
    if out.iter().any(|n| n.prefix() == 0) { given } else { out }
}

/// The union of a run's ports with adjacent ones joined (`22, 23` is `22-23`), as nft would
/// join them while loading. Single ports only, at least two, are matched with their protocol,
/// `meta l4proto . tcp dport { tcp . 22, tcp . 80 }`, a hashed set: a set of bare ports (2-byte
/// keys) is a bitmap in the kernel, and each insert into one scans the elements it holds (the
/// times are in docs/optimize.md). A union with a range is an interval set, which has no such
/// cost, and keeps the plain form.
fn port_union(proto: L4, dir: Dir, values: &[Elem]) -> Match {
    let given = values.iter().map(|v| match v {
        Elem::Ports(a, b) => (u32::from(*a), u32::from(*b)),
        _ => unreachable!(),
    });
    // Joined ranges of u16 values stay within u16.
    let ports: Vec<(u16, u16)> =
        joined(given.collect()).into_iter().map(|(a, b)| (a as u16, b as u16)).collect();
    if ports.len() > 1 && ports.iter().all(|(a, b)| a == b) {
        return Match::Tuple(Box::new(Tuple {
            fields: vec![Field::L4Proto, Field::Port(proto, dir)],
            elements: ports
                .iter()
                .map(|&(p, _)| vec![Elem::L4(proto), Elem::Ports(p, p)])
                .collect(),
        }));
    }
    Match::Port { proto, dir, neg: false, ports: PortMatch::Ports(ports.into()) }
}

#[cfg(test)]
mod tests;
