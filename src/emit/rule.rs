//! One IR rule → one nft rule line: matches, `counter`, the action, `comment "FILE #ID"`.

use std::fmt::Write as _;

use ipnetwork::Ipv4Network;

use crate::ir::{
    Action, AddrMatch, Cmp, CtDir, CtState, Dir, Files, Key, L4, Match, Mss, NatTarget, Origin,
    PortMatch, RejectWith, Rule, Set, set_name,
};
use crate::nft::{COMMENT_MAX, LOG_PREFIX_MAX};
use crate::vocab;

pub(super) fn push_rule(out: &mut String, chain: &str, rule: &Rule, sets: &[Set], files: &Files) {
    let start = out.len();
    push_statement(out, rule, sets);
    if let Some(origin) = &rule.origin {
        let id = rule_id(chain, &out[start..]);
        out.push_str(" comment \"");
        push_comment(out, origin, files, id);
        out.push('"');
    }
}

/// A rule's identity, kept in its comment: a hash of its chain's name and its statement
/// (matches, counter, action as nft prints them), not of its line, so that a line an edit
/// above it moved is still the same rule and an apply keeps it and its counter
/// (`live::netlink::incremental`); `stats` maps it back to the line. Identical rules of a
/// chain share it. SipHash-1-3 with fixed keys: the same on every build (the ids outlive the
/// binary).
pub fn rule_id(chain: &str, statement: &str) -> u64 {
    use std::hash::Hasher as _;
    let mut h = siphasher::sip::SipHasher13::new();
    h.write(chain.as_bytes());
    h.write_u8(0xff);
    h.write(statement.as_bytes());
    h.finish()
}

/// The id as its comment shows it: 12 hex digits (48 bits).
fn push_id(out: &mut String, id: u64) {
    let _ = write!(out, "#{:012x}", id >> 16);
}

/// What a rule written again carries from the live rule it replaces: its state, which is not
/// part of its meaning (nor of its id).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Carried {
    /// The counter's values (packets, bytes).
    pub counter: Option<(u64, u64)>,
    /// The bytes each quota has used, in the rule's order.
    pub quotas: Vec<u64>,
}

/// [`push_rule`] with the state `counted` gives for the rule's comment: a chain rewritten
/// whole keeps the counts and spent quotas of the rules it had (`emit::refill_script`).
pub(super) fn push_rule_counted(
    out: &mut String,
    chain: &str,
    rule: &Rule,
    (sets, files): (&[Set], &Files),
    counted: &mut dyn FnMut(&str) -> Option<Carried>,
) {
    let Some(origin) = &rule.origin else {
        push_statement(out, rule, sets);
        return;
    };
    // The id is the statement's without values, as every other emitter makes it.
    let mut statement = String::with_capacity(128);
    push_statement(&mut statement, rule, sets);
    let mut comment = String::with_capacity(64);
    push_comment(&mut comment, origin, files, rule_id(chain, &statement));
    push_statement_with(out, rule, sets, counted(&comment).as_ref());
    out.push_str(" comment \"");
    out.push_str(&comment);
    out.push('"');
}

/// The rule without its comment: matches, `counter`, the action.
pub fn push_statement(out: &mut String, rule: &Rule, sets: &[Set]) {
    push_statement_with(out, rule, sets, None);
}

/// [`push_statement`], the counter and the quotas starting from `carried` when given.
fn push_statement_with(out: &mut String, rule: &Rule, sets: &[Set], carried: Option<&Carried>) {
    let mut quotas = carried.map_or(&[][..], |c| c.quotas.as_slice()).iter();
    for m in &rule.matches {
        match m {
            Match::Quota { neg, bytes } => push_quota(out, *neg, *bytes, quotas.next().copied()),
            m => push_match(out, m, sets),
        }
        out.push(' ');
    }
    let values = carried.and_then(|c| c.counter);
    // Rules from the source count; overlayfw's own jumps do not. A rule with neither a counter
    // nor a verdict would be empty, so `Count` always prints `counter`.
    let counted = rule.origin.is_some() || rule.action == Action::Count;
    if counted {
        out.push_str("counter");
        if let Some((packets, bytes)) = values {
            let _ = write!(out, " packets {packets} bytes {bytes}");
        }
    }
    if rule.action != Action::Count {
        if counted {
            out.push(' ');
        }
        push_action(out, &rule.action);
    }
}

/// `quota [over] N bytes`, with the bytes it has `used` when some are. The kernel refuses a
/// quota created with more used than it allows, and counts on past it: at most `N` are written,
/// which ends where more would (a packet of `used + len > N` bytes is over).
fn push_quota(out: &mut String, neg: bool, bytes: u64, used: Option<u64>) {
    let over = if neg { "over " } else { "" };
    let _ = write!(out, "quota {over}{bytes} bytes");
    if let Some(used) = used.filter(|&u| u > 0) {
        let _ = write!(out, " used {} bytes", used.min(bytes));
    }
}

/// A rule's comment, `FILE #ID[ NOTE]` cut to [`COMMENT_MAX`] bytes (the name is at most
/// [`crate::text::COMMENT_NAME_MAX`], so the id is never cut): the one text every emitter
/// (script, JSON, netlink userdata) stores. Safe inside an nft string: the file name is in its
/// safe form ([`crate::text::comment_name`], made when the origin is) and the note was
/// validated by the resolver (`Values::nft_text`).
pub(crate) fn push_comment(out: &mut String, origin: &Origin, files: &Files, id: u64) {
    let start = out.len();
    out.push_str(files.name(origin.file));
    out.push(' ');
    push_id(out, id);
    if let Some(note) = &origin.note {
        out.push(' ');
        out.push_str(note);
    }
    truncate_from(out, start, COMMENT_MAX);
}

/// The comment of `rule` in `chain` ([`push_comment`]), `None` for overlayfw's own rules.
pub fn comment(chain: &str, rule: &Rule, sets: &[Set], files: &Files) -> Option<String> {
    let origin = rule.origin.as_ref()?;
    let mut statement = String::with_capacity(128);
    push_statement(&mut statement, rule, sets);
    let mut out = String::with_capacity(files.name(origin.file).len() + 16);
    push_comment(&mut out, origin, files, rule_id(chain, &statement));
    Some(out)
}

/// Cuts `out[start..]` to at most `max` bytes at a char boundary.
fn truncate_from(out: &mut String, start: usize, max: usize) {
    if out.len() - start > max {
        let mut end = start + max;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
}

fn push_match(out: &mut String, m: &Match, sets: &[Set]) {
    match m {
        Match::IifName { neg, name } => push_ifname(out, "iifname ", *neg, name),
        Match::OifName { neg, name } => push_ifname(out, "oifname ", *neg, name),
        Match::Saddr { neg, addrs } => push_addr_match(out, "ip saddr", *neg, addrs, sets),
        Match::Daddr { neg, addrs } => push_addr_match(out, "ip daddr", *neg, addrs, sets),
        Match::Protocol { neg, proto } => {
            let _ = write!(out, "ip protocol {}", neq(*neg));
            match vocab::nft_protocol_name(*proto) {
                Some(name) => out.push_str(name),
                None => {
                    let _ = write!(out, "{proto}");
                }
            }
        }
        Match::Port { proto, dir, neg, ports } => {
            push_port_match(out, *proto, *dir, *neg, ports, sets)
        }
        Match::CtState { neg, states } => push_ct_state(out, *neg, states),
        Match::Limit { rate, unit, burst } => {
            let unit = unit.nft_name();
            // nft refuses `burst 0` and the kernel a rate of 0: the resolver must not produce
            // them; printed as given so that a bad IR fails to load instead of changing meaning.
            let _ = write!(out, "limit rate {rate}/{unit} burst {burst} packets");
        }
        Match::IcmpType { neg, kind, code } => push_icmp(out, *neg, *kind, *code),
        Match::Tuple(t) => push_tuple(out, &t.fields, &t.elements),
        Match::TcpSyn { neg } => {
            let op = if *neg { "!=" } else { "==" };
            let _ = write!(out, "tcp flags & (fin|syn|rst|ack) {op} syn");
        }
        Match::TcpFlags { neg, mask, comp } => {
            let op = if *neg { "!=" } else { "==" };
            let comp = if *comp == 0 { "0".to_string() } else { tcp_flag_names(*comp).join("|") };
            let _ = write!(out, "tcp flags & ({}) {op} {comp}", tcp_flag_names(*mask).join("|"));
        }
        Match::Value { key, neg, cmp } => {
            out.push_str(value_key(*key));
            let _ = match cmp {
                Cmp::Gt(n) => write!(out, " > {n}"),
                Cmp::Lt(n) => write!(out, " < {n}"),
                Cmp::Range(a, b) => {
                    out.push_str(if *neg { " != " } else { " == " });
                    match (key, a == b) {
                        (Key::PktType, true) => write!(out, "{}", pkttype_name(*a)),
                        (Key::CtDir, true) => {
                            write!(out, "{}", if *a == 0 { "original" } else { "reply" })
                        }
                        (Key::CtExpire, true) => write!(out, "{}", expiry(*a)),
                        (Key::CtExpire, false) => write!(out, "{}-{}", expiry(*a), expiry(*b)),
                        (_, true) => write!(out, "{a}"),
                        (_, false) => write!(out, "{a}-{b}"),
                    }
                }
            };
        }
        // Numbers, which nft takes as UTC whatever its own timezone (a written date or time of
        // day it would convert with that).
        Match::MetaTime { ge, secs } => {
            let _ = write!(out, "meta time {} {secs}", if *ge { ">=" } else { "<" });
        }
        Match::MetaHour { neg, lo, hi } => {
            out.push_str("meta hour ");
            out.push_str(if *neg { "!= " } else { "" });
            let _ = if lo == hi { write!(out, "{lo}") } else { write!(out, "{lo}-{hi}") };
        }
        Match::MetaDay { days, .. } => {
            let _ = match crate::ir::DayForm::of(*days) {
                crate::ir::DayForm::One(d) => write!(out, "meta day {d}"),
                crate::ir::DayForm::Range(a, b) => write!(out, "meta day {a}-{b}"),
                crate::ir::DayForm::Set(l) => {
                    let l: Vec<String> = l.iter().map(u8::to_string).collect();
                    write!(out, "meta day {{ {} }}", l.join(", "))
                }
            };
        }
        Match::DccpType { neg, types } => {
            let names = dccp_type_names(*types);
            out.push_str("dccp type ");
            out.push_str(if *neg { "!= " } else { "" });
            if names.len() == 1 {
                out.push_str(&names[0]);
            } else {
                let _ = write!(out, "{{ {} }}", names.join(", "));
            }
        }
        Match::EtherSaddr { neg, addr } => {
            let a = addr;
            let _ = write!(
                out,
                "ether saddr {}{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                neq(*neg),
                a[0],
                a[1],
                a[2],
                a[3],
                a[4],
                a[5]
            );
        }
        Match::Random { neg, below } => {
            let op = if *neg { ">=" } else { "<" };
            let _ = write!(out, "meta random & 0x7fffffff {op} {below}");
        }
        Match::Nth { neg, every, value } => {
            let op = if *neg { "!=" } else { "==" };
            let _ = write!(out, "numgen inc mod {every} {op} {value}");
        }
        Match::AddrType { neg, dst, iface, types } => {
            out.push_str(if *dst { "fib daddr" } else { "fib saddr" });
            match iface {
                Some(Dir::Src) => out.push_str(" . iif"),
                Some(Dir::Dst) => out.push_str(" . oif"),
                None => {}
            }
            out.push_str(" type ");
            out.push_str(neq(*neg));
            let names = addr_type_names(*types);
            if names.len() == 1 {
                out.push_str(names[0]);
            } else {
                let _ = write!(out, "{{ {} }}", names.join(", "));
            }
        }
        Match::CtStatus { neg, bits } => {
            let op = if *neg { "==" } else { "!=" };
            let _ = write!(out, "ct status & ({}) {op} 0", vocab::ct_status_names(*bits).join("|"));
        }
        Match::CtAddr { neg, repl, dst, net } => {
            let _ = write!(
                out,
                "ct {} ip {} {}{}",
                if *repl { "reply" } else { "original" },
                if *dst { "daddr" } else { "saddr" },
                neq(*neg),
                net
            );
        }
        Match::Meter(m) => push_meter(out, m),
        Match::Ipsec { out: dir_out, exists } => {
            out.push_str(if *dir_out { "rt ipsec " } else { "meta secpath " });
            out.push_str(if *exists { "exists" } else { "missing" });
        }
        Match::Meta { key, neg, value, mask } => {
            let _ = write!(out, "meta {}", key.name());
            if *mask != u32::MAX {
                let _ = write!(out, " & {mask:#010x}");
            }
            let op = if *neg { "!=" } else { "==" };
            let _ = write!(out, " {op} {value:#010x}");
        }
        Match::TcpOption { neg, kind } => {
            let state = if *neg { "missing" } else { "exists" };
            let _ = write!(out, "tcp option {kind} {state}");
        }
        Match::Quota { neg, bytes } => push_quota(out, *neg, *bytes, None),
        // The name holds no character an nft string must escape (resolve checks it).
        Match::CtHelper { name } => {
            let _ = write!(out, "ct helper \"{name}\"");
        }
        Match::CtLabel { bit } => {
            let _ = write!(out, "ct label {bit}");
        }
        Match::Connbytes { dir, mode, neg, lo, hi } => {
            out.push_str("ct ");
            match dir {
                CtDir::Original => out.push_str("original "),
                CtDir::Reply => out.push_str("reply "),
                CtDir::Both => {}
            }
            out.push_str(mode.name());
            let _ = match (*hi == u64::MAX, *neg) {
                (true, false) => write!(out, " >= {lo}"),
                (true, true) => write!(out, " < {lo}"),
                (false, _) if lo == hi => write!(out, " {}{lo}", neq(*neg)),
                (false, _) => write!(out, " {}{lo}-{hi}", neq(*neg)),
            };
        }
        Match::Mark { ct, neg, value, mask } => {
            out.push_str(mark_key(*ct));
            if *mask != u32::MAX {
                let _ = write!(out, " & {mask:#010x}");
            }
            let op = if *neg { "!=" } else { "==" };
            let _ = write!(out, " {op} {value:#010x}");
        }
    }
}

/// nft's names of the DCCP types set in `types` (a type without a name, 10, as its number).
pub(crate) fn dccp_type_names(types: u16) -> Vec<String> {
    const NAMES: [&str; 10] = [
        "request", "response", "data", "ack", "dataack", "closereq", "close", "reset", "sync",
        "syncack",
    ];
    (0..16u16)
        .filter(|t| types & (1 << t) != 0)
        .map(|t| NAMES.get(usize::from(t)).map_or_else(|| t.to_string(), |n| (*n).to_string()))
        .collect()
}

/// `update @NAME { KEY timeout Ts limit rate … }` or `add @NAME { KEY ct count … }`.
fn push_meter(out: &mut String, m: &crate::ir::Meter) {
    use crate::ir::{MeterKey, MeterStmt};
    let op = if m.has_timeout() { "update" } else { "add" };
    let _ = write!(out, "{op} @{} {{ ", m.name);
    for (i, k) in m.keys.iter().enumerate() {
        if i > 0 {
            out.push_str(" . ");
        }
        match *k {
            MeterKey::Saddr(p) | MeterKey::Daddr(p) => {
                out.push_str(if matches!(k, MeterKey::Saddr(_)) { "ip saddr" } else { "ip daddr" });
                if p < 32 {
                    let _ = write!(out, " & {}", prefix_mask(p));
                }
            }
            MeterKey::Port(proto, dir) => {
                let field = if dir == Dir::Src { "sport" } else { "dport" };
                let _ = write!(out, "{} {field}", l4_name(proto));
            }
        }
    }
    match m.stmt {
        MeterStmt::Limit { rate, unit, burst, over, timeout_s } => {
            let over = if over { "over " } else { "" };
            let unit = unit.nft_name();
            let _ = write!(
                out,
                " timeout {timeout_s}s limit rate {over}{rate}/{unit} burst {burst} packets }}"
            );
        }
        MeterStmt::CtCount { count, over } => {
            let over = if over { "over " } else { "" };
            let _ = write!(out, " ct count {over}{count} }}");
        }
    }
}

/// The dotted mask of a prefix length (`24` is 255.255.255.0).
pub fn prefix_mask(prefix: u8) -> std::net::Ipv4Addr {
    let bits = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix.min(32))) };
    std::net::Ipv4Addr::from(bits)
}

/// Milliseconds as an nft time: a number alone is seconds to nft, and it refuses a large one
/// written in milliseconds only (`4294967294ms`), so seconds and the rest.
pub(crate) fn expiry(ms: u32) -> String {
    match (ms / 1000, ms % 1000) {
        (s, 0) => format!("{s}s"),
        (0, m) => format!("{m}ms"),
        (s, m) => format!("{s}s{m}ms"),
    }
}

/// The nft expression a [`Key`] reads.
fn value_key(key: Key) -> &'static str {
    match key {
        Key::IpLength => "ip length",
        Key::Ttl => "ip ttl",
        Key::PktType => "meta pkttype",
        Key::FragOffset => "ip frag-off & 0x1fff",
        Key::Dscp => "ip dscp",
        Key::Ecn => "ip ecn",
        Key::AhSpi => "ah spi",
        Key::EspSpi => "esp spi",
        Key::TcpMss => "tcp option maxseg size",
        Key::SkUid => "meta skuid",
        Key::SkGid => "meta skgid",
        Key::CtProto => "ct original protocol",
        Key::CtPort { repl: false, dst: false } => "ct original proto-src",
        Key::CtPort { repl: false, dst: true } => "ct original proto-dst",
        Key::CtPort { repl: true, dst: false } => "ct reply proto-src",
        Key::CtPort { repl: true, dst: true } => "ct reply proto-dst",
        Key::CtDir => "ct direction",
        Key::CtExpire => "ct expiration",
    }
}

/// nft's names of the address types (`fib … type`) whose bits (`1 << RTN_x`) are set.
pub(super) fn addr_type_names(types: u16) -> Vec<&'static str> {
    const NAMES: [&str; 12] = [
        "unspec",
        "unicast",
        "local",
        "broadcast",
        "anycast",
        "multicast",
        "blackhole",
        "unreachable",
        "prohibit",
        "throw",
        "nat",
        "xresolve",
    ];
    NAMES.iter().enumerate().filter(|(i, _)| types & (1 << i) != 0).map(|(_, n)| *n).collect()
}

/// nft's name of a packet type (`meta pkttype`), as it lists them.
pub(super) fn pkttype_name(n: u32) -> &'static str {
    match n {
        0 => "host",
        1 => "broadcast",
        2 => "multicast",
        _ => "other",
    }
}

/// `meta mark` or, for the connection's mark, `ct mark`.
pub(super) fn mark_key(ct: bool) -> &'static str {
    if ct { "ct mark" } else { "meta mark" }
}

/// `KEY set …` making the mark `(mark & and) ^ xor`, in the shortest of nft's forms.
fn push_mark_set(out: &mut String, ct: bool, and: u32, xor: u32) {
    let key = mark_key(ct);
    let _ = match (and, xor) {
        (0, x) => write!(out, "{key} set {x:#010x}"),
        (a, 0) => write!(out, "{key} set {key} & {a:#010x}"),
        (u32::MAX, x) => write!(out, "{key} set {key} ^ {x:#010x}"),
        (a, x) if a & x == 0 && a | x == u32::MAX => write!(out, "{key} set {key} | {x:#010x}"),
        (a, x) => write!(out, "{key} set {key} & {a:#010x} ^ {x:#010x}"),
    };
}

/// The names of the TCP flag bits set in `bits`, in nft's order.
pub(super) fn tcp_flag_names(bits: u8) -> Vec<&'static str> {
    const NAMES: [&str; 8] = ["fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr"];
    NAMES.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, n)| *n).collect()
}

fn push_ifname(out: &mut String, key: &str, neg: bool, name: &str) {
    out.push_str(key);
    out.push_str(neq(neg));
    out.push('"');
    out.push_str(name);
    out.push('"');
}

/// `n` in decimal. Printing goes through these instead of `write!` on the hot paths: a
/// 100,000-rule script is mostly numbers and addresses (one thread printed it in 20 ms through
/// `fmt`, 16 ms through these).
pub(super) fn push_u32(out: &mut String, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[i..]).expect("ASCII digits"));
}

/// An address in dotted decimal, as `Ipv4Addr`'s `Display` prints it.
pub(super) fn push_ip(out: &mut String, ip: std::net::Ipv4Addr) {
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_u32(out, u32::from(octet));
    }
}

fn neq(neg: bool) -> &'static str {
    if neg { "!= " } else { "" }
}

fn push_addr_match(out: &mut String, field: &str, neg: bool, addrs: &AddrMatch, sets: &[Set]) {
    match addrs {
        // Never produced by `resolve`; printed with its meaning kept: an empty list matches
        // nothing, so its negation matches everything.
        AddrMatch::Nets(nets) if nets.is_empty() => {
            let _ = write!(out, "{field} {}0.0.0.0/0", if neg { "" } else { "!= " });
        }
        AddrMatch::Nets(nets) => {
            out.push_str(field);
            out.push(' ');
            out.push_str(neq(neg));
            if let [net] = &**nets {
                push_net(out, net);
            } else {
                out.push_str("{ ");
                for (i, net) in nets.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    push_net(out, net);
                }
                out.push_str(" }");
            }
        }
        AddrMatch::Range(a, b) => {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let _ = write!(out, "{field} {}{lo}", neq(neg));
            // `a-a` loads, but a single address reads better and is what nft lists.
            if lo != hi {
                let _ = write!(out, "-{hi}");
            }
        }
        AddrMatch::Set(id) => {
            let _ = write!(out, "{field} {}@{}", neq(neg), set_name(sets, *id));
        }
        AddrMatch::Masked { addr, mask } => {
            let op = if neg { "!=" } else { "==" };
            let _ = write!(out, "{field} & {mask} {op} {addr}");
        }
    }
}

/// A network with its host bits cleared (the IR may keep `100.127.255.193/29` as written); a
/// /32 prints as a bare address.
pub(super) fn push_net(out: &mut String, net: &Ipv4Network) {
    if net.prefix() == 32 {
        push_ip(out, net.ip());
    } else {
        push_prefix(out, net);
    }
}

pub(super) fn push_port_range(out: &mut String, (lo, hi): (u16, u16)) {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    push_u32(out, u32::from(lo));
    if lo != hi {
        out.push('-');
        push_u32(out, u32::from(hi));
    }
}

pub(super) fn l4_name(proto: L4) -> &'static str {
    match proto {
        L4::Tcp => "tcp",
        L4::Udp => "udp",
        L4::Udplite => "udplite",
        L4::Sctp => "sctp",
        L4::Dccp => "dccp",
    }
}

fn push_port_match(
    out: &mut String,
    proto: L4,
    dir: Dir,
    neg: bool,
    ports: &PortMatch,
    sets: &[Set],
) {
    let field = match dir {
        Dir::Src => "sport",
        Dir::Dst => "dport",
    };
    out.push_str(l4_name(proto));
    out.push(' ');
    out.push_str(field);
    out.push(' ');
    match ports {
        // Never produced by `resolve`: an empty list matches nothing; its negation matches
        // every packet of the protocol (the port match implies the protocol, as in iptables).
        PortMatch::Ports(list) if list.is_empty() => {
            out.push_str(if neg { "0-65535" } else { "!= 0-65535" });
        }
        PortMatch::Ports(list) => {
            out.push_str(neq(neg));
            if let [range] = &**list {
                push_port_range(out, *range);
            } else {
                out.push_str("{ ");
                for (i, range) in list.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    push_port_range(out, *range);
                }
                out.push_str(" }");
            }
        }
        PortMatch::Set(id) => {
            let _ = write!(out, "{}@{}", neq(neg), set_name(sets, *id));
        }
    }
}

fn push_ct_state(out: &mut String, neg: bool, states: &[CtState]) {
    match (neg, states) {
        // Never produced by `resolve`: "any of none" never holds, "none of none" always does.
        (false, []) => out.push_str("ct state & 0 != 0"),
        (true, []) => out.push_str("ct state & 0 == 0"),
        (false, _) => {
            out.push_str("ct state ");
            push_joined_states(out, states, ",");
        }
        // A packet has exactly one state, so `!=` one state is "not that one".
        (true, [one]) => {
            let _ = write!(out, "ct state != {}", one.nft_name());
        }
        // `ct state != a,b` is not "none of them" in every nft version; the mask form is
        // unambiguous (nft lists it back as `ct state ! a,b`).
        (true, _) => {
            out.push_str("ct state & (");
            push_joined_states(out, states, "|");
            out.push_str(") == 0");
        }
    }
}

fn push_joined_states(out: &mut String, states: &[CtState], sep: &str) {
    for (i, s) in states.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(s.nft_name());
    }
}

fn push_icmp_type(out: &mut String, kind: u8) {
    match vocab::nft_icmp_type_name(kind) {
        Some(name) => out.push_str(name),
        None => {
            let _ = write!(out, "{kind}");
        }
    }
}

fn push_icmp(out: &mut String, neg: bool, kind: u8, code: Option<u8>) {
    match (neg, code) {
        (false, None) => {
            out.push_str("icmp type ");
            push_icmp_type(out, kind);
        }
        (true, None) => {
            out.push_str("icmp type != ");
            push_icmp_type(out, kind);
        }
        (false, Some(code)) => {
            out.push_str("icmp type ");
            push_icmp_type(out, kind);
            let _ = write!(out, " icmp code {code}");
        }
        // iptables `! --icmp-type T/C` is "not (type T and code C)": a concatenation. nft 1.0.6
        // wants it as a set ("Use concatenations with sets and maps, not singleton values").
        (true, Some(code)) => {
            out.push_str("icmp type . icmp code != { ");
            push_icmp_type(out, kind);
            let _ = write!(out, " . {code} }}");
        }
    }
}

fn push_action(out: &mut String, action: &Action) {
    match action {
        Action::Count => {}
        Action::Tcpmss(Mss::ClampToPmtu) => out.push_str("tcp option maxseg size set rt mtu"),
        Action::Tcpmss(Mss::Set(n)) => {
            let _ = write!(out, "tcp option maxseg size set {n}");
        }
        Action::Mark { ct, and, xor } => push_mark_set(out, *ct, *and, *xor),
        Action::Nflog(n) => {
            out.push_str("log");
            if let Some(prefix) = &n.prefix {
                let _ = write!(out, " prefix \"{prefix}\"");
            }
            let _ = write!(out, " group {}", n.group);
            if let Some(s) = n.snaplen {
                let _ = write!(out, " snaplen {s}");
            }
            if let Some(t) = n.threshold {
                let _ = write!(out, " queue-threshold {t}");
            }
        }
        Action::Dscp(n) => {
            let _ = write!(out, "ip dscp set 0x{n:02x}");
        }
        Action::Classify(c) => {
            let _ = write!(out, "meta priority set {:x}:{:x}", c >> 16, c & 0xffff);
        }
        Action::Audit => out.push_str("log level audit"),
        Action::Queue(q) => {
            let _ = write!(out, "queue {}", q.nft());
        }
        Action::MarkCopy { to_ct: true } => out.push_str("ct mark set meta mark"),
        Action::MarkCopy { to_ct: false } => out.push_str("meta mark set ct mark"),
        Action::Accept => out.push_str("accept"),
        Action::Drop => out.push_str("drop"),
        Action::Return => out.push_str("return"),
        Action::Jump(chain) => {
            let _ = write!(out, "jump {chain}");
        }
        // nft's default in an `ip` table is iptables' default, icmp port-unreachable.
        Action::Reject(RejectWith::PortUnreachable) => out.push_str("reject"),
        Action::Reject(with) => match with.nft_icmp_code_name() {
            Some(code) => {
                let _ = write!(out, "reject with icmp type {code}");
            }
            None => out.push_str("reject with tcp reset"),
        },
        Action::Log { prefix, level, flags } => {
            out.push_str("log");
            if let Some(prefix) = prefix {
                out.push_str(" prefix \"");
                let start = out.len();
                // nft 1.0.6 expands `$name` inside a log prefix, even quoted, and has no escape.
                for c in prefix.chars() {
                    out.push(if c == '$' { '_' } else { c });
                }
                truncate_from(out, start, LOG_PREFIX_MAX);
                out.push('"');
            }
            if let Some(level) = level {
                out.push_str(" level ");
                out.push_str(level.nft_name());
            }
            log_flags(out, *flags);
        }
        Action::Dnat { to, flags } => push_nat(out, "dnat", to, *flags),
        Action::Snat { to, flags } => push_nat(out, "snat", to, *flags),
        Action::Masquerade { ports, flags } | Action::Redirect { ports, flags } => {
            let redirect = matches!(action, Action::Redirect { .. });
            out.push_str(if redirect { "redirect" } else { "masquerade" });
            if let Some(ports) = ports {
                out.push_str(" to :");
                push_port_range(out, *ports);
            }
            push_nat_flags(out, *flags);
        }
        // `prefix` sets the kernel's NETMAP flag: the prefix is replaced, host bits kept.
        Action::NetmapDnat { to } => {
            out.push_str("dnat prefix to ");
            push_prefix(out, to);
        }
        Action::NetmapSnat { to } => {
            out.push_str("snat prefix to ");
            push_prefix(out, to);
        }
        Action::Dup { to } => {
            let _ = write!(out, "dup to {to}");
        }
        Action::Vmap(map) => push_vmap(out, &map.fields, &map.entries),
        Action::DnatMap { proto, entries } => {
            let _ = write!(out, "dnat to {} dport map {{ ", l4_name(*proto));
            for (i, (key, addr, port)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{key} : {addr}");
                if let Some(p) = port {
                    let _ = write!(out, " . {p}");
                }
            }
            out.push_str(" }");
        }
    }
}

/// `dnat prefix to` wants the prefix length even for /32.
fn push_prefix(out: &mut String, net: &Ipv4Network) {
    push_ip(out, net.network());
    out.push('/');
    push_u32(out, u32::from(net.prefix()));
}

/// ` random,fully-random,persistent`, the flags set.
fn push_nat_flags(out: &mut String, flags: crate::ir::NatFlags) {
    let words = flags.words();
    if !words.is_empty() {
        out.push(' ');
        out.push_str(&words.join(","));
    }
}

fn push_nat(out: &mut String, verb: &str, to: &NatTarget, flags: crate::ir::NatFlags) {
    let end = to.addr_end.unwrap_or(to.addr);
    let (lo, hi) = if to.addr <= end { (to.addr, end) } else { (end, to.addr) };
    out.push_str(verb);
    out.push_str(" to ");
    push_ip(out, lo);
    if hi != lo {
        out.push('-');
        push_ip(out, hi);
    }
    if let Some(ports) = to.ports {
        out.push(':');
        push_port_range(out, ports);
    }
    push_nat_flags(out, flags);
}

fn field_name(f: crate::ir::Field) -> String {
    match f {
        crate::ir::Field::Saddr => "ip saddr".to_string(),
        crate::ir::Field::Daddr => "ip daddr".to_string(),
        crate::ir::Field::Port(proto, dir) => format!(
            "{} {}",
            l4_name(proto),
            match dir {
                Dir::Src => "sport",
                Dir::Dst => "dport",
            }
        ),
        crate::ir::Field::L4Proto => "meta l4proto".to_string(),
    }
}

/// `f1 . f2 { v1 . w1, … }` (one field: `f1 { v1, … }`).
fn push_tuple(out: &mut String, fields: &[crate::ir::Field], elements: &[Vec<crate::ir::Elem>]) {
    push_fields(out, fields);
    out.push_str(" { ");
    for (i, element) in elements.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_element(out, element);
    }
    out.push_str(" }");
}

/// `ip saddr . tcp dport vmap { 10.0.0.0/8 . 22 : accept, … }`.
fn push_vmap(
    out: &mut String,
    fields: &[crate::ir::Field],
    entries: &[(Vec<crate::ir::Elem>, crate::ir::MapVerdict)],
) {
    push_fields(out, fields);
    out.push_str(" vmap { ");
    for (i, (element, verdict)) in entries.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_element(out, element);
        out.push_str(match verdict {
            crate::ir::MapVerdict::Accept => " : accept",
            crate::ir::MapVerdict::Drop => " : drop",
        });
    }
    out.push_str(" }");
}

fn push_fields(out: &mut String, fields: &[crate::ir::Field]) {
    let names: Vec<String> = fields.iter().map(|f| field_name(*f)).collect();
    out.push_str(&names.join(" . "));
}

/// One value per field, joined with ` . `.
fn push_element(out: &mut String, element: &[crate::ir::Elem]) {
    for (j, value) in element.iter().enumerate() {
        if j > 0 {
            out.push_str(" . ");
        }
        match value {
            crate::ir::Elem::Net(net) => push_net(out, net),
            crate::ir::Elem::Ports(a, b) => push_port_range(out, (*a, *b)),
            crate::ir::Elem::L4(p) => out.push_str(l4_name(*p)),
        }
    }
}

/// ` flags tcp sequence,options flags ip options flags skuid flags ether`, as iptables-translate
/// writes them.
fn log_flags(out: &mut String, flags: crate::ir::LogFlags) {
    use crate::ir::LogFlags;
    let tcp: Vec<&str> = [(LogFlags::TCP_SEQUENCE, "sequence"), (LogFlags::TCP_OPTIONS, "options")]
        .into_iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, w)| w)
        .collect();
    if !tcp.is_empty() {
        out.push_str(" flags tcp ");
        out.push_str(&tcp.join(","));
    }
    for (f, w) in [
        (LogFlags::IP_OPTIONS, " flags ip options"),
        (LogFlags::UID, " flags skuid"),
        (LogFlags::MAC_DECODE, " flags ether"),
    ] {
        if flags.contains(f) {
            out.push_str(w);
        }
    }
}
