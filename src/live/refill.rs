//! The incremental apply through nft: the live table is read (`nft -j list`), compared with the
//! ruleset (`diff::plan`), and each chain and named set that differs is emptied and filled
//! again in one `nft -f` transaction (`emit::refill_script`); every other chain is untouched,
//! and a rewritten rule starts from the counter and the quotas' used bytes of the live rule
//! with its comment (the same chain, file and content). With nft 1.0.6 an insertion at a
//! position would cost a dump of every rule; a chain rewritten whole costs its own rules, and
//! long chains are laid out as chunks (`layout::chunk`) so an edit rewrites one chunk.
//!
//! nft sends no ruleset generation with its batch, so the kernel cannot refuse a plan made
//! from a read that another process's change has since overtaken. The ruleset's commits are
//! watched meanwhile (`live::monitor`): a commit by anyone else after the read began makes the table
//! read and planned again, before the transaction when it came first, after it when it came
//! in the moment between the last look and nft's commit. What is written does not depend on
//! the read (a rewritten chain or set ends as planned whatever it held), so a change that
//! slips into that moment survives only in a chain the plan left alone, and the next round
//! undoes it; a chain or set that vanished meanwhile fails the transaction, which changes
//! nothing.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use super::apply::Changes;
use super::monitor::Monitor;
use super::nft::{self, NftError};
use crate::diff::{self, Change};
use crate::emit::{self, Carried, Refill};
use crate::ir::Ruleset;

/// Live rules' state (counters, quotas' used bytes) by rule comment, in the chain's order
/// (identical rules share a comment).
type ByComment<'a> = HashMap<&'a str, VecDeque<Carried>>;

/// Rounds of read, plan and commit before giving up on a ruleset others keep changing.
const TRIES: usize = 5;

/// What the nft backend does without `--replace`: see the module's comment. The caller has
/// checked that the live table is overlayfw's (or `--force`). `Ok(Err(why))`: nothing was
/// changed, and only a whole-table replace (the caller's) can make the table `rs`.
pub fn apply(rs: &Ruleset) -> Result<Result<Changes, String>, NftError> {
    apply_observed(rs, &mut || {})
}

/// [`apply`], calling `meddle` just before each transaction is sent (tests change the ruleset
/// there, as another process might).
pub fn apply_observed(
    rs: &Ruleset,
    meddle: &mut dyn FnMut(),
) -> Result<Result<Changes, String>, NftError> {
    let monitor = Monitor::start()?;
    let mut replans = 0;
    loop {
        if replans == TRIES {
            return Err(NftError::Busy { tries: TRIES });
        }
        let started = Instant::now();
        let mark = monitor.mark();
        let Some(bytes) = nft::list_table_json_bytes(&rs.table)? else {
            return Ok(Err("the table did not exist".to_string()));
        };
        let live = match diff::from_listing_bytes(&bytes, &rs.table) {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(Err("the table did not exist".to_string())),
            Err(e) => return Ok(Err(format!("its listing could not be read ({e})"))),
        };
        drop(bytes);
        let ours = diff::from_ruleset(rs);
        let plan = diff::plan(&rs.table, &ours, Some(&live));
        // Changed while it was read (one dump after another): read again.
        if monitor.changed_since(mark)? {
            replans += 1;
            continue;
        }
        if plan.is_same() {
            return Ok(Ok(Changes {
                rules_kept: ours.chains.values().map(|c| c.rules.len()).sum(),
                replans,
                ..Changes::default()
            }));
        }
        let (refill, mut changes) = match planned(rs, &plan, &live) {
            Ok(p) => p,
            Err(why) => return Ok(Err(why)),
        };
        // The live rules' state by chain and comment, in order (identical rules share both):
        // counters, and what a quota has used, which a reset would give again.
        let mut counters: HashMap<&str, ByComment> = HashMap::new();
        for chain in &refill.rewritten {
            let by_comment = counters.entry(chain.name.as_str()).or_default();
            for r in live.chains.get(&chain.name).map_or(&[][..], |c| &c.rules) {
                if let (Some(comment), Some(counter)) = (&r.comment, r.counter) {
                    let carried = Carried { counter: Some(counter), quotas: r.quotas.clone() };
                    by_comment.entry(comment.as_str()).or_default().push_back(carried);
                }
            }
        }
        let script = emit::refill_script(rs, &refill, &mut |chain, comment| {
            counters.get_mut(chain)?.get_mut(comment)?.pop_front()
        });
        meddle();
        if monitor.changed_since(mark)? {
            replans += 1;
            continue;
        }
        match nft::load_by(&script) {
            // Another commit came between the last look and ours: what it did outside the
            // rewritten chains is still there. The next round reads and undoes it.
            Ok(pid) if monitor.others_before(mark, pid)? => replans += 1,
            Ok(_) => {
                changes.replans = replans;
                changes.kernel = started.elapsed();
                return Ok(Ok(changes));
            }
            // A chain or set the plan names is gone: the read is stale; read and plan again.
            Err(NftError::Failed { stderr, .. })
                if stderr.contains("No such file or directory") =>
            {
                replans += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The refill that makes the live table `rs`, and what it changes; `Err`: why only a
/// replace can (flags, named objects, a base chain's hook, type or policy, a set's type, a
/// live name that cannot be written into a script).
fn planned<'a>(
    rs: &'a Ruleset,
    plan: &diff::Plan,
    live: &diff::Model,
) -> Result<(Refill<'a>, Changes), String> {
    if let Some((flags, _)) = &plan.flags {
        return Err(format!("the table has flags {}", flags.join(",")));
    }
    if let Some((kind, name)) = plan.objects.first() {
        return Err(format!("the table holds a {kind} {name}"));
    }
    let plain = |name: &str| {
        if crate::nft::is_plain_name(name) {
            Ok(name.to_string())
        } else {
            Err(format!("the table holds a chain or set named {:?}", name))
        }
    };
    let mut refill = Refill::default();
    let mut c = Changes::default();
    let ours = |name: &str| rs.chains.iter().find(|ch| ch.name == name);
    for ch in &plan.chains {
        if ch.change == Change::Changed && ch.base.is_some() {
            return Err(format!("chain {} changes its type, hook, priority or policy", ch.name));
        }
        let live_rules = live.chains.get(&ch.name).map_or(0, |l| l.rules.len());
        match ch.change {
            Change::Removed => {
                refill.removed.push(plain(&ch.name)?);
                c.chains_deleted += usize::from(ch.version().is_none());
                c.rules_deleted += live_rules;
            }
            Change::Added | Change::Changed => {
                let chain = ours(&ch.name).ok_or("a planned chain is not in the ruleset")?;
                if ch.change == Change::Added {
                    refill.added.push(chain);
                    match ch.version() {
                        Some(_) => c.version = Some(ch.name.clone()),
                        None => c.chains_added += 1,
                    }
                }
                refill.rewritten.push(chain);
                // What differs; the rest of the chain is written again as it was, counters kept.
                c.rules_added += ch.edits.iter().filter(|e| e.add).count();
                c.rules_deleted += ch.edits.iter().filter(|e| !e.add).count();
            }
        }
    }
    // In the ruleset's order: a chain before those that jump to it (the order of `add chain`).
    let order = |name: &str| rs.chains.iter().position(|ch| ch.name == name);
    refill.added.sort_by_key(|ch| order(&ch.name));
    refill.rewritten.sort_by_key(|ch| order(&ch.name));
    for s in &plan.sets {
        if s.declaration.is_some() {
            return Err(format!("set {} changes its type or flags", s.name));
        }
        let set = rs.sets.iter().find(|set| set.name == s.name);
        match (s.change, set) {
            (Change::Removed, _) => refill.sets_removed.push(plain(&s.name)?),
            (Change::Added, Some(set)) => {
                refill.sets_added.push(set);
                c.sets_added += 1;
            }
            (_, Some(set)) => refill.sets_refilled.push(set),
            // A meter's set (hashlimit, connlimit) made anew: declared with the whole table.
            (_, None) => return Err(format!("set {} is new", s.name)),
        }
        c.elements_added += s.added.len();
        c.elements_deleted += s.removed.len();
    }
    let rules: usize = rs.chains.iter().map(|ch| ch.rules.len()).sum();
    c.rules_kept = rules - c.rules_added;
    Ok((refill, c))
}
