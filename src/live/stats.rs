//! `overlayfw stats`: the live table's counters by source line.
//!
//! Every rule overlayfw makes from a line counts (`counter`) and carries, in its comment, its
//! file and its id (`FILE #ID[ NOTE]`, see `emit::rule_id`): not its line, which an edit above
//! it moves without changing the rule. The ids are mapped back to lines with [`Lines`], made
//! from the compiled files (or recorded at the last apply). A line laid out as several rules
//! (COPY's two directions, PREROUTING's filter and NAT projections) gives one entry per chain,
//! never a sum that would count a packet twice; a rule `--optimize` merged from several lines
//! counts for all of them together and says how many (`+N merged`).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::ir::Ruleset;

/// Which source lines each rule id stands for (identical rules of a chain share an id).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lines(HashMap<u64, Vec<(String, u32)>>);

impl Lines {
    /// The lines of every rule of a compiled ruleset.
    pub fn of(rs: &Ruleset) -> Lines {
        let mut map: HashMap<u64, Vec<(String, u32)>> = HashMap::new();
        for (id, line, file) in rows(rs) {
            let place = (file.to_string(), line);
            let lines = map.entry(id).or_default();
            if !lines.contains(&place) {
                lines.push(place);
            }
        }
        Lines(map)
    }

    /// The lines of the rules with this id.
    pub fn get(&self, id: u64) -> Option<&Vec<(String, u32)>> {
        self.0.get(&id)
    }

    /// As [`Lines::to_text`] wrote it; lines not of that form are skipped.
    pub fn from_text(text: &str) -> Lines {
        let mut map: HashMap<u64, Vec<(String, u32)>> = HashMap::new();
        for l in text.lines() {
            let mut parts = l.splitn(3, '\t');
            let (Some(id), Some(line), Some(file)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if let (Ok(id), Ok(line)) = (u64::from_str_radix(id, 16), line.parse()) {
                map.entry(id).or_default().push((file.to_string(), line));
            }
        }
        Lines(map)
    }

    /// One `ID<TAB>LINE<TAB>FILE` per line, sorted (file names are in their safe form: no tab
    /// or line break).
    pub fn to_text(&self) -> String {
        let mut rows: Vec<(u64, u32, &str)> = self
            .0
            .iter()
            .flat_map(|(id, v)| v.iter().map(move |(f, l)| (*id, *l, f.as_str())))
            .collect();
        rows.sort();
        rows.iter().map(|(id, l, f)| format!("{id:012x}\t{l}\t{f}\n")).collect()
    }
}

/// Where the last apply of `table` in this namespace recorded its [`Lines`].
pub fn record_path(table: &str) -> std::path::PathBuf {
    super::confirm::path(table, "lines")
}

/// Every rule's (id, line, file), sorted and without repeats: each rule's nft text printed and
/// hashed, on every core (an apply of 100,000 rules records them all).
fn rows(rs: &Ruleset) -> Vec<(u64, u32, &str)> {
    let all: Vec<(&str, &crate::ir::Rule)> =
        rs.chains.iter().flat_map(|c| c.rules.iter().map(move |r| (c.name.as_str(), r))).collect();
    let per = all.len().div_ceil(crate::parallel::threads()).max(1);
    let mut rows: Vec<(u64, u32, &str)> = crate::parallel::map(all.chunks(per).collect(), |part| {
        let mut statement = String::new();
        part.iter()
            .filter_map(|(chain, rule)| {
                let o = rule.origin.as_ref()?;
                statement.clear();
                crate::emit::push_statement(&mut statement, rule, &rs.sets);
                let id = crate::emit::rule_id(chain, &statement) >> 16;
                Some((id, o.line.get(), rs.files.name(o.file)))
            })
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    rows.sort_unstable();
    rows.dedup();
    rows
}

/// The text [`record`] writes: [`Lines::to_text`] of the ruleset's lines.
fn record_text(rs: &Ruleset) -> String {
    rows(rs).iter().map(|(id, l, f)| format!("{id:012x}\t{l}\t{f}\n")).collect()
}

/// Records the lines of what was just applied, for `stats` without files (best effort: a
/// failure only means `stats` then needs the files).
pub fn record(rs: &Ruleset) {
    let path = record_path(&rs.table);
    let text = record_text(rs);
    let _ = std::fs::create_dir_all(super::confirm::state_dir());
    let _ = crate::files::write_atomically_with(&path, |w| w.write_all(text.as_bytes()), None);
}

/// One counted rule of the live table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counted {
    pub chain: String,
    pub comment: String,
    pub packets: u64,
    pub bytes: u64,
}

/// The counters of one source line in one chain.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LineStats {
    pub file: String,
    /// 0 when the rule's id is not among the known lines (then `id` says which rule).
    pub line: u32,
    pub id: String,
    pub chain: String,
    pub packets: u64,
    pub bytes: u64,
    /// Kernel rules of this line in this chain (more than one only if the line is repeated).
    pub rules: usize,
    /// Other lines `--optimize` merged into this rule, counted with it.
    pub merged: u32,
    /// The `-m comment` text, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `FILE #ID[ NOTE]` → (file, id, note, merged count); `None` for a comment not ours.
pub fn parse_comment(comment: &str) -> Option<(String, u64, Option<String>, u32)> {
    // The file name may hold ` #` itself: the id is the last ` #` and 12 hex digits followed
    // by the end or a space before any note.
    let bytes = comment.as_bytes();
    let mut found = None;
    for (i, _) in comment.match_indices(" #") {
        let end = i + 2 + 12;
        let hex = bytes.get(i + 2..end).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
        if hex && (end == bytes.len() || bytes[end] == b' ') {
            found = Some(i);
            break;
        }
    }
    let at = found?;
    let id = u64::from_str_radix(&comment[at + 2..at + 14], 16).ok()?;
    let rest = comment[at + 14..].trim_start();
    let (merged, note) = match rest.strip_prefix('+').and_then(|r| r.strip_suffix(" merged")) {
        Some(n) => (n.parse().unwrap_or(0), None),
        None => (0, (!rest.is_empty()).then(|| rest.to_string())),
    };
    Some((comment[..at].to_string(), id, note, merged))
}

/// Counters by (file, line, chain), most packets first, then by file and line; rules without
/// our comment (overlayfw's own jumps, anything foreign) are left out. A rule whose id `lines`
/// does not know keeps line 0 (shown as its id).
pub fn by_line(rules: &[Counted], lines: &Lines) -> Vec<LineStats> {
    let mut map: BTreeMap<(String, u32, u64, String), LineStats> = BTreeMap::new();
    for r in rules {
        let Some((file, id, note, merged)) = parse_comment(&r.comment) else { continue };
        let places: Vec<(String, u32)> = match lines.0.get(&id) {
            Some(p) => p.iter().filter(|(f, _)| *f == file).cloned().collect(),
            None => Vec::new(),
        };
        // Identical lines of a chain are one rule each in the kernel, with one id: their
        // counters are shared out to the lines in order, each rule to one line.
        let places = if places.is_empty() { vec![(file, 0)] } else { places };
        // A long chain's chunks count as the chain (`layout::chunk`).
        let chain = crate::layout::chunk::parent_of(&r.chain).to_string();
        let key_of = |(f, l): &(String, u32)| (f.clone(), *l, id, chain.clone());
        let place = places
            .iter()
            .find(|p| !map.contains_key(&key_of(p)))
            .unwrap_or(&places[places.len() - 1])
            .clone();
        let e = map.entry(key_of(&place)).or_insert(LineStats {
            file: place.0,
            line: place.1,
            id: format!("{id:012x}"),
            chain: chain.clone(),
            packets: 0,
            bytes: 0,
            rules: 0,
            merged,
            note,
        });
        e.packets += r.packets;
        e.bytes += r.bytes;
        e.rules += 1;
    }
    let mut out: Vec<LineStats> = map.into_values().collect();
    out.sort_by(|a, b| {
        b.packets.cmp(&a.packets).then_with(|| (&a.file, a.line).cmp(&(&b.file, b.line)))
    });
    out
}

/// The counted rules of an `nft -j list table` listing.
pub fn from_listing(listing: &Value) -> Vec<Counted> {
    let mut out = Vec::new();
    for item in listing["nftables"].as_array().into_iter().flatten() {
        let Some(rule) = item.get("rule") else { continue };
        let Some(comment) = rule["comment"].as_str() else { continue };
        let counter = rule["expr"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|e| e.get("counter"))
            .map(|c| (c["packets"].as_u64().unwrap_or(0), c["bytes"].as_u64().unwrap_or(0)));
        let Some((packets, bytes)) = counter else { continue };
        out.push(Counted {
            chain: rule["chain"].as_str().unwrap_or("").to_string(),
            comment: comment.to_string(),
            packets,
            bytes,
        });
    }
    out
}

/// The human table: hit lines by packets, then the lines never hit.
pub fn render(stats: &[LineStats]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let (hit, never): (Vec<&LineStats>, Vec<&LineStats>) =
        stats.iter().partition(|s| s.packets > 0);
    let _ = writeln!(out, "{:>12} {:>14}  {:<24} line", "packets", "bytes", "chain");
    for s in &hit {
        let _ = writeln!(out, "{:>12} {:>14}  {:<24} {}", s.packets, s.bytes, s.chain, place(s));
    }
    if !never.is_empty() {
        let _ = writeln!(out, "never hit ({} lines):", never.len());
        for s in &never {
            let _ = writeln!(out, "  {:<24} {}", s.chain, place(s));
        }
    }
    out
}

fn place(s: &LineStats) -> String {
    let mut p = if s.line == 0 {
        format!("{} #{} (line unknown: give the rules files)", s.file, s.id)
    } else {
        format!("{}:{}", s.file, s.line)
    };
    if s.merged > 0 {
        p.push_str(&format!(" (+{} merged lines counted together)", s.merged));
    }
    if let Some(n) = &s.note {
        p.push_str(&format!(" {n}"));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_is_the_lines_as_text() {
        let text = "FORWARD_CUST -p tcp --dport 22 -j ACCEPT\nFORWARD_CUST -p tcp --dport 22 -j ACCEPT\n\
                    MACRO_CUST -j COPY --from tun0 --to 198.51.100.2 --bidirectional\n";
        let mut sources = crate::diagnostic::Sources::new();
        let file = crate::pipeline::Text { name: "a.rules".into(), bytes: text.into() };
        let rs = crate::pipeline::compile(&mut sources, vec![file], None, "t").ruleset.expect("rs");
        let lines = Lines::of(&rs);
        assert_eq!(record_text(&rs), lines.to_text());
        assert_eq!(Lines::from_text(&record_text(&rs)), lines);
        assert_eq!(lines.0.len(), 3, "the repeated line shares its id; COPY has two: {lines:?}");
    }

    #[test]
    fn comments_are_read_back_to_file_and_id() {
        let id = 0x0123_4567_89ab_u64;
        assert_eq!(parse_comment("a.rules #0123456789ab"), Some(("a.rules".into(), id, None, 0)));
        assert_eq!(
            parse_comment("dir/my #x.rules #0123456789ab keep ssh"),
            Some(("dir/my #x.rules".into(), id, Some("keep ssh".into()), 0))
        );
        assert_eq!(
            parse_comment("a.rules #0123456789ab +4 merged"),
            Some(("a.rules".into(), id, None, 4))
        );
        assert_eq!(parse_comment("theirs"), None);
        assert_eq!(parse_comment("a.rules:3"), None);
    }

    #[test]
    fn a_line_in_two_chains_is_two_entries_and_identical_lines_share_out() {
        let r = |chain: &str, id: u64, packets| Counted {
            chain: chain.into(),
            comment: format!("a.rules #{id:012x}"),
            packets,
            bytes: packets * 100,
        };
        let mut lines = Lines::default();
        lines.0.insert(1, vec![("a.rules".into(), 3)]);
        lines.0.insert(2, vec![("a.rules".into(), 3)]);
        lines.0.insert(3, vec![("a.rules".into(), 4)]);
        lines.0.insert(4, vec![("a.rules".into(), 5), ("a.rules".into(), 6)]);
        let stats = by_line(
            &[
                r("MACRO_CUST_IN", 1, 5),
                r("MACRO_CUST_OUT", 2, 7),
                r("FORWARD_CUST", 3, 0),
                r("FORWARD_CUST", 4, 1),
                r("FORWARD_CUST", 4, 2),
                r("FORWARD_CUST", 9, 4),
            ],
            &lines,
        );
        let got: Vec<(u32, &str, u64, usize)> =
            stats.iter().map(|s| (s.line, s.chain.as_str(), s.packets, s.rules)).collect();
        assert_eq!(
            got,
            [
                (3, "MACRO_CUST_OUT", 7, 1),
                (3, "MACRO_CUST_IN", 5, 1),
                (0, "FORWARD_CUST", 4, 1),
                (6, "FORWARD_CUST", 2, 1),
                (5, "FORWARD_CUST", 1, 1),
                (4, "FORWARD_CUST", 0, 1)
            ]
        );
        let text = render(&stats);
        assert!(text.contains("never hit (1 lines):\n  FORWARD_CUST"), "{text}");
        assert!(text.contains("a.rules #000000000009 (line unknown"), "{text}");
        assert_eq!(Lines::from_text(&lines.to_text()), lines);
    }
}
