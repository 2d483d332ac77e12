//! IR → nftables JSON (libnftables' schema). `listing` gives the objects in the shape of
//! `nft -j list table` (what `diff` compares with the kernel's listing); `script` wraps them in
//! the commands `nft -j -f` takes to replace the table atomically.

use ipnetwork::Ipv4Network;
use serde_json::{Value, json};

use crate::vocab;

use super::rule::{l4_name, tcp_flag_names};
use crate::ir::{
    Action, AddrMatch, BaseChain, ChainKind, Cmp, CtDir, Dir, Hook, Key, Match, Mss, NatFlags,
    NatTarget, PortMatch, Rule, Ruleset, Set, SetElements, Tuple, Vmap, set_name,
};

/// The table, its sets, chains and rules as `nft -j list table ip NAME` shows them (without
/// handles and with zero counters). Rules carry their comment.
pub fn listing(rs: &Ruleset) -> Vec<Value> {
    let t = rs.table.as_str();
    let mut out = Vec::with_capacity(1 + rs.sets.len() + rs.chains.len() * 2);
    out.push(json!({"table": {"family": "ip", "name": t}}));
    for set in &rs.sets {
        let (ty, elem): (&str, Vec<Value>) = match &set.elements {
            SetElements::Addrs(nets) => ("ipv4_addr", nets.iter().map(net).collect()),
            SetElements::Ports(ports) => {
                ("inet_service", ports.iter().map(|&p| port_range(p)).collect())
            }
        };
        let mut s = json!({"family": "ip", "name": set.name, "table": t, "type": ty, "flags": ["interval"]});
        if !elem.is_empty() {
            s["elem"] = Value::Array(elem);
        }
        out.push(json!({"set": s}));
    }
    // The meters' dynamic sets: no elements (those are runtime state). nft 1.0.6's JSON
    // parser refuses the flag `dynamic` (and lists none): it marks the set dynamic itself
    // for the rules that add to it.
    for m in rs.meters() {
        let key_type = m.key_type();
        let types: Vec<&str> = key_type.split(" . ").collect();
        let ty = if types.len() == 1 { json!(types[0]) } else { json!(types) };
        let mut s = json!({"family": "ip", "name": &*m.name, "table": t, "type": ty, "size": crate::nft::METER_SIZE});
        if m.has_timeout() {
            s["flags"] = json!(["timeout"]);
        }
        out.push(json!({"set": s}));
    }
    for chain in &rs.chains {
        let mut c = json!({"family": "ip", "table": t, "name": chain.name});
        if let Some(base) = &chain.base {
            let BaseChain { kind, hook, priority } = *base;
            c["type"] = json!(match kind {
                ChainKind::Filter => "filter",
                ChainKind::Nat => "nat",
            });
            c["hook"] = json!(hook_name(hook));
            c["prio"] = json!(priority);
            c["policy"] = json!("accept");
        }
        out.push(json!({"chain": c}));
    }
    for chain in &rs.chains {
        for rule in &chain.rules {
            let mut r = json!({"family": "ip", "table": t, "chain": chain.name, "expr": rule_exprs(rule, &rs.sets)});
            if let Some(c) = super::comment(&chain.name, rule, &rs.sets, &rs.files) {
                r["comment"] = json!(c);
            }
            out.push(json!({"rule": r}));
        }
    }
    out
}

/// The JSON script for `nft -j -f`: create-if-absent, delete and rebuild the table (and the
/// `ip6` table of `ipv6: drop`) in one transaction, as the text script does.
pub fn script(rs: &Ruleset) -> Value {
    let table = json!({"family": "ip", "name": rs.table});
    let mut cmds = vec![
        json!({"metainfo": {"json_schema_version": 1}}),
        json!({"add": {"table": table}}),
        json!({"delete": {"table": table}}),
    ];
    for obj in listing(rs) {
        cmds.push(json!({"add": obj}));
    }
    // With `ipv6: drop`, the `ip6` table too, in the same transaction.
    if rs.ipv6.managed() {
        let table6 = json!({"family": "ip6", "name": rs.table});
        cmds.push(json!({"add": {"table": table6}}));
        cmds.push(json!({"delete": {"table": table6}}));
        if let Value::Array(objects) = &crate::ip6::listing(&rs.table)["nftables"] {
            cmds.extend(objects.iter().map(|o| json!({"add": o})));
        }
    }
    json!({"nftables": cmds})
}

pub(crate) fn hook_name(h: Hook) -> &'static str {
    match h {
        Hook::Prerouting => "prerouting",
        Hook::Input => "input",
        Hook::Forward => "forward",
        Hook::Output => "output",
        Hook::Postrouting => "postrouting",
    }
}

fn net(n: &Ipv4Network) -> Value {
    if n.prefix() == 32 {
        json!(n.ip().to_string())
    } else {
        json!({"prefix": {"addr": n.network().to_string(), "len": n.prefix()}})
    }
}

fn port_range((lo, hi): (u16, u16)) -> Value {
    if lo == hi { json!(lo) } else { json!({"range": [lo, hi]}) }
}

fn op(neg: bool) -> &'static str {
    if neg { "!=" } else { "==" }
}

/// nft's name of a DSCP value, as it lists them (others are listed as numbers).
fn dscp_name(n: u32) -> Option<&'static str> {
    Some(match n {
        0 => "cs0",
        1 => "lephb",
        8 => "cs1",
        10 => "af11",
        12 => "af12",
        14 => "af13",
        16 => "cs2",
        18 => "af21",
        20 => "af22",
        22 => "af23",
        24 => "cs3",
        26 => "af31",
        28 => "af32",
        30 => "af33",
        32 => "cs4",
        34 => "af41",
        36 => "af42",
        38 => "af43",
        40 => "cs5",
        44 => "va",
        46 => "ef",
        48 => "cs6",
        56 => "cs7",
        _ => return None,
    })
}

/// `meta mark` or `ct mark`.
fn mark_key(ct: bool) -> Value {
    if ct { json!({"ct": {"key": "mark"}}) } else { json!({"meta": {"key": "mark"}}) }
}

fn payload(protocol: &str, field: &str) -> Value {
    json!({"payload": {"protocol": protocol, "field": field}})
}

fn matcher(op: &str, left: Value, right: Value) -> Value {
    json!({"match": {"op": op, "left": left, "right": right}})
}

pub(crate) fn rule_exprs(rule: &Rule, sets: &[Set]) -> Vec<Value> {
    let mut e = Vec::with_capacity(rule.matches.len() + 2);
    for m in &rule.matches {
        // A positive ICMP type with code is two matches.
        match match_expr(m, sets) {
            Value::Array(several) => e.extend(several),
            one => e.push(one),
        }
    }
    if rule.origin.is_some() || rule.action == Action::Count {
        e.push(json!({"counter": {"packets": 0, "bytes": 0}}));
    }
    if rule.action != Action::Count {
        e.push(action_expr(&rule.action));
    }
    e
}

fn match_expr(m: &Match, sets: &[Set]) -> Value {
    match m {
        Match::IifName { neg, name } => {
            matcher(op(*neg), json!({"meta": {"key": "iifname"}}), json!(&**name))
        }
        Match::OifName { neg, name } => {
            matcher(op(*neg), json!({"meta": {"key": "oifname"}}), json!(&**name))
        }
        Match::Saddr { neg, addrs } | Match::Daddr { neg, addrs } => {
            let field = if matches!(m, Match::Saddr { .. }) { "saddr" } else { "daddr" };
            match addrs {
                AddrMatch::Masked { addr, mask } => matcher(
                    op(*neg),
                    json!({"&": [payload("ip", field), mask.to_string()]}),
                    json!(addr.to_string()),
                ),
                _ => matcher(op(*neg), payload("ip", field), addr_value(addrs, sets)),
            }
        }
        Match::Protocol { neg, proto } => {
            matcher(op(*neg), payload("ip", "protocol"), json!(proto))
        }
        Match::Port { proto, dir, neg, ports } => {
            let field = match dir {
                Dir::Src => "sport",
                Dir::Dst => "dport",
            };
            let right = match ports {
                PortMatch::Ports(list) if list.len() == 1 => port_range(list[0]),
                PortMatch::Ports(list) => {
                    json!({"set": list.iter().map(|&p| port_range(p)).collect::<Vec<_>>()})
                }
                PortMatch::Set(id) => json!(format!("@{}", set_name(sets, *id))),
            };
            matcher(op(*neg), payload(l4_name(*proto), field), right)
        }
        Match::CtState { neg, states } => {
            let names: Vec<&str> = states.iter().map(|s| s.nft_name()).collect();
            let right = if names.len() == 1 { json!(names[0]) } else { json!(names) };
            let op = match (neg, names.len()) {
                (false, _) => "in",
                (true, 1) => "!=",
                (true, _) => "!",
            };
            matcher(op, json!({"ct": {"key": "state"}}), right)
        }
        Match::Limit { rate, unit, burst } => {
            json!({"limit": {"rate": rate, "burst": burst, "per": unit.nft_name()}})
        }
        Match::IcmpType { neg, kind, code } => match (neg, code) {
            (_, None) => matcher(op(*neg), payload("icmp", "type"), json!(kind)),
            (false, Some(c)) => json!([
                matcher("==", payload("icmp", "type"), json!(kind)),
                matcher("==", payload("icmp", "code"), json!(c)),
            ]),
            (true, Some(c)) => matcher(
                "!=",
                json!({"concat": [payload("icmp", "type"), payload("icmp", "code")]}),
                json!({"set": [{"concat": [kind, c]}]}),
            ),
        },
        Match::Tuple(t) => {
            let Tuple { fields, elements } = &**t;
            let set: Vec<Value> = elements.iter().map(|el| tuple_element(el)).collect();
            matcher("==", tuple_key(fields), json!({"set": set}))
        }
        Match::TcpSyn { neg } => matcher(
            op(*neg),
            json!({"&": [payload("tcp", "flags"), ["fin", "syn", "rst", "ack"]]}),
            json!("syn"),
        ),
        Match::TcpFlags { neg, mask, comp } => {
            let comp = if *comp == 0 { json!(0) } else { json!(tcp_flag_names(*comp)) };
            matcher(op(*neg), json!({"&": [payload("tcp", "flags"), tcp_flag_names(*mask)]}), comp)
        }
        Match::Value { key, neg, cmp } => {
            let left = match key {
                Key::IpLength => payload("ip", "length"),
                Key::Ttl => payload("ip", "ttl"),
                Key::PktType => json!({"meta": {"key": "pkttype"}}),
                Key::FragOffset => json!({"&": [payload("ip", "frag-off"), 0x1fff]}),
                Key::Dscp => payload("ip", "dscp"),
                Key::Ecn => payload("ip", "ecn"),
                Key::AhSpi => payload("ah", "spi"),
                Key::EspSpi => payload("esp", "spi"),
                Key::TcpMss => json!({"tcp option": {"name": "maxseg", "field": "size"}}),
                Key::SkUid => json!({"meta": {"key": "skuid"}}),
                Key::SkGid => json!({"meta": {"key": "skgid"}}),
                Key::CtProto => json!({"ct": {"key": "protocol", "dir": "original"}}),
                Key::CtPort { repl, dst } => json!({"ct": {
                    "key": if *dst { "proto-dst" } else { "proto-src" },
                    "dir": if *repl { "reply" } else { "original" },
                }}),
                Key::CtDir => json!({"ct": {"key": "direction"}}),
                Key::CtExpire => json!({"ct": {"key": "expiration"}}),
            };
            // One value as nft lists it: packet types, DSCP classes and ECN codepoints by name.
            let one = |n: u32| match key {
                Key::PktType => json!(super::rule::pkttype_name(n)),
                Key::Ecn => json!(["not-ect", "ect1", "ect0", "ce"][n as usize & 3]),
                Key::Dscp => dscp_name(n).map_or_else(|| json!(n), |s| json!(s)),
                Key::CtDir => json!(if n == 0 { "original" } else { "reply" }),
                // A number is seconds to nft: milliseconds go as a time text.
                Key::CtExpire => json!(super::rule::expiry(n)),
                _ => json!(n),
            };
            match cmp {
                Cmp::Gt(n) => matcher(">", left, json!(n)),
                Cmp::Lt(n) => matcher("<", left, json!(n)),
                Cmp::Range(a, b) if a == b => matcher(op(*neg), left, one(*a)),
                Cmp::Range(a, b) => matcher(op(*neg), left, json!({"range": [one(*a), one(*b)]})),
            }
        }
        // Numbers: nft takes them as UTC (diff::canon reads the listed texts back as numbers).
        Match::MetaTime { ge, secs } => {
            matcher(if *ge { ">=" } else { "<" }, json!({"meta": {"key": "time"}}), json!(secs))
        }
        Match::MetaHour { neg, lo, hi } => {
            let right = if lo == hi { json!(lo) } else { json!({"range": [lo, hi]}) };
            matcher(op(*neg), json!({"meta": {"key": "hour"}}), right)
        }
        Match::MetaDay { days, .. } => {
            let right = match crate::ir::DayForm::of(*days) {
                crate::ir::DayForm::One(d) => json!(d),
                crate::ir::DayForm::Range(a, b) => json!({"range": [a, b]}),
                crate::ir::DayForm::Set(l) => json!({"set": l}),
            };
            matcher("==", json!({"meta": {"key": "day"}}), right)
        }
        Match::DccpType { neg, types } => {
            let names: Vec<Value> = super::rule::dccp_type_names(*types)
                .into_iter()
                .map(|n| n.parse::<u32>().map_or_else(|_| json!(n), |v| json!(v)))
                .collect();
            let right = if names.len() == 1 { names[0].clone() } else { json!({"set": names}) };
            matcher(op(*neg), json!({"payload": {"protocol": "dccp", "field": "type"}}), right)
        }
        Match::EtherSaddr { neg, addr: a } => {
            let mac = format!(
                "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                a[0], a[1], a[2], a[3], a[4], a[5]
            );
            matcher(op(*neg), payload("ether", "saddr"), json!(mac))
        }
        Match::Random { neg, below } => matcher(
            if *neg { ">=" } else { "<" },
            json!({"&": [{"meta": {"key": "random"}}, 0x7fff_ffff]}),
            json!(below),
        ),
        Match::Nth { neg, every, value } => matcher(
            op(*neg),
            json!({"numgen": {"mode": "inc", "mod": every, "offset": 0}}),
            json!(value),
        ),
        Match::AddrType { neg, dst, iface, types } => {
            let mut flags = vec![if *dst { "daddr" } else { "saddr" }];
            match iface {
                Some(Dir::Src) => flags.push("iif"),
                Some(Dir::Dst) => flags.push("oif"),
                None => {}
            }
            let names = super::rule::addr_type_names(*types);
            let right = if names.len() == 1 { json!(names[0]) } else { json!({"set": names}) };
            matcher(op(*neg), json!({"fib": {"result": "type", "flags": flags}}), right)
        }
        // As nft lists `ct status & B != 0` (`== 0`): `ct status B` (`ct status ! B`).
        Match::CtStatus { neg, bits } => {
            let names = vocab::ct_status_names(*bits);
            let right = if names.len() == 1 { json!(names[0]) } else { json!(names) };
            matcher(if *neg { "!" } else { "in" }, json!({"ct": {"key": "status"}}), right)
        }
        Match::CtAddr { neg, repl, dst, net: n } => {
            let key = if *dst { "ip daddr" } else { "ip saddr" };
            let dir = if *repl { "reply" } else { "original" };
            matcher(op(*neg), json!({"ct": {"key": key, "dir": dir}}), net(n))
        }
        // As nft lists them: the element wrapped with its timeout (whole seconds), the
        // statement's inversion as `inv`.
        Match::Meter(m) => {
            use crate::ir::{MeterKey, MeterStmt};
            let mut keys: Vec<Value> = m
                .keys
                .iter()
                .map(|k| match *k {
                    MeterKey::Saddr(p) | MeterKey::Daddr(p) => {
                        let field = if matches!(k, MeterKey::Saddr(_)) { "saddr" } else { "daddr" };
                        let load = payload("ip", field);
                        if p < 32 {
                            let mask = super::rule::prefix_mask(p).to_string();
                            json!({"&": [load, mask]})
                        } else {
                            load
                        }
                    }
                    MeterKey::Port(proto, dir) => {
                        payload(l4_name(proto), if dir == Dir::Src { "sport" } else { "dport" })
                    }
                })
                .collect();
            let key = if keys.len() == 1 { keys.remove(0) } else { json!({"concat": keys}) };
            let name = format!("@{}", m.name);
            match m.stmt {
                MeterStmt::Limit { rate, unit, burst, over, timeout_s } => {
                    let mut limit = json!({"rate": rate, "burst": burst, "per": unit.nft_name()});
                    if over {
                        limit["inv"] = json!(true);
                    }
                    json!({"set": {
                        "op": "update",
                        "elem": {"elem": {"val": key, "timeout": timeout_s}},
                        "set": name,
                        "stmt": [{"limit": limit}],
                    }})
                }
                MeterStmt::CtCount { count, over } => {
                    let mut ct = json!({"val": count});
                    if over {
                        ct["inv"] = json!(true);
                    }
                    json!({"set": {"op": "add", "elem": key, "set": name, "stmt": [{"ct count": ct}]}})
                }
            }
        }
        // As nft lists `meta secpath exists` (`meta ipsec`) and `rt ipsec missing`.
        Match::Ipsec { out, exists } => {
            let left = if *out {
                json!({"rt": {"key": "ipsec"}})
            } else {
                json!({"meta": {"key": "ipsec"}})
            };
            matcher("==", left, json!(exists))
        }
        Match::Meta { key, neg, value, mask } => {
            let key = json!({"meta": {"key": key.name()}});
            let left = if *mask == u32::MAX { key } else { json!({"&": [key, mask]}) };
            matcher(op(*neg), left, json!(value))
        }
        Match::CtHelper { name } => {
            matcher("==", json!({"ct": {"key": "helper"}}), json!(name.as_ref()))
        }
        // A bit test: nft lists `ct label N` with the operator `in`.
        Match::CtLabel { bit } => matcher("in", json!({"ct": {"key": "label"}}), json!(bit)),
        Match::TcpOption { neg, kind } => matcher(
            "==",
            json!({"tcp option": {"base": kind, "offset": 0, "len": 8}}),
            json!(!*neg),
        ),
        Match::Quota { neg, bytes } => {
            if *neg {
                json!({"quota": {"val": bytes, "val_unit": "bytes", "inv": true}})
            } else {
                json!({"quota": {"val": bytes, "val_unit": "bytes"}})
            }
        }
        Match::Connbytes { dir, mode, neg, lo, hi } => {
            let left = match dir {
                CtDir::Original => json!({"ct": {"key": mode.name(), "dir": "original"}}),
                CtDir::Reply => json!({"ct": {"key": mode.name(), "dir": "reply"}}),
                CtDir::Both => json!({"ct": {"key": mode.name()}}),
            };
            match (*hi == u64::MAX, *neg) {
                (true, false) => matcher(">=", left, json!(lo)),
                (true, true) => matcher("<", left, json!(lo)),
                (false, _) if lo == hi => matcher(op(*neg), left, json!(lo)),
                (false, _) => matcher(op(*neg), left, json!({"range": [lo, hi]})),
            }
        }
        Match::Mark { ct, neg, value, mask } => {
            let key = mark_key(*ct);
            let left = if *mask == u32::MAX { key } else { json!({"&": [key, mask]}) };
            matcher(op(*neg), left, json!(value))
        }
    }
}

/// The key of a tuple set or verdict map: one payload, or their concatenation.
fn tuple_key(fields: &[crate::ir::Field]) -> Value {
    let mut left: Vec<Value> = fields
        .iter()
        .map(|f| match f {
            crate::ir::Field::Saddr => payload("ip", "saddr"),
            crate::ir::Field::Daddr => payload("ip", "daddr"),
            crate::ir::Field::Port(p, Dir::Src) => payload(l4_name(*p), "sport"),
            crate::ir::Field::Port(p, Dir::Dst) => payload(l4_name(*p), "dport"),
            crate::ir::Field::L4Proto => json!({"meta": {"key": "l4proto"}}),
        })
        .collect();
    if left.len() == 1 { left.remove(0) } else { json!({ "concat": left }) }
}

/// One element of a tuple set or verdict map: a value, or the concatenation of one per field.
fn tuple_element(el: &[crate::ir::Elem]) -> Value {
    let value = |e: &crate::ir::Elem| match e {
        crate::ir::Elem::Net(n) => net(n),
        crate::ir::Elem::Ports(a, b) => port_range((*a, *b)),
        crate::ir::Elem::L4(p) => json!(l4_name(*p)),
    };
    if el.len() == 1 {
        value(&el[0])
    } else {
        json!({"concat": el.iter().map(value).collect::<Vec<_>>()})
    }
}

fn addr_value(a: &AddrMatch, sets: &[Set]) -> Value {
    match a {
        AddrMatch::Nets(nets) if nets.len() == 1 => net(&nets[0]),
        AddrMatch::Nets(nets) => json!({"set": nets.iter().map(net).collect::<Vec<_>>()}),
        AddrMatch::Range(lo, hi) if lo == hi => json!(lo.to_string()),
        AddrMatch::Range(lo, hi) => json!({"range": [lo.to_string(), hi.to_string()]}),
        AddrMatch::Set(id) => json!(format!("@{}", set_name(sets, *id))),
        // match_expr writes the `&` itself.
        AddrMatch::Masked { addr, .. } => json!(addr.to_string()),
    }
}

/// NAT flags as nft lists them: one as a string, several as a list.
fn nat_flags(flags: NatFlags) -> Option<Value> {
    match flags.words().as_slice() {
        [] => None,
        [one] => Some(json!(one)),
        several => Some(json!(several)),
    }
}

fn nat(verb: &str, to: &NatTarget, flags: NatFlags) -> Value {
    let mut n = serde_json::Map::new();
    let addr = match to.addr_end {
        Some(end) if end != to.addr => json!({"range": [to.addr.to_string(), end.to_string()]}),
        _ => json!(to.addr.to_string()),
    };
    n.insert("addr".into(), addr);
    if let Some(p) = to.ports {
        n.insert("port".into(), port_range(p));
    }
    if let Some(f) = nat_flags(flags) {
        n.insert("flags".into(), f);
    }
    json!({ verb: n })
}

fn action_expr(a: &Action) -> Value {
    match a {
        Action::Count => Value::Null,
        Action::Tcpmss(mss) => {
            let value = match mss {
                Mss::ClampToPmtu => json!({"rt": {"key": "mtu"}}),
                Mss::Set(n) => json!(n),
            };
            json!({"mangle": {"key": {"tcp option": {"name": "maxseg", "field": "size"}}, "value": value}})
        }
        Action::Mark { ct, and, xor } => {
            let key = mark_key(*ct);
            let value = match (*and, *xor) {
                (0, x) => json!(x),
                (a, 0) => json!({"&": [key, a]}),
                (u32::MAX, x) => json!({"^": [key, x]}),
                (a, x) if a & x == 0 && a | x == u32::MAX => json!({"|": [key, x]}),
                (a, x) => json!({"^": [{"&": [key, a]}, x]}),
            };
            json!({"mangle": {"key": key, "value": value}})
        }
        Action::Nflog(n) => {
            let mut l = serde_json::Map::new();
            if let Some(p) = &n.prefix {
                l.insert("prefix".into(), json!(p));
            }
            l.insert("group".into(), json!(n.group));
            if let Some(s) = n.snaplen {
                l.insert("snaplen".into(), json!(s));
            }
            if let Some(t) = n.threshold {
                l.insert("queue-threshold".into(), json!(t));
            }
            json!({ "log": l })
        }
        Action::MarkCopy { to_ct } => {
            json!({"mangle": {"key": mark_key(*to_ct), "value": mark_key(!*to_ct)}})
        }
        // Values as nft lists them: a DSCP by class name, a priority as `none`, `root` or
        // `MAJOR:MINOR` in hex, the queue flags as one word or a list.
        Action::Dscp(n) => {
            let n = u32::from(*n);
            let value = dscp_name(n).map_or_else(|| json!(n), |s| json!(s));
            json!({"mangle": {"key": {"payload": {"protocol": "ip", "field": "dscp"}}, "value": value}})
        }
        Action::Classify(c) => {
            let value = match *c {
                0 => "none".to_string(),
                u32::MAX => "root".to_string(),
                c => format!("{:x}:{:x}", c >> 16, c & 0xffff),
            };
            json!({"mangle": {"key": {"meta": {"key": "priority"}}, "value": value}})
        }
        Action::Audit => json!({"log": {"level": "audit"}}),
        Action::Queue(q) => {
            let mut o = serde_json::Map::new();
            let num = if q.first == q.last {
                json!(q.first)
            } else {
                json!({"range": [q.first, q.last]})
            };
            o.insert("num".into(), num);
            let flags: Vec<&str> = [(q.bypass, "bypass"), (q.fanout, "fanout")]
                .into_iter()
                .filter(|(on, _)| *on)
                .map(|(_, w)| w)
                .collect();
            match flags.as_slice() {
                [] => {}
                [one] => {
                    o.insert("flags".into(), json!(one));
                }
                many => {
                    o.insert("flags".into(), json!(many));
                }
            }
            json!({ "queue": o })
        }
        Action::Accept => json!({"accept": null}),
        Action::Drop => json!({"drop": null}),
        Action::Return => json!({"return": null}),
        Action::Jump(c) => json!({"jump": {"target": c}}),
        Action::Reject(w) => match w.nft_icmp_code_name() {
            Some(code) => json!({"reject": {"type": "icmp", "expr": code}}),
            None => json!({"reject": {"type": "tcp reset"}}),
        },
        Action::Log { prefix, level, flags } => {
            let mut l = serde_json::Map::new();
            if !flags.is_empty() {
                l.insert("flags".into(), json!(flags.words()));
            }
            if let Some(p) = prefix {
                l.insert("prefix".into(), json!(p));
            }
            if let Some(level) = level {
                l.insert("level".into(), json!(level.nft_name()));
            }
            if l.is_empty() { json!({"log": null}) } else { json!({"log": l}) }
        }
        Action::Dnat { to, flags } => nat("dnat", to, *flags),
        Action::Snat { to, flags } => nat("snat", to, *flags),
        Action::Masquerade { ports, flags } | Action::Redirect { ports, flags } => {
            let verb = if matches!(a, Action::Redirect { .. }) { "redirect" } else { "masquerade" };
            let mut m = serde_json::Map::new();
            if let Some(p) = ports {
                m.insert("port".into(), port_range(*p));
            }
            if let Some(f) = nat_flags(*flags) {
                m.insert("flags".into(), f);
            }
            if m.is_empty() { json!({ verb: null }) } else { json!({ verb: m }) }
        }
        Action::NetmapDnat { to } => {
            json!({"dnat": {"addr": {"prefix": {"addr": to.network().to_string(), "len": to.prefix()}}, "flags": "netmap", "type_flags": "prefix"}})
        }
        Action::NetmapSnat { to } => {
            json!({"snat": {"addr": {"prefix": {"addr": to.network().to_string(), "len": to.prefix()}}, "flags": "netmap", "type_flags": "prefix"}})
        }
        Action::Dup { to } => json!({"dup": {"addr": to.to_string()}}),
        Action::Vmap(map) => {
            let Vmap { fields, entries } = &**map;
            let data: Vec<Value> = entries
                .iter()
                .map(|(el, v)| {
                    let verdict = match v {
                        crate::ir::MapVerdict::Accept => json!({"accept": null}),
                        crate::ir::MapVerdict::Drop => json!({"drop": null}),
                    };
                    json!([tuple_element(el), verdict])
                })
                .collect();
            json!({"vmap": {"key": tuple_key(fields), "data": {"set": data}}})
        }
        Action::DnatMap { proto, entries } => {
            let data: Vec<Value> = entries
                .iter()
                .map(|(k, a, p)| match p {
                    Some(p) => json!([k, {"concat": [a.to_string(), p]}]),
                    None => json!([k, a.to_string()]),
                })
                .collect();
            let mut d = json!({"addr": {"map": {"key": payload(l4_name(*proto), "dport"), "data": {"set": data}}}});
            if entries.iter().any(|e| e.2.is_some()) {
                d["family"] = json!("ip");
            }
            json!({ "dnat": d })
        }
    }
}
