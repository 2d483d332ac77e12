//! VNS3 placement: which VNS3 chain each line lands in (chain-less lines, MACRO_CUST, the
//! mirror, subgroups and their names), iptables' rules on interfaces per hook, and the jump
//! checks over the placed chains (no loop, no deeper than the kernel walks).

use std::collections::HashMap;

use crate::diagnostic::{Code, Diagnostic, Span, Spanned};
use crate::ir::{Action, Class, Match, MetaKey};
use crate::nft::{CHAIN_NAME_MAX, COMMENT_MAX, JUMP_DEPTH_MAX};
use crate::syntax;
use crate::syntax::ast::{self, Builtin, ChainWord, MatchKind, TargetKind};

use super::matches::{Alts, protocol, reverse};
use super::{Extra, Family, Placed, Resolver, builtin_chain_name, hook_word, target_name};

/// Longest subgroup name: layout derives chain names up to 7 bytes longer (`…_FILTER`).
pub const SUBGROUP_NAME_MAX: usize = CHAIN_NAME_MAX - "_FILTER".len();

/// Subgroup name → (parent, span of the first line that defines it).
pub type Subgroups = HashMap<String, (Builtin, Span)>;

/// Collects the subgroups the lines define, from the first words of the inputs' pieces in
/// order (found before any line is parsed). Names ending in `_FILTER` or `_NAT` are refused:
/// layout derives chain names with those suffixes, and nft would merge two chains of the same
/// name into one.
pub(super) fn subgroups(
    words: impl IntoIterator<Item = syntax::FirstWords>,
    diags: &mut Vec<Diagnostic>,
) -> Subgroups {
    let mut map = Subgroups::new();
    for words in words {
        for (name, parent, span) in words.subgroups {
            if map.contains_key(&name) {
                continue;
            }
            if name.len() > SUBGROUP_NAME_MAX {
                let head: String = name.chars().take(24).collect();
                diags.push(
                    Diagnostic::error(
                        Code::E003,
                        format!(
                            "subgroup name `{head}…` is {} bytes; with `_FILTER` its chain's name \
                             would pass nft's limit of {CHAIN_NAME_MAX}",
                            name.len()
                        ),
                        span,
                    )
                    .with_help(format!(
                        "shorten it to at most {SUBGROUP_NAME_MAX} bytes (overlayfw adds up to 7, `_FILTER`)"
                    )),
                );
            } else if name.ends_with("_FILTER") || name.ends_with("_NAT") {
                diags.push(
                    Diagnostic::error(
                        Code::E003,
                        format!("subgroup name `{name}` ends in a suffix overlayfw reserves"),
                        span,
                    )
                    .with_help("overlayfw names its own chains `…_FILTER` and `…_NAT`; rename the subgroup"),
                );
            }
            map.insert(name, (parent, span));
        }
    }
    map
}

impl Resolver<'_> {
    /// Decides the VNS3 chain a line lands in: `(chain name, family)`.
    fn place<'r>(&mut self, rule: &'r ast::Rule) -> Option<(&'r str, Family)> {
        let target = rule.target.as_ref();
        let is_copy = matches!(target.map(|t| &t.kind), Some(TargetKind::Copy { .. }));
        match &rule.chain {
            Some(Spanned { node: ChainWord::Builtin(b), span }) => {
                if is_copy {
                    self.copy_misplaced(rule, *span);
                    return None;
                }
                Some((builtin_chain_name(*b), Family::Builtin(*b)))
            }
            Some(Spanned { node: ChainWord::Subgroup { parent, name }, span }) => {
                if is_copy {
                    self.copy_misplaced(rule, *span);
                    return None;
                }
                Some((name.as_str(), Family::Builtin(*parent)))
            }
            Some(Spanned { node: ChainWord::Macro, span }) => match target.map(|t| &t.kind) {
                Some(TargetKind::Copy { .. }) => Some(("", Family::Mirror)),
                Some(TargetKind::Masquerade { .. }) => Some((
                    builtin_chain_name(Builtin::Postrouting),
                    Family::Builtin(Builtin::Postrouting),
                )),
                other => {
                    let what = other.map_or("no target", target_name);
                    let at = target.map_or(*span, |t| t.span);
                    self.error(
                        Diagnostic::error(Code::E012, format!("MACRO_CUST does not take {what}"), at)
                            .with_help("MACRO_CUST takes `-j COPY --from IF --to ADDR` or `-j MASQUERADE`; for other targets name the chain (e.g. FORWARD_CUST)"),
                    );
                    None
                }
            },
            None => match target.map(|t| &t.kind) {
                Some(TargetKind::Masquerade { .. } | TargetKind::Snat { .. }) => Some((
                    builtin_chain_name(Builtin::Postrouting),
                    Family::Builtin(Builtin::Postrouting),
                )),
                Some(TargetKind::Dnat { .. }) => Some((
                    builtin_chain_name(Builtin::Prerouting),
                    Family::Builtin(Builtin::Prerouting),
                )),
                Some(TargetKind::Copy { .. }) => Some(("", Family::Mirror)),
                other => {
                    let message = match other {
                        Some(t) => format!(
                            "a line without a chain needs a target that fixes one, not {}",
                            target_name(t)
                        ),
                        None => "a line without a chain or a target cannot be placed".to_string(),
                    };
                    let at = target.map_or(rule.span, |t| t.span);
                    self.error(
                        Diagnostic::error(Code::E013, message, at)
                        .with_help("start the line with its chain, e.g. `INPUT_CUST`; only MASQUERADE, SNAT (POSTROUTING), DNAT (PREROUTING) and COPY (mirroring) may omit it"),
                    );
                    None
                }
            },
        }
    }

    fn copy_misplaced(&mut self, rule: &ast::Rule, chain_span: Span) {
        let at = rule.target.as_ref().map_or(chain_span, |t| t.span);
        self.error(
            Diagnostic::error(Code::E012, "COPY mirrors traffic and belongs in MACRO_CUST", at)
                .with_secondary(chain_span, "this chain cannot mirror")
                .with_help("write `MACRO_CUST -j COPY --from IF --to ADDR [--bidirectional]`"),
        );
    }

    pub(super) fn rule(&mut self, file: &str, rule: &ast::Rule, subgroups: &Subgroups) {
        let Some((chain, family)) = self.place(rule) else { return };
        let diags_before = self.v.diags.len();
        let note = rule.comment.as_ref().and_then(|c| {
            // iptables keeps 256 bytes of a comment; nft 128, so a longer one is cut (W002).
            let text = self.v.nft_text(&c.node, c.span, "the comment", 256)?;
            let full = format!("{file}:{} {text}", rule.line).len();
            if full > COMMENT_MAX {
                self.v.diags.push(
                    Diagnostic::warning(
                        Code::W002,
                        format!("the rule comment `{file}:{} …` is {full} bytes; nft keeps {COMMENT_MAX}, the rest is cut", rule.line),
                        c.span,
                    )
                    .with_help("shorten the comment"),
                );
            }
            Some(text)
        });
        self.check_interfaces(rule, family);
        self.check_match_hooks(rule, family);
        let proto = protocol(rule);
        let alts = self.matches(rule, proto);
        let action = self.action(rule, family, proto, subgroups);
        let (Some(alts), Some((action, jump))) = (alts, action) else { return };
        if self.v.diags[diags_before..].iter().any(Diagnostic::is_error) {
            return;
        }
        match family {
            Family::Builtin(_) => {
                let c = self.chain_mut(chain, family);
                let extra =
                    (jump.is_some() || note.is_some()).then(|| Box::new(Extra { jump, note }));
                let matches = match alts {
                    Alts::One(matches) => matches,
                    Alts::Many(alts) => {
                        let mut alts = alts.into_iter();
                        let Some(last) = alts.next_back() else { return };
                        for matches in alts {
                            c.rules.push(Placed {
                                matches: matches.into_boxed_slice(),
                                action: action.clone(),
                                extra: extra.clone(),
                                line: rule.line,
                                span: rule.span,
                            });
                        }
                        last
                    }
                };
                c.rules.push(Placed {
                    matches: matches.into_boxed_slice(),
                    action,
                    extra,
                    line: rule.line,
                    span: rule.span,
                });
            }
            Family::Mirror => {
                let Some(TargetKind::Copy { from, bidirectional, .. }) =
                    rule.target.as_ref().map(|t| &t.kind)
                else {
                    unreachable!("place() puts only COPY lines in the mirror")
                };
                let Some(iface) = self.v.iface(from) else { return };
                let dirs: &[(&str, bool)] = if *bidirectional {
                    &[("MACRO_CUST_IN", true), ("MACRO_CUST_OUT", false)]
                } else {
                    &[("MACRO_CUST_IN", true)]
                };
                for &(name, arriving) in dirs {
                    let c = self.chain_mut(name, Family::Mirror);
                    for m in alts.as_slice() {
                        let mut matches = Vec::with_capacity(m.len() + 1);
                        matches.push(if arriving {
                            Match::IifName { neg: false, name: iface.clone() }
                        } else {
                            Match::OifName { neg: false, name: iface.clone() }
                        });
                        // `--bidirectional` mirrors both directions of the flow the line
                        // describes: departures are its replies, with addresses and ports
                        // swapped (`--dport 443` arriving, source port 443 leaving).
                        if arriving {
                            matches.extend(m.iter().cloned());
                        } else {
                            matches.extend(m.iter().map(reverse));
                        }
                        let extra =
                            note.clone().map(|n| Box::new(Extra { jump: None, note: Some(n) }));
                        c.rules.push(Placed {
                            matches: matches.into_boxed_slice(),
                            action: action.clone(),
                            extra,
                            line: rule.line,
                            span: rule.span,
                        });
                    }
                }
            }
        }
    }

    /// The kernel refuses a match module outside the hooks it serves (`-m mac` where packets
    /// have no source MAC, `-m owner` where they have no local socket, `-m addrtype`'s
    /// interface limit where the packet has no such interface).
    fn check_match_hooks(&mut self, rule: &ast::Rule, family: Family) {
        use Builtin::*;
        for m in &rule.matches {
            let (what, allowed): (&str, &[Builtin]) = match &m.kind {
                MatchKind::Mac(_) => ("`-m mac`", &[Prerouting, Input, Forward]),
                MatchKind::Owner { .. } => ("`-m owner`", &[Output, Postrouting]),
                MatchKind::Meta { key: MetaKey::IifGroup, .. } => {
                    ("`--src-group`", &[Prerouting, Input, Forward])
                }
                MatchKind::Meta { key: MetaKey::OifGroup, .. } => {
                    ("`--dst-group`", &[Forward, Output, Postrouting])
                }
                // xt_realm reads the route, which PREROUTING packets have not got yet.
                MatchKind::Meta { key: MetaKey::RtClassid, .. } => {
                    ("`-m realm`", &[Input, Forward, Output, Postrouting])
                }
                MatchKind::Meta { key: MetaKey::Cgroup, .. } => {
                    ("`-m cgroup`", &[Input, Output, Postrouting])
                }
                MatchKind::AddrType { iface: Some(false), .. } => {
                    ("`--limit-iface-in`", &[Prerouting, Input, Forward])
                }
                MatchKind::AddrType { iface: Some(true), .. } => {
                    ("`--limit-iface-out`", &[Output, Postrouting, Forward])
                }
                // xt_policy's check: an input policy only where packets arrive, an output
                // policy only where they leave.
                MatchKind::Policy { out: false, .. } => {
                    ("`-m policy --dir in`", &[Prerouting, Input, Forward])
                }
                MatchKind::Policy { out: true, .. } => {
                    ("`-m policy --dir out`", &[Postrouting, Output, Forward])
                }
                _ => continue,
            };
            let here = match family {
                Family::Builtin(b) if allowed.contains(&b) => continue,
                Family::Builtin(b) => hook_word(b),
                Family::Mirror => "a COPY rule",
            };
            let names: Vec<&str> = allowed.iter().map(|b| hook_word(*b)).collect();
            self.error(
                Diagnostic::error(Code::E011, format!("{what} is not allowed in {here}"), m.span)
                    .with_help(format!("iptables takes it only in {}", names.join(", "))),
            );
        }
    }

    /// iptables refuses `-i` where no input interface is known, `-o` likewise.
    fn check_interfaces(&mut self, rule: &ast::Rule, family: Family) {
        for m in &rule.matches {
            let (opt, bad) = match (&m.kind, family) {
                (
                    MatchKind::InIface(_),
                    Family::Builtin(Builtin::Output | Builtin::Postrouting),
                ) => ("-i", true),
                (MatchKind::OutIface(_), Family::Builtin(Builtin::Input | Builtin::Prerouting)) => {
                    ("-o", true)
                }
                (MatchKind::InIface(_) | MatchKind::OutIface(_), Family::Mirror) => {
                    self.error(
                        Diagnostic::error(Code::E011, "-i/-o cannot narrow a COPY rule", m.span)
                            .with_help("`--from IF` names the interface whose traffic is mirrored"),
                    );
                    continue;
                }
                _ => ("", false),
            };
            if bad {
                let Family::Builtin(b) = family else { unreachable!() };
                // `-i` is refused where packets have no input interface, `-o` where they
                // have no output interface: the label names the interface that is missing.
                let (missing, other) = if opt == "-i" { ("input", "-o") } else { ("output", "-i") };
                self.error(
                    Diagnostic::error(
                        Code::E011,
                        format!("{opt} is not allowed in {}", hook_word(b)),
                        m.span,
                    )
                    .with_label(format!("{} packets have no {missing} interface", hook_word(b)))
                    .with_help(format!(
                        "use {other}, or move the rule to a chain that sees that interface"
                    )),
                );
            }
        }
    }

    /// In PREROUTING and POSTROUTING a NAT line is also an accept in the filter chain that
    /// runs first (ARCHITECTURE.md, "Chain layout"), so that the chain's later filter lines
    /// skip the packets it takes. A match that decides anew each time (a rate, a random draw,
    /// a packet count, a quota) decides apart in the two copies: a later filter line would see packets
    /// the NAT line took, or miss some it left. Refused where a later line could act on them
    /// (a filter line, or a jump, after it in its chain; in a subgroup, any filter line of the
    /// hook); elsewhere the copy changes nothing a packet meets.
    pub(super) fn check_stateful_nat(&mut self) {
        let mut errors = Vec::new();
        for b in [Builtin::Prerouting, Builtin::Postrouting] {
            let family = Family::Builtin(b);
            let chains = || self.chains.iter().filter(move |c| c.family == family);
            let hook_filters =
                chains().flat_map(|c| &c.rules).any(|r| r.action.class() == Class::Filter);
            for chain in chains() {
                let subgroup = chain.name != builtin_chain_name(b);
                for (i, r) in chain.rules.iter().enumerate() {
                    if r.action.class() != Class::Nat {
                        continue;
                    }
                    let Some(what) = r.matches.iter().find_map(Match::decides_anew) else {
                        continue;
                    };
                    let later = chain.rules[i + 1..].iter().find(|l| {
                        l.action.class() == Class::Filter || matches!(l.action, Action::Jump(_))
                    });
                    let blocked = if subgroup { hook_filters } else { later.is_some() };
                    if blocked {
                        errors.push(
                            Diagnostic::error(
                                Code::E011,
                                format!(
                                    "{what} in a {} line of {} cannot be translated exactly here",
                                    r.action.target_word(),
                                    hook_word(b)
                                ),
                                r.span,
                            )
                            .with_help(format!(
                                "overlayfw lays {hook} out as a filter chain that runs first (this line as an accept, so that later filter lines skip what it takes) and a nat chain, and {what} would decide apart in the two; {fix}",
                                hook = hook_word(b),
                                fix = if subgroup {
                                    format!("in a subgroup this needs a {} without filter lines", hook_word(b))
                                } else {
                                    format!("put the filter and jump lines of {} before this line", chain.name)
                                },
                            )),
                        );
                    }
                }
            }
        }
        for e in errors {
            self.error(e);
        }
    }

    /// One set per `--hashlimit-name`, as iptables keeps one table per name: lines sharing a
    /// name must agree on what the table holds (its key and its timeout). Each such pair is
    /// reported at the later line.
    pub(super) fn check_meters(&mut self) {
        let mut first: std::collections::HashMap<
            Box<str>,
            (Vec<crate::ir::MeterKey>, crate::ir::MeterStmt, Span),
        > = Default::default();
        let mut found = Vec::new();
        for chain in &self.chains {
            for p in &chain.rules {
                for m in p.matches.iter() {
                    let Match::Meter(meter) = m else { continue };
                    let crate::ir::MeterStmt::Limit { .. } = meter.stmt else { continue };
                    match first.get(&meter.name) {
                        None => {
                            first.insert(
                                meter.name.clone(),
                                (meter.keys.clone(), meter.stmt, p.span),
                            );
                        }
                        Some((keys, stmt, at)) if *keys != meter.keys || *stmt != meter.stmt => {
                            found.push((meter.name.clone(), p.span, *at));
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        found.sort_by_key(|f| (f.1.file, f.1.start));
        found.dedup_by_key(|f| (f.1.file, f.1.start));
        for (name, at, before) in found {
            let name = name.strip_prefix("hashlimit-").unwrap_or(&name).to_string();
            self.error(
                Diagnostic::error(
                    Code::E008,
                    format!("hashlimit table `{name}` is used with other settings here"),
                    at,
                )
                .with_secondary(before, "first used here")
                .with_help(
                    "iptables keeps one table per `--hashlimit-name`, with the settings of the \
                     rule loaded first; give each setting its own name, or the same mode, masks, \
                     rate, burst and expiry everywhere",
                ),
            );
        }
    }

    /// nft (like iptables) refuses jump loops; report the jump that closes one.
    pub(super) fn check_jump_loops(&mut self) {
        let n = self.chains.len();
        // 0 = unvisited, 1 = on the stack, 2 = done.
        let mut state = vec![0u8; n];
        let mut found = Vec::new();
        for start in 0..n {
            if state[start] != 0 {
                continue;
            }
            // Iterative DFS: (chain, next rule index).
            let mut stack = vec![(start, 0usize)];
            state[start] = 1;
            while let Some(&mut (c, ref mut i)) = stack.last_mut() {
                let rules = &self.chains[c].rules;
                if *i >= rules.len() {
                    state[c] = 2;
                    stack.pop();
                    continue;
                }
                let r = &rules[*i];
                *i += 1;
                let Some((jump, jump_span)) = r.jump() else { continue };
                let Some(&target) = self.index.get(jump) else { continue };
                match state[target] {
                    0 => {
                        state[target] = 1;
                        stack.push((target, 0));
                    }
                    1 => found.push((c, *jump_span, self.chains[target].name.clone())),
                    _ => {}
                }
            }
        }
        let loops = !found.is_empty();
        for (c, span, target) in found {
            let name = self.chains[c].name.clone();
            self.v.diags.push(
                Diagnostic::error(
                    Code::E014,
                    format!("jumping from `{name}` to `{target}` closes a loop"),
                    span,
                )
                .with_help("nftables refuses jump loops; remove one of the jumps"),
            );
        }
        if !loops {
            self.check_jump_depth();
        }
    }

    /// Refuses a jump that reaches a chain deeper than [`JUMP_DEPTH_MAX`] below its base chain
    /// (the VNS3 chains are depth 1), at the jump's line. The jumps form no loop (checked
    /// first), so each chain's depth, the longest way down to it, is found in one pass over
    /// the chains in topological order.
    fn check_jump_depth(&mut self) {
        let n = self.chains.len();
        let targets = |c: usize| {
            self.chains[c]
                .rules
                .iter()
                .filter_map(|r| r.jump())
                .filter_map(|(jump, span)| Some((*self.index.get(jump)?, *span)))
        };
        // Postorder of a DFS from every chain; reversed, each chain comes before the chains
        // it jumps to.
        let mut order = Vec::with_capacity(n);
        let mut seen = vec![false; n];
        for start in 0..n {
            if seen[start] {
                continue;
            }
            seen[start] = true;
            let mut stack = vec![(start, targets(start).map(|t| t.0).collect::<Vec<_>>())];
            while let Some((c, next)) = stack.last_mut() {
                match next.pop() {
                    Some(t) if !seen[t] => {
                        seen[t] = true;
                        let below = targets(t).map(|t| t.0).collect();
                        stack.push((t, below));
                    }
                    Some(_) => {}
                    None => {
                        order.push(*c);
                        stack.pop();
                    }
                }
            }
        }
        let roots: Vec<&str> = [
            Builtin::Prerouting,
            Builtin::Input,
            Builtin::Forward,
            Builtin::Output,
            Builtin::Postrouting,
        ]
        .map(builtin_chain_name)
        .into();
        // 0: not reached from a base chain (the kernel does not walk it).
        let mut depth = vec![0usize; n];
        for (c, chain) in self.chains.iter().enumerate() {
            if roots.contains(&chain.name.as_str()) || chain.name.starts_with("MACRO_CUST") {
                depth[c] = 1;
            }
        }
        let mut too_deep = Vec::new();
        for &c in order.iter().rev() {
            if depth[c] == 0 {
                continue;
            }
            for (t, span) in targets(c) {
                let d = depth[c] + 1;
                if d > JUMP_DEPTH_MAX && depth[c] <= JUMP_DEPTH_MAX {
                    too_deep.push((c, t, span, d));
                }
                depth[t] = depth[t].max(d);
            }
        }
        for (c, t, span, d) in too_deep {
            let (from, to) = (&self.chains[c].name, &self.chains[t].name);
            let d = Diagnostic::error(
                Code::E014,
                format!(
                    "jumping from `{from}` to `{to}` nests chains {d} deep; the kernel allows {JUMP_DEPTH_MAX}"
                ),
                span,
            )
            .with_help(format!(
                "the kernel refuses jumps more than {JUMP_DEPTH_MAX} chains below a hook (the VNS3 chain is the first); \
                 flatten the subgroups"
            ));
            self.v.diags.push(d);
        }
    }
}
