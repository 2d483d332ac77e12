//! The layout stage: placed VNS3 chains → nftables chains. Each VNS3 chain becomes one chain per
//! chain type its lines need, its projections (`…_FILTER`, run before NAT, in PREROUTING and
//! POSTROUTING; `…_NAT` for OUTPUT's NAT lines), subgroups before the chains that jump to them;
//! then the mirror's chains, and last the base chains that jump into them, with a nat base
//! chain (empty if need be) on every hook but forward. The lint asks [`projections`] where a
//! line keeps its order. See ARCHITECTURE.md, "Chain layout".

pub mod chunk;

use std::collections::HashMap;

use crate::ir::{self, Action, BaseChain, ChainKind, Class, Hook, Origin};
use crate::resolve::{Family, Placed, Resolved, VChain, builtin_chain_name, hook_word};
use crate::syntax::ast::Builtin;

/// Lays the placed chains out as the ruleset, freeing each placed chain as soon as it is laid
/// out (so that the two never both exist whole). `None` when resolving found an error.
pub fn layout(resolved: Resolved) -> Option<ir::Ruleset> {
    let sets = resolved.sets?;
    let chains = chains(resolved.chains);
    let (table, input_hash, files) = (resolved.table, resolved.input_hash, resolved.files);
    Some(ir::Ruleset { table, input_hash, sets, chains, files, ipv6: Default::default() })
}

/// How a family's rules split over chain types.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// INPUT, FORWARD: filter only.
    FilterOnly,
    /// PREROUTING, POSTROUTING (VNS3's nat chains, which also take DROP): a filter projection
    /// that runs first and a nat projection, together keeping the lines' first-match order.
    Ordered,
    /// OUTPUT: each line to the table its target belongs to, as iptables does.
    Split,
}

fn mode(b: Builtin) -> Mode {
    match b {
        Builtin::Input | Builtin::Forward => Mode::FilterOnly,
        Builtin::Prerouting | Builtin::Postrouting => Mode::Ordered,
        Builtin::Output => Mode::Split,
    }
}

fn hook(b: Builtin) -> Hook {
    match b {
        Builtin::Prerouting => Hook::Prerouting,
        Builtin::Input => Hook::Input,
        Builtin::Forward => Hook::Forward,
        Builtin::Output => Hook::Output,
        Builtin::Postrouting => Hook::Postrouting,
    }
}

/// The nft name of a VNS3 chain's projection for one chain type.
fn projection_name(name: &str, family: Builtin, kind: ChainKind) -> String {
    match (mode(family), kind) {
        (Mode::Ordered, ChainKind::Filter) => format!("{name}_FILTER"),
        (Mode::Split, ChainKind::Nat) => format!("{name}_NAT"),
        _ => name.to_string(),
    }
}

/// What a line becomes in one projection of its VNS3 chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// It has no place there.
    Absent,
    /// It keeps its action (a jump goes to the subgroup's projection of the same type).
    Own,
    /// An accept: a NAT line in the filter projection that runs first lets its packets on to
    /// the nat projection.
    Accept,
}

/// The rule of the layout (ARCHITECTURE.md, "Chain layout"): where a line of a family in
/// `mode` goes in the projection of type `kind`.
fn fate(mode: Mode, kind: ChainKind, action: &Action) -> Fate {
    match (mode, kind, action.class()) {
        (Mode::Ordered, ChainKind::Filter, Class::Nat) => Fate::Accept,
        (Mode::Ordered, ChainKind::Nat, Class::Filter) => Fate::Absent,
        (Mode::Split, ChainKind::Filter, Class::Nat) => Fate::Absent,
        (Mode::Split, ChainKind::Nat, Class::Filter) => Fate::Absent,
        (Mode::Split, ChainKind::Nat, Class::Both) if *action == Action::Accept => Fate::Absent,
        _ => Fate::Own,
    }
}

/// [`projections`]' bit for the filter projection.
pub const FILTER: u8 = 0b01;
/// [`projections`]' bit for the nat projection.
pub const NAT: u8 = 0b10;

/// The projections in which a line of `family` keeps its place in first-match order, as bits
/// ([`FILTER`], [`NAT`]): an earlier line of the same VNS3 chain can hide a later one only when
/// it holds all of the later one's bits. Only OUTPUT splits its lines by target, each to the
/// chain type it belongs to (there an ACCEPT never hides a DNAT); in PREROUTING and POSTROUTING
/// the filter projection runs first and holds every line (a NAT line as an accept), and INPUT,
/// FORWARD and the mirror have filter chains only.
pub fn projections(family: Family, action: &Action) -> u8 {
    match family {
        Family::Builtin(b) if mode(b) == Mode::Split => {
            let mut bits = 0;
            if fate(Mode::Split, ChainKind::Filter, action) != Fate::Absent {
                bits |= FILTER;
            }
            if fate(Mode::Split, ChainKind::Nat, action) != Fate::Absent {
                bits |= NAT;
            }
            bits
        }
        _ => FILTER,
    }
}

/// The projection of one rule into a chain type, or `None` when it has no place there. Takes
/// the rule: its last projection moves it, an earlier one gets a copy.
fn project(mut p: Placed, family: Builtin, kind: ChainKind) -> Option<ir::Rule> {
    // `None`: the line's own action.
    let action = match fate(mode(family), kind, &p.action) {
        Fate::Absent => return None,
        Fate::Accept => Some(Action::Accept),
        Fate::Own => {
            p.jump().map(|(jump, _)| Action::Jump(projection_name(jump, family, kind).into()))
        }
    };
    let origin = Some(origin(&mut p));
    Some(ir::Rule { matches: p.matches, action: action.unwrap_or(p.action), origin })
}

/// Base-chain priorities: the filter projections of PREROUTING/POSTROUTING run just before NAT
/// (so a DROP decides before a DNAT would), the mirror sees packets as they arrive (raw) and as
/// they leave (after source NAT).
fn base_chain(b: Builtin, kind: ChainKind) -> (String, BaseChain) {
    let priority = match (b, kind) {
        (Builtin::Prerouting, ChainKind::Filter) => -150,
        (Builtin::Postrouting, ChainKind::Filter) => 90,
        (_, ChainKind::Filter) => 0,
        (Builtin::Postrouting | Builtin::Input, ChainKind::Nat) => 100,
        (_, ChainKind::Nat) => -100,
    };
    let kind_word = match kind {
        ChainKind::Filter => "filter",
        ChainKind::Nat => "nat",
    };
    let hook_word = hook_word(b).to_ascii_lowercase();
    (format!("{kind_word}_{hook_word}"), BaseChain { kind, hook: hook(b), priority })
}

/// A nat base chain with no rules. Every hook keeps one: the kernel translates the packets of
/// existing NAT connections on a hook only while some nat chain is registered there, so a
/// table without one would cut every established DNATed or masqueraded connection when the
/// last NAT line goes (and the input hook carries the replies of DNAT in OUTPUT). The forward
/// hook has no NAT.
fn empty_nat_base(b: Builtin) -> Option<ir::Chain> {
    let (name, base) = base_chain(b, ChainKind::Nat);
    (b != Builtin::Forward).then(|| ir::Chain { name, base: Some(base), rules: Vec::new() })
}

/// Lays the VNS3 chains out as nft chains: for each family, its projections (subgroups before
/// the chains that jump to them), then the base chains; the mirror last.
fn chains(mut chains: Vec<VChain>) -> Vec<ir::Chain> {
    let mut out = Vec::new();
    let mut bases = Vec::new();
    for b in [
        Builtin::Prerouting,
        Builtin::Input,
        Builtin::Forward,
        Builtin::Output,
        Builtin::Postrouting,
    ] {
        let (mut members, rest): (Vec<VChain>, Vec<VChain>) =
            chains.into_iter().partition(|c| c.family == Family::Builtin(b));
        chains = rest;
        if members.is_empty() {
            bases.extend(empty_nat_base(b));
            continue;
        }
        let all = || members.iter().flat_map(|c| c.rules.iter());
        let has_nat = all().any(|p| p.action.class() == Class::Nat);
        let has_filter_only = all().any(|p| p.action.class() == Class::Filter);
        let has_non_nat = all().any(|p| p.action.class() != Class::Nat);
        let kinds: Vec<ChainKind> = match mode(b) {
            Mode::FilterOnly => vec![ChainKind::Filter],
            Mode::Ordered => {
                let mut k = Vec::new();
                if has_filter_only {
                    k.push(ChainKind::Filter);
                }
                if has_nat || !has_filter_only {
                    k.push(ChainKind::Nat);
                }
                k
            }
            Mode::Split => {
                let mut k = Vec::new();
                if has_non_nat {
                    k.push(ChainKind::Filter);
                }
                if has_nat {
                    k.push(ChainKind::Nat);
                }
                k
            }
        };
        let order = callee_first(&members, builtin_chain_name(b));
        let root_exists = members.iter().any(|c| c.name == builtin_chain_name(b));
        for (k, &kind) in kinds.iter().enumerate() {
            let last = k + 1 == kinds.len();
            for &i in &order {
                let c = &mut members[i];
                let rules = if last {
                    // Laid out for the last time: the rules move, and the chain is freed.
                    std::mem::take(&mut c.rules)
                        .into_iter()
                        .filter_map(|p| project(p, b, kind))
                        .collect()
                } else {
                    c.rules.iter().filter_map(|p| project(p.clone(), b, kind)).collect()
                };
                out.push(ir::Chain { name: projection_name(&c.name, b, kind), base: None, rules });
            }
            let (name, base) = base_chain(b, kind);
            let entry = projection_name(builtin_chain_name(b), b, kind);
            let rules = if root_exists {
                vec![ir::Rule {
                    matches: Box::new([]),
                    action: Action::Jump(entry.into()),
                    origin: None,
                }]
            } else {
                Vec::new()
            };
            bases.push(ir::Chain { name, base: Some(base), rules });
        }
        if !kinds.contains(&ChainKind::Nat) {
            bases.extend(empty_nat_base(b));
        }
    }
    for (name, base_name, hook, priority) in [
        ("MACRO_CUST_IN", "mirror_prerouting", Hook::Prerouting, -300),
        ("MACRO_CUST_OUT", "mirror_postrouting", Hook::Postrouting, 300),
    ] {
        if let Some(c) = chains.iter_mut().find(|c| c.name == name) {
            out.push(ir::Chain {
                name: name.to_string(),
                base: None,
                rules: std::mem::take(&mut c.rules)
                    .into_iter()
                    .map(|mut p| ir::Rule {
                        origin: Some(origin(&mut p)),
                        matches: p.matches,
                        action: p.action,
                    })
                    .collect(),
            });
            bases.push(ir::Chain {
                name: base_name.to_string(),
                base: Some(BaseChain { kind: ChainKind::Filter, hook, priority }),
                rules: vec![ir::Rule {
                    matches: Box::new([]),
                    action: Action::Jump(name.into()),
                    origin: None,
                }],
            });
        }
    }
    out.extend(bases);
    out
}

/// Indices of `members` in an order where every jump target comes before the chains jumping to
/// it: a post-order walk from the builtin chain, then any subgroup nothing reaches.
fn callee_first(members: &[VChain], root: &str) -> Vec<usize> {
    let index: HashMap<&str, usize> =
        members.iter().enumerate().map(|(i, c)| (c.name.as_str(), i)).collect();
    let mut done = vec![false; members.len()];
    let mut order = Vec::with_capacity(members.len());
    let starts = index.get(root).copied().into_iter().chain(0..members.len());
    for start in starts {
        if done[start] {
            continue;
        }
        // Iterative post-order DFS; loops were rejected before layout.
        done[start] = true;
        let mut stack = vec![(start, 0usize)];
        while let Some(&mut (c, ref mut i)) = stack.last_mut() {
            let rules = &members[c].rules;
            if *i >= rules.len() {
                order.push(c);
                stack.pop();
                continue;
            }
            let jump = rules[*i].jump();
            *i += 1;
            if let Some(&t) = jump.and_then(|(j, _)| index.get(j.as_str()))
                && !done[t]
            {
                done[t] = true;
                stack.push((t, 0));
            }
        }
    }
    order
}

/// The line's origin for its IR rule: its span's file, its number and (taken) note.
fn origin(p: &mut Placed) -> Origin {
    let note = p.extra.as_mut().and_then(|e| e.note.take()).map(String::into_boxed_str);
    let line = std::num::NonZeroU32::new(p.line).expect("lines count from 1");
    Origin { file: p.span.file, line, note }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{FileId, Span};
    use crate::resolve::Extra;

    fn placed(action: Action) -> Placed {
        let span = Span { file: FileId(0), start: 0, end: 1 };
        let jump = matches!(action, Action::Jump(_)).then(|| ("S".to_string(), span));
        let extra = jump.map(|jump| Box::new(Extra { jump: Some(jump), note: None }));
        Placed { matches: Box::new([]), action, extra, line: 1, span }
    }

    /// The lint's projection rule is the layout's: in OUTPUT a line holds the bit of each
    /// projection it is laid out in; elsewhere every line holds the filter bit, and the filter
    /// projection (the first to run) holds every line.
    #[test]
    fn projections_are_where_the_layout_puts_a_line() {
        let to = ir::NatTarget { addr: [192, 0, 2, 1].into(), addr_end: None, ports: None };
        let actions = [
            Action::Count,
            Action::Accept,
            Action::Drop,
            Action::Return,
            Action::Jump("S".into()),
            Action::Reject(ir::RejectWith::PortUnreachable),
            Action::Log { prefix: None, level: None, flags: crate::ir::LogFlags::NONE },
            Action::Dnat { to: to.clone(), flags: ir::NatFlags::NONE },
            Action::Snat { to, flags: ir::NatFlags::NONE },
            Action::Masquerade { ports: None, flags: ir::NatFlags::NONE },
            Action::Redirect { ports: None, flags: ir::NatFlags::NONE },
            Action::Dup { to: [192, 0, 2, 2].into() },
        ];
        let lands =
            |b: Builtin, kind: ChainKind, a: &Action| project(placed(a.clone()), b, kind).is_some();
        for a in &actions {
            let bits = projections(Family::Builtin(Builtin::Output), a);
            let expect = [(ChainKind::Filter, FILTER), (ChainKind::Nat, NAT)]
                .into_iter()
                .filter(|&(kind, _)| lands(Builtin::Output, kind, a))
                .fold(0, |acc, (_, bit)| acc | bit);
            assert_eq!(bits, expect, "OUTPUT {a:?}");
            for b in [Builtin::Prerouting, Builtin::Input, Builtin::Forward, Builtin::Postrouting] {
                assert_eq!(projections(Family::Builtin(b), a), FILTER, "{b:?} {a:?}");
                assert!(lands(b, ChainKind::Filter, a), "{b:?} {a:?}");
            }
        }
        assert_eq!(projections(Family::Builtin(Builtin::Output), &Action::Accept), FILTER);
        assert_eq!(projections(Family::Builtin(Builtin::Output), &actions[7]), NAT);
        assert_eq!(projections(Family::Builtin(Builtin::Output), &Action::Return), FILTER | NAT);
    }
}
