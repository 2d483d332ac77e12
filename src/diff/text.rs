//! nft JSON expressions → nft's text syntax, for showing live rules in a plan. Generic over
//! the JSON shape (match/payload/meta/ct and the statements), with compact JSON as the fallback
//! for anything else, so an unknown construct is still shown, never hidden.

use serde_json::Value;

/// A rule's expressions as one line of nft text.
pub fn rule(exprs: &[Value]) -> String {
    exprs.iter().map(expr).collect::<Vec<_>>().join(" ")
}

fn expr(e: &Value) -> String {
    let Some((key, v)) = e.as_object().and_then(|o| o.iter().next()) else { return e.to_string() };
    match key.as_str() {
        "match" => {
            let op = v["op"].as_str().unwrap_or("==");
            let op = match op {
                "==" | "in" => String::new(),
                "!" => "! ".to_string(),
                other => format!("{other} "),
            };
            let left = value(&v["left"]);
            let right = match &v["right"] {
                // Interface names are strings in nft's syntax (and may hold a `*` wildcard).
                Value::String(s) if matches!(left.as_str(), "iifname" | "oifname") => {
                    format!("\"{s}\"")
                }
                other => value(other),
            };
            format!("{left} {op}{right}")
        }
        "counter" => "counter".to_string(),
        "accept" | "drop" | "return" | "continue" => key.clone(),
        "jump" | "goto" => format!("{key} {}", v["target"].as_str().unwrap_or("?")),
        "reject" => match (v["type"].as_str(), v["expr"].as_str()) {
            (Some("tcp reset"), _) => "reject with tcp reset".to_string(),
            (Some("icmp"), Some(code)) => format!("reject with icmp type {code}"),
            _ => "reject".to_string(),
        },
        "log" => {
            let mut s = "log".to_string();
            if let Some(p) = v["prefix"].as_str() {
                s.push_str(&format!(" prefix \"{p}\""));
            }
            if let Some(l) = v["level"].as_str() {
                s.push_str(&format!(" level {l}"));
            }
            s
        }
        "limit" => format!(
            "limit rate {}/{} burst {} packets",
            v["rate"],
            v["per"].as_str().unwrap_or("second"),
            v["burst"].as_u64().unwrap_or(5)
        ),
        "dnat" | "snat" | "masquerade" | "redirect" => {
            let mut s = key.clone();
            let prefix = v.get("type_flags").is_some_and(|f| f.to_string().contains("prefix"));
            if prefix {
                s.push_str(" prefix");
            }
            if v.get("addr").is_some() || v.get("port").is_some() {
                s.push_str(" to ");
                if let Some(a) = v.get("addr") {
                    s.push_str(&value(a));
                }
                if let Some(p) = v.get("port") {
                    s.push(':');
                    s.push_str(&value(p));
                }
            }
            if let Some(flags) = v.get("flags") {
                let list: Vec<String> = match flags {
                    Value::Array(a) => a.iter().map(value).collect(),
                    other => vec![value(other)],
                };
                for f in list.into_iter().filter(|f| f != "netmap") {
                    s.push(' ');
                    s.push_str(&f);
                }
            }
            s
        }
        "dup" => format!("dup to {}", value(&v["addr"])),
        "vmap" => format!("{} vmap {}", value(&v["key"]), map_data(&v["data"])),
        _ => e.to_string(),
    }
}

/// A map's elements: `{ KEY : VALUE, … }` (a verdict is `{"accept": null}` in JSON).
fn map_data(v: &Value) -> String {
    let Some(items) = v.get("set").and_then(Value::as_array) else { return value(v) };
    let entry = |pair: &Value| match pair.as_array().map(Vec::as_slice) {
        Some([k, d]) => {
            let d = match d.as_object().and_then(|o| o.keys().next()).map(String::as_str) {
                Some(verdict @ ("accept" | "drop" | "return" | "continue")) => verdict.to_string(),
                _ => value(d),
            };
            format!("{} : {d}", value(k))
        }
        _ => value(pair),
    };
    format!("{{ {} }}", items.iter().map(entry).collect::<Vec<_>>().join(", "))
}

fn value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => a.iter().map(value).collect::<Vec<_>>().join(","),
        Value::Object(o) => {
            if let Some(p) = o.get("payload") {
                return format!(
                    "{} {}",
                    p["protocol"].as_str().unwrap_or("?"),
                    p["field"].as_str().unwrap_or("?")
                );
            }
            if let Some(m) = o.get("meta") {
                let k = m["key"].as_str().unwrap_or("?");
                return if matches!(k, "iifname" | "oifname" | "iif" | "oif") {
                    k.to_string()
                } else {
                    format!("meta {k}")
                };
            }
            if let Some(c) = o.get("ct") {
                return format!("ct {}", c["key"].as_str().unwrap_or("?"));
            }
            if let Some(p) = o.get("prefix") {
                return format!("{}/{}", value(&p["addr"]), p["len"]);
            }
            if let Some(Value::Array(r)) = o.get("range") {
                return r.iter().map(value).collect::<Vec<_>>().join("-");
            }
            if let Some(Value::Array(s)) = o.get("set") {
                return format!("{{ {} }}", s.iter().map(value).collect::<Vec<_>>().join(", "));
            }
            if let Some(Value::Array(c)) = o.get("concat") {
                return c.iter().map(value).collect::<Vec<_>>().join(" . ");
            }
            if let Some(m) = o.get("map") {
                return format!("{} map {}", value(&m["key"]), map_data(&m["data"]));
            }
            if let Some(Value::Array(b)) = o.get("&") {
                return format!("{} & ({})", value(&b[0]), value(&b[1]).replace(',', "|"));
            }
            v.to_string()
        }
        other => other.to_string(),
    }
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
}
