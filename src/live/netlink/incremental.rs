//! Changing the live table into the ruleset in one transaction that touches only what
//! differs: rules deleted by handle and added at their place, chains created and deleted,
//! named sets' elements added and removed. Untouched rules keep their counters. A meter's
//! dynamic set (hashlimit, connlimit) is created when new and deleted when no rule uses it,
//! and its elements (the kernel's buckets and connection counts) are never touched.
//!
//! The plan is made from one consistent read of the table ([`read::read_table`]) and sent in
//! a batch carrying that read's ruleset generation: if anything changed the ruleset in
//! between, the kernel refuses the whole batch (`ERESTART`) and the table is read and planned
//! again. What the plan cannot express as changes (the table missing or with flags, a base
//! chain's hook, type or priority changed, a named set's type changed or an FWset gone) is a
//! whole-table replace ([`super::apply`]), also one transaction.

use std::collections::{HashMap, HashSet};
use std::io;

use super::batch::Batch;
use super::ip6::{self, Step};
use super::lower::{Key, Lowerer, SetPlan, named_ids};
use super::read::{self, LiveChain, LiveRule, LiveTable};
use super::{ApplyReport, ERESTART, NetlinkError, Object};
use crate::ir::{BaseChain, ChainKind, Hook, Ruleset, SetElements};

/// Plans made again after a refusal for a changed generation.
const TRIES: usize = 10;

pub use crate::live::apply::Changes;

/// Makes `table ip <ruleset.table>` the ruleset, changing only what differs. A live table
/// overlayfw did not make ([`crate::live::apply::foreign`]) is refused, or with `force`
/// replaced whole (a table's comment cannot change, and it must say overlayfw's).
pub fn apply(rs: &Ruleset, force: bool) -> Result<Changes, NetlinkError> {
    apply_observed(rs, force, &mut || {})
}

/// [`apply`], calling `between` after each plan is made and before it is sent: where another
/// process's change would make the plan stale (the tests make one there).
#[doc(hidden)]
pub fn apply_observed(
    rs: &Ruleset,
    force: bool,
    between: &mut dyn FnMut(),
) -> Result<Changes, NetlinkError> {
    // What `table ip6` needs, from a read in the generation the plan is made in (read again
    // below when the `ip` table's read saw another).
    let ip6_step = |rs: &Ruleset| -> Result<(Step, u32), NetlinkError> {
        match ip6::step(rs, force).map_err(NetlinkError::Receive)? {
            (Ok(step), generation) => Ok((step, generation)),
            (Err(why), _) => Err(NetlinkError::Foreign(why)),
        }
    };
    let (mut step6, mut generation6) = ip6_step(rs)?;
    // No table yet: made whole, with nothing to compare.
    if !read::table_exists(&rs.table).map_err(NetlinkError::Receive)? {
        return replace_whole(rs, "the table did not exist".into(), 0);
    }
    // The view the last apply left stands for the table while the generation is still the
    // one it made: nothing in the namespace changed since, and the batch checks that again.
    // Without one, our side is lowered and fingerprinted while the table is read.
    let (first, prepared) = match View::load(&rs.table) {
        Some(view) => {
            let prepared = prepare(rs, Some(&view));
            (Ok((view, true)), prepared)
        }
        None => std::thread::scope(|s| {
            let reader = s.spawn(|| read::read_table(&rs.table).map(|t| (t, false)));
            let prepared = prepare_known(rs, &View::fingerprints(&rs.table));
            (reader.join().expect("table reader"), prepared)
        }),
    };
    let mut first = Some(first);
    let mut replans = 0;
    loop {
        let read = match first.take() {
            Some(r) => r,
            None => read::read_table(&rs.table).map(|t| (t, false)),
        };
        let (live, from_view) = read.map_err(NetlinkError::Receive)?;
        if generation6 != live.genid {
            (step6, generation6) = ip6_step(rs)?;
        }
        let foreign = live
            .comment
            .as_ref()
            .and_then(|c| crate::live::apply::foreign(&rs.table, c.as_deref()));
        let plan = match foreign {
            Some(why) if !force => return Err(NetlinkError::Foreign(why)),
            Some(why) => Plan::Replace(why),
            None => plan(rs, &live, &prepared, &step6),
        };
        let planned = match plan {
            Plan::Replace(reason) => return replace_whole(rs, reason, replans),
            Plan::Batch(p) => p,
        };
        let mut changes = planned.changes;
        changes.replans = replans;
        changes.from_view = from_view;
        if changes.nothing() {
            changes.generation = Some(live.genid);
            // Every rule kept: the plan's picture of the table is the table, keys included.
            let mut view = planned.after;
            view.genid = live.genid;
            View::save(&rs.table, &view);
            return Ok(changes);
        }
        between();
        let mut echoed: HashMap<u32, u64> = HashMap::new();
        let sent = super::transact_echo(
            &planned.buf,
            planned.last_seq,
            planned.messages,
            &mut |seq, handle| {
                echoed.insert(seq, handle);
            },
        );
        match sent {
            Ok(kernel) => {
                changes.kernel = kernel;
                // Ours was checked to start from the read's generation.
                changes.generation = Some(super::next_generation(live.genid));
                let mut after = planned.after;
                if View::resolve(&mut after, &echoed) {
                    View::save(&rs.table, &after);
                } else {
                    View::forget(&rs.table);
                }
                return Ok(changes);
            }
            Err(super::Failure::Refused(seq, errno)) => {
                if errno == ERESTART && replans + 1 < TRIES {
                    replans += 1;
                    continue;
                }
                let object = planned
                    .objects
                    .iter()
                    .rev()
                    .find(|(s, _)| *s <= seq)
                    .map_or(Object::Batch, |(_, o)| o.clone());
                return Err(NetlinkError::Refused {
                    object,
                    source: io::Error::from_raw_os_error(errno),
                });
            }
            Err(super::Failure::Other(e)) => return Err(e),
        }
    }
}

/// The table as the last incremental apply left it, kept in the state directory
/// (`NS-TABLE.view`, JSON) so that the next apply plans without reading every rule back: while
/// the ruleset generation is still the one that apply made, nothing in the namespace changed,
/// and the batch's generation check makes sure of it again at commit.
struct View;

impl View {
    fn path(table: &str) -> std::path::PathBuf {
        crate::live::confirm::path(table, "view")
    }

    /// The view, if it is of this namespace (by its cookie: a namespace's inode number, in the
    /// file's name, is reused after it goes) and its generation is still the live one.
    fn load(table: &str) -> Option<LiveTable> {
        let text = std::fs::read(Self::path(table)).ok()?;
        let (cookie, binary, view): (u64, String, LiveTable) =
            serde_json::from_slice(&text).ok()?;
        let now = read::namespace_and_generation().ok()?;
        (now == (cookie, view.genid) && binary == Self::binary()).then_some(view)
    }

    /// The fingerprints of planned rules by key in the view this binary left, whatever the
    /// ruleset's generation now (empty without one): a planned rule's fingerprint depends only
    /// on the binary and the rule, so our side is not lowered again for the rules it holds.
    fn fingerprints(table: &str) -> HashMap<u64, u64> {
        let Ok(text) = std::fs::read(Self::path(table)) else { return HashMap::new() };
        match serde_json::from_slice::<(u64, String, LiveTable)>(&text) {
            Ok((_, binary, view)) if binary == Self::binary() => known(&view),
            _ => HashMap::new(),
        }
    }

    /// This binary, as its file is now: a view's keys stand for fingerprints only as the
    /// binary that wrote it lowers rules (another build may lower a statement otherwise).
    fn binary() -> String {
        let exe = std::env::current_exe().ok();
        let meta = exe.as_ref().and_then(|e| std::fs::metadata(e).ok());
        let mtime = meta.as_ref().and_then(|m| m.modified().ok()).map(|t| format!("{t:?}"));
        format!("{exe:?} {:?} {mtime:?} {}", meta.map(|m| m.len()), env!("CARGO_PKG_VERSION"))
    }

    fn save(table: &str, view: &LiveTable) {
        let path = Self::path(table);
        let Ok((cookie, _)) = read::namespace_and_generation() else {
            return Self::forget(table);
        };
        let Ok(text) = serde_json::to_vec(&(cookie, Self::binary(), view)) else { return };
        let _ = std::fs::create_dir_all(crate::live::confirm::state_dir());
        let written = crate::files::write_atomically_with(&path, |w| w.write_all(&text), None);
        if written.is_err() {
            Self::forget(table);
        }
    }

    fn forget(table: &str) {
        let _ = std::fs::remove_file(Self::path(table));
    }

    /// Puts the echoed handles of new rules in place; false if one is missing.
    fn resolve(after: &mut LiveTable, echoed: &HashMap<u32, u64>) -> bool {
        for rule in after.chains.iter_mut().flat_map(|c| &mut c.rules) {
            if rule.handle & ECHO != 0 {
                match echoed.get(&((rule.handle & !ECHO) as u32)) {
                    Some(&h) => rule.handle = h,
                    None => return false,
                }
            }
        }
        true
    }
}

/// The whole table replaced in one transaction (`super::apply`), for `reason`.
fn replace_whole(rs: &Ruleset, reason: String, replans: usize) -> Result<Changes, NetlinkError> {
    View::forget(&rs.table);
    let report: ApplyReport = super::apply(rs)?;
    Ok(Changes {
        replaced: Some(reason),
        rules_added: report.rules,
        chains_added: report.chains,
        sets_added: report.sets,
        elements_added: report.set_elements,
        replans,
        kernel: report.kernel,
        generation: Some(report.generation),
        ..Changes::default()
    })
}

/// Whether the live table is exactly the ruleset (read and compared as [`apply`] would, but
/// nothing sent): `diff`'s fast answer.
pub fn same(rs: &Ruleset) -> io::Result<bool> {
    let (live, prepared) = std::thread::scope(|s| {
        let reader = s.spawn(|| read::read_table(&rs.table));
        let prepared = prepare_known(rs, &View::fingerprints(&rs.table));
        (reader.join().expect("table reader"), prepared)
    });
    same_as_read(rs, &live?, &prepared)
}

/// [`same`] of a table read beforehand (`diff` reads it while the rules compile).
pub fn same_as(rs: &Ruleset, live: &LiveTable) -> io::Result<bool> {
    same_as_read(rs, live, &prepare_known(rs, &View::fingerprints(&rs.table)))
}

fn same_as_read(rs: &Ruleset, live: &LiveTable, prepared: &Prepared) -> io::Result<bool> {
    let ours = live
        .comment
        .as_ref()
        .is_some_and(|c| crate::live::apply::foreign(&rs.table, c.as_deref()).is_none());
    let step6 = ip6::step(rs, false)?.0;
    Ok(ours
        && step6 == Ok(Step::Keep)
        && matches!(plan(rs, live, prepared, &Step::Keep), Plan::Batch(p) if p.changes.nothing()))
}

/// Our side of a plan: every rule's fingerprint and key, per chain (the rules are lowered to
/// the expressions the batch would carry, printed and let go: only the few rules a plan adds
/// are lowered again). Made once and kept when the plan is made again.
struct Prepared {
    fingerprints: Vec<Vec<u64>>,
    keys: Vec<Vec<u64>>,
}

/// A hash of a rule's chain, statement and comment: equal keys, the same rule (the same
/// binary lowers the same statement the same way; see [`View`]).
fn rule_key(chain: &str, rule: &crate::ir::Rule, rs: &Ruleset, text: &mut String) -> u64 {
    use std::hash::Hasher as _;
    text.clear();
    crate::emit::push_statement(text, rule, &rs.sets);
    let mut h = siphasher::sip::SipHasher13::new();
    h.write(chain.as_bytes());
    h.write_u8(0xff);
    h.write(text.as_bytes());
    h.write_u8(0xff);
    if let Some(c) = crate::emit::comment(chain, rule, &rs.sets, &rs.files) {
        h.write(c.as_bytes());
    }
    h.finish()
}

/// Fingerprints (and keys) of every rule. With a view of the same binary, a rule whose key is
/// one of the view's takes that rule's fingerprint: the view's rules are exactly those sent,
/// so only the rules that changed are lowered and printed.
fn prepare(rs: &Ruleset, view: Option<&LiveTable>) -> Prepared {
    prepare_known(rs, &view.map(known).unwrap_or_default())
}

/// A view's fingerprints by key.
fn known(view: &LiveTable) -> HashMap<u64, u64> {
    view.chains
        .iter()
        .flat_map(|c| &c.rules)
        .filter(|r| r.key != 0)
        .map(|r| (r.key, r.fingerprint))
        .collect()
}

/// [`prepare`] with the fingerprints already known by key.
fn prepare_known(rs: &Ruleset, known: &HashMap<u64, u64>) -> Prepared {
    let named = named_ids(rs);
    // Every core takes an equal share of the rules, each with a lowerer of its own (the set
    // ids it hands out are not part of a fingerprint): libnftnl prints every expression of
    // 100,000 rules.
    let all: Vec<(&str, &crate::ir::Rule)> =
        rs.chains.iter().flat_map(|c| c.rules.iter().map(move |r| (c.name.as_str(), r))).collect();
    let per = all.len().div_ceil(crate::parallel::threads()).max(1);
    let flat: Vec<(u64, u64)> = crate::parallel::map(all.chunks(per).collect(), |part| {
        let mut lowerer = Lowerer::new(rs, &named);
        let (mut scratch, mut statement) = (read::Scratch::new(), String::new());
        part.iter()
            .map(|(chain, rule)| {
                let key = rule_key(chain, rule, rs, &mut statement);
                let fingerprint = match known.get(&key) {
                    Some(&f) => f,
                    None => read::planned_fingerprint(&lowerer.rule(chain, rule), &mut scratch),
                };
                (fingerprint, key)
            })
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    let mut rest = &flat[..];
    let (mut fingerprints, mut keys) = (Vec::new(), Vec::new());
    for c in &rs.chains {
        let (mine, more) = rest.split_at(c.rules.len());
        rest = more;
        fingerprints.push(mine.iter().map(|p| p.0).collect());
        keys.push(mine.iter().map(|p| p.1).collect());
    }
    Prepared { fingerprints, keys }
}

enum Plan {
    Replace(String),
    Batch(Box<Planned>),
}

struct Planned {
    buf: Vec<u8>,
    last_seq: u32,
    messages: usize,
    /// The object each message (by first sequence number) belongs to, for errors.
    objects: Vec<(u32, Object)>,
    changes: Changes,
    /// The table as it will be once committed, a new rule's handle standing as the sequence
    /// number of its message until the kernel echoes it (see [`View`]).
    after: LiveTable,
}

/// Where a planned rule's handle comes from: a kept rule's handle, or (for a new rule) the
/// kernel's echo of the message with this sequence number. Kept in `LiveRule::handle` with
/// the top bit marking a sequence number until the echo replaces it.
const ECHO: u64 = 1 << 63;

/// A base chain as the kernel lists it: type, hook number, priority, policy (accept).
fn base_key(base: &BaseChain) -> (String, u32, i32, u32) {
    let ty = match base.kind {
        ChainKind::Filter => "filter",
        ChainKind::Nat => "nat",
    };
    let hook = match base.hook {
        Hook::Prerouting => 0,
        Hook::Input => 1,
        Hook::Forward => 2,
        Hook::Output => 3,
        Hook::Postrouting => 4,
    };
    (ty.to_string(), hook, base.priority, 1)
}

fn named_set_plan(rs: &Ruleset, i: usize, id: u32) -> SetPlan {
    let set = &rs.sets[i];
    let (key, elems) = match &set.elements {
        SetElements::Addrs(nets) => (Key::Ipv4, super::lower::addr_elems(nets)),
        SetElements::Ports(ports) => (Key::Service, super::lower::port_elems(ports)),
    };
    SetPlan {
        name: set.name.clone(),
        id,
        key,
        data: None,
        anonymous: false,
        interval: true,
        concat: Vec::new(),
        elems,
        dynamic: None,
    }
}

fn plan(rs: &Ruleset, live: &LiveTable, prepared: &Prepared, step6: &Step) -> Plan {
    if !live.exists() {
        return Plan::Replace("the table did not exist".into());
    }
    if live.flags != 0 {
        return Plan::Replace("the table had flags".into());
    }
    if live.objects != 0 {
        return Plan::Replace("the table held named objects overlayfw does not make".into());
    }
    let live_chains: HashMap<&str, &LiveChain> =
        live.chains.iter().map(|c| (c.name.as_str(), c)).collect();
    for chain in &rs.chains {
        if let Some(l) = live_chains.get(chain.name.as_str())
            && l.base != chain.base.as_ref().map(base_key)
        {
            return Plan::Replace(format!("chain {} changed its hook", chain.name));
        }
    }
    let named = named_ids(rs);
    let set_plans: Vec<SetPlan> =
        (0..rs.sets.len()).map(|i| named_set_plan(rs, i, named[i].1)).collect();
    // The meters' dynamic sets: made when new, never emptied or filled (their elements are
    // the kernel's runtime state: buckets and connection counts).
    let meters = rs.meters();
    let meter_plans: Vec<SetPlan> = meters
        .iter()
        .zip(&named[rs.sets.len()..])
        .map(|(m, (_, id))| super::lower::meter_set_plan(m, *id))
        .collect();
    let live_sets: HashMap<&str, &read::LiveSet> =
        live.sets.iter().map(|s| (s.name.as_str(), s)).collect();
    for plan in set_plans.iter().chain(&meter_plans) {
        if let Some(l) = live_sets.get(plan.name.as_str())
            && l.shape != read::planned_shape(plan)
        {
            return Plan::Replace(format!("set {} changed its type", plan.name));
        }
    }
    let ours: HashSet<&str> =
        rs.sets.iter().map(|s| s.name.as_str()).chain(meters.iter().map(|m| &*m.name)).collect();
    // A meter's set that no rule uses any more is deleted after its rules; another set gone
    // is a replace.
    let is_meter = |s: &read::LiveSet| {
        !s.anonymous && s.shape.0 & nftnl::nftnl_sys::libc::NFT_SET_EVAL as u32 != 0
    };
    let gone: Vec<&read::LiveSet> =
        live.sets.iter().filter(|s| !ours.contains(s.name.as_str())).collect();
    if let Some(gone) = gone.iter().find(|s| !is_meter(s)) {
        return Plan::Replace(format!("set {} went away", gone.name));
    }

    let rules: usize = rs.chains.iter().map(|c| c.rules.len()).sum();
    let mut b = Batch::at_generation(&rs.table, 4096 + rules.min(4096) * 1024, live.genid);
    let mut objects: Vec<(u32, Object)> = Vec::new();
    let mut changes = Changes::default();

    // Chains that are new.
    for chain in &rs.chains {
        if !live_chains.contains_key(chain.name.as_str()) {
            objects.push((b.next_seq(), Object::Chain { name: chain.name.clone() }));
            b.chain(&chain.name, chain.base.as_ref());
            if chain.name.starts_with(crate::ir::VERSION_CHAIN) {
                changes.version = Some(chain.name.clone());
            } else {
                changes.chains_added += 1;
            }
        }
    }
    // Named sets that are new, with their elements.
    for plan in set_plans.iter().chain(&meter_plans) {
        if !live_sets.contains_key(plan.name.as_str()) {
            objects.push((b.next_seq(), Object::Set { name: plan.name.clone() }));
            b.set(plan);
            changes.sets_added += 1;
            changes.elements_added += plan.elems.len();
        }
    }

    // Each chain's live rules matched against our rules' fingerprints.
    let mut additions: Vec<(usize, usize, Option<u64>)> = Vec::new();
    let mut after = LiveTable {
        genid: super::next_generation(live.genid),
        comment: live.comment.clone(),
        ..LiveTable::default()
    };
    for (c, chain) in rs.chains.iter().enumerate() {
        let new = &prepared.fingerprints[c];
        let old_rules = live_chains.get(chain.name.as_str()).map_or(&[][..], |l| &l.rules[..]);
        let old: Vec<u64> = old_rules.iter().map(|r| r.fingerprint).collect();
        let mut kept = vec![false; old.len()];
        let mut inserts: Vec<(usize, usize)> = Vec::new(); // (old position, new index)
        // The handle each new-side rule will have (0: a new rule, known once echoed).
        let mut handles = vec![0u64; new.len()];
        for op in similar::capture_diff_slices(similar::Algorithm::Myers, &old, new) {
            match op {
                similar::DiffOp::Equal { old_index, new_index, len } => {
                    kept[old_index..old_index + len].fill(true);
                    for k in 0..len {
                        handles[new_index + k] = old_rules[old_index + k].handle;
                    }
                    changes.rules_kept += len;
                }
                similar::DiffOp::Delete { .. } => {}
                similar::DiffOp::Insert { old_index, new_index, new_len } => {
                    inserts.extend((new_index..new_index + new_len).map(|n| (old_index, n)));
                }
                similar::DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                    let at = old_index + old_len;
                    inserts.extend((new_index..new_index + new_len).map(|n| (at, n)));
                }
            }
        }
        for (rule, _) in old_rules.iter().zip(&kept).filter(|(_, k)| !**k) {
            objects.push((
                b.next_seq(),
                Object::Rule { chain: chain.name.clone(), position: 0, origin: None },
            ));
            b.delete_rule(&chain.name, Some(rule.handle));
            changes.rules_deleted += 1;
        }
        // A new rule goes before the first rule kept at or after its place, or at the end.
        let mut next_kept = vec![None; old.len() + 1];
        for i in (0..old.len()).rev() {
            next_kept[i] = if kept[i] { Some(old_rules[i].handle) } else { next_kept[i + 1] };
        }
        after.chains.push(LiveChain {
            name: chain.name.clone(),
            base: chain.base.as_ref().map(base_key),
            rules: (0..new.len())
                .map(|n| LiveRule {
                    handle: handles[n],
                    // The fingerprint holds it; the view does not need the text.
                    comment: None,
                    counter: None,
                    fingerprint: new[n],
                    key: prepared.keys[c][n],
                })
                .collect(),
        });
        for (at, n) in inserts {
            additions.push((c, n, next_kept[at]));
        }
    }
    // Chains that went away: emptied, then deleted (after every rule that jumps to them).
    for l in &live.chains {
        if !rs.chains.iter().any(|c| c.name == l.name) {
            objects.push((b.next_seq(), Object::Chain { name: l.name.clone() }));
            if !l.rules.is_empty() {
                b.delete_rule(&l.name, None);
                changes.rules_deleted += l.rules.len();
            }
            if !l.name.starts_with(crate::ir::VERSION_CHAIN) {
                changes.chains_deleted += 1;
            }
        }
    }
    for l in &live.chains {
        if !rs.chains.iter().any(|c| c.name == l.name) {
            objects.push((b.next_seq(), Object::Chain { name: l.name.clone() }));
            b.delete_chain(&l.name);
        }
    }
    // Meters' sets no rule uses now (their rules are deleted above).
    for set in &gone {
        objects.push((b.next_seq(), Object::Set { name: set.name.clone() }));
        b.delete_set(&set.name);
        changes.sets_deleted += 1;
    }
    // Named sets' elements: removed, then added.
    for plan in &set_plans {
        let Some(l) = live_sets.get(plan.name.as_str()) else { continue };
        // Hash sets: a 10,000-element FWset has 20,000 interval elements a side.
        let want = read::sorted_elems(&plan.elems);
        let (want_set, live_set): (HashSet<_>, HashSet<_>) =
            (want.iter().collect(), l.elems.iter().collect());
        let gone: Vec<_> = l.elems.iter().filter(|e| !want_set.contains(e)).cloned().collect();
        let added: Vec<_> = want.iter().filter(|e| !live_set.contains(e)).cloned().collect();
        if gone.is_empty() && added.is_empty() {
            continue;
        }
        // Emptied and filled again in the same transaction: removing some interval ends and
        // adding others at the same keys in one batch is refused (EEXIST) by the kernel's
        // interval tree. Nothing matches against the set half-way: the kernel applies all
        // of it at once.
        objects.push((b.next_seq(), Object::SetElements { set: plan.name.clone() }));
        b.flush_set(&plan.name);
        b.set_elements(&plan.name, &want);
        changes.elements_deleted += gone.len();
        changes.elements_added += added.len();
    }
    // New rules, each after the anonymous sets it uses.
    let mut lowerer = Lowerer::new(rs, &named);
    for (c, n, before) in additions {
        let chain = &rs.chains[c];
        let plan = lowerer.rule(&chain.name, &chain.rules[n]);
        objects.push((
            b.next_seq(),
            Object::Rule {
                chain: chain.name.clone(),
                position: n + 1,
                origin: chain.rules[n]
                    .origin
                    .as_ref()
                    .map(|o| (rs.files.name(o.file).to_string(), o.line.get())),
            },
        ));
        for set in &plan.anon_sets {
            b.set(set);
        }
        let seq = b.rule_at(&chain.name, &plan.exprs, plan.comment.as_deref(), before, true);
        after.chains[c].rules[n].handle = ECHO | u64::from(seq);
        changes.rules_added += 1;
    }
    for plan in &set_plans {
        after.sets.push(read::LiveSet {
            name: plan.name.clone(),
            anonymous: false,
            shape: read::planned_shape(plan),
            elems: read::sorted_elems(&plan.elems),
        });
    }
    for plan in &meter_plans {
        after.sets.push(read::LiveSet {
            name: plan.name.clone(),
            anonymous: false,
            shape: read::planned_shape(plan),
            elems: Vec::new(),
        });
    }
    after.sets.sort_by(|a, b| a.name.cmp(&b.name));
    if *step6 != Step::Keep {
        objects.push((b.next_seq(), Object::Table6 { name: rs.table.clone() }));
        ip6::push(&mut b, step6);
        changes.ip6 = step6.done();
    }
    let (buf, last_seq) = b.finish();
    let messages = (last_seq + 1 - Batch::BEGIN_SEQ + 1) as usize;
    Plan::Batch(Box::new(Planned { buf, last_seq, messages, objects, changes, after }))
}
