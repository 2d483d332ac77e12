//! Canonical forms of nft JSON expressions, so that what we would load and what the kernel
//! lists compare equal exactly when they mean the same: counters and handles dropped, address
//! and port lists as merged intervals (nft merges and rewrites them), protocol, ICMP and
//! conntrack names as numbers or sorted lists, defaults (log level warn) removed, NAT flags as
//! sorted arrays (nft 1.0.6 prints a single flag as a string).

use std::net::Ipv4Addr;

use serde_json::{Value, json};

/// The canonical form of a rule's expression list.
pub fn rule(exprs: &[Value]) -> Value {
    Value::Array(exprs.iter().filter(|e| e.get("counter").is_none()).map(expr).collect())
}

fn expr(e: &Value) -> Value {
    let Some(obj) = e.as_object() else { return e.clone() };
    if let Some(m) = obj.get("match") {
        return json!({"match": matcher(m)});
    }
    if let Some(log) = obj.get("log") {
        let mut log = log.clone();
        if let Some(o) = log.as_object_mut()
            && o.get("level").and_then(Value::as_str) == Some("warn")
        {
            o.remove("level");
        }
        if log.as_object().is_some_and(|o| o.is_empty()) {
            log = Value::Null;
        }
        return json!({"log": log});
    }
    for verb in ["dnat", "snat", "masquerade", "redirect"] {
        if let Some(v) = obj.get(verb) {
            let mut v = v.clone();
            if let Some(o) = v.as_object_mut() {
                for key in ["flags", "type_flags"] {
                    if let Some(f) = o.get(key) {
                        let mut flags: Vec<String> = match f {
                            Value::String(s) => vec![s.clone()],
                            Value::Array(a) => {
                                a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()
                            }
                            _ => Vec::new(),
                        };
                        flags.sort();
                        o.insert(key.to_string(), json!(flags));
                    }
                }
            }
            return json!({ verb: v });
        }
    }
    e.clone()
}

fn matcher(m: &Value) -> Value {
    let op = m["op"].as_str().unwrap_or("");
    let left = &m["left"];
    let right = &m["right"];
    if left.pointer("/ct/key").and_then(Value::as_str) == Some("state") {
        let mut states: Vec<String> = match right {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
            other => vec![other.to_string()],
        };
        states.sort();
        let op = if matches!(op, "!=" | "!") { "none-of" } else { "any-of" };
        return json!({"op": op, "left": left, "right": states});
    }
    let field = left.pointer("/payload/field").and_then(Value::as_str);
    let proto = left.pointer("/payload/protocol").and_then(Value::as_str);
    let right = match (proto, field) {
        (Some("ip"), Some("saddr" | "daddr")) => intervals(right, addr_bounds),
        (Some(_), Some("sport" | "dport")) => intervals(right, port_bounds),
        (Some("ip"), Some("protocol")) => number(right, protocol_number),
        (Some("icmp"), Some("type")) => number(right, icmp_type_number),
        (Some("icmp"), Some("code")) => number(right, icmp_code_number),
        _ => right.clone(),
    };
    let op = if op == "in" { "==" } else { op };
    json!({"op": op, "left": left, "right": right})
}

fn number(v: &Value, names: fn(&str) -> Option<u64>) -> Value {
    match v {
        Value::String(s) => names(s).map_or_else(|| v.clone(), |n| json!(n)),
        _ => v.clone(),
    }
}

/// A value, prefix, range or set (of those) as sorted, merged inclusive intervals; named sets
/// (`@name`) and anything unrecognised stay as they are.
pub fn intervals(v: &Value, bounds: fn(&Value) -> Option<(u64, u64)>) -> Value {
    if v.as_str().is_some_and(|s| s.starts_with('@')) {
        return v.clone();
    }
    let items: Vec<&Value> = match v.get("set").and_then(Value::as_array) {
        Some(a) => a.iter().collect(),
        None => vec![v],
    };
    let mut ranges = Vec::with_capacity(items.len());
    for item in items {
        match bounds(item) {
            Some(r) => ranges.push(r),
            None => return v.clone(),
        }
    }
    json!({"intervals": merge(ranges).into_iter().map(|(a, b)| json!([a, b])).collect::<Vec<_>>()})
}

/// Sorts and merges overlapping or adjacent intervals.
pub fn merge(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

pub fn addr_bounds(v: &Value) -> Option<(u64, u64)> {
    let ip = |x: &Value| x.as_str()?.parse::<Ipv4Addr>().ok().map(|a| u64::from(u32::from(a)));
    if let Some(a) = ip(v) {
        return Some((a, a));
    }
    if let Some(p) = v.get("prefix") {
        let a = ip(&p["addr"])?;
        let len = p["len"].as_u64().filter(|&l| l <= 32)?;
        let size = 1u64 << (32 - len);
        let lo = a & !(size - 1);
        return Some((lo, lo + size - 1));
    }
    if let Some([a, b]) = v.get("range").and_then(Value::as_array).map(Vec::as_slice) {
        return Some((ip(a)?, ip(b)?));
    }
    None
}

pub fn port_bounds(v: &Value) -> Option<(u64, u64)> {
    if let Some(p) = v.as_u64() {
        return Some((p, p));
    }
    if let Some([a, b]) = v.get("range").and_then(Value::as_array).map(Vec::as_slice) {
        return Some((a.as_u64()?, b.as_u64()?));
    }
    None
}

fn protocol_number(s: &str) -> Option<u64> {
    Some(match s {
        "icmp" => 1,
        "igmp" => 2,
        "ipencap" | "ipip" => 4,
        "tcp" => 6,
        "udp" => 17,
        "dccp" => 33,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "ospf" => 89,
        "vrrp" => 112,
        "sctp" => 132,
        "udplite" => 136,
        _ => return None,
    })
}

fn icmp_type_number(s: &str) -> Option<u64> {
    Some(match s {
        "echo-reply" => 0,
        "destination-unreachable" => 3,
        "source-quench" => 4,
        "redirect" => 5,
        "echo-request" => 8,
        "router-advertisement" => 9,
        "router-solicitation" => 10,
        "time-exceeded" => 11,
        "parameter-problem" => 12,
        "timestamp-request" => 13,
        "timestamp-reply" => 14,
        "info-request" => 15,
        "info-reply" => 16,
        "address-mask-request" => 17,
        "address-mask-reply" => 18,
        _ => return None,
    })
}

fn icmp_code_number(s: &str) -> Option<u64> {
    Some(match s {
        "net-unreachable" => 0,
        "host-unreachable" => 1,
        "prot-unreachable" => 2,
        "port-unreachable" => 3,
        "frag-needed" => 4,
        "net-prohibited" => 9,
        "host-prohibited" => 10,
        "admin-prohibited" => 13,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_lists_compare_equal() {
        let ours = json!({"set": ["10.0.0.1", {"prefix": {"addr": "10.0.0.0", "len": 24}}, {"prefix": {"addr": "192.0.2.0", "len": 24}}]});
        let kernel = json!({"set": [{"prefix": {"addr": "10.0.0.0", "len": 24}}, {"prefix": {"addr": "192.0.2.0", "len": 24}}]});
        assert_eq!(intervals(&ours, addr_bounds), intervals(&kernel, addr_bounds));
        let other = json!({"set": [{"prefix": {"addr": "10.0.0.0", "len": 25}}, {"prefix": {"addr": "192.0.2.0", "len": 24}}]});
        assert_ne!(intervals(&ours, addr_bounds), intervals(&other, addr_bounds));
    }

    #[test]
    fn counters_and_name_spellings_do_not_matter() {
        let a = [
            json!({"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "protocol"}}, "right": "tcp"}}),
            json!({"counter": {"packets": 5, "bytes": 300}}),
            json!({"log": {"prefix": "x", "level": "warn"}}),
        ];
        let b = [
            json!({"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "protocol"}}, "right": 6}}),
            json!({"log": {"prefix": "x"}}),
        ];
        assert_eq!(rule(&a), rule(&b));
        let c = [
            json!({"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "protocol"}}, "right": 6}}),
        ];
        assert_ne!(rule(&b[..1]), rule(&c));
    }
}
