//! Order lints within one VNS3 chain: a line that never matches (W109), an exact duplicate of an
//! earlier line (W102), a line shadowed by an earlier one (W101; W103 for a DNAT behind a DNAT),
//! and a catch-all verdict with lines after it (W105).
//!
//! Linear time: earlier terminating rules go into an index keyed by one exact field (source or
//! destination CIDR, destination port, input interface, protocol: of the rule's, the one whose
//! bucket holds the fewest rules so far); rules with
//! none of these ("wide" ones) go into a list of which only the first `WIDE_MAX` are kept. A
//! later rule looks up only the buckets of rules that could cover it (at most 33 CIDR
//! ancestors per address field, restricted to prefix lengths in use, plus three exact keys and
//! the wide list) and runs at most `CHECKS` covering tests. So each rule costs O(1) hash lookups
//! and covering tests: a 100,000-rule file is linted in linear time. A bound may hide a
//! shadowing, never invent one.

use crate::diagnostic::{Code, Diagnostic, Span};
use crate::ir::{Action, Match};
use crate::layout;
use crate::resolve::{Files, Placed, VChain};

use super::at;
use super::space::{self, Sets, Shape};

/// Covering tests per rule (alternative) at most.
const CHECKS: usize = 64;
/// Wide rules (no indexable field) kept per chain: the first ones, which shadow the most.
const WIDE_MAX: usize = 64;

/// Chains with fewer rules in all are linted on one thread.
const PARALLEL_MIN_RULES: usize = 4096;

pub fn lint(chains: &[VChain], files: &Files, sets: &Sets) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut seen: crate::fasthash::FxHashSet<(Code, Span)> = Default::default();
    for found in per_chain(chains, files, sets) {
        for d in found {
            // A bidirectional COPY line is in both mirror chains: report it once.
            if seen.insert((d.code, d.span())) {
                out.push(d);
            }
        }
    }
    out
}

/// Each chain's findings, in chain order. Chains are independent: with enough rules they are
/// shared out over the cores, largest first, each to the least loaded thread.
fn per_chain(chains: &[VChain], files: &Files, sets: &Sets) -> Vec<Vec<Diagnostic>> {
    per_chain_on(chains, files, sets, crate::parallel::threads())
}

fn per_chain_on(
    chains: &[VChain],
    files: &Files,
    sets: &Sets,
    threads: usize,
) -> Vec<Vec<Diagnostic>> {
    let total: usize = chains.iter().map(|c| c.rules.len()).sum();
    if threads <= 1 || chains.len() <= 1 || total < PARALLEL_MIN_RULES {
        return chains.iter().map(|c| lint_chain(c, files, sets)).collect();
    }
    let mut order: Vec<usize> = (0..chains.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(chains[i].rules.len()));
    let mut work: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new()); threads.min(chains.len())];
    for i in order {
        let least = work.iter_mut().min_by_key(|w| w.0).expect("at least one thread");
        least.0 += chains[i].rules.len();
        least.1.push(i);
    }
    let done = crate::parallel::map(work, |(_, mine)| {
        mine.into_iter().map(|i| (i, lint_chain(&chains[i], files, sets))).collect::<Vec<_>>()
    });
    let mut out: Vec<Vec<Diagnostic>> = vec![Vec::new(); chains.len()];
    for (i, found) in done.into_iter().flatten() {
        out[i] = found;
    }
    out
}

/// An exact key: an input interface is known by its number in [`Index::iface_ids`]. Eight
/// bytes, so that a table entry with its [`Bucket`] is 16 (the index of a 50,000-rule chain has
/// a table of 65,536 entries; a test holds the size).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Saddr(u32, u8),
    Daddr(u32, u8),
    Dport(u32),
    Iif(u32),
    Proto(u8),
}

/// `(network, prefix length)` when the intervals are exactly one CIDR other than /0.
fn cidr(v: &[(u32, u32)]) -> Option<(u32, u8)> {
    let [(lo, hi)] = v else { return None };
    let size = u64::from(hi - lo) + 1;
    if size.is_power_of_two() && u64::from(*lo) % size == 0 && size < (1 << 32) {
        Some((*lo, 32 - size.trailing_zeros() as u8))
    } else {
        None
    }
}

fn mask(len: u8) -> u32 {
    if len == 0 { 0 } else { u32::MAX << (32 - len) }
}

fn single_port(f: &space::Field) -> Option<u32> {
    match f.as_deref()? {
        [(a, b)] if a == b => Some(*a),
        _ => None,
    }
}

/// A plain (not negated, not wildcard) input interface name.
fn plain_iif<'a>(s: &Shape<'a>) -> Option<&'a str> {
    match s.iif() {
        Some((false, name)) if !name.ends_with('*') => Some(name),
        _ => None,
    }
}

/// The rules filed under one key: the last one filed, whose [`Index::next`] closes the ring
/// back to the first (a first and a last made an entry 20 bytes instead of 16), and how many
/// (counted up to `u16::MAX`: it only picks the emptier of a rule's buckets).
#[derive(Clone, Copy)]
struct Bucket {
    last: u32,
    len: u16,
}

struct Index<'a> {
    /// Per key, a list threaded through `next`: one small entry per key and four bytes per
    /// rule (a vector per key cost 60 bytes more per rule of a 100,000-rule chain).
    buckets: crate::fasthash::FxHashMap<Key, Bucket>,
    /// The plain input interfaces of the rules filed so far, numbered.
    iface_ids: crate::fasthash::FxHashMap<&'a str, u32>,
    /// For each rule filed, the next rule of its bucket; the last one's is the first.
    next: Vec<u32>,
    wide: Vec<usize>,
    /// Prefix lengths in use by `Saddr` / `Daddr` keys, one bit each.
    s_lens: u64,
    d_lens: u64,
    /// Reused for the keys of each lookup.
    keys: Vec<Key>,
}

impl<'a> Index<'a> {
    /// An index for a chain of `rules` rules.
    fn new(rules: usize) -> Index<'a> {
        Index {
            // Sized for a key per rule at once: growing it by doubling held the old and new
            // tables together (a 100,000-rule peak 1 MiB higher).
            buckets: crate::fasthash::FxHashMap::with_capacity_and_hasher(
                rules,
                Default::default(),
            ),
            iface_ids: Default::default(),
            next: vec![0; rules],
            wide: Vec::new(),
            s_lens: 0,
            d_lens: 0,
            keys: Vec::new(),
        }
    }

    /// Files the rule under whichever of its exact keys has the fewest rules so far, so that
    /// lookups stay short even when many rules share one value (a destination host, say).
    fn insert(&mut self, i: usize, s: &Shape<'a>) {
        let iif = plain_iif(s).map(|name| {
            let id = u32::try_from(self.iface_ids.len()).expect("fewer than 2^32 interfaces");
            Key::Iif(*self.iface_ids.entry(name).or_insert(id))
        });
        // The exact keys: address CIDRs, a single destination port, a plain input interface, a
        // single protocol; none for a wide rule.
        let sa = s.saddr.as_deref().and_then(cidr).map(|(n, l)| Key::Saddr(n, l));
        let da = s.daddr.as_deref().and_then(cidr).map(|(n, l)| Key::Daddr(n, l));
        let dport = single_port(&s.dport).map(Key::Dport);
        let proto = s.proto.single().map(Key::Proto);
        let keys = [sa, da, dport, iif, proto].into_iter().flatten();
        let best = keys.min_by_key(|&k| self.buckets.get(&k).map_or(0, |b| b.len));
        match best {
            None => {
                if self.wide.len() < WIDE_MAX {
                    self.wide.push(i);
                }
            }
            Some(k) => {
                match k {
                    Key::Saddr(_, l) => self.s_lens |= 1 << l,
                    Key::Daddr(_, l) => self.d_lens |= 1 << l,
                    _ => {}
                }
                let i = u32::try_from(i).expect("a chain has fewer than 2^32 rules");
                match self.buckets.entry(k) {
                    std::collections::hash_map::Entry::Occupied(mut e) => {
                        let b = e.get_mut();
                        let last = b.last as usize;
                        // Between the last and the first.
                        self.next[i as usize] = self.next[last];
                        self.next[last] = i;
                        b.last = i;
                        b.len = b.len.saturating_add(1);
                    }
                    std::collections::hash_map::Entry::Vacant(e) => {
                        self.next[i as usize] = i;
                        e.insert(Bucket { last: i, len: 1 });
                    }
                }
            }
        }
    }

    /// The keys under which a rule covering `b` may be filed.
    fn keys_for(&self, b: &Shape<'a>, keys: &mut Vec<Key>) {
        keys.clear();
        let addr = |f: &space::Field, lens: u64, mk: fn(u32, u8) -> Key, keys: &mut Vec<_>| {
            let Some(v) = f.as_deref() else { return };
            let (Some(first), Some(last)) = (v.first(), v.last()) else { return };
            let (lo, hi) = (first.0, last.1);
            for len in 1..=32u8 {
                if lens & (1 << len) != 0 && (lo ^ hi) & mask(len) == 0 {
                    keys.push(mk(lo & mask(len), len));
                }
            }
        };
        addr(&b.saddr, self.s_lens, Key::Saddr, keys);
        addr(&b.daddr, self.d_lens, Key::Daddr, keys);
        if let Some(p) = single_port(&b.dport) {
            keys.push(Key::Dport(p));
        }
        // An interface no filed rule has cannot key a covering rule.
        if let Some(&id) = plain_iif(b).and_then(|name| self.iface_ids.get(name)) {
            keys.push(Key::Iif(id));
        }
        if let Some(p) = b.proto.single() {
            keys.push(Key::Proto(p));
        }
    }

    /// The rules filed under `bucket`, in order.
    fn rules_of(&self, bucket: &Bucket) -> impl Iterator<Item = usize> + '_ {
        let last = bucket.last;
        let first = self.next[last as usize];
        let next = move |&a: &u32| (a != last).then(|| self.next[a as usize]);
        std::iter::successors(Some(first), next).map(|a| a as usize)
    }

    /// The earliest-found indexed rule that covers `b` and shares its projections, among the
    /// first `CHECKS` candidates.
    fn find(
        &mut self,
        b: &Shape<'a>,
        ok: impl Fn(usize) -> bool,
        shapes: &mut ShapeCache<'a, '_>,
    ) -> Option<usize> {
        let mut keys = std::mem::take(&mut self.keys);
        self.keys_for(b, &mut keys);
        let found = keys
            .iter()
            .filter_map(|k| self.buckets.get(k))
            .flat_map(|bucket| self.rules_of(bucket))
            .chain(self.wide.iter().copied())
            .take(CHECKS)
            .find(|&a| ok(a) && space::covers(shapes.get(a), b));
        self.keys = keys;
        found
    }
}

/// The shapes of the rules last tested as covering candidates, direct-mapped by rule index: the
/// rules at the head of a large bucket, tested for rule after rule, stay; others are made again
/// when needed (cheap). Keeping every rule's shape took 136 bytes a rule (13 MiB at the peak of
/// a 100,000-rule compile); making each anew for every test made a chain whose buckets are
/// all large 2.5x slower to lint.
struct ShapeCache<'a, 's> {
    rules: &'a [Placed],
    sets: &'s Sets,
    /// The rule whose shape each slot holds ([`ShapeCache::EMPTY`]: none yet).
    slots: Vec<(usize, Shape<'a>)>,
}

impl<'a, 's> ShapeCache<'a, 's> {
    const SLOTS: usize = 1024;
    const EMPTY: usize = usize::MAX;

    fn new(rules: &'a [Placed], sets: &'s Sets) -> Self {
        let slots = std::iter::repeat_with(|| (Self::EMPTY, Shape::universe()))
            .take(rules.len().min(Self::SLOTS))
            .collect();
        ShapeCache { rules, sets, slots }
    }

    fn get(&mut self, k: usize) -> &Shape<'a> {
        let n = self.slots.len();
        let slot = &mut self.slots[k % n];
        if slot.0 != k {
            slot.0 = k;
            space::shape_into(&self.rules[k].matches, self.sets, &mut slot.1);
        }
        &slot.1
    }
}

/// A hash of a line's rules that ignores match order (each match hashed alone, then summed):
/// lines with equal keys, the same packets and the same action hash alike. Lines whose hashes
/// agree are compared with [`same_line`].
fn line_hash(rules: &[Placed]) -> u64 {
    use std::hash::{Hash, Hasher};
    let one = |h: &dyn Fn(&mut crate::fasthash::FxHasher)| {
        let mut hasher = crate::fasthash::FxHasher::default();
        h(&mut hasher);
        hasher.finish()
    };
    let mut total = 0u64;
    for (i, p) in rules.iter().enumerate() {
        let mut sum = one(&|h| (i, &p.action).hash(h));
        for m in &p.matches {
            sum = sum.wrapping_add(one(&|h| m.hash(h)));
        }
        total = total.rotate_left(7) ^ sum;
    }
    total
}

/// Whether two lines have the same rules, matches compared as multisets.
fn same_line(a: &[Placed], b: &[Placed]) -> bool {
    fn sorted(p: &Placed) -> Vec<&Match> {
        let mut ms: Vec<&Match> = p.matches.iter().collect();
        ms.sort_unstable();
        ms
    }
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.action == y.action && x.matches.len() == y.matches.len() && sorted(x) == sorted(y)
        })
}

/// For W102: the lines whose rules an earlier line has (by where each starts), with where the
/// earliest such line starts. Found before the chain's other lints, by sorting the lines'
/// hashes (the low 32 bits of [`line_hash`], then the start: eight bytes a line, freed before
/// the index grows); lines whose hashes agree are compared with [`same_line`]. A table of the
/// lines seen, kept beside the index as the chain was linted, took 0.6 MiB of a 50,000-line
/// chain's lint.
fn duplicates(rules: &[Placed]) -> crate::fasthash::FxHashMap<u32, u32> {
    let to32 = |k: usize| u32::try_from(k).expect("a chain has fewer than 2^32 rules");
    let mut lines: Vec<u64> = Vec::with_capacity(rules.len());
    let mut i = 0;
    while i < rules.len() {
        let j = line_end(rules, i);
        lines.push(u64::from(line_hash(&rules[i..j]) as u32) << 32 | u64::from(to32(i)));
        i = j;
    }
    lines.sort_unstable();
    let mut dups = crate::fasthash::FxHashMap::default();
    // Distinct lines of a hash, in order: each line is compared with them.
    let mut firsts: Vec<std::ops::Range<usize>> = Vec::new();
    for group in lines.chunk_by(|a, b| a >> 32 == b >> 32).filter(|g| g.len() > 1) {
        firsts.clear();
        for &l in group {
            let start = (l & u64::from(u32::MAX)) as usize;
            let line = start..line_end(rules, start);
            match firsts.iter().find(|f| same_line(&rules[(*f).clone()], &rules[line.clone()])) {
                Some(f) => {
                    dups.insert(to32(start), to32(f.start));
                }
                None => firsts.push(line),
            }
        }
    }
    dups
}

/// Where the line whose first rule is `rules[i]` ends (a `-s`/`-d` list gives a line several
/// consecutive rules, alternatives).
fn line_end(rules: &[Placed], i: usize) -> usize {
    let span = rules[i].span;
    i + rules[i..].iter().take_while(|p| p.span == span).count()
}

/// A catch-all rule and the lines it leaves unreachable.
struct CatchAll {
    rule: usize,
    proj: u8,
    dead: usize,
    first_dead: Option<usize>,
}

fn lint_chain(chain: &VChain, files: &Files, sets: &Sets) -> Vec<Diagnostic> {
    let rules = &chain.rules;
    // First, while nothing else is held.
    let dups = duplicates(rules);
    // A rule's shape is made when the rule is looked at, and again (or found in the cache) for
    // the covering tests it is a candidate in. The line's shapes are made in place in `made`,
    // which grows to the longest line.
    let mut cache = ShapeCache::new(rules, sets);
    let mut made: Vec<Shape> = Vec::new();
    let proj: Vec<u8> =
        rules.iter().map(|p| layout::projections(chain.family, &p.action)).collect();
    let mut out = Vec::new();
    let mut index = Index::new(rules.len());
    let mut catch_alls: Vec<CatchAll> = Vec::new();
    let mut i = 0;
    while i < rules.len() {
        let line = i..line_end(rules, i);
        let b = &rules[i];
        i = line.end;
        // The shapes of the line's rules, `shapes[k - line.start]` for rule `k`.
        if made.len() < line.len() {
            made.resize_with(line.len(), Shape::universe);
        }
        for (s, k) in made.iter_mut().zip(line.clone()) {
            space::shape_into(&rules[k].matches, sets, s);
        }
        let shapes = &made[..line.len()];
        if let Some(field) = shapes.iter().map(Shape::empty_field).collect::<Option<Vec<_>>>() {
            out.push(
                Diagnostic::warning(
                    Code::W109,
                    format!(
                        "this rule never matches: no packet satisfies its {} matches",
                        field[0]
                    ),
                    b.span,
                )
                .with_label("matches nothing")
                .with_help("the matches contradict each other; fix or remove the line"),
            );
            continue;
        }
        if let Some(first) = dups.get(&(line.start as u32)).map(|&f| f as usize) {
            let a = &rules[first];
            out.push(
                Diagnostic::warning(
                    Code::W102,
                    format!("this rule is an exact duplicate of {}", at(a, b, files)),
                    b.span,
                )
                .with_label("duplicate")
                .with_secondary(a.span, "first written here")
                .with_help("remove one of the two lines"),
            );
            continue;
        }
        // Shadowed when every alternative is covered by an earlier terminating rule.
        let mut by_catch_all = None;
        let mut by_rule = None;
        let mut shadowed = true;
        for k in line.clone() {
            if let Some(c) = catch_alls.iter().position(|c| c.proj & proj[k] == proj[k]) {
                by_catch_all.get_or_insert(c);
                continue;
            }
            let ok = |a: usize| proj[a] & proj[k] == proj[k];
            match index.find(&shapes[k - line.start], ok, &mut cache) {
                Some(a) => {
                    by_rule.get_or_insert(a);
                }
                None => {
                    shadowed = false;
                    break;
                }
            }
        }
        if shadowed {
            match (by_rule, by_catch_all) {
                (Some(a), _) => out.push(shadowed_by(&rules[a], b, files)),
                (None, Some(c)) => {
                    let c = &mut catch_alls[c];
                    c.dead += 1;
                    c.first_dead.get_or_insert(line.start);
                }
                (None, None) => unreachable!("a shadowed line has a shadower"),
            }
            continue;
        }
        for k in line.clone() {
            if !rules[k].action.is_terminal() {
                continue;
            }
            let s = &shapes[k - line.start];
            if s.is_universe() {
                if !catch_alls.iter().any(|c| c.proj & proj[k] == proj[k]) {
                    catch_alls.push(CatchAll { rule: k, proj: proj[k], dead: 0, first_dead: None });
                }
            } else {
                index.insert(k, s);
            }
        }
    }
    for c in catch_alls {
        let Some(first) = c.first_dead else { continue };
        let a = &rules[c.rule];
        let lines = if c.dead == 1 {
            "the line after it is".to_string()
        } else {
            format!("the {} lines after it are", c.dead)
        };
        out.push(
            Diagnostic::warning(
                Code::W105,
                format!(
                    "`-j {}` matches every packet: {lines} never reached in {}",
                    a.action.target_word(),
                    chain.name
                ),
                a.span,
            )
            .with_label("matches every packet")
            .with_secondary(rules[first].span, "never reached")
            .with_help("move this line to the end of the chain, or narrow it with matches"),
        );
    }
    out
}

fn shadowed_by(a: &Placed, b: &Placed, files: &Files) -> Diagnostic {
    let where_ = at(a, b, files);
    if a.action.is_dnat() && matches!(b.action, Action::Dnat { .. }) {
        return Diagnostic::warning(
            Code::W103,
            format!(
                "this DNAT never fires: {where_} (`{}`) takes every packet it matches first",
                a.action.target_word()
            ),
            b.span,
        )
        .with_label("no packet gets here")
        .with_secondary(a.span, "translates this traffic first")
        .with_help(
            "remove one of the two, or make their matches differ (interface, protocol, port)",
        );
    }
    Diagnostic::warning(
        Code::W101,
        format!(
            "this rule is shadowed: {where_} (`{}`) matches every packet it matches and decides first",
            a.action.target_word()
        ),
        b.span,
    )
    .with_label("no packet gets here")
    .with_secondary(a.span, "decides these packets first")
    .with_help(format!("remove this line, or move it above {where_} if it should win"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{FileId, Sources};
    use crate::pipeline::drive::resolve_all as resolve;
    use crate::resolve::{Input, Options};

    /// The codes found in `text`, with the (1-based) lines they point at.
    fn findings(text: &str) -> Vec<(Code, usize)> {
        let mut sources = Sources::new();
        let inv = crate::inventory::default_inventory(&mut sources);
        let inputs = [Input { name: "k.rules", file: FileId(3), text, stream: None }];
        let opts = Options { table: "overlayfw", input_hash: String::new() };
        let resolved = resolve(&inputs, &inv, &opts);
        assert!(resolved.diagnostics.is_empty(), "{:?}", resolved.diagnostics);
        let line = |at: usize| text[..at].matches('\n').count() + 1;
        let mut out: Vec<_> = lint(&resolved.chains, &resolved.files, &Sets::new(&inv))
            .iter()
            .map(|d| (d.code, line(d.span().start as usize)))
            .collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn each_exact_key_alone_finds_the_rule_that_covers() {
        // The covering rule's only exact field is the one named; the rule after it is narrower.
        for (wide, narrow) in [
            ("-i eth0", "-i eth0 -s 10.0.0.0/8 -p tcp --dport 22"),
            ("-s 10.0.0.0/8", "-s 10.1.0.0/16 -i eth0"),
            ("-d 192.0.2.0/24", "-d 192.0.2.7 -i eth0"),
            ("-p tcp --dport 22", "-p tcp --dport 22 -i eth0 -s 10.0.0.1"),
            ("-p udp", "-p udp -i eth0 -s 10.0.0.1"),
        ] {
            // Other interfaces are filed first, so the one looked up is not the first numbered.
            let text = format!(
                "FORWARD_CUST -i tun0 -s 203.0.113.0/24 -j DROP\nFORWARD_CUST -i plugin0 -j DROP\n\
                 FORWARD_CUST {wide} -j DROP\nFORWARD_CUST {narrow} -j ACCEPT\n"
            );
            assert_eq!(findings(&text), [(Code::W101, 4)], "{wide} / {narrow}");
        }
        // An interface no earlier rule names keys nothing; a wildcard is not filed under its
        // name but still covers.
        let text = "FORWARD_CUST -i eth0 -j DROP\nFORWARD_CUST -i plugin0 -p tcp -j ACCEPT\n\
                    FORWARD_CUST -i tun+ -j DROP\nFORWARD_CUST -i tun0 -p udp -j ACCEPT\n\
                    FORWARD_CUST -i eth0 -p udp -j ACCEPT\n";
        assert_eq!(findings(text), [(Code::W101, 4), (Code::W101, 5)]);
    }

    /// A table entry stays 16 bytes without a packed layout (the index of a 100,000-rule
    /// chain holds 131,072 of them).
    #[test]
    fn an_index_entry_takes_16_bytes() {
        assert_eq!(std::mem::size_of::<Key>(), 8);
        assert_eq!(std::mem::size_of::<(Key, Bucket)>(), 16);
    }

    /// Each bucket gives back its rules in the order they were filed, whether it holds one rule
    /// or many, and buckets filed in turns do not mix.
    #[test]
    fn a_bucket_gives_its_rules_in_filing_order() {
        let protos = ["tcp", "udp", "tcp", "tcp", "icmp", "udp", "tcp", "", "tcp"];
        let text: String = protos
            .iter()
            .map(|p| match *p {
                "" => "FORWARD_CUST -j DROP\n".to_string(),
                p => format!("FORWARD_CUST -p {p} -j DROP\n"),
            })
            .collect();
        let mut sources = Sources::new();
        let inv = crate::inventory::default_inventory(&mut sources);
        let inputs = [Input { name: "b.rules", file: FileId(3), text: &text, stream: None }];
        let opts = Options { table: "overlayfw", input_hash: String::new() };
        let resolved = resolve(&inputs, &inv, &opts);
        let sets = Sets::new(&inv);
        let rules = &resolved.chains[0].rules;
        assert_eq!(rules.len(), protos.len());
        let shapes: Vec<_> = rules.iter().map(|r| space::shape(&r.matches, &sets)).collect();
        let mut index = Index::new(rules.len());
        for (i, shape) in shapes.iter().enumerate() {
            index.insert(i, shape);
        }
        let filed = |proto: u8| -> Vec<usize> {
            let bucket = index.buckets[&Key::Proto(proto)];
            assert_eq!(usize::from(bucket.len), index.rules_of(&bucket).count());
            index.rules_of(&bucket).collect()
        };
        assert_eq!(filed(6), [0, 2, 3, 6, 8]);
        assert_eq!(filed(17), [1, 5]);
        assert_eq!(filed(1), [4]);
        assert_eq!(index.wide, [7]);
    }

    #[test]
    fn the_shape_cache_gives_each_rule_its_own_shape() {
        // More rules than slots, each with its own shape; asked in an order where rules that
        // share a slot take turns.
        let n = ShapeCache::SLOTS * 2 + 100;
        let text: String = (0..n)
            .map(|k| format!("FORWARD_CUST -s 10.{}.{}.0/24 -j ACCEPT\n", k / 256, k % 256))
            .collect();
        let mut sources = Sources::new();
        let inv = crate::inventory::default_inventory(&mut sources);
        let inputs = [Input { name: "c.rules", file: FileId(3), text: &text, stream: None }];
        let opts = Options { table: "overlayfw", input_hash: String::new() };
        let resolved = resolve(&inputs, &inv, &opts);
        let sets = Sets::new(&inv);
        let rules = &resolved.chains[0].rules;
        assert_eq!(rules.len(), n);
        let mut cache = ShapeCache::new(rules, &sets);
        let slots = ShapeCache::SLOTS;
        for k in [5, 5 + slots, 5, 5 + 2 * slots, 7, 5 + 2 * slots, 5, n - 1, n - 1 - slots] {
            assert_eq!(*cache.get(k), space::shape(&rules[k].matches, &sets), "rule {k}");
        }
        // A chain shorter than the cache.
        let mut small = ShapeCache::new(&rules[..3], &sets);
        for k in [2, 0, 1, 2] {
            assert_eq!(*small.get(k), space::shape(&rules[k].matches, &sets), "rule {k}");
        }
    }

    /// Each line that repeats an earlier line's rules (matches in any order, a `-s` list's
    /// several rules) is found with the earliest such line, as comparing every pair finds it.
    #[test]
    fn duplicates_are_each_lines_earliest_equal() {
        let mut text = String::new();
        for i in 0..3000 {
            let k = (i * 7919) % 40;
            text += &match k % 4 {
                0 => format!("FORWARD_CUST -s 10.0.{k}.0/24 -p tcp --dport 22 -j ACCEPT\n"),
                1 => format!("FORWARD_CUST -p tcp --dport 22 -s 10.0.{}.0/24 -j ACCEPT\n", k - 1),
                2 => format!("FORWARD_CUST -s bl,10.1.{k}.2 -j DROP\n"),
                _ => format!("FORWARD_CUST -s 10.{}.{}.0/24 -j ACCEPT\n", 20 + i / 256, i % 256),
            };
        }
        let mut sources = Sources::new();
        let yaml = "fwsets:\n  bl: [192.0.2.0/24]\n";
        let inv = crate::inventory::load(yaml, sources.add("i.yaml", yaml)).expect("inventory");
        let inputs = [Input { name: "d.rules", file: FileId(3), text: &text, stream: None }];
        let opts = Options { table: "overlayfw", input_hash: String::new() };
        let resolved = resolve(&inputs, &inv, &opts);
        let rules = &resolved.chains[0].rules;
        let mut starts = Vec::new();
        let mut i = 0;
        while i < rules.len() {
            starts.push(i..super::line_end(rules, i));
            i = starts.last().expect("a line").end;
        }
        assert!(starts.len() == 3000 && rules.len() > 3000, "{} rules", rules.len());
        let dups = super::duplicates(rules);
        for (n, line) in starts.iter().enumerate() {
            let earliest = starts[..n]
                .iter()
                .find(|e| super::same_line(&rules[(*e).clone()], &rules[line.clone()]))
                .map(|e| e.start as u32);
            assert_eq!(dups.get(&(line.start as u32)).copied(), earliest, "line {}", n + 1);
        }
        assert!(dups.len() > 2000, "{} duplicates", dups.len());
    }

    #[test]
    fn linting_chains_on_several_threads_equals_one() {
        // Duplicates, shadowed rules and a catch-all in chains of different sizes.
        let mut text = String::new();
        for i in 0..6000 {
            text += &match i % 6 {
                0 => format!("FORWARD_CUST -s 10.{}.0.0/16 -p tcp --dport 22 -j ACCEPT\n", i % 200),
                1 => format!("FORWARD_CUST -s 10.{}.1.0/24 -p tcp --dport 22 -j ACCEPT\n", i % 200),
                2 => format!(
                    "PREROUTING_CUST -i eth0 -p tcp --dport {} -j DNAT --to 198.51.100.2\n",
                    1000 + i % 500
                ),
                3 => format!("INPUT_CUST -p udp --dport {} -j DROP\n", i % 300),
                4 => format!("OUTPUT_CUST -d 192.0.2.{} -j REJECT\n", i % 250),
                _ => "POSTROUTING_CUST -o eth0 -j MASQUERADE\n".to_string(),
            };
        }
        text += "INPUT_CUST -j DROP\nINPUT_CUST -p tcp --dport 80 -j ACCEPT\n";
        let mut sources = Sources::new();
        let inv = crate::inventory::default_inventory(&mut sources);
        let inputs = [Input { name: "l.rules", file: FileId(3), text: &text, stream: None }];
        let opts = Options { table: "overlayfw", input_hash: String::new() };
        let resolved = resolve(&inputs, &inv, &opts);
        assert!(resolved.chains.len() >= 5);
        let sets = Sets::new(&inv);
        let one = per_chain_on(&resolved.chains, &resolved.files, &sets, 1);
        let three = per_chain_on(&resolved.chains, &resolved.files, &sets, 3);
        assert!(one.iter().map(Vec::len).sum::<usize>() > 1000, "findings to compare");
        assert_eq!(one, three);
    }
}
