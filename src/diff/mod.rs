//! Proposed ruleset vs live table, compared as models: both sides become nft JSON listings
//! (ours from the IR, the kernel's from `nft -j list`), are put in canonical form
//! (see `canon`), and compared per set and per chain; rule order matters, handles, counters
//! and comments do not. The result is a plan: per chain, rules to add and remove in order.

pub mod canon;
pub mod text;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::ir::Ruleset;

/// One side of the comparison.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub sets: BTreeMap<String, SetModel>,
    pub chains: BTreeMap<String, ChainModel>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetModel {
    pub kind: String,
    pub flags: Vec<String>,
    /// Merged inclusive intervals.
    pub elements: Vec<(u64, u64)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseModel {
    pub kind: String,
    pub hook: String,
    pub priority: i64,
    pub policy: String,
}

#[derive(Clone, Debug, Default)]
pub struct ChainModel {
    pub base: Option<BaseModel>,
    pub rules: Vec<RuleModel>,
}

#[derive(Clone, Debug)]
pub struct RuleModel {
    /// Canonical expressions as compact JSON: equal keys mean the same rule.
    pub key: String,
    /// nft text to show.
    pub text: String,
    /// `FILE:LINE` (and note) for a proposed rule, or the live rule's comment.
    pub comment: Option<String>,
    /// The live rule's handle.
    pub handle: Option<u64>,
}

/// Reads the objects of `table ip NAME` from an `nft -j list …` document (a whole ruleset or
/// one table). `Ok(None)`: the table is not there. Tolerant: unknown objects and keys are
/// ignored, unknown expressions compare by their JSON.
pub fn from_listing(doc: &Value, table: &str) -> Result<Option<Model>, String> {
    let bytes = serde_json::to_vec(doc).map_err(|e| e.to_string())?;
    from_listing_bytes(&bytes, table)
}

/// [`from_listing`] from the listing's text. The document is not turned into one JSON value:
/// each object is parsed on its own and a rule's expressions are dropped once it is keyed, so
/// a 100,000-rule listing costs about its own size in memory.
pub fn from_listing_bytes(bytes: &[u8], table: &str) -> Result<Option<Model>, String> {
    read_listing_on(bytes, table, crate::parallel::threads())
}

/// [`from_listing_bytes`] on up to `threads` threads.
fn read_listing_on(bytes: &[u8], table: &str, threads: usize) -> Result<Option<Model>, String> {
    use serde_json::value::RawValue;
    use std::borrow::Cow;

    #[derive(serde::Deserialize)]
    struct Doc<'a> {
        #[serde(borrow)]
        nftables: Vec<&'a RawValue>,
    }
    #[derive(serde::Deserialize)]
    struct Obj<'a> {
        #[serde(borrow, default)]
        table: Option<&'a RawValue>,
        #[serde(borrow, default)]
        set: Option<&'a RawValue>,
        #[serde(borrow, default)]
        chain: Option<&'a RawValue>,
        #[serde(borrow, default)]
        rule: Option<&'a RawValue>,
    }
    #[derive(serde::Deserialize)]
    struct RuleObj<'a> {
        #[serde(borrow, default)]
        family: Cow<'a, str>,
        #[serde(borrow, default)]
        table: Cow<'a, str>,
        #[serde(borrow)]
        chain: Option<Cow<'a, str>>,
        #[serde(default)]
        handle: Option<u64>,
        #[serde(default)]
        comment: Option<String>,
        #[serde(default)]
        expr: Vec<Value>,
    }
    /// What one listed object contributes.
    enum Item {
        Rule(String, RuleModel),
        Table(bool),
        Set(String, SetModel),
        Chain(String, Option<BaseModel>),
        Other,
    }
    let parse = |raw: &str| -> Result<Value, String> {
        serde_json::from_str(raw).map_err(|e| e.to_string())
    };
    let mine = |o: &Value, table_key: &str| o["family"] == "ip" && o[table_key] == table;
    let item = |raw: &RawValue| -> Result<Item, String> {
        let obj: Obj = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
        if let Some(r) = obj.rule {
            let r: RuleObj = serde_json::from_str(r.get()).map_err(|e| e.to_string())?;
            if r.family != "ip" || r.table != table {
                return Ok(Item::Other);
            }
            let chain = r.chain.ok_or("a rule without a chain")?;
            let rule = RuleModel {
                key: canon::rule(&r.expr),
                text: text::rule(&r.expr),
                comment: r.comment,
                handle: r.handle,
            };
            Ok(Item::Rule(chain.into_owned(), rule))
        } else if let Some(t) = obj.table {
            Ok(Item::Table(mine(&parse(t.get())?, "name")))
        } else if let Some(s) = obj.set {
            let s = parse(s.get())?;
            if !mine(&s, "table") {
                return Ok(Item::Other);
            }
            let name = s["name"].as_str().ok_or("a set without a name")?.to_string();
            Ok(Item::Set(name, set_model(&s)))
        } else if let Some(c) = obj.chain {
            let c = parse(c.get())?;
            if !mine(&c, "table") {
                return Ok(Item::Other);
            }
            let name = c["name"].as_str().ok_or("a chain without a name")?.to_string();
            Ok(Item::Chain(name, base_model(&c)))
        } else {
            Ok(Item::Other)
        }
    };
    let doc: Doc =
        serde_json::from_slice(bytes).map_err(|e| format!("not an nft JSON listing: {e}"))?;
    // Objects are read independently: a large listing is shared out over the cores in runs,
    // and the runs are folded in order.
    let per = doc.nftables.len().div_ceil(threads.max(1)).max(4096);
    let runs: Vec<Result<Vec<Item>, String>> =
        crate::parallel::map(doc.nftables.chunks(per).collect(), |run| {
            run.iter().map(|raw| item(raw)).collect()
        });
    let mut present = false;
    let mut m = Model::default();
    for run in runs {
        for it in run? {
            match it {
                Item::Rule(chain, rule) => m.chains.entry(chain).or_default().rules.push(rule),
                Item::Table(is_mine) => present |= is_mine,
                Item::Set(name, set) => {
                    m.sets.insert(name, set);
                }
                Item::Chain(name, base) => m.chains.entry(name).or_default().base = base,
                Item::Other => {}
            }
        }
    }
    Ok(present.then_some(m))
}

/// The model of what `ruleset` loads as, with each rule's nft text and origin. Built from the
/// same JSON expressions `compile --format json` prints, one rule at a time.
pub fn from_ruleset(rs: &Ruleset) -> Model {
    let mut m = Model::default();
    for set in &rs.sets {
        let (kind, elements) = match &set.elements {
            crate::ir::SetElements::Addrs(nets) => (
                "ipv4_addr",
                nets.iter()
                    .map(|n| {
                        (u64::from(u32::from(n.network())), u64::from(u32::from(n.broadcast())))
                    })
                    .collect(),
            ),
            crate::ir::SetElements::Ports(p) => {
                ("inet_service", p.iter().map(|&(a, b)| (u64::from(a), u64::from(b))).collect())
            }
        };
        m.sets.insert(
            set.name.clone(),
            SetModel {
                kind: kind.to_string(),
                flags: vec!["interval".to_string()],
                elements: canon::merge(elements),
            },
        );
    }
    for chain in &rs.chains {
        let base = chain.base.as_ref().map(|b| BaseModel {
            kind: match b.kind {
                crate::ir::ChainKind::Filter => "filter",
                crate::ir::ChainKind::Nat => "nat",
            }
            .to_string(),
            hook: crate::emit::json::hook_name(b.hook).to_string(),
            priority: i64::from(b.priority),
            policy: "accept".to_string(),
        });
        let rules = chain
            .rules
            .iter()
            .map(|r| RuleModel {
                key: canon::rule(&crate::emit::json::rule_exprs(r)),
                text: crate::emit::rule_text(r),
                comment: r.origin.as_ref().map(|o| format!("{}:{}", o.file, o.line)),
                handle: None,
            })
            .collect();
        m.chains.insert(chain.name.clone(), ChainModel { base, rules });
    }
    m
}

fn set_model(s: &Value) -> SetModel {
    let kind = s["type"].as_str().map_or_else(|| s["type"].to_string(), str::to_owned);
    let mut flags: Vec<String> = s["flags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_owned))
        .collect();
    flags.sort();
    let bounds = if kind == "inet_service" { canon::port_bounds } else { canon::addr_bounds };
    let elems = s["elem"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    // Elements may come wrapped (`{"elem": {"val": …}}`) when they carry a timeout or comment.
    let ranges = elems.iter().filter_map(|e| bounds(e.pointer("/elem/val").unwrap_or(e))).collect();
    SetModel { kind, flags, elements: canon::merge(ranges) }
}

fn base_model(c: &Value) -> Option<BaseModel> {
    let hook = c["hook"].as_str()?;
    Some(BaseModel {
        kind: c["type"].as_str().unwrap_or("filter").to_string(),
        hook: hook.to_string(),
        priority: c["prio"].as_i64().unwrap_or(0),
        policy: c["policy"].as_str().unwrap_or("accept").to_string(),
    })
}

/// How the two sides relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Same,
    Different,
    /// The live side has no such table.
    Absent,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub table: String,
    pub status: Status,
    pub sets: Vec<SetChange>,
    pub chains: Vec<ChainChange>,
}

#[derive(Clone, Debug)]
pub struct SetChange {
    pub name: String,
    pub change: Change,
    /// Type or flags differ (`(live, proposed)` descriptions).
    pub declaration: Option<(String, String)>,
    pub added: Vec<(u64, u64)>,
    pub removed: Vec<(u64, u64)>,
    pub is_ports: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Added,
    Removed,
    Changed,
}

#[derive(Clone, Debug)]
pub struct ChainChange {
    pub name: String,
    pub change: Change,
    pub base: Option<(Option<BaseModel>, Option<BaseModel>)>,
    pub edits: Vec<Edit>,
}

/// One rule to add (at `position` in the proposed chain) or remove (at `position` in the live
/// chain), in order.
#[derive(Clone, Debug)]
pub struct Edit {
    pub add: bool,
    pub position: usize,
    pub rule: RuleModel,
}

/// Compares the proposed model with the live one (`None`: no such table live).
pub fn plan(table: &str, proposed: &Model, live: Option<&Model>) -> Plan {
    let empty = Model::default();
    let status_absent = live.is_none();
    let live = live.unwrap_or(&empty);
    let mut sets = Vec::new();
    for name in union(proposed.sets.keys(), live.sets.keys()) {
        let (p, l) = (proposed.sets.get(name), live.sets.get(name));
        if p == l {
            continue;
        }
        let change = match (p, l) {
            (Some(_), None) => Change::Added,
            (None, Some(_)) => Change::Removed,
            _ => Change::Changed,
        };
        let describe = |s: &SetModel| format!("type {} flags {}", s.kind, s.flags.join(","));
        let declaration = match (p, l) {
            (Some(p), Some(l)) if (&p.kind, &p.flags) != (&l.kind, &l.flags) => {
                Some((describe(l), describe(p)))
            }
            _ => None,
        };
        let pe = p.map_or(&[][..], |s| &s.elements);
        let le = l.map_or(&[][..], |s| &s.elements);
        let is_ports = p.or(l).is_some_and(|s| s.kind == "inet_service");
        sets.push(SetChange {
            name: name.clone(),
            change,
            declaration,
            added: subtract(pe, le),
            removed: subtract(le, pe),
            is_ports,
        });
    }
    let mut chains = Vec::new();
    let no_chain = ChainModel::default();
    for name in union(proposed.chains.keys(), live.chains.keys()) {
        let (p, l) = (proposed.chains.get(name), live.chains.get(name));
        let change = match (p, l) {
            (Some(_), None) => Change::Added,
            (None, Some(_)) => Change::Removed,
            _ => Change::Changed,
        };
        let (pc, lc) = (p.unwrap_or(&no_chain), l.unwrap_or(&no_chain));
        let base = (pc.base != lc.base || change != Change::Changed)
            .then(|| (lc.base.clone(), pc.base.clone()));
        let base = base.filter(|(a, b)| a != b);
        let edits = rule_edits(&lc.rules, &pc.rules);
        if change == Change::Changed && base.is_none() && edits.is_empty() {
            continue;
        }
        chains.push(ChainChange { name: name.clone(), change, base, edits });
    }
    let status = if status_absent {
        Status::Absent
    } else if sets.is_empty() && chains.is_empty() {
        Status::Same
    } else {
        Status::Different
    };
    Plan { table: table.to_string(), status, sets, chains }
}

fn union<'a>(
    a: impl Iterator<Item = &'a String>,
    b: impl Iterator<Item = &'a String>,
) -> Vec<&'a String> {
    let mut v: Vec<&String> = a.chain(b).collect();
    v.sort();
    v.dedup();
    v
}

/// `a` minus `b`, both merged sorted interval lists.
fn subtract(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut j = 0;
    for &(mut lo, hi) in a {
        while j < b.len() && b[j].1 < lo {
            j += 1;
        }
        let mut k = j;
        while k < b.len() && b[k].0 <= hi && lo <= hi {
            if b[k].0 > lo {
                out.push((lo, b[k].0 - 1));
            }
            lo = lo.max(b[k].1.saturating_add(1));
            k += 1;
        }
        if lo <= hi {
            out.push((lo, hi));
        }
    }
    out
}

/// Rules to remove from `live` and add from `proposed`, in order (Myers diff on the keys).
fn rule_edits(live: &[RuleModel], proposed: &[RuleModel]) -> Vec<Edit> {
    let old: Vec<&str> = live.iter().map(|r| r.key.as_str()).collect();
    let new: Vec<&str> = proposed.iter().map(|r| r.key.as_str()).collect();
    let mut edits = Vec::new();
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, &old, &new) {
        match op {
            similar::DiffOp::Equal { .. } => {}
            similar::DiffOp::Delete { old_index, old_len, .. } => {
                edits.extend((old_index..old_index + old_len).map(|i| Edit {
                    add: false,
                    position: i,
                    rule: live[i].clone(),
                }));
            }
            similar::DiffOp::Insert { new_index, new_len, .. } => {
                edits.extend((new_index..new_index + new_len).map(|i| Edit {
                    add: true,
                    position: i,
                    rule: proposed[i].clone(),
                }));
            }
            similar::DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                edits.extend((old_index..old_index + old_len).map(|i| Edit {
                    add: false,
                    position: i,
                    rule: live[i].clone(),
                }));
                edits.extend((new_index..new_index + new_len).map(|i| Edit {
                    add: true,
                    position: i,
                    rule: proposed[i].clone(),
                }));
            }
        }
    }
    edits
}

fn interval_text((lo, hi): (u64, u64), ports: bool) -> String {
    if ports {
        return if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") };
    }
    let ip = |x: u64| std::net::Ipv4Addr::from(x as u32).to_string();
    if lo == hi {
        return ip(lo);
    }
    let size = hi - lo + 1;
    if size.is_power_of_two() && lo % size == 0 {
        return format!("{}/{}", ip(lo), 32 - size.trailing_zeros());
    }
    format!("{}-{}", ip(lo), ip(hi))
}

fn base_text(b: &Option<BaseModel>) -> String {
    match b {
        None => "regular chain".to_string(),
        Some(b) => {
            format!("type {} hook {} priority {} policy {}", b.kind, b.hook, b.priority, b.policy)
        }
    }
}

fn rule_line(e: &Edit) -> String {
    let sign = if e.add { '+' } else { '-' };
    let whence = match (e.add, &e.rule.comment, e.rule.handle) {
        (true, Some(c), _) => c.split(' ').next().unwrap_or(c).to_string(),
        (false, _, Some(h)) => format!("handle {h}"),
        (_, Some(c), _) => c.clone(),
        _ => "overlayfw".to_string(),
    };
    format!("  {sign} [{}] {}  # {whence}", e.position + 1, e.rule.text)
}

impl Plan {
    pub fn is_same(&self) -> bool {
        self.status == Status::Same
    }

    /// The plan as text for people.
    pub fn human(&self) -> String {
        let mut out = String::new();
        match self.status {
            Status::Same => {
                out.push_str(&format!(
                    "table ip {}: live table matches the rules; nothing to do\n",
                    self.table
                ));
                return out;
            }
            Status::Absent => out.push_str(&format!(
                "table ip {}: absent from the live ruleset; all of it is new\n",
                self.table
            )),
            Status::Different => out.push_str(&format!(
                "table ip {}: {} set(s) and {} chain(s) differ\n",
                self.table,
                self.sets.len(),
                self.chains.len()
            )),
        }
        for s in &self.sets {
            let what = match s.change {
                Change::Added => "new set",
                Change::Removed => "set to remove",
                Change::Changed => "set",
            };
            out.push_str(&format!("\n{what} {}:\n", s.name));
            if let Some((l, p)) = &s.declaration {
                out.push_str(&format!("  ~ {l}  ->  {p}\n"));
            }
            for r in &s.removed {
                out.push_str(&format!("  - {}\n", interval_text(*r, s.is_ports)));
            }
            for a in &s.added {
                out.push_str(&format!("  + {}\n", interval_text(*a, s.is_ports)));
            }
        }
        for c in &self.chains {
            let what = match c.change {
                Change::Added => "new chain",
                Change::Removed => "chain to remove",
                Change::Changed => "chain",
            };
            out.push_str(&format!("\n{what} {}:\n", c.name));
            if let Some((l, p)) = &c.base {
                out.push_str(&format!("  ~ {}  ->  {}\n", base_text(l), base_text(p)));
            }
            for e in &c.edits {
                out.push_str(&rule_line(e));
                out.push('\n');
            }
        }
        out
    }

    /// The plan as JSON.
    pub fn json(&self) -> Value {
        let change = |c: Change| match c {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
        };
        let base = |b: &Option<BaseModel>| {
            b.as_ref().map(
                |b| json!({"type": b.kind, "hook": b.hook, "prio": b.priority, "policy": b.policy}),
            )
        };
        json!({
            "table": {"family": "ip", "name": self.table},
            "status": match self.status {
                Status::Same => "same",
                Status::Different => "different",
                Status::Absent => "absent",
            },
            "sets": self.sets.iter().map(|s| json!({
                "name": s.name,
                "change": change(s.change),
                "declaration": s.declaration.as_ref().map(|(l, p)| json!({"live": l, "proposed": p})),
                "added": s.added.iter().map(|r| interval_text(*r, s.is_ports)).collect::<Vec<_>>(),
                "removed": s.removed.iter().map(|r| interval_text(*r, s.is_ports)).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "chains": self.chains.iter().map(|c| json!({
                "name": c.name,
                "change": change(c.change),
                "base": c.base.as_ref().map(|(l, p)| json!({"live": base(l), "proposed": base(p)})),
                "rules": c.edits.iter().map(|e| json!({
                    "op": if e.add { "add" } else { "remove" },
                    "position": e.position + 1,
                    "rule": e.rule.text,
                    "origin": if e.add { e.rule.comment.clone() } else { None },
                    "handle": e.rule.handle,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_listing_read_on_several_threads_equals_one() {
        let mut text = String::new();
        for i in 0..12_000 {
            text += &match i % 3 {
                0 => format!(
                    "FORWARD_CUST -s 10.0.{}.0/24 -p tcp --dport {} -j ACCEPT\n",
                    i % 256,
                    i
                ),
                1 => format!(
                    "PREROUTING_CUST -i eth0 -p tcp --dport {} -j DNAT --to 198.51.100.2:22\n",
                    i
                ),
                _ => format!("INPUT_CUST -s 192.0.2.{},198.51.100.{} -j DROP\n", i % 250, i % 250),
            };
        }
        let mut sources = crate::diagnostic::Sources::new();
        let files =
            vec![crate::pipeline::Text { name: "l.rules".into(), bytes: text.into_bytes() }];
        let rs = crate::pipeline::compile(&mut sources, files, None, "overlayfw")
            .ruleset
            .expect("compiles");
        let listing = serde_json::json!({ "nftables": crate::emit::json::listing(&rs) });
        let bytes = serde_json::to_vec(&listing).expect("JSON");
        let many = read_listing_on(&bytes, "overlayfw", 3).expect("reads").expect("present");
        let one = read_listing_on(&bytes, "overlayfw", 1).expect("reads").expect("present");
        assert!(one.chains.values().map(|c| c.rules.len()).sum::<usize>() >= 12_000);
        assert_eq!(format!("{many:?}"), format!("{one:?}"));
        assert!(plan("overlayfw", &from_ruleset(&rs), Some(&many)).is_same());
    }

    #[test]
    fn subtract_intervals() {
        assert_eq!(subtract(&[(0, 10)], &[(3, 4), (8, 20)]), vec![(0, 2), (5, 7)]);
        assert_eq!(subtract(&[(0, 10)], &[]), vec![(0, 10)]);
        assert_eq!(subtract(&[(5, 6)], &[(0, 10)]), vec![]);
        assert_eq!(subtract(&[(1, 1), (5, 9)], &[(5, 9)]), vec![(1, 1)]);
    }

    #[test]
    fn intervals_print_as_cidr_when_aligned() {
        assert_eq!(interval_text((0xc0000200, 0xc00002ff), false), "192.0.2.0/24");
        assert_eq!(interval_text((0xc0000201, 0xc0000203), false), "192.0.2.1-192.0.2.3");
        assert_eq!(interval_text((22, 22), true), "22");
    }
}
