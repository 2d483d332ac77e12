//! `table ip6` of `ipv6: drop` ([`crate::ip6`]) in a netlink batch, in the same transaction
//! as the `ip` table. Each rule is lowered to the expressions nft 1.0.6 makes of its
//! statement (read with `nft --debug=netlink`), so that either backend makes the same table
//! and a table made by one is "the same" to the other (`tests/it/ipv6.rs`).

use std::io;

use nftnl::nftnl_sys::libc;

use super::batch::Batch;
use super::lower::{Base, CmpOp, Expr, MetaKey, REG_1, RulePlan};
use super::read::{self, LiveTable};
use crate::ip6::{Allow, COMMENT, Chain, RULES, rules_of};
use crate::ir::{BaseChain, ChainKind, Hook, Ruleset};

/// What the batch does with `table ip6 NAME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing: it is as it should be (or not ours and not asked for).
    Keep,
    /// Made (again) whole: absent or different, or a whole-table replace.
    Replace,
    /// Removed: overlayfw's, and the inventory no longer asks for it.
    Delete,
}

impl Step {
    /// What an apply's summary says of it.
    pub(crate) fn done(&self) -> Option<&'static str> {
        match self {
            Step::Keep => None,
            Step::Replace => Some("table ip6 made again"),
            Step::Delete => Some("table ip6 deleted"),
        }
    }
}

/// The step a ruleset asks for, from a read of the live `ip6` table (with the generation it
/// saw). A foreign table of that name is refused (`Err(why)`) when the ruleset would replace
/// it, unless `force`.
pub(crate) fn step(rs: &Ruleset, force: bool) -> io::Result<(Result<Step, String>, u32)> {
    let live = read::read_table6(&rs.table)?;
    let foreign = live
        .comment
        .as_ref()
        .and_then(|c| crate::live::apply::foreign_in("ip6", &rs.table, c.as_deref()));
    let step = match (rs.ipv6.managed(), live.exists(), foreign) {
        (false, true, None) => Ok(Step::Delete),
        (false, _, _) => Ok(Step::Keep),
        (true, true, Some(why)) if !force => Err(why),
        (true, _, _) if is_ours(&live) => Ok(Step::Keep),
        (true, _, _) => Ok(Step::Replace),
    };
    Ok((step, live.genid))
}

/// Whether the live table is exactly the one [`crate::ip6`] defines.
fn is_ours(live: &LiveTable) -> bool {
    if !live.exists() || live.flags != 0 || live.objects != 0 || !live.sets.is_empty() {
        return false;
    }
    if live.comment.as_ref().and_then(|c| c.as_deref()) != Some(COMMENT) {
        return false;
    }
    let mut scratch = read::Scratch::new();
    live.chains.len() == Chain::ALL.len()
        && Chain::ALL.iter().all(|&chain| {
            let Some(l) = live.chains.iter().find(|c| c.name == chain.name()) else {
                return false;
            };
            let want: Vec<u64> = rules_of(chain)
                .map(|r| read::planned_fingerprint(&plan(r), &mut scratch))
                .collect();
            // `type filter hook HOOK priority 0 policy drop`, as the kernel lists it.
            let hook = match chain {
                Chain::Input => libc::NF_INET_LOCAL_IN,
                Chain::Forward => libc::NF_INET_FORWARD,
            };
            let base_is = |(ty, h, prio, policy): &(String, u32, i32, u32)| {
                (ty.as_str(), *h, *prio, *policy)
                    == ("filter", hook as u32, 0, libc::NF_DROP as u32)
            };
            l.base.as_ref().is_some_and(base_is) && l.rules.iter().map(|r| r.fingerprint).eq(want)
        })
}

fn base(chain: Chain) -> BaseChain {
    let hook = match chain {
        Chain::Input => Hook::Input,
        Chain::Forward => Hook::Forward,
    };
    BaseChain { kind: ChainKind::Filter, hook, priority: 0 }
}

/// A rule's expressions and comment.
fn plan(rule: &crate::ip6::Rule) -> RulePlan {
    RulePlan {
        anon_sets: Vec::new(),
        exprs: exprs(rule.allow),
        comment: Some(rule.comment.to_string()),
    }
}

/// nft 1.0.6's expressions for each statement of [`crate::ip6::statement`].
fn exprs(allow: Allow) -> Vec<Expr> {
    let meta = |key| Expr::Meta { key, dreg: REG_1 };
    let payload = |base, offset, len| Expr::Payload { base, offset, len, dreg: REG_1 };
    let mut e = match allow {
        // `iif "lo"`: the loopback's index, 1 in every network namespace.
        Allow::Loopback => {
            vec![meta(MetaKey::Iif), Expr::Cmp(CmpOp::Eq, 1u32.to_ne_bytes().to_vec())]
        }
        Allow::EstablishedRelated => {
            // `ct state` is a host-endian bitmask: established 2, related 4.
            vec![
                Expr::CtState,
                Expr::Bitwise { mask: 6u32.to_ne_bytes().to_vec(), xor: vec![0; 4] },
                Expr::Cmp(CmpOp::Neq, vec![0; 4]),
            ]
        }
        Allow::Icmpv6(ty) => vec![
            meta(MetaKey::L4Proto),
            Expr::Cmp(CmpOp::Eq, vec![58]),
            payload(Base::Transport, 0, 1),
            Expr::Cmp(CmpOp::Eq, vec![ty]),
        ],
        // `ip6 saddr fe80::/10 udp sport 547 udp dport 546`: nft loads both ports at once.
        Allow::Dhcpv6Reply => {
            let mut mask = vec![0u8; 16];
            mask[..2].copy_from_slice(&[0xff, 0xc0]);
            let mut link_local = vec![0u8; 16];
            link_local[..2].copy_from_slice(&[0xfe, 0x80]);
            vec![
                payload(Base::Network, 8, 16),
                Expr::Bitwise { mask, xor: vec![0; 16] },
                Expr::Cmp(CmpOp::Eq, link_local),
                meta(MetaKey::L4Proto),
                Expr::Cmp(CmpOp::Eq, vec![17]),
                payload(Base::Transport, 0, 4),
                Expr::Cmp(CmpOp::Eq, [547u16.to_be_bytes(), 546u16.to_be_bytes()].concat()),
            ]
        }
    };
    e.push(Expr::Accept);
    e
}

/// Adds the step's messages to the batch (after the `ip` table's), leaving the batch on the
/// `ip` family again.
pub(crate) fn push(b: &mut Batch, step: &Step) {
    if *step == Step::Keep {
        return;
    }
    b.ip6(true);
    // Create-if-absent, then delete: the table goes whether it was there or not.
    b.table(false, None);
    b.table(true, None);
    if *step == Step::Replace {
        b.table(false, Some(COMMENT));
        for chain in Chain::ALL {
            b.chain_with_policy(chain.name(), Some(&base(chain)), libc::NF_DROP as u32);
        }
        for r in RULES {
            let p = plan(r);
            b.rule(r.chain.name(), &p.exprs, p.comment.as_deref());
        }
    }
    b.ip6(false);
}
