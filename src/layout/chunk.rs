//! Long chains laid out as chunks: a regular chain of more than [`MAX`] rules keeps its name,
//! and its rules move, in order, into chunk chains it jumps to one after the other.
//!
//! Why: the kernel lists (dumps) a chain's rules a buffer at a time, walking the chain from its
//! head again for every buffer, so reading one chain of 50,000 rules back (`diff`, `stats`,
//! every incremental apply that cannot use its view) costs seconds of kernel time, quadratic in
//! the chain's length; chunks of a few thousand rules, read one by one, make it linear.
//!
//! The same policy: a packet that falls off the end of a chunk comes back to the parent and
//! meets the jump to the next chunk, as it would have met the next rule; a verdict ends the
//! evaluation wherever it is taken; a jump to a subgroup returns into the chunk. Only a
//! `return` would differ (it would leave the chunk, not the parent), so a chain holding one is
//! never chunked, nor one whose subgroups nest so deep that one more level would pass the
//! kernel's jump depth.
//!
//! Boundaries are chosen by content (a rule whose hash is 0 modulo [`TARGET`] ends a chunk of
//! at least [`MIN`] rules, and [`MAX`] rules always do, about one chunk in twenty) and a chunk
//! is named after its first rule, so an edit changes the chunk it falls in (and rarely the
//! next, when it moves a boundary that only the [`MAX`] made), not every chunk after it.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use crate::ir::{Action, Chain, Rule, Ruleset};
use crate::nft::{CHAIN_NAME_MAX, JUMP_DEPTH_MAX};

/// Chains longer than this are chunked; no chunk is longer.
pub const MAX: usize = 4096;
/// No chunk but the last of a chain is shorter.
pub const MIN: usize = 1024;
/// A chunk ends after a rule whose hash is 0 modulo this (once it has [`MIN`] rules).
pub const TARGET: u64 = 1024;

/// Chunks every regular chain longer than [`MAX`] that can be (see the module documentation).
pub fn chunk(rs: &mut Ruleset) {
    if rs.chains.iter().all(|c| c.rules.len() <= MAX) {
        return;
    }
    let depth: HashMap<String, usize> =
        depths_below(&rs.chains).into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    let mut names: HashSet<String> = rs.chains.iter().map(|c| c.name.clone()).collect();
    let mut out = Vec::with_capacity(rs.chains.len());
    for mut chain in std::mem::take(&mut rs.chains) {
        let below = depth.get(chain.name.as_str()).copied().unwrap_or(0);
        // Base chain, the chain (level 1), its chunks (2), then its subgroups' levels.
        let fits = 2 + below <= JUMP_DEPTH_MAX;
        let returns = chain.rules.iter().any(|r| r.action == Action::Return);
        if chain.base.is_some() || chain.rules.len() <= MAX || returns || !fits {
            out.push(chain);
            continue;
        }
        let rules = std::mem::take(&mut chain.rules);
        let mut chunks: Vec<Chain> = Vec::new();
        let mut current: Vec<Rule> = Vec::with_capacity(MAX);
        for rule in rules {
            let ends = {
                current.push(rule);
                let n = current.len();
                n >= MAX || (n >= MIN && content_hash(&current[n - 1]).is_multiple_of(TARGET))
            };
            if ends {
                let rules = std::mem::replace(&mut current, Vec::with_capacity(MAX));
                chunks.push(Chain { name: String::new(), base: None, rules });
            }
        }
        if !current.is_empty() {
            chunks.push(Chain { name: String::new(), base: None, rules: current });
        }
        for c in &mut chunks {
            c.name = chunk_name(&chain.name, &c.rules[0], &mut names);
        }
        chain.rules = chunks
            .iter()
            .map(|c| Rule {
                matches: Box::new([]),
                action: Action::Jump(c.name.as_str().into()),
                origin: None,
            })
            .collect();
        out.push(chain);
        out.extend(chunks);
    }
    rs.chains = out;
}

/// The chain a chunk belongs to (`PARENT__HHHHHH[_N]` → `PARENT`); any other name as it is.
pub fn parent_of(name: &str) -> &str {
    let Some((parent, tail)) = name.rsplit_once("__") else { return name };
    let hex = tail.split('_').next().unwrap_or("");
    let numbered = tail.split('_').nth(1).is_none_or(|n| n.bytes().all(|b| b.is_ascii_digit()));
    if hex.len() >= 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) && numbered {
        parent
    } else {
        name
    }
}

/// What a rule does (not where it came from): its matches and action.
fn content_hash(rule: &Rule) -> u64 {
    let mut h = siphasher::sip::SipHasher13::new();
    rule.matches.hash(&mut h);
    rule.action.hash(&mut h);
    h.finish()
}

/// `PARENT__HHHHHH` after the chunk's first rule, longer if taken, cut to nft's limit.
fn chunk_name(parent: &str, first: &Rule, taken: &mut HashSet<String>) -> String {
    let h = content_hash(first);
    let keep = parent.len().min(CHAIN_NAME_MAX - 2 - 16);
    let mut digits = 6;
    loop {
        let mut name = format!("{}__{:016x}", &parent[..keep], h);
        name.truncate(keep + 2 + digits);
        if taken.insert(name.clone()) {
            return name;
        }
        if digits < 16 {
            digits += 1;
        } else {
            // Sixteen digits taken too (identical first rules): count on.
            let mut n = 2;
            loop {
                let numbered = format!("{name}_{n}");
                if taken.insert(numbered.clone()) {
                    return numbered;
                }
                n += 1;
            }
        }
    }
}

/// For each chain, how many levels of chains its jumps reach below it (0: none).
fn depths_below(chains: &[Chain]) -> HashMap<&str, usize> {
    let by_name: HashMap<&str, &Chain> = chains.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut memo: HashMap<&str, usize> = HashMap::new();
    fn depth<'a>(
        name: &'a str,
        by_name: &HashMap<&'a str, &'a Chain>,
        memo: &mut HashMap<&'a str, usize>,
        seen: &mut HashSet<&'a str>,
    ) -> usize {
        if let Some(&d) = memo.get(name) {
            return d;
        }
        // The resolver refuses loops; were one here, it counts as deep as can be.
        if !seen.insert(name) {
            return JUMP_DEPTH_MAX;
        }
        let d = by_name.get(name).map_or(0, |c| {
            c.rules
                .iter()
                .filter_map(|r| match &r.action {
                    Action::Jump(to) => Some(1 + depth(to, by_name, memo, seen)),
                    _ => None,
                })
                .max()
                .unwrap_or(0)
        });
        seen.remove(name);
        memo.insert(name, d);
        d
    }
    for c in chains {
        depth(&c.name, &by_name, &mut memo, &mut HashSet::new());
    }
    memo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Dir, L4, Match, PortMatch};

    fn rule(port: u16, action: Action) -> Rule {
        let ports = PortMatch::Ports(vec![(port, port)].into());
        Rule {
            matches: Box::new([Match::Port { proto: L4::Tcp, dir: Dir::Dst, neg: false, ports }]),
            action,
            origin: None,
        }
    }

    fn ruleset(n: u16, last: Action) -> Ruleset {
        let mut rules: Vec<Rule> = (0..n).map(|p| rule(p, Action::Accept)).collect();
        rules.push(rule(0, last));
        Ruleset {
            table: "t".into(),
            files: Default::default(),
            ipv6: Default::default(),
            input_hash: String::new(),
            sets: vec![],
            chains: vec![Chain { name: "FORWARD_CUST".into(), base: None, rules }],
        }
    }

    #[test]
    fn a_long_chain_jumps_to_its_chunks_in_order() {
        let mut rs = ruleset(20_000, Action::Drop);
        let before: Vec<Rule> = rs.chains[0].rules.clone();
        chunk(&mut rs);
        let parent = &rs.chains[0];
        assert_eq!(parent.name, "FORWARD_CUST");
        let mut after = Vec::new();
        for jump in &parent.rules {
            let Action::Jump(to) = &jump.action else { panic!("{jump:?}") };
            let c = rs.chains.iter().find(|c| *c.name == **to).expect("chunk");
            assert!(c.rules.len() <= MAX, "{}", c.rules.len());
            assert!(to.starts_with("FORWARD_CUST__"), "{to}");
            after.extend(c.rules.iter().cloned());
        }
        assert_eq!(after, before, "the same rules in the same order");
        let sizes: Vec<usize> = rs.chains[1..].iter().map(|c| c.rules.len()).collect();
        assert!(sizes[..sizes.len() - 1].iter().all(|&s| s >= MIN), "{sizes:?}");
    }

    #[test]
    fn an_insertion_changes_one_chunk() {
        let mut a = ruleset(20_000, Action::Drop);
        let mut b = a.clone();
        b.chains[0].rules.insert(9_000, rule(60_000, Action::Drop));
        chunk(&mut a);
        chunk(&mut b);
        let differing = |x: &Ruleset, y: &Ruleset| {
            x.chains[1..].iter().filter(|c| !y.chains.contains(c)).count()
        };
        assert!((1..=2).contains(&differing(&a, &b)), "{}", differing(&a, &b));
        assert!((1..=2).contains(&differing(&b, &a)), "{}", differing(&b, &a));
    }

    #[test]
    fn a_chunk_names_its_parent() {
        assert_eq!(parent_of("FORWARD_CUST__0a1b2c"), "FORWARD_CUST");
        assert_eq!(parent_of("FORWARD_CUST__0a1b2c3d_2"), "FORWARD_CUST");
        assert_eq!(parent_of("FWD_C_web"), "FWD_C_web");
        assert_eq!(parent_of("a__b"), "a__b");
    }

    #[test]
    fn short_chains_and_chains_that_return_stay_whole() {
        let mut short = ruleset(100, Action::Drop);
        let before = short.clone();
        chunk(&mut short);
        assert_eq!(short, before);
        let mut returns = ruleset(20_000, Action::Return);
        let before = returns.clone();
        chunk(&mut returns);
        assert_eq!(returns, before);
    }
}
