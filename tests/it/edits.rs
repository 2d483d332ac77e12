//! What the incremental-apply tests of both backends share: an inventory, random rule lines
//! and inventories, and the table's listing in a form two applies can be compared by.

use serde_json::Value;

use crate::netns::Netns;

const TABLE: &str = "overlayfw";

pub(crate) const INVENTORY: &str = "interfaces:
  public: eth0
  overlay: tun0
  plugins: plugin0
plugin_network: 198.51.100.0/28
fwsets:
  blocked: [192.0.2.0/28, 198.51.100.7]
";

/// The table's JSON listing with handles gone, counters zeroed, quotas' used bytes dropped,
/// and sets and chains (with their rules, in order) sorted by name: an incremental apply
/// creates a new set or chain after the old ones.
pub(crate) fn canonical(ns: &Netns) -> Value {
    let v = ns.list_table_json("ip", TABLE);
    let items = v["nftables"].as_array().expect("nftables array").clone();
    let mut chains = Vec::new();
    let mut sets = Vec::new();
    let mut rules: Vec<(String, usize, Value)> = Vec::new();
    let mut rest = Vec::new();
    for (i, mut item) in items.into_iter().enumerate() {
        strip(&mut item);
        if let Some(s) = item.get("set") {
            sets.push((s["name"].as_str().unwrap_or("").to_string(), item));
        } else if let Some(c) = item.get("chain") {
            chains.push((c["name"].as_str().unwrap_or("").to_string(), item));
        } else if let Some(r) = item.get("rule") {
            rules.push((r["chain"].as_str().unwrap_or("").to_string(), i, item));
        } else if item.get("metainfo").is_none() {
            rest.push(item);
        }
    }
    chains.sort_by(|a, b| a.0.cmp(&b.0));
    sets.sort_by(|a, b| a.0.cmp(&b.0));
    rules.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    rest.extend(sets.into_iter().map(|s| s.1));
    rest.extend(chains.into_iter().map(|c| c.1));
    rest.extend(rules.into_iter().map(|r| r.2));
    Value::Array(rest)
}

/// Removes `handle` keys and quotas' used bytes and zeroes counters, everywhere in `v`.
pub(crate) fn strip(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.remove("handle");
            if let Some(Value::Object(c)) = map.get_mut("counter") {
                c.insert("packets".into(), 0.into());
                c.insert("bytes".into(), 0.into());
            }
            // A quota's used bytes are its state, as a counter's values.
            if let Some(Value::Object(q)) = map.get_mut("quota") {
                q.remove("used");
                q.remove("used_unit");
            }
            map.values_mut().for_each(strip);
        }
        Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

/// `lines` as a rules file, without jumps to the subgroup `FWD_C_a` when it has no lines (E003).
pub(crate) fn rules_text(lines: &[String]) -> String {
    let has_sub = lines.iter().any(|l| l.starts_with("FWD_C_a "));
    lines
        .iter()
        .filter(|l| has_sub || !l.ends_with("-j FWD_C_a"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A small deterministic generator (no dependency): the edit sequences are the same every run.
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// A random rule line: in a builtin chain, or in one of two subgroups (which appear and vanish
/// with their lines and the jumps to them).
pub(crate) fn random_line(g: &mut Lcg) -> String {
    let n = g.below(200);
    match g.below(9) {
        0 => format!("FORWARD_CUST -i tun0 -s 10.9.{n}.0/24 -p udp --dport {} -j DROP", 100 + n),
        1 => format!("INPUT_CUST -p tcp -m multiport --dports {},{} -j ACCEPT", 1 + n, 2000 + n),
        2 => "FORWARD_CUST -s blocked -j DROP".to_string(),
        3 => format!(
            "PREROUTING_CUST -i eth0 -p tcp --dport {} -j DNAT --to 198.51.100.2:22",
            3000 + n
        ),
        4 => format!("-o eth0 -s 10.{n}.0.0/16 -j MASQUERADE"),
        5 => format!("FWD_C_a -p tcp --dport {} -j ACCEPT", 1 + n),
        6 => "FORWARD_CUST -i tun0 -j FWD_C_a".to_string(),
        7 => format!("OUTPUT_CUST -d 192.0.2.{} -j REJECT", 1 + n),
        _ => format!(
            "FORWARD_CUST -i eth0 -p icmp --icmp-type echo-request -s 10.{n}.1.0/24 -j ACCEPT"
        ),
    }
}

pub(crate) fn random_inventory(g: &mut Lcg) -> String {
    let elems: Vec<String> =
        (0..1 + g.below(30)).map(|_| format!("192.0.2.{}", g.below(250))).collect();
    INVENTORY.replace("[192.0.2.0/28, 198.51.100.7]", &format!("[{}]", elems.join(", ")))
}

/// 1 to `most` random edits of `lines` (insert, remove, change, swap) or of the inventory's
/// FWset, the same every run for the same generator.
pub(crate) fn random_edits(
    g: &mut Lcg,
    lines: &mut Vec<String>,
    inventory: &mut String,
    most: usize,
) {
    for _ in 0..1 + g.below(most) {
        match g.below(5) {
            0 => {
                let at = g.below(lines.len() + 1);
                lines.insert(at, random_line(g));
            }
            1 if lines.len() > 1 => {
                let at = g.below(lines.len());
                lines.remove(at);
            }
            2 => {
                let at = g.below(lines.len());
                lines[at] = random_line(g);
            }
            3 if lines.len() > 1 => {
                let (a, b) = (g.below(lines.len()), g.below(lines.len()));
                lines.swap(a, b);
            }
            _ => *inventory = random_inventory(g),
        }
    }
}
