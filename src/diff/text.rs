//! nft JSON expressions → nft's text syntax, for showing live rules in a plan. Covers the
//! statements and expressions of nft 1.0.6's JSON schema (libnftables-json(5)); anything else,
//! or a known key in a shape nft does not write, is spelled out as words (`KEY KEY VALUE …`),
//! never as JSON, so an unknown construct is still shown, never hidden, and nothing a listing
//! holds can make this panic. Strings are quoted with control characters escaped: a listing
//! cannot write a line of its own into the plan.

use serde_json::{Map, Value};

/// A rule's expressions as one line of nft text.
pub fn rule(exprs: &[Value]) -> String {
    exprs.iter().map(stmt).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
}

/// A string as nft quotes it, with `"`, `\` and control characters escaped.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    out.push_str(&escaped(s));
    out.push('"');
    out
}

/// `s` with `"`, `\` and control characters (C0, DEL, C1, line and paragraph separators)
/// escaped.
fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// A bare word from a listing (a name, a keyword): as it is when it is plain, quoted when it
/// holds anything that could be read as more than one word or a line of its own.
pub fn word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-.:/@$*+,|&!<>=~%^".contains(c));
    if plain { s.to_string() } else { quoted(s) }
}

/// Any JSON as words, not JSON: `{"a": 1, "b": "x"}` → `a 1 b x`, a list comma-separated,
/// `null` nothing. The fallback for what nft's schema does not have.
pub fn words(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => word(s),
        Value::Array(a) => a.iter().map(words).collect::<Vec<_>>().join(","),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| {
                let v = words(v);
                if v.is_empty() { word(k) } else { format!("{} {v}", word(k)) }
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// The single key and value of `{"KEY": VALUE}`.
fn single(e: &Value) -> Option<(&str, &Value)> {
    match e.as_object() {
        Some(o) if o.len() == 1 => o.iter().next().map(|(k, v)| (k.as_str(), v)),
        _ => None,
    }
}

fn str_of<'a>(o: &'a Value, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str)
}

/// A list of names that nft writes comma-separated (`flags`), from a string or an array.
fn list(v: &Value) -> String {
    match v {
        Value::Array(a) => a.iter().map(words).collect::<Vec<_>>().join(","),
        other => words(other),
    }
}

fn stmt(e: &Value) -> String {
    let Some((key, v)) = single(e) else { return words(e) };
    let known = match key {
        "match" => matcher(v),
        "counter" => match v {
            Value::String(name) => Some(format!("counter name {}", quoted(name))),
            _ => Some("counter".to_string()),
        },
        "accept" | "drop" | "return" | "continue" if v.is_null() => Some(key.to_string()),
        "jump" | "goto" => str_of(v, "target").map(|t| format!("{key} {}", word(t))),
        "reject" => reject(v),
        "log" => log(v),
        "limit" => limit(v),
        "quota" => quota(v),
        "dnat" | "snat" | "masquerade" | "redirect" => nat(key, v),
        "dup" => v.get("addr").map(|a| {
            let mut s = format!("dup to {}", value(a));
            if let Some(d) = v.get("dev") {
                s.push_str(&format!(" device {}", value_str(d)));
            }
            s
        }),
        "fwd" => v.get("dev").map(|d| match (str_of(v, "family"), v.get("addr")) {
            (Some(f), Some(a)) => format!("fwd {f} to {} device {}", value(a), value_str(d)),
            _ => format!("fwd to {}", value_str(d)),
        }),
        "vmap" => match (v.get("key"), v.get("data")) {
            (Some(k), Some(d)) => Some(format!("{} vmap {}", value(k), map_data(d))),
            _ => None,
        },
        "mangle" => match (v.get("key"), v.get("value")) {
            (Some(k), Some(val)) => Some(format!("{} set {}", value(k), mangle_value(k, val))),
            _ => None,
        },
        "notrack" if v.is_null() => Some("notrack".to_string()),
        "ct helper" | "ct timeout" | "ct expectation" => {
            v.as_str().map(|n| format!("{key} set {}", quoted(n)))
        }
        "secmark" => v.as_str().map(|n| format!("meta secmark set {}", quoted(n))),
        "synproxy" => synproxy(v),
        "queue" => queue(v),
        "tproxy" => tproxy(v),
        "set" | "map" => set_stmt(key, v),
        "meter" => match (str_of(v, "name"), v.get("key"), v.get("stmt")) {
            (Some(n), Some(k), Some(s)) => {
                Some(format!("meter {} {{ {} {} }}", word(n), value(k), stmt(s)))
            }
            _ => None,
        },
        "flow" => str_of(v, "flowtable").map(|f| format!("flow add {}", word(f))),
        "reset" => v.get("tcp option").map(|o| format!("reset tcp option {}", words(o))),
        "xt" => Some(format!("xt {}", words(v))),
        "last" => Some(match v.get("used") {
            Some(u) => format!("last used {}", words(u)),
            None => "last".to_string(),
        }),
        "ct count" => v.get("val").map(|n| {
            let over = if v.get("inv") == Some(&Value::Bool(true)) { "over " } else { "" };
            format!("ct count {over}{}", words(n))
        }),
        _ => None,
    };
    known.unwrap_or_else(|| words(e))
}

fn matcher(v: &Value) -> Option<String> {
    let (left, right) = (v.get("left")?, v.get("right")?);
    let binary = single(left).is_some_and(|(k, _)| matches!(k, "&" | "|" | "^" | "<<" | ">>"));
    let op = match str_of(v, "op").unwrap_or("==") {
        // After a mask nft writes the `==` it leaves out elsewhere.
        "==" if binary => "== ".to_string(),
        "==" | "in" => String::new(),
        "!" => "! ".to_string(),
        other => format!("{} ", word(other)),
    };
    let left_text = value(left);
    let right = match right {
        // Interface names are strings in nft's syntax (and may hold a `*` wildcard); a last
        // `\*` is nft's own escape of a literal `*` (`ir::IfName`), shown as nft shows it.
        Value::String(s) if matches!(left_text.as_str(), "iifname" | "oifname") => {
            match s.strip_suffix("\\*") {
                Some(name) => format!("\"{}\\*\"", escaped(name)),
                None => quoted(s),
            }
        }
        other => value(other),
    };
    Some(format!("{left_text} {op}{right}"))
}

fn reject(v: &Value) -> Option<String> {
    if v.is_null() {
        return Some("reject".to_string());
    }
    Some(match (str_of(v, "type"), v.get("expr")) {
        (Some("tcp reset"), _) => "reject with tcp reset".to_string(),
        (Some(t @ ("icmp" | "icmpv6" | "icmpx")), Some(code)) => {
            format!("reject with {t} type {}", words(code))
        }
        (None | Some("icmp" | "icmpv6" | "icmpx"), None) => "reject".to_string(),
        _ => return None,
    })
}

fn log(v: &Value) -> Option<String> {
    let mut s = "log".to_string();
    let Some(o) = v.as_object() else { return v.is_null().then_some(s) };
    // nft's order: prefix, group, snaplen, queue-threshold, level, flags.
    for key in ["prefix", "group", "snaplen", "queue-threshold", "level", "flags"] {
        let Some(x) = o.get(key) else { continue };
        let x = match (key, x) {
            ("prefix", Value::String(p)) => quoted(p),
            ("flags", f) => log_flags(f),
            (_, other) => words(other),
        };
        s.push_str(&format!(" {key} {x}"));
    }
    let rest: Map<String, Value> = o
        .iter()
        .filter(|(k, _)| {
            !["prefix", "group", "snaplen", "queue-threshold", "level", "flags"]
                .contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !rest.is_empty() {
        s.push(' ');
        s.push_str(&words(&Value::Object(rest)));
    }
    Some(s)
}

/// Log flags as nft writes them: `tcp sequence,options`, `ip options`, `skuid`, `ether`,
/// `all`.
fn log_flags(v: &Value) -> String {
    let name = |x: &Value| match x {
        Value::String(n) => escaped(n),
        other => words(other),
    };
    let names: Vec<String> = match v {
        Value::Array(a) => a.iter().map(name).collect(),
        other => vec![name(other)],
    };
    let tcp: Vec<&str> = names.iter().filter_map(|n| n.strip_prefix("tcp ")).collect();
    let mut parts: Vec<String> = names.iter().filter(|n| !n.starts_with("tcp ")).cloned().collect();
    if !tcp.is_empty() {
        parts.insert(0, format!("tcp {}", tcp.join(",")));
    }
    parts.join(" ")
}

fn limit(v: &Value) -> Option<String> {
    if let Value::String(name) = v {
        return Some(format!("limit name {}", quoted(name)));
    }
    let rate = v.get("rate")?;
    let per = str_of(v, "per").unwrap_or("second");
    let over = if v.get("inv") == Some(&Value::Bool(true)) { "over " } else { "" };
    let mut s = match str_of(v, "rate_unit") {
        Some(unit) if unit != "packets" => {
            format!("limit rate {over}{} {unit}/{per}", words(rate))
        }
        _ => format!("limit rate {over}{}/{per}", words(rate)),
    };
    if let Some(b) = v.get("burst").filter(|b| b.as_u64() != Some(0)) {
        let unit = str_of(v, "burst_unit").unwrap_or("packets");
        s.push_str(&format!(" burst {} {unit}", words(b)));
    }
    Some(s)
}

fn quota(v: &Value) -> Option<String> {
    if let Value::String(name) = v {
        return Some(format!("quota name {}", quoted(name)));
    }
    let val = v.get("val")?;
    let over = if v.get("inv") == Some(&Value::Bool(true)) { "over " } else { "" };
    let mut s = format!("quota {over}{} {}", words(val), str_of(v, "val_unit").unwrap_or("bytes"));
    if let Some(u) = v.get("used").filter(|u| u.as_u64() != Some(0)) {
        s.push_str(&format!(" used {} {}", words(u), str_of(v, "used_unit").unwrap_or("bytes")));
    }
    Some(s)
}

fn nat(key: &str, v: &Value) -> Option<String> {
    let mut s = key.to_string();
    if v.is_null() {
        return Some(s);
    }
    v.as_object()?;
    let prefix = v.get("type_flags").is_some_and(|f| list(f).contains("prefix"));
    // overlayfw's tables are `ip` tables, where nft writes no family.
    if let Some(f) = str_of(v, "family").filter(|f| *f != "ip") {
        s.push(' ');
        s.push_str(&word(f));
    }
    if prefix {
        s.push_str(" prefix");
    }
    if v.get("addr").is_some() || v.get("port").is_some() {
        s.push_str(" to ");
        s.push_str(&addr_port(v));
    }
    if let Some(flags) = v.get("flags") {
        let all = list(flags);
        let kept: Vec<&str> = all.split(',').filter(|f| *f != "netmap" && !f.is_empty()).collect();
        if !kept.is_empty() {
            s.push(' ');
            s.push_str(&kept.join(","));
        }
    }
    Some(s)
}

fn synproxy(v: &Value) -> Option<String> {
    if let Value::String(name) = v {
        return Some(format!("synproxy name {}", quoted(name)));
    }
    let mut s = "synproxy".to_string();
    for key in ["mss", "wscale"] {
        if let Some(x) = v.get(key) {
            s.push_str(&format!(" {key} {}", words(x)));
        }
    }
    if let Some(f) = v.get("flags") {
        s.push(' ');
        s.push_str(&list(f).replace(',', " "));
    }
    Some(s)
}

fn queue(v: &Value) -> Option<String> {
    let mut s = "queue".to_string();
    if let Some(f) = v.get("flags") {
        s.push_str(&format!(" flags {}", list(f)));
    }
    if let Some(n) = v.get("num") {
        s.push_str(&format!(" to {}", value(n)));
    }
    Some(s)
}

fn tproxy(v: &Value) -> Option<String> {
    let mut s = "tproxy".to_string();
    if let Some(f) = str_of(v, "family") {
        s.push(' ');
        s.push_str(&word(f));
    }
    s.push_str(" to ");
    s.push_str(&addr_port(v));
    Some(s)
}

/// `ADDR:PORT` of a NAT or tproxy statement, either part possibly absent.
fn addr_port(v: &Value) -> String {
    let mut s = v.get("addr").map(value).unwrap_or_default();
    if let Some(p) = v.get("port") {
        s.push(':');
        s.push_str(&value(p));
    }
    s
}

/// `add @set { ELEM }`, `update @map { ELEM : DATA }` (with a statement: `… limit …`).
fn set_stmt(key: &str, v: &Value) -> Option<String> {
    let op = str_of(v, "op")?;
    let target = str_of(v, key)?;
    let mut inner = value(v.get("elem")?);
    if let Some(s) = v.get("stmt") {
        let stmts: Vec<String> = match s {
            Value::Array(a) => a.iter().map(stmt).collect(),
            other => vec![stmt(other)],
        };
        inner.push(' ');
        inner.push_str(&stmts.join(" "));
    }
    if let Some(d) = v.get("data") {
        inner.push_str(&format!(" : {}", value(d)));
    }
    Some(format!("{} {} {{ {inner} }}", word(op), word(target)))
}

/// A mark is written in hex, as nft lists it.
fn mangle_value(key: &Value, val: &Value) -> String {
    let is_mark = ["/meta/key", "/ct/key"]
        .iter()
        .any(|p| key.pointer(p).and_then(Value::as_str) == Some("mark"));
    match val.as_u64() {
        Some(n) if is_mark => format!("0x{n:08x}"),
        _ => value(val),
    }
}

/// A map's elements: `{ KEY : VALUE, … }` (a verdict is `{"accept": null}` in JSON).
fn map_data(v: &Value) -> String {
    let Some(items) = v.get("set").and_then(Value::as_array) else { return value(v) };
    let entry = |pair: &Value| match pair.as_array().map(Vec::as_slice) {
        Some([k, d]) => format!("{} : {}", value(k), value(d)),
        _ => value(pair),
    };
    format!("{{ {} }}", items.iter().map(entry).collect::<Vec<_>>().join(", "))
}

/// A string value that nft writes quoted (a device name).
fn value_str(v: &Value) -> String {
    match v {
        Value::String(s) => quoted(s),
        other => value(other),
    }
}

fn value(v: &Value) -> String {
    match v {
        Value::String(s) => word(s),
        Value::Array(a) => a.iter().map(value).collect::<Vec<_>>().join(","),
        Value::Object(_) => expression(v).unwrap_or_else(|| words(v)),
        other => words(other),
    }
}

/// An expression object of nft's schema, or `None` when `v` is not one nft writes.
fn expression(v: &Value) -> Option<String> {
    let (key, x) = single(v)?;
    Some(match key {
        "payload" => match (str_of(x, "protocol"), str_of(x, "field")) {
            (Some(p), Some(f)) => format!("{} {}", word(p), word(f)),
            _ => {
                let (base, offset, len) = (str_of(x, "base")?, x.get("offset")?, x.get("len")?);
                let base = match base {
                    "ll" => "ll",
                    "nh" => "nh",
                    "th" => "th",
                    _ => return None,
                };
                format!("@{base},{},{}", words(offset), words(len))
            }
        },
        "meta" => {
            let k = str_of(x, "key")?;
            // The keys nft writes without `meta`.
            let bare = [
                "iifname",
                "oifname",
                "iif",
                "oif",
                "iiftype",
                "oiftype",
                "iifgroup",
                "oifgroup",
                "skuid",
                "skgid",
                "rtclassid",
                "cgroup",
                "ibrname",
                "obrname",
                "cpu",
            ];
            if bare.contains(&k) { word(k) } else { format!("meta {}", word(k)) }
        }
        "ct" => {
            let mut s = "ct".to_string();
            if let Some(d) = str_of(x, "dir") {
                s.push(' ');
                s.push_str(&word(d));
            }
            if let Some(f) = str_of(x, "family") {
                s.push(' ');
                s.push_str(&word(f));
            }
            s.push(' ');
            s.push_str(&word(str_of(x, "key")?));
            s
        }
        "rt" => {
            let mut s = "rt".to_string();
            if let Some(f) = str_of(x, "family") {
                s.push(' ');
                s.push_str(&word(f));
            }
            format!("{s} {}", word(str_of(x, "key")?))
        }
        "exthdr" => {
            let name = word(str_of(x, "name")?);
            match x.get("field") {
                Some(f) => format!("{name} {}", words(f)),
                None => format!("exthdr {name} exists"),
            }
        }
        "tcp option" | "ip option" | "sctp chunk" | "dccp option" => {
            let name = x.get("name").or_else(|| x.get("type"))?;
            match x.get("field") {
                Some(f) => format!("{key} {} {}", words(name), words(f)),
                None => format!("{key} {}", words(name)),
            }
        }
        "fib" => {
            let flags = x.get("flags").map(|f| list(f).replace(',', " . ")).unwrap_or_default();
            format!("fib {flags} {}", word(str_of(x, "result")?))
        }
        "socket" => format!("socket {}", word(str_of(x, "key")?)),
        "osf" => {
            let mut s = "osf".to_string();
            if let Some(t) = x.get("ttl") {
                s.push_str(&format!(" ttl {}", words(t)));
            }
            format!("{s} {}", word(str_of(x, "key")?))
        }
        "ipsec" => {
            let mut s = format!("ipsec {}", word(str_of(x, "dir")?));
            if let Some(n) = x.get("spnum") {
                s.push_str(&format!(" spnum {}", words(n)));
            }
            if let Some(f) = str_of(x, "family") {
                s.push_str(&format!(" {}", word(f)));
            }
            format!("{s} {}", word(str_of(x, "key")?))
        }
        "numgen" => {
            let mut s = format!("numgen {} mod {}", word(str_of(x, "mode")?), words(x.get("mod")?));
            if let Some(o) = x.get("offset").filter(|o| o.as_u64() != Some(0)) {
                s.push_str(&format!(" offset {}", words(o)));
            }
            s
        }
        "jhash" | "symhash" => {
            let mut s = key.to_string();
            if let Some(e) = x.get("expr") {
                s.push_str(&format!(" {}", value(e)));
            }
            s.push_str(&format!(" mod {}", words(x.get("mod")?)));
            for k in ["seed", "offset"] {
                if let Some(n) = x.get(k).filter(|n| n.as_u64() != Some(0)) {
                    s.push_str(&format!(" {k} {}", words(n)));
                }
            }
            s
        }
        "prefix" => format!("{}/{}", value(x.get("addr")?), words(x.get("len")?)),
        "range" => match x.as_array().map(Vec::as_slice) {
            Some([a, b]) => format!("{}-{}", value(a), value(b)),
            _ => return None,
        },
        "set" => match x {
            Value::Array(s) => {
                format!("{{ {} }}", s.iter().map(value).collect::<Vec<_>>().join(", "))
            }
            _ => return None,
        },
        "concat" => match x {
            Value::Array(c) => c.iter().map(value).collect::<Vec<_>>().join(" . "),
            _ => return None,
        },
        "map" => format!("{} map {}", value(x.get("key")?), map_data(x.get("data")?)),
        "elem" => {
            let mut s = value(x.get("val")?);
            for k in ["timeout", "expires"] {
                if let Some(t) = x.get(k) {
                    s.push_str(&format!(" {k} {}s", words(t)));
                }
            }
            if let Some(c) = str_of(x, "comment") {
                s.push_str(&format!(" comment {}", quoted(c)));
            }
            s
        }
        "&" | "|" | "^" | "<<" | ">>" => match x.as_array().map(Vec::as_slice) {
            // nft writes the flags of a mask as a `|` list: `tcp flags & (syn|ack)`.
            Some([a, Value::Array(flags)]) => format!(
                "{} {key} ({})",
                value(a),
                flags.iter().map(value).collect::<Vec<_>>().join("|")
            ),
            Some([a, b]) => format!("{} {key} {}", value(a), value(b)),
            _ => return None,
        },
        "accept" | "drop" | "return" | "continue" if x.is_null() => key.to_string(),
        "jump" | "goto" => format!("{key} {}", word(str_of(x, "target")?)),
        "ct count" => format!("ct count {}", words(x.get("val")?)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn renders_what_nft_lists() {
        let exprs = [
            json!({"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth0"}}),
            json!({"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 2222}}),
            json!({"counter": {"packets": 0, "bytes": 0}}),
            json!({"dnat": {"addr": "198.51.100.2", "port": 22}}),
        ];
        assert_eq!(
            super::rule(&exprs),
            "iifname \"eth0\" tcp dport 2222 counter dnat to 198.51.100.2:22"
        );
        // The interface named `*`, as nft writes it.
        let star =
            [json!({"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "\\*"}})];
        assert_eq!(super::rule(&star), "oifname \"\\*\"");
        // A DNAT map and a verdict map, as `nft -j` lists them.
        let map = [json!({"dnat": {"addr": {"map": {
            "key": {"payload": {"protocol": "tcp", "field": "dport"}},
            "data": {"set": [[2222, {"concat": ["198.51.100.2", 22]}], [8080, "198.51.100.3"]]}
        }}, "family": "ip"}})];
        assert_eq!(
            super::rule(&map),
            "dnat to tcp dport map { 2222 : 198.51.100.2 . 22, 8080 : 198.51.100.3 }"
        );
        let vmap = [json!({"vmap": {
            "key": {"concat": [{"payload": {"protocol": "ip", "field": "saddr"}}, {"payload": {"protocol": "tcp", "field": "dport"}}]},
            "data": {"set": [
                [{"concat": [{"prefix": {"addr": "10.0.0.0", "len": 8}}, 22]}, {"accept": null}],
                [{"concat": ["192.0.2.1", {"range": [80, 90]}]}, {"drop": null}]
            ]}
        }})];
        assert_eq!(
            super::rule(&vmap),
            "ip saddr . tcp dport vmap { 10.0.0.0/8 . 22 : accept, 192.0.2.1 . 80-90 : drop }"
        );
    }

    #[test]
    fn unknown_shapes_are_words_with_quoted_strings() {
        assert_eq!(super::rule(&[json!({"frob": {"x": 1, "y": "a b"}})]), "frob x 1 y \"a b\"");
        assert_eq!(super::rule(&[json!({"&": []})]), "&");
        assert_eq!(super::rule(&[json!("x\ny")]), "\"x\\ny\"");
        assert_eq!(super::quoted("a\u{2028}\"b"), "\"a\\u{2028}\\\"b\"");
    }
}
