//! Canonical forms of nft JSON expressions, so that what we would load and what the kernel
//! lists compare equal exactly when they mean the same: counters and handles dropped, address
//! and port lists as merged intervals (nft merges and rewrites them), protocol, ICMP and
//! conntrack names as numbers or sorted lists, defaults (log level warn) removed, NAT flags as
//! sorted arrays (nft 1.0.6 prints a single flag as a string), the elements of other anonymous
//! sets and maps (concatenations, DNAT maps) sorted.

use serde_json::Value;

use crate::vocab;

/// The canonical key of a rule's expression list: equal keys mean the same rule. Written
/// straight into a string (no intermediate JSON values: 100,000 rules must stay fast).
pub fn rule(exprs: &[Value]) -> String {
    let mut out = String::with_capacity(64 * exprs.len());
    // nft lists `ip protocol tcp` before a `tcp option` match as the option's dependency,
    // which it hides (the kernel holds it).
    let tcp_option = exprs.iter().any(|e| e.pointer("/match/left/tcp option").is_some());
    for e in exprs {
        if tcp_option
            && e.pointer("/match/op").and_then(Value::as_str) == Some("==")
            && e.pointer("/match/left/payload/field").and_then(Value::as_str) == Some("protocol")
            && matches!(e.pointer("/match/right"), Some(r) if r == "tcp" || r == 6)
        {
            continue;
        }
        // An anonymous counter only counts; a named one (`counter name X`, listed as
        // `{"counter": "X"}`) is a reference to an object and part of the rule.
        if e.get("counter").is_some_and(|c| !c.is_string()) {
            continue;
        }
        // An anonymous quota's used bytes are its state (nft lists them once some are used).
        if let Some(q) = e.get("quota").and_then(Value::as_object)
            && (q.contains_key("used") || q.contains_key("used_unit"))
        {
            let mut q = q.clone();
            q.remove("used");
            q.remove("used_unit");
            expr(&serde_json::json!({ "quota": q }), &mut out);
            out.push(';');
            continue;
        }
        expr(e, &mut out);
        out.push(';');
    }
    out
}

/// `v` as JSON, except that the elements of every anonymous set (`{"set": [...]}`, also a map's
/// `data` set) are sorted: sets have no order, and the kernel lists a hash set in hash order.
fn push_json(out: &mut String, v: &Value) {
    match v {
        Value::Object(map) => {
            if let (1, Some(Value::Array(items))) = (map.len(), map.get("set")) {
                let mut parts: Vec<String> = items
                    .iter()
                    .map(|item| {
                        let mut s = String::new();
                        push_json(&mut s, item);
                        s
                    })
                    .collect();
                parts.sort_unstable();
                out.push_str("{\"set\":[");
                out.push_str(&parts.join(","));
                out.push_str("]}");
                return;
            }
            out.push('{');
            for (i, (k, val)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_str_json(out, k);
                out.push(':');
                push_json(out, val);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json(out, item);
            }
            out.push(']');
        }
        Value::String(text) => push_str_json(out, text),
        _ => out.push_str(&v.to_string()),
    }
}

/// A JSON string literal, escaped as serde_json writes it.
fn push_str_json(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn expr(e: &Value, out: &mut String) {
    let Some(obj) = e.as_object() else { return push_json(out, e) };
    if let Some(m) = obj.get("match") {
        return matcher(m, out);
    }
    if let Some(log) = obj.get("log") {
        // Every key counts (prefix, group, snaplen, queue-threshold, level, flags); the default
        // level is dropped and flags are a sorted list (nft lists one flag as a string).
        out.push_str("log:");
        let mut keys = serde_json::Map::new();
        for (k, v) in log.as_object().into_iter().flatten() {
            match (k.as_str(), v) {
                ("level", Value::String(l)) if l == crate::ir::LogLevel::Warn.nft_name() => {}
                ("flags", Value::String(_) | Value::Array(_)) => {
                    let mut a = match v {
                        Value::Array(a) => a.clone(),
                        one => vec![one.clone()],
                    };
                    // nft lists every flag (LOG's five) as `all`.
                    if a.iter().any(|f| f == "all") {
                        a = crate::ir::LogFlags::ALL.words().into_iter().map(Value::from).collect();
                    }
                    a.sort_by_key(Value::to_string);
                    keys.insert(k.clone(), Value::Array(a));
                }
                _ => {
                    keys.insert(k.clone(), v.clone());
                }
            }
        }
        if !log.is_object() && !log.is_null() {
            // Not nft's shape: compared as it is.
            keys.insert(String::new(), log.clone());
        }
        push_json(out, &Value::Object(keys));
        return;
    }
    if let Some(q) = obj.get("quota").and_then(Value::as_object) {
        // What a quota has used so far is state, not policy.
        let mut keys = q.clone();
        keys.remove("used");
        keys.remove("used_unit");
        out.push_str("quota:");
        push_json(out, &Value::Object(keys));
        return;
    }
    if obj.contains_key("last") {
        // `last` only records when it last saw a packet.
        out.push_str("last");
        return;
    }
    if let Some(m) = obj.get("mangle")
        && let Some(ct) = mark_key(&m["key"])
    {
        // nft lists `mark & A ^ X` as `mark & (A|X) | X` and other forms: compare the bits.
        let v = &m["value"];
        if mark_key(v) == Some(!ct) {
            out.push_str(&format!("mark copy ct={ct}"));
            return;
        }
        if let Some((and, xor)) = mark_bits(v, ct) {
            out.push_str(&format!("mark set ct={ct} and={and:#x} xor={xor:#x}"));
            return;
        }
    }
    for verb in ["dnat", "snat", "masquerade", "redirect"] {
        if let Some(v) = obj.get(verb) {
            out.push_str(verb);
            out.push(':');
            for key in ["addr", "port", "family"] {
                if let Some(x) = v.get(key) {
                    out.push_str(key);
                    out.push('=');
                    // nft lists an address range that is a whole prefix as the prefix.
                    match nat_addr_range(x).filter(|_| key == "addr") {
                        Some((lo, hi)) => out.push_str(&format!("{lo}-{hi}")),
                        None => push_json(out, x),
                    }
                    out.push(',');
                }
            }
            for key in ["flags", "type_flags"] {
                if let Some(f) = v.get(key) {
                    let mut flags: Vec<&str> = match f {
                        Value::String(s) => vec![s.as_str()],
                        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                        _ => Vec::new(),
                    };
                    flags.sort_unstable();
                    out.push_str(key);
                    out.push('=');
                    out.push_str(&flags.join("|"));
                    out.push(',');
                }
            }
            return;
        }
    }
    push_json(out, e)
}

/// A NAT address as the inclusive range it stands for: one address, `{"range": [a, b]}` or
/// `{"prefix": {"addr": a, "len": n}}`.
fn nat_addr_range(v: &Value) -> Option<(std::net::Ipv4Addr, std::net::Ipv4Addr)> {
    let addr = |x: &Value| x.as_str()?.parse::<std::net::Ipv4Addr>().ok();
    if let Some(a) = addr(v) {
        return Some((a, a));
    }
    if let Some([a, b]) = v.get("range").and_then(Value::as_array).map(Vec::as_slice) {
        return Some((addr(a)?, addr(b)?));
    }
    let p = v.get("prefix")?;
    let len = u8::try_from(p.get("len")?.as_u64()?).ok()?;
    let net = ipnetwork::Ipv4Network::new(addr(p.get("addr")?)?, len).ok()?;
    Some((net.network(), net.broadcast()))
}

/// `Some(false)` for `meta mark`, `Some(true)` for `ct mark`.
fn mark_key(v: &Value) -> Option<bool> {
    if v.pointer("/meta/key").and_then(Value::as_str) == Some("mark") {
        Some(false)
    } else if v.pointer("/ct/key").and_then(Value::as_str) == Some("mark") {
        Some(true)
    } else {
        None
    }
}

/// A value made of the mark `ct` and constants with `&`, `|` and `^`, as (and, xor): the mark
/// becomes `(mark & and) ^ xor`.
fn mark_bits(v: &Value, ct: bool) -> Option<(u32, u32)> {
    if let Some(n) = v.as_u64() {
        return Some((0, u32::try_from(n).ok()?));
    }
    if mark_key(v) == Some(ct) {
        return Some((u32::MAX, 0));
    }
    let obj = v.as_object().filter(|o| o.len() == 1)?;
    let (op, args) = obj.iter().next()?;
    let [inner, n] = args.as_array()?.as_slice() else { return None };
    let (a, x) = mark_bits(inner, ct)?;
    let n = u32::try_from(n.as_u64()?).ok()?;
    match op.as_str() {
        "&" => Some((a & n, x & n)),
        "|" => Some((a & !n, x | n)),
        "^" => Some((a, x ^ n)),
        _ => None,
    }
}

/// A `meta time|hour|day` value as numbers: seconds since the epoch (a listed date read as
/// UTC), seconds after midnight, the day (Sunday 0); ranges and sets element by element.
fn time_numbers(key: &str, v: &Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.iter().map(|x| time_numbers(key, x)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, x)| (k.clone(), time_numbers(key, x))).collect())
        }
        Value::String(s) => {
            let n = match key {
                "time" => listed_date(s),
                "hour" => {
                    let p: Vec<u64> = s.split(':').filter_map(|x| x.parse().ok()).collect();
                    match p.as_slice() {
                        [h, m] => Some(h * 3600 + m * 60),
                        [h, m, s] => Some(h * 3600 + m * 60 + s),
                        _ => None,
                    }
                }
                _ => ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
                    .iter()
                    .position(|d| d == s)
                    .map(|d| d as u64),
            };
            n.map_or_else(|| v.clone(), Value::from)
        }
        _ => v.clone(),
    }
}

/// `YYYY-MM-DD HH:MM:SS` (as nft lists a `meta time`) in seconds since the epoch, as UTC.
fn listed_date(s: &str) -> Option<u64> {
    let (date, time) = s.split_once(' ')?;
    let d: Vec<i64> = date.split('-').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let t: Vec<i64> = time.split(':').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let ([y, m, day], [hh, mm, ss]) = (d.as_slice(), t.as_slice()) else { return None };
    let y = y - i64::from(*m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if *m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

fn matcher(m: &Value, out: &mut String) {
    let op = m["op"].as_str().unwrap_or("");
    if let Some(opt) = m["left"].get("tcp option") {
        // A presence test: nft lists a known kind by name, another by number.
        let kind = match opt.get("name").and_then(Value::as_str) {
            Some(name) => {
                vocab_tcp_option(name).map_or_else(|| name.to_string(), |k| k.to_string())
            }
            None => opt.get("base").map_or_else(String::new, Value::to_string),
        };
        if opt.get("field").is_none() && m["right"].is_boolean() {
            let present = m["right"].as_bool() == Some(true);
            out.push_str(&format!("tcp option {kind} {op} present={present}"));
            return;
        }
    }
    let realm = realm_numbers(&m["left"], &m["right"]);
    let (left, right) = match &realm {
        Some((l, r)) => (l, r),
        None => (&m["left"], &m["right"]),
    };
    let meta_key = left.pointer("/meta/key").and_then(Value::as_str);
    if let Some(key @ ("time" | "hour" | "day")) = meta_key {
        // nft lists times as texts in its process's timezone (overlayfw runs it in UTC), and
        // takes numbers as UTC: compare numbers.
        out.push_str(op);
        out.push_str(" meta ");
        out.push_str(key);
        out.push(' ');
        return push_json(out, &time_numbers(key, right));
    }
    let ct_key = left.pointer("/ct/key").and_then(Value::as_str);
    if ct_key == Some("status") && matches!(op, "in" | "!") {
        // nft lists `ct status & B != 0` as `ct status B` (op `in`), `== 0` with op `!`.
        let mut bits: Vec<String> = match right {
            Value::Array(a) => a.iter().map(|x| x.as_str().unwrap_or("?").to_string()).collect(),
            other => vec![other.as_str().map_or_else(|| other.to_string(), str::to_owned)],
        };
        bits.sort_unstable();
        out.push_str(if op == "!" { "ct status none-of " } else { "ct status any-of " });
        out.push_str(&bits.join(","));
        return;
    }
    if ct_key == Some("protocol") {
        // nft lists `ct original protocol` without its direction, by name.
        out.push_str(if op == "!=" { "!= ct protocol " } else { "== ct protocol " });
        return number(right, vocab::listed_protocol, out);
    }
    if ct_key == Some("expiration") {
        // nft lists a time in whole seconds (10999 ms as 10): compare in those.
        let secs = |v: &Value| -> Value {
            match v.as_str().and_then(vocab::time_ms) {
                Some(ms) => Value::from(ms / 1000),
                None => v.clone(),
            }
        };
        let right = match right.get("range").and_then(Value::as_array).map(Vec::as_slice) {
            Some([a, b]) => serde_json::json!({"range": [secs(a), secs(b)]}),
            _ => secs(right),
        };
        out.push_str(op);
        out.push_str(" ct expiration ");
        return push_json(out, &right);
    }
    if ct_key == Some("state") {
        let mut states: Vec<String> = match right {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => {
                a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned)).collect()
            }
            other => vec![other.to_string()],
        };
        states.sort_unstable();
        let op = if matches!(op, "!=" | "!") { "none-of" } else { "any-of" };
        out.push_str("ct state ");
        out.push_str(op);
        out.push(' ');
        out.push_str(&states.join(","));
        return;
    }
    if let Some((neg, mask, comp)) = tcp_flags(op, left, right) {
        // nft lists `tcp flags & M == 0` as `tcp flags ! M` and `… != 0` as `tcp flags M`,
        // a one-flag list as a string: compare the bits.
        out.push_str(&format!("tcp flags neg={neg} mask={mask} comp={comp}"));
        return;
    }
    out.push_str(if op == "in" { "==" } else { op });
    out.push(' ');
    push_json(out, left);
    out.push(' ');
    if let Some(k) = left.get("concat").and_then(Value::as_array).and_then(|parts| {
        parts.iter().position(|p| p.pointer("/meta/key").and_then(Value::as_str) == Some("l4proto"))
    }) {
        return push_json(out, &protocols_as_numbers(right, k));
    }
    let field = left.pointer("/payload/field").and_then(Value::as_str);
    let proto = left.pointer("/payload/protocol").and_then(Value::as_str);
    match (proto, field) {
        (Some("ip"), Some("saddr" | "daddr")) => intervals(right, addr_bounds, out),
        (Some(_), Some("sport" | "dport")) => intervals(right, port_bounds, out),
        (Some("ip"), Some("protocol")) => number(right, vocab::listed_protocol, out),
        (Some("icmp"), Some("type")) => number(right, vocab::nft_icmp_type, out),
        (Some("icmp"), Some("code")) => number(right, vocab::nft_icmp_code, out),
        // Types by number, as intervals: INVALID is 10-15, a set or a range alike.
        (Some("dccp"), Some("type")) => intervals(right, dccp_type_bounds, out),
        _ => push_json(out, right),
    }
}

/// nft's names of TCP option kinds (nft 1.0.6 `tcpopt.c`).
fn vocab_tcp_option(name: &str) -> Option<u8> {
    Some(match name {
        "eol" => 0,
        "nop" => 1,
        "maxseg" => 2,
        "window" => 3,
        "sack-perm" => 4,
        "sack" | "sack0" | "sack1" | "sack2" | "sack3" => 5,
        "timestamp" => 8,
        "md5sig" => 19,
        "mptcp" => 30,
        "fastopen" => 34,
        _ => return None,
    })
}

/// nft lists a `meta rtclassid` value and its mask as realm names or numbers in strings
/// (`"15"`, or `"cosmos"` for 0 from /etc/iproute2/rt_realms): (left, right) with numbers.
fn realm_numbers(left: &Value, right: &Value) -> Option<(Value, Value)> {
    let is_realm = |v: &Value| v.pointer("/meta/key").and_then(Value::as_str) == Some("rtclassid");
    let num = |v: &Value| match v.as_str() {
        Some("cosmos") => Value::from(0),
        Some(s) => s.parse::<u64>().map_or_else(|_| v.clone(), Value::from),
        None => v.clone(),
    };
    if is_realm(left) {
        return Some((left.clone(), num(right)));
    }
    match left.get("&").and_then(Value::as_array).map(Vec::as_slice) {
        Some([k, mask]) if is_realm(k) => {
            Some((serde_json::json!({"&": [k, num(mask)]}), num(right)))
        }
        _ => None,
    }
}

/// A match on the TCP flags as (negated, mask, flags) bits, in any form nft writes it.
fn tcp_flags(op: &str, left: &Value, right: &Value) -> Option<(bool, u8, u8)> {
    let is_flags = |v: &Value| {
        v.pointer("/payload/protocol").and_then(Value::as_str) == Some("tcp")
            && v.pointer("/payload/field").and_then(Value::as_str) == Some("flags")
    };
    let bits = |v: &Value| -> Option<u8> {
        let one = |x: &Value| -> Option<u8> {
            if let Some(n) = x.as_u64() {
                return u8::try_from(n).ok();
            }
            Some(match x.as_str()? {
                "fin" => 0x01,
                "syn" => 0x02,
                "rst" => 0x04,
                "psh" => 0x08,
                "ack" => 0x10,
                "urg" => 0x20,
                "ecn" => 0x40,
                "cwr" => 0x80,
                _ => return None,
            })
        };
        match v {
            Value::Array(a) => a.iter().try_fold(0u8, |b, x| Some(b | one(x)?)),
            other => one(other),
        }
    };
    match (op, left.get("&").and_then(Value::as_array).map(Vec::as_slice)) {
        ("==" | "!=", Some([f, mask])) if is_flags(f) => {
            Some((op == "!=", bits(mask)?, bits(right)?))
        }
        ("!", None) if is_flags(left) => Some((false, bits(right)?, 0)),
        ("in", None) if is_flags(left) => Some((true, bits(right)?, 0)),
        _ => None,
    }
}

/// A concatenation's value or set of values with the protocol names at position `k` (a `meta
/// l4proto` field: we write `tcp`, nft lists a name or, without one, the number) as numbers.
fn protocols_as_numbers(v: &Value, k: usize) -> Value {
    let mut v = v.clone();
    let at = format!("/concat/{k}");
    let one = |item: &mut Value| {
        if let Some(x) = item.pointer_mut(&at)
            && let Some(n) = x.as_str().and_then(vocab::listed_protocol)
        {
            *x = Value::from(n);
        }
    };
    match v.get_mut("set").and_then(Value::as_array_mut) {
        Some(items) => items.iter_mut().for_each(one),
        None => one(&mut v),
    }
    v
}

fn number(v: &Value, names: fn(&str) -> Option<u8>, out: &mut String) {
    match v.as_str().and_then(names) {
        Some(n) => out.push_str(&n.to_string()),
        None => push_json(out, v),
    }
}

/// A value, prefix, range or set (of those) as sorted, merged inclusive intervals; named sets
/// (`@name`) and anything unrecognised are written as they are.
fn intervals(v: &Value, bounds: fn(&Value) -> Option<(u64, u64)>, out: &mut String) {
    if v.as_str().is_some_and(|s| s.starts_with('@')) {
        return push_json(out, v);
    }
    let single = [v];
    let items: Vec<&Value> = match v.get("set").and_then(Value::as_array) {
        Some(a) => a.iter().collect(),
        None => single.to_vec(),
    };
    let mut ranges = Vec::with_capacity(items.len());
    for item in items {
        match bounds(item) {
            Some(r) => ranges.push(r),
            None => return push_json(out, v),
        }
    }
    for (i, (a, b)) in merge(ranges).into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("{a}-{b}"));
    }
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
    let ip = |x: &Value| crate::net::parse_addr(x.as_str()?).ok().map(|a| u64::from(u32::from(a)));
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
        return Some((ip(a)?, ip(b)?)).filter(|(a, b)| a <= b);
    }
    None
}

/// A DCCP type (nft's name or its number) or a range of them, as numbers.
fn dccp_type_bounds(v: &Value) -> Option<(u64, u64)> {
    const NAMES: [&str; 10] = [
        "request", "response", "data", "ack", "dataack", "closereq", "close", "reset", "sync",
        "syncack",
    ];
    let one = |x: &Value| {
        x.as_u64().or_else(|| NAMES.iter().position(|n| Some(*n) == x.as_str()).map(|i| i as u64))
    };
    if let Some(t) = one(v) {
        return Some((t, t));
    }
    if let Some([a, b]) = v.get("range").and_then(Value::as_array).map(Vec::as_slice) {
        return Some((one(a)?, one(b)?)).filter(|(a, b)| a <= b);
    }
    None
}

pub fn port_bounds(v: &Value) -> Option<(u64, u64)> {
    if let Some(p) = v.as_u64() {
        return Some((p, p));
    }
    if let Some([a, b]) = v.get("range").and_then(Value::as_array).map(Vec::as_slice) {
        return Some((a.as_u64()?, b.as_u64()?)).filter(|(a, b)| a <= b);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_text_is_written_as_serde_json_writes_it() {
        for v in [
            json!({"a": ["x\"y\\z", "\n\r\t\u{8}\u{c}\u{1}", 1, 2.5, true, null], "b": {"c": "é→"}}),
            json!({"set": [3, 1, 2]}),
        ] {
            let mut ours = String::new();
            push_json(&mut ours, &v);
            let back: Value = serde_json::from_str(&ours).expect("valid JSON");
            if v.get("set").is_none() {
                assert_eq!(ours, v.to_string());
            }
            assert_eq!(back.as_object().map(|o| o.len()), v.as_object().map(|o| o.len()));
        }
        let mut sorted = String::new();
        push_json(
            &mut sorted,
            &json!({"set": [{"concat": ["10.0.0.2", 22]}, {"concat": ["10.0.0.1", 80]}]}),
        );
        assert_eq!(sorted, r#"{"set":[{"concat":["10.0.0.1",80]},{"concat":["10.0.0.2",22]}]}"#);
    }

    #[test]
    fn dccp_types_compare_as_numbers_and_ranges() {
        let m = |right: Value| {
            rule(&[
                json!({"match": {"op": "==", "left": {"payload": {"protocol": "dccp", "field": "type"}}, "right": right}}),
            ])
        };
        assert_eq!(m(json!({"set": [10, 11, 12, 13, 14, 15]})), m(json!({"range": [10, 15]})));
        assert_eq!(
            m(json!({"set": ["request", "response", {"range": ["sync", 15]}]})),
            m(json!({"set": [0, 1, 8, 9, 10, 11, 12, 13, 14, 15]}))
        );
        assert_ne!(m(json!(10)), m(json!({"range": [10, 15]})));
    }

    #[test]
    fn merged_lists_compare_equal() {
        let m = |right: Value| {
            rule(&[
                json!({"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": right}}),
            ])
        };
        let ours = m(
            json!({"set": ["10.0.0.1", {"prefix": {"addr": "10.0.0.0", "len": 24}}, {"prefix": {"addr": "192.0.2.0", "len": 24}}]}),
        );
        let kernel = m(
            json!({"set": [{"prefix": {"addr": "10.0.0.0", "len": 24}}, {"prefix": {"addr": "192.0.2.0", "len": 24}}]}),
        );
        assert_eq!(ours, kernel);
        let other = m(
            json!({"set": [{"prefix": {"addr": "10.0.0.0", "len": 25}}, {"prefix": {"addr": "192.0.2.0", "len": 24}}]}),
        );
        assert_ne!(ours, other);
        assert_eq!(
            m(json!({"range": ["10.0.0.0", "10.0.0.255"]})),
            m(json!({"prefix": {"addr": "10.0.0.0", "len": 24}}))
        );
    }

    /// nft lists LOG's five flags as `all`; ours are the five names, in any order.
    #[test]
    fn log_flags_all_is_the_five_flags() {
        let log = |flags: Value| rule(&[json!({"log": {"level": "info", "flags": flags}})]);
        let five = json!(["skuid", "tcp sequence", "ether", "tcp options", "ip options"]);
        assert_eq!(log(json!("all")), log(five.clone()));
        assert_eq!(log(json!(["all"])), log(five));
        assert_ne!(log(json!("all")), log(json!(["tcp sequence", "tcp options"])));
        assert_eq!(log(json!("skuid")), log(json!(["skuid"])));
    }

    #[test]
    fn counters_and_name_spellings_do_not_matter() {
        let a = [
            json!({"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "protocol"}}, "right": "tcp"}}),
            json!({"counter": {"packets": 5, "bytes": 300}}),
            json!({"log": {"prefix": "x", "level": "warn"}}),
            json!({"masquerade": {"flags": "random"}}),
        ];
        let b = [
            json!({"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "protocol"}}, "right": 6}}),
            json!({"log": {"prefix": "x"}}),
            json!({"masquerade": {"flags": ["random"]}}),
        ];
        assert_eq!(rule(&a), rule(&b));
        let c = [
            json!({"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "protocol"}}, "right": 6}}),
        ];
        assert_ne!(rule(&b[..1]), rule(&c));
        let states = |op: &str, right: Value| {
            rule(&[json!({"match": {"op": op, "left": {"ct": {"key": "state"}}, "right": right}})])
        };
        assert_eq!(
            states("in", json!(["related", "established"])),
            states("in", json!(["established", "related"]))
        );
        assert_ne!(states("in", json!("new")), states("!=", json!("new")));
    }

    /// `meta l4proto . tcp dport { tcp . 22, … }` (the optimizer's key set of single ports)
    /// compares by protocol number, as nft lists a name or, without one, the number.
    #[test]
    fn protocols_in_a_concatenation_compare_by_number() {
        let m = |right: Value| {
            rule(&[json!({"match": {"op": "==", "left": {"concat": [
                {"meta": {"key": "l4proto"}}, {"payload": {"protocol": "tcp", "field": "dport"}}
            ]}, "right": right}})])
        };
        let named = m(json!({"set": [{"concat": ["tcp", 80]}, {"concat": ["tcp", 22]}]}));
        assert_eq!(named, m(json!({"set": [{"concat": [6, 22]}, {"concat": [6, 80]}]})));
        assert_ne!(named, m(json!({"set": [{"concat": ["udp", 22]}, {"concat": ["tcp", 80]}]})));
        assert_ne!(named, m(json!({"set": [{"concat": ["tcp", 22]}, {"concat": ["tcp", 81]}]})));
        assert_eq!(m(json!({"concat": ["udplite", 5]})), m(json!({"concat": [136, 5]})));
    }

    /// A NAT address range that is a whole prefix is listed by nft as the prefix: the same.
    #[test]
    fn nat_ranges_compare_with_the_prefix_nft_lists() {
        let dnat = |addr: Value| rule(&[json!({"dnat": {"addr": addr, "flags": "persistent"}})]);
        assert_eq!(
            dnat(json!({"range": ["198.51.100.2", "198.51.100.3"]})),
            dnat(json!({"prefix": {"addr": "198.51.100.2", "len": 31}}))
        );
        assert_ne!(
            dnat(json!({"range": ["198.51.100.2", "198.51.100.4"]})),
            dnat(json!({"prefix": {"addr": "198.51.100.2", "len": 31}}))
        );
        assert_eq!(dnat(json!("192.0.2.1")), dnat(json!({"range": ["192.0.2.1", "192.0.2.1"]})));
    }

    /// nft lists conntrack status bits in any order, `ct protocol` without its direction and by
    /// name, and an expiry in whole seconds (10999 ms as 10).
    /// nft lists `meta time|hour|day` as texts (in UTC, as overlayfw runs it); ours are numbers.
    #[test]
    fn time_matches_compare_as_numbers() {
        let m = |key: &str, op: &str, right: Value| {
            rule(&[json!({"match": {"op": op, "left": {"meta": {"key": key}}, "right": right}})])
        };
        assert_eq!(
            m("time", "<", json!("2025-01-01 00:00:00")),
            m("time", "<", json!(1_735_689_600))
        );
        assert_eq!(m("time", ">=", json!("1970-01-01 00:00:01")), m("time", ">=", json!(1)));
        assert_ne!(
            m("time", "<", json!("2025-01-01 00:00:01")),
            m("time", "<", json!(1_735_689_600))
        );
        assert_eq!(
            m("hour", "!=", json!({"range": ["06:00:01", "21:59:59"]})),
            m("hour", "!=", json!({"range": [21_601, 79_199]}))
        );
        assert_eq!(m("hour", "==", json!("09:00")), m("hour", "==", json!(32_400)));
        assert_eq!(
            m("day", "==", json!({"set": ["Sunday", "Monday", "Wednesday"]})),
            m("day", "==", json!({"set": [0, 1, 3]}))
        );
        assert_ne!(m("day", "==", json!("Tuesday")), m("day", "==", json!(1)));
    }

    #[test]
    fn conntrack_matches_compare_as_nft_lists_them() {
        let m = |op: &str, left: Value, right: Value| {
            rule(&[json!({"match": {"op": op, "left": left, "right": right}})])
        };
        let status = json!({"ct": {"key": "status"}});
        assert_eq!(
            m("in", status.clone(), json!(["assured", "expected"])),
            m("in", status.clone(), json!(["expected", "assured"]))
        );
        assert_ne!(m("in", status.clone(), json!("snat")), m("!", status, json!("snat")));
        assert_eq!(
            m("==", json!({"ct": {"key": "protocol", "dir": "original"}}), json!(6)),
            m("==", json!({"ct": {"key": "protocol"}}), json!("tcp"))
        );
        let exp = json!({"ct": {"key": "expiration"}});
        assert_eq!(
            m("==", exp.clone(), json!({"range": ["10s", "10s999ms"]})),
            m("==", exp.clone(), json!({"range": [10, 10]}))
        );
        assert_ne!(m("==", exp.clone(), json!("11s")), m("==", exp, json!(10)));
    }

    /// The forms nft lists a mark statement in (`& (A|X) | X`, `|`, `^`) and ours compare by
    /// the bits they leave; a copy differs from a set.
    #[test]
    fn mark_statements_compare_by_their_bits() {
        let meta = json!({"meta": {"key": "mark"}});
        let ct = json!({"ct": {"key": "mark"}});
        let set =
            |key: &Value, value: Value| rule(&[json!({"mangle": {"key": key, "value": value}})]);
        assert_eq!(
            set(&meta, json!({"^": [{"&": [meta.clone(), 0xffffff00u32]}, 5]})),
            set(&meta, json!({"|": [{"&": [meta.clone(), 0xffffff05u32]}, 5]}))
        );
        assert_eq!(
            set(&ct, json!({"|": [ct.clone(), 15]})),
            set(&ct, json!({"^": [{"&": [ct.clone(), 0xfffffff0u32]}, 15]}))
        );
        assert_ne!(
            set(&ct, json!({"|": [ct.clone(), 15]})),
            set(&ct, json!({"^": [ct.clone(), 15]}))
        );
        assert_ne!(set(&meta, json!(5)), set(&ct, json!(5)));
        assert_ne!(set(&ct, meta.clone()), set(&ct, json!({"&": [ct.clone(), 0]})));
        assert_eq!(set(&meta, ct.clone()), set(&meta, ct.clone()));
        assert_ne!(set(&meta, ct.clone()), set(&ct, meta.clone()));
    }

    /// What we load (`tcp flags & M == C`, lists) and what nft 1.0.6 lists for it (`!` for
    /// `== 0`, `in` for `!= 0`, one flag as a string) compare equal; other flags do not.
    #[test]
    fn a_quota_compares_without_its_used_bytes() {
        let q = |v: Value| rule(&[json!({"quota": v})]);
        assert_eq!(
            q(json!({"val": 112, "val_unit": "bytes", "used": 40, "used_unit": "bytes"})),
            q(json!({"val": 112, "val_unit": "bytes"}))
        );
        assert_ne!(
            q(json!({"val": 112, "val_unit": "bytes"})),
            q(json!({"val": 111, "val_unit": "bytes"}))
        );
    }

    #[test]
    fn tcp_options_compare_by_kind_without_their_dependency() {
        let opt = |left: Value, right: bool| json!({"match": {"op": "==", "left": {"tcp option": left}, "right": right}});
        let proto = json!({"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "protocol"}}, "right": "tcp"}});
        assert_eq!(
            rule(&[proto.clone(), opt(json!({"base": 8, "offset": 0, "len": 8}), true)]),
            rule(&[opt(json!({"name": "timestamp"}), true)])
        );
        assert_ne!(
            rule(&[opt(json!({"name": "timestamp"}), true)]),
            rule(&[opt(json!({"name": "timestamp"}), false)])
        );
        // Without a tcp option the protocol match stays.
        assert_ne!(rule(&[proto]), rule(&[]));
    }

    #[test]
    fn realms_compare_as_numbers() {
        let m = |left: Value, right: Value| {
            rule(&[json!({"match": {"op": "==", "left": left, "right": right}})])
        };
        let realm = json!({"meta": {"key": "rtclassid"}});
        assert_eq!(m(realm.clone(), json!("4")), m(realm.clone(), json!(4)));
        assert_eq!(m(realm.clone(), json!("cosmos")), m(realm.clone(), json!(0)));
        assert_eq!(
            m(json!({"&": [realm.clone(), "15"]}), json!("1")),
            m(json!({"&": [realm.clone(), 15]}), json!(1))
        );
        assert_ne!(m(realm.clone(), json!("4")), m(realm, json!(5)));
    }

    #[test]
    fn tcp_flag_forms_compare_by_their_bits() {
        let flags = json!({"payload": {"protocol": "tcp", "field": "flags"}});
        let m = |op: &str, left: Value, right: Value| {
            rule(&[json!({"match": {"op": op, "left": left, "right": right}})])
        };
        let masked = |mask: Value| json!({"&": [flags.clone(), mask]});
        assert_eq!(
            m("==", masked(json!(["syn", "rst"])), json!(["syn"])),
            m("==", masked(json!(["rst", "syn"])), json!("syn"))
        );
        assert_eq!(
            m("==", masked(json!(["syn", "ack"])), json!(0)),
            m("!", flags.clone(), json!(["syn", "ack"]))
        );
        assert_eq!(m("!=", masked(json!("syn")), json!(0)), m("in", flags.clone(), json!("syn")));
        assert_ne!(
            m("==", masked(json!(["syn", "rst"])), json!("syn")),
            m("!=", masked(json!(["syn", "rst"])), json!("syn"))
        );
        assert_ne!(
            m("==", masked(json!(["syn", "rst"])), json!("syn")),
            m("==", masked(json!(["syn", "ack"])), json!("syn"))
        );
    }
}
