//! `overlayfw stats`: the live table's counters by source line.
//!
//! Every rule overlayfw makes from a line counts (`counter`) and carries the line in its
//! comment (`FILE:LINE[ NOTE]`). A line laid out as several rules (COPY's two directions,
//! PREROUTING's filter and NAT projections, OUTPUT's) gives one entry per chain, never a sum
//! that would count a packet twice; a rule `--optimize` merged from several lines counts for
//! all of them together and says how many (`+N merged`).

use std::collections::BTreeMap;

use serde_json::Value;

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
    pub line: u32,
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

/// `FILE:LINE[ NOTE]` → (file, line, note, merged count); `None` for a comment not ours.
pub fn parse_comment(comment: &str) -> Option<(String, u32, Option<String>, u32)> {
    // The file name may hold `:` and spaces: the line is the last `:DIGITS` followed by the
    // end or a space.
    let bytes = comment.as_bytes();
    let mut found = None;
    for (i, _) in comment.match_indices(':') {
        let digits = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
        let end = i + 1 + digits;
        if digits > 0 && (end == bytes.len() || bytes[end] == b' ') {
            found = Some((i, end));
        }
        if found.is_some() && end < bytes.len() && bytes[end] == b' ' {
            break;
        }
    }
    let (colon, end) = found?;
    let line: u32 = comment[colon + 1..end].parse().ok()?;
    let rest = comment[end..].trim_start();
    let (merged, note) = match rest.strip_prefix('+').and_then(|r| r.strip_suffix(" merged")) {
        Some(n) => (n.parse().unwrap_or(0), None),
        None => (0, (!rest.is_empty()).then(|| rest.to_string())),
    };
    Some((comment[..colon].to_string(), line, note, merged))
}

/// Counters by (file, line, chain), most packets first, then by file and line; rules without
/// our comment (overlayfw's own jumps, anything foreign) are left out.
pub fn by_line(rules: &[Counted]) -> Vec<LineStats> {
    let mut map: BTreeMap<(String, u32, String), LineStats> = BTreeMap::new();
    for r in rules {
        let Some((file, line, note, merged)) = parse_comment(&r.comment) else { continue };
        let e = map.entry((file.clone(), line, r.chain.clone())).or_insert(LineStats {
            file,
            line,
            chain: r.chain.clone(),
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
    let mut p = format!("{}:{}", s.file, s.line);
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
    fn comments_are_read_back_to_file_and_line() {
        assert_eq!(parse_comment("a.rules:7"), Some(("a.rules".into(), 7, None, 0)));
        assert_eq!(
            parse_comment("dir/my rules:x.rules:12 keep ssh"),
            Some(("dir/my rules:x.rules".into(), 12, Some("keep ssh".into()), 0))
        );
        assert_eq!(parse_comment("a.rules:3 +4 merged"), Some(("a.rules".into(), 3, None, 4)));
        assert_eq!(parse_comment("theirs"), None);
        assert_eq!(parse_comment("a:b"), None);
    }

    #[test]
    fn a_line_in_two_chains_is_two_entries_and_repeats_add_up() {
        let r = |chain: &str, comment: &str, packets| Counted {
            chain: chain.into(),
            comment: comment.into(),
            packets,
            bytes: packets * 100,
        };
        let stats = by_line(&[
            r("MACRO_CUST_IN", "a.rules:3", 5),
            r("MACRO_CUST_OUT", "a.rules:3", 7),
            r("FORWARD_CUST", "a.rules:4", 0),
            r("FORWARD_CUST", "a.rules:5", 1),
            r("FORWARD_CUST", "a.rules:5", 2),
            r("nat_prerouting", "", 9),
        ]);
        let got: Vec<(u32, &str, u64, usize)> =
            stats.iter().map(|s| (s.line, s.chain.as_str(), s.packets, s.rules)).collect();
        assert_eq!(
            got,
            [
                (3, "MACRO_CUST_OUT", 7, 1),
                (3, "MACRO_CUST_IN", 5, 1),
                (5, "FORWARD_CUST", 3, 2),
                (4, "FORWARD_CUST", 0, 1)
            ]
        );
        let text = render(&stats);
        assert!(text.contains("never hit (1 lines):\n  FORWARD_CUST"), "{text}");
    }
}
