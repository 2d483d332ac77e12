//! Checks a parsed inventory document and builds the `Inventory`: shapes, names, addresses,
//! plugin address allocation, FWset elements. Every problem becomes a diagnostic; positions come
//! from the document outline (`locate`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::ops::Range;

use ipnetwork::Ipv4Network;

use super::locate::Node;
use super::raw::Raw;
use super::{FwSet, FwSetElements, Interface, Inventory, Located, Plugin, Variable};
use crate::diagnostic::{Code, Diagnostic, FileId, Span};
use crate::ip6::Ipv6;

/// The container network when the inventory does not give one.
fn default_plugin_network() -> Ipv4Network {
    Ipv4Network::new(Ipv4Addr::new(198, 51, 100, 0), 28).expect("a /28 is a valid prefix")
}

const TOP_KEYS: &[&str] = &[
    "interfaces",
    "overlay_subnet",
    "primary_private_ip",
    "plugin_network",
    "plugins",
    "variables",
    "fwsets",
    "ipv6",
];
const PLUGIN_KEYS: &[&str] = &["name", "ip"];

/// Names (aliases, plugins, FWsets) are at most this long.
const MAX_NAME: usize = 64;
/// Per FWset, invalid elements reported one by one before a summary.
const MAX_ELEMENT_ERRORS: usize = 10;

/// Where a value is: its outline node if the locator found it, and the best span to point at
/// (the value, else the nearest enclosing thing that was found).
#[derive(Clone, Debug)]
struct Here<'n> {
    node: Option<&'n Node>,
    span: Range<usize>,
}

/// A mapping entry: its key text and where the key and the value are.
struct Key<'n> {
    name: String,
    span: Range<usize>,
    value: Here<'n>,
}

impl<'n> Here<'n> {
    fn key(&self, name: &str, i: usize) -> (Range<usize>, Here<'n>) {
        match self.node.and_then(|n| n.entry(name, i)) {
            Some(e) => {
                let vspan =
                    if e.value.span.is_empty() { e.key_span.clone() } else { e.value.span.clone() };
                (e.key_span.clone(), Here { node: Some(&e.value), span: vspan })
            }
            None => (self.span.clone(), Here { node: None, span: self.span.clone() }),
        }
    }

    fn item(&self, i: usize) -> Here<'n> {
        match self.node.and_then(|n| n.item(i)) {
            Some(n) if !n.span.is_empty() => Here { node: Some(n), span: n.span.clone() },
            Some(n) => Here { node: Some(n), span: self.span.clone() },
            None => Here { node: None, span: self.span.clone() },
        }
    }
}

struct Cx<'t> {
    file: FileId,
    text: &'t str,
    diags: Vec<Diagnostic>,
}

impl Cx<'_> {
    /// A span inside the text, on char boundaries, whatever the range.
    fn span(&self, r: &Range<usize>) -> Span {
        let floor = |mut i: usize| {
            i = i.min(self.text.len());
            while !self.text.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let start = floor(r.start);
        Span::new(self.file, start, floor(r.end).max(start))
    }

    fn err(&mut self, code: Code, msg: impl Into<String>, at: &Range<usize>) -> &mut Diagnostic {
        let d = Diagnostic::error(code, msg, self.span(at));
        self.diags.push(d);
        self.diags.last_mut().expect("just pushed")
    }

    fn add(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// The entries of a mapping value, with their names; reports non-string keys and duplicate
    /// keys (E103, pointing back at the first) and skips them. `what` names the mapping.
    fn entries<'n, 'r>(
        &mut self,
        entries: &'r [(Raw, Raw)],
        here: &Here<'n>,
        what: &str,
    ) -> Vec<(Key<'n>, &'r Raw)> {
        let mut out = Vec::with_capacity(entries.len());
        let mut seen: HashMap<String, Range<usize>> = HashMap::new();
        for (i, (k, v)) in entries.iter().enumerate() {
            let Some(name) = key_name(k) else {
                let at = here.span.clone(); // no key text to look up: point at the mapping
                let found = k.describe();
                self.err(Code::E101, format!("{what}: expected a name as key, found {found}"), &at);
                continue;
            };
            let (span, value) = here.key(&name, i);
            let span = self.nth_key_span(here, &name, &seen, span);
            if let Some(first) = seen.get(&name) {
                let first = self.span(first);
                let d = Diagnostic::error(
                    Code::E103,
                    format!("{what}: `{}` is given twice", shown(&name)),
                    self.span(&span),
                )
                .with_label("given again here")
                .with_secondary(first, "first given here");
                self.add(d);
                continue;
            }
            seen.insert(name.clone(), span.clone());
            out.push((Key { name, span, value }, v));
        }
        out
    }

    /// For a key seen before, the span of its second occurrence in the outline (the lookup by
    /// name finds the first).
    fn nth_key_span(
        &self,
        here: &Here<'_>,
        name: &str,
        seen: &HashMap<String, Range<usize>>,
        span: Range<usize>,
    ) -> Range<usize> {
        match (seen.get(name), here.node) {
            (Some(first), Some(n)) if *first == span => {
                n.entries_named(name).nth(1).map_or(span, |e| e.key_span.clone())
            }
            _ => span,
        }
    }

    /// Reports an unknown key with the expected ones and a suggestion.
    fn unknown_key(&mut self, where_: &str, key: &Key<'_>, expected: &[&str]) {
        let list = expected.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
        let help = match crate::suggest::did_you_mean(&key.name, expected.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? {where_} takes {list}"),
            None => format!("{where_} takes {list}"),
        };
        let d = Diagnostic::error(
            Code::E101,
            format!("unknown key `{}` in {where_}", shown(&key.name)),
            self.span(&key.span),
        )
        .with_label("unknown key")
        .with_help(help);
        self.add(d);
    }
}

/// A name as quoted in a message: escaped, and cut short if it is very long.
fn shown(name: &str) -> String {
    let mut out: String =
        name.chars().take(MAX_NAME).collect::<String>().escape_debug().to_string();
    if name.chars().nth(MAX_NAME).is_some() {
        out.push('…');
    }
    out
}

/// A mapping key as a name: strings, and integers as their decimal text.
fn key_name(k: &Raw) -> Option<String> {
    match k {
        Raw::Str(s) => Some(s.clone()),
        Raw::Int(_) | Raw::BigInt(_) => k.scalar_text(),
        _ => None,
    }
}

/// One parsed inventory document, to be validated (and merged with the others, in order).
pub(super) struct Doc<'t> {
    pub raw: Raw,
    pub outline: Node,
    pub text: &'t str,
    pub file: FileId,
}

/// Validates the documents and merges them in order. A later document adds entries; a key it
/// gives again must have the same value (see [`Merge`]), else an E103 at both places.
pub(super) fn validate(docs: &[Doc<'_>]) -> Result<Inventory, Vec<Diagnostic>> {
    let first = docs.first().expect("at least one inventory document");
    let mut cx = Cx { file: first.file, text: first.text, diags: Vec::new() };
    let mut m = Merge::default();
    let mut drafts = Vec::new();
    let mut plugins_given = false;
    let mut shape_ok = true;
    for doc in docs {
        cx.file = doc.file;
        cx.text = doc.text;
        let root = &doc.outline;
        let here = Here { node: Some(root), span: 0..0 };
        let top = match &doc.raw {
            Raw::Null => Vec::new(),
            Raw::Map(entries) => cx.entries(entries, &here, "the inventory"),
            other => {
                let found = other.describe();
                cx.err(
                    Code::E101,
                    format!("expected a mapping of inventory keys (`interfaces`, `plugins`, …), found {found}"),
                    &root.span,
                );
                shape_ok = false;
                continue;
            }
        };
        for (key, value) in &top {
            match key.name.as_str() {
                "interfaces" => {
                    let found = cx.interfaces(value, key);
                    cx.merge_map(
                        &mut m.interfaces,
                        found,
                        "interface alias",
                        |i| i.span,
                        |i| format!("`{}`", i.kernel),
                    );
                }
                "overlay_subnet" => {
                    let found = cx.network(value, key).map(|(n, _)| n);
                    cx.merge_one(&mut m.overlay_subnet, found, "`overlay_subnet`");
                }
                "primary_private_ip" => {
                    let found = cx.address(value, key);
                    cx.merge_one(&mut m.primary_private_ip, found, "`primary_private_ip`");
                }
                "plugin_network" => match cx.plugin_network(value, key) {
                    None => m.plugin_network_invalid = true,
                    found => cx.merge_one(&mut m.plugin_network, found, "`plugin_network`"),
                },
                "plugins" => {
                    plugins_given = true;
                    drafts.extend(cx.plugin_drafts(value, key));
                }
                "variables" => {
                    let found = cx.variables(value, key);
                    cx.merge_map(
                        &mut m.variables,
                        found,
                        "variable",
                        |v| v.span,
                        |v| format!("`{}`", v.values.join(", ")),
                    );
                }
                "fwsets" => {
                    let found = cx.fwsets(value, key);
                    cx.merge_map(
                        &mut m.fwsets,
                        found,
                        "FWset",
                        |f| f.span,
                        |_| "other elements".to_string(),
                    );
                }
                "ipv6" => {
                    let found = cx.ipv6(value, key);
                    cx.merge_one(&mut m.ipv6, found, "`ipv6`");
                }
                _ => cx.unknown_key("the inventory", key, TOP_KEYS),
            }
        }
    }
    cx.cross_file_alias_clashes(&m.interfaces);
    // `None`: given but invalid, so address checks against it would only add noise.
    let plugin_network = match (m.plugin_network, m.plugin_network_invalid) {
        (_, true) => None,
        (Some(n), false) => Some(n),
        (None, false) => {
            Some(Located { value: default_plugin_network(), span: Span::new(first.file, 0, 0) })
        }
    };
    cx.plugin_checks(&drafts, plugin_network.as_ref());
    let plugins = match &plugin_network {
        Some(net) if plugins_given => cx.allocate(drafts, net),
        _ => Vec::new(),
    };
    cx.plugin_fwset_clashes(&plugins, &m.fwsets);

    // In file order, whatever order the checks ran in.
    cx.diags.sort_by_key(|d| (d.span().file, d.span().start));
    match plugin_network {
        Some(plugin_network) if cx.diags.is_empty() && shape_ok => Ok(Inventory {
            file: docs.last().map_or(first.file, |d| d.file),
            interfaces: m.interfaces,
            overlay_subnet: m.overlay_subnet,
            primary_private_ip: m.primary_private_ip,
            plugin_network,
            plugins,
            variables: m.variables,
            fwsets: m.fwsets,
            ipv6: m.ipv6,
        }),
        _ => Err(cx.diags),
    }
}

/// The inventory as merged so far. What a later file may do:
/// - add an interface alias, variable or FWset, or give one again with the same value;
/// - give `overlay_subnet`, `primary_private_ip` or `plugin_network` again with the same value;
/// - add plugins: they follow the earlier files' plugins (ids continue), addresses are
///   allocated over the merged list.
///
/// Anything else that gives a key again (another kernel name for an alias, another value for a
/// variable or a scalar, other elements for a FWset, a plugin name again) is a conflict: E103
/// at the later place with the earlier one as a secondary label.
#[derive(Default)]
struct Merge {
    interfaces: BTreeMap<String, Interface>,
    overlay_subnet: Option<Located<Ipv4Network>>,
    primary_private_ip: Option<Located<Ipv4Addr>>,
    plugin_network: Option<Located<Ipv4Network>>,
    plugin_network_invalid: bool,
    variables: BTreeMap<String, Variable>,
    fwsets: BTreeMap<String, FwSet>,
    ipv6: Option<Located<Ipv6>>,
}

/// The part of an entry that must agree across files (its span aside).
trait SameValue {
    fn same_value(&self, other: &Self) -> bool;
}

impl SameValue for Interface {
    fn same_value(&self, other: &Self) -> bool {
        self.kernel == other.kernel
    }
}

impl SameValue for Variable {
    fn same_value(&self, other: &Self) -> bool {
        self.values == other.values
    }
}

impl SameValue for FwSet {
    fn same_value(&self, other: &Self) -> bool {
        self.elements == other.elements
    }
}

impl Cx<'_> {
    /// A conflict between two files: E103 at the later definition, the earlier as secondary.
    fn conflict(&mut self, what: String, now: Span, then: Span, shown_now: String) {
        let d = Diagnostic::error(Code::E103, format!("{what} is given a different value by a later inventory"), now)
            .with_label(format!("{shown_now} here"))
            .with_secondary(then, "but differently in an earlier inventory here")
            .with_help("a later `--inventory` may add entries or repeat them unchanged, not change them; make them agree or remove one");
        self.add(d);
    }

    /// An alias that is the kernel name of another file's alias makes `-i NAME` ambiguous, as
    /// within one file (which [`Cx::interfaces`] reports).
    fn cross_file_alias_clashes(&mut self, interfaces: &BTreeMap<String, Interface>) {
        for (alias, i) in interfaces {
            if i.kernel == *alias {
                continue;
            }
            let other =
                interfaces.iter().find(|(_, o)| o.kernel == *alias && o.span.file != i.span.file);
            if let Some((other, o)) = other {
                let d = Diagnostic::error(
                    Code::E103,
                    format!("interface alias `{alias}` is also the kernel name of `{other}`"),
                    i.span,
                )
                .with_label(format!("`{alias}` is an alias for `{}` here", i.kernel))
                .with_secondary(o.span, format!("but `{other}` names kernel interface `{alias}`"))
                .with_help("in rules `-i NAME` would be ambiguous; rename the alias");
                self.add(d);
            }
        }
    }

    fn merge_map<T: SameValue>(
        &mut self,
        into: &mut BTreeMap<String, T>,
        found: BTreeMap<String, T>,
        what: &str,
        span: impl Fn(&T) -> Span,
        show: impl Fn(&T) -> String,
    ) {
        for (name, v) in found {
            match into.get(&name) {
                None => {
                    into.insert(name, v);
                }
                Some(old) if old.same_value(&v) => {}
                Some(old) => {
                    let (now, then) = (span(&v), span(old));
                    self.conflict(format!("{what} `{name}`"), now, then, show(&v));
                }
            }
        }
    }

    fn merge_one<T: PartialEq + std::fmt::Display>(
        &mut self,
        into: &mut Option<Located<T>>,
        found: Option<Located<T>>,
        what: &str,
    ) {
        let Some(v) = found else { return };
        match into {
            None => *into = Some(v),
            Some(old) if old.value == v.value => {}
            Some(old) => {
                let then = old.span;
                self.conflict(what.to_string(), v.span, then, format!("`{}`", v.value));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// interfaces

impl Cx<'_> {
    fn interfaces(&mut self, value: &Raw, key: &Key<'_>) -> BTreeMap<String, Interface> {
        let mut out = BTreeMap::new();
        let entries = match value {
            Raw::Null => return out,
            Raw::Map(entries) => self.entries(entries, &key.value, "`interfaces`"),
            other => {
                let found = other.describe();
                self.err(
                    Code::E101,
                    format!("`interfaces` must map aliases to kernel names (`public: eth0`), found {found}"),
                    &key.value.span,
                );
                return out;
            }
        };
        let mut ok = Vec::new();
        for (k, v) in entries {
            let mut valid = true;
            if !is_name(&k.name, true) {
                self.bad_name(&k.name, &k.span, "interface alias", true);
                valid = false;
            }
            let kernel = match v {
                Raw::Str(_) | Raw::Int(_) => v.scalar_text().unwrap_or_default(),
                other => {
                    let found = other.describe();
                    self.err(
                        Code::E101,
                        format!("interface `{}`: expected a kernel interface name such as `eth0`, found {found}", k.name),
                        &k.value.span,
                    );
                    continue;
                }
            };
            if let Err(why) = check_kernel_name(&kernel) {
                self.err(Code::E102, format!("invalid kernel interface name `{}`: {why}", kernel.escape_debug()), &k.value.span)
                    .help = Some("a kernel name has 1 to 15 characters from A-Z a-z 0-9 _ . - * + and does not start with `-`".into());
                valid = false;
            }
            if valid {
                let span = self.span(&(k.span.start..k.value.span.end.max(k.span.end)));
                ok.push((k.name.clone(), k.span.clone(), k.value.span.clone()));
                out.insert(k.name, Interface { kernel, span });
            }
        }
        // An alias that is another interface's kernel name makes `-i NAME` ambiguous.
        for (alias, alias_span, _) in &ok {
            let own = &out[alias].kernel;
            if own == alias {
                continue;
            }
            if let Some((other, _, kernel_span)) =
                ok.iter().find(|(a, _, _)| out[a].kernel == *alias)
            {
                let d = Diagnostic::error(
                    Code::E103,
                    format!("interface alias `{alias}` is also the kernel name of `{other}`"),
                    self.span(alias_span),
                )
                .with_label(format!("`{alias}` is an alias for `{own}` here"))
                .with_secondary(
                    self.span(kernel_span),
                    format!("but `{other}` names kernel interface `{alias}`"),
                )
                .with_help("in rules `-i NAME` would be ambiguous; rename the alias");
                self.add(d);
            }
        }
        out
    }

    fn bad_name(&mut self, name: &str, at: &Range<usize>, what: &str, dash: bool) {
        let chars = if dash { "[A-Za-z_][A-Za-z0-9_-]*" } else { "[A-Za-z_][A-Za-z0-9_]*" };
        let why = if name.len() > MAX_NAME {
            format!("longer than {MAX_NAME} bytes")
        } else {
            format!("not of the form {chars}")
        };
        let shown: String = name.chars().take(MAX_NAME).collect();
        self.err(Code::E102, format!("invalid {what} `{}`: {why}", shown.escape_debug()), at)
            .help = Some(format!(
            "a {what} is a letter or `_`, then letters, digits, `_`{}",
            if dash { " or `-`" } else { "" }
        ));
    }
}

fn is_name(s: &str, dash: bool) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_NAME
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_' || (dash && c == b'-'))
}

fn check_kernel_name(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("empty");
    }
    // The message names the limit as a literal (a `&'static str`): held to it here.
    const _: () = assert!(crate::nft::IFNAME_MAX == 15);
    if s.len() > crate::nft::IFNAME_MAX {
        return Err("longer than 15 bytes");
    }
    if s.starts_with('-') {
        return Err("starts with `-`");
    }
    if s == "." || s == ".." {
        return Err("`.` and `..` are not interface names");
    }
    if !s.bytes().all(crate::nft::is_ifname_byte) {
        return Err("only letters, digits, `_`, `.`, `-`, `*` and `+` are allowed");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// addresses and networks

enum NetError {
    Malformed,
    V6,
    HostBits(Ipv4Network),
}

/// `a.b.c.d/len` (or a bare address when `bare` allows it, as a /32). Strict: no blanks, no
/// leading zeros, IPv4 only.
fn parse_net(s: &str, bare: bool) -> Result<Ipv4Network, NetError> {
    if s.contains(':') {
        return Err(NetError::V6);
    }
    if !bare && !s.contains('/') {
        return Err(NetError::Malformed);
    }
    let (addr, len) = match crate::net::parse_cidr(s) {
        Ok(c) if !c.padded => (c.addr, c.prefix.unwrap_or(32)),
        _ => return Err(NetError::Malformed),
    };
    let net = Ipv4Network::new(addr, len).map_err(|_| NetError::Malformed)?;
    let masked = Ipv4Network::new(net.network(), len).map_err(|_| NetError::Malformed)?;
    if masked != net {
        return Err(NetError::HostBits(masked));
    }
    Ok(net)
}

impl Cx<'_> {
    fn net_error(&mut self, e: NetError, s: &str, at: &Range<usize>, what: &str, example: &str) {
        let s = s.escape_debug();
        match e {
            NetError::HostBits(masked) => {
                self.err(Code::E102, format!("{what} `{s}` has host bits set"), at).help =
                    Some(format!("write the network as `{masked}`"));
            }
            NetError::V6 => {
                self.err(Code::E102, format!("{what} `{s}` is not IPv4"), at).help =
                    Some("overlayfw handles IPv4 only; to drop IPv6 to and through the router instead of leaving it unfiltered, set `ipv6: drop`".into());
            }
            NetError::Malformed => {
                self.err(Code::E102, format!("invalid {what} `{s}`"), at).help =
                    Some(format!("expected {example}"));
            }
        }
    }

    /// A CIDR-valued key. Returns the network and its raw range.
    fn network(
        &mut self,
        value: &Raw,
        key: &Key<'_>,
    ) -> Option<(Located<Ipv4Network>, Range<usize>)> {
        let example = "an IPv4 network such as 100.64.0.0/19";
        let Raw::Str(s) = value else {
            let found = value.describe();
            self.err(
                Code::E101,
                format!("`{}`: expected {example}, found {found}", key.name),
                &key.value.span,
            );
            return None;
        };
        match parse_net(s, false) {
            Ok(n) => Some((
                Located { value: n, span: self.span(&key.value.span) },
                key.value.span.clone(),
            )),
            Err(e) => {
                self.net_error(e, s, &key.value.span, "network", example);
                None
            }
        }
    }

    fn address(&mut self, value: &Raw, key: &Key<'_>) -> Option<Located<Ipv4Addr>> {
        let Raw::Str(s) = value else {
            let found = value.describe();
            self.err(
                Code::E101,
                format!(
                    "`{}`: expected an IPv4 address such as 10.0.1.120, found {found}",
                    key.name
                ),
                &key.value.span,
            );
            return None;
        };
        match crate::net::parse_addr(s) {
            Ok(a) => Some(Located { value: a, span: self.span(&key.value.span) }),
            Err(_) => {
                let e = if s.contains(':') { NetError::V6 } else { NetError::Malformed };
                self.net_error(
                    e,
                    s,
                    &key.value.span,
                    "address",
                    "an IPv4 address such as 10.0.1.120",
                );
                None
            }
        }
    }

    /// `ipv6: drop` (overlayfw owns `table ip6`, see [`crate::ip6`]) or `ipv6: unmanaged`
    /// (the default, said explicitly). `None` if invalid.
    fn ipv6(&mut self, value: &Raw, key: &Key<'_>) -> Option<Located<Ipv6>> {
        const HELP: &str = "`ipv6: drop` makes overlayfw also own `table ip6`, dropping IPv6 to and through the router but for what IPv6 needs to work; `ipv6: unmanaged` (the default) leaves IPv6 alone";
        let policy = match value {
            Raw::Str(s) if s == "drop" => Ipv6::Drop,
            Raw::Str(s) if s == "unmanaged" => Ipv6::Unmanaged,
            Raw::Str(s) => {
                let s = shown(s);
                self.err(Code::E102, format!("unknown `ipv6` setting `{s}`"), &key.value.span)
                    .help = Some(HELP.into());
                return None;
            }
            other => {
                let found = other.describe();
                self.err(
                    Code::E101,
                    format!("`ipv6`: expected `drop` or `unmanaged`, found {found}"),
                    &key.value.span,
                )
                .help = Some(HELP.into());
                return None;
            }
        };
        Some(Located { value: policy, span: self.span(&key.value.span) })
    }

    /// `None` if given but invalid.
    fn plugin_network(&mut self, value: &Raw, key: &Key<'_>) -> Option<Located<Ipv4Network>> {
        let (net, _) = self.network(value, key)?;
        if net.value.prefix() > 30 {
            self.err(Code::E102, format!("plugin network `{}` is too small", net.value), &key.value.span).help =
                Some("it needs a network address, the bridge (.1), a container and a broadcast address: /30 or larger".into());
            return None;
        }
        Some(net)
    }
}

// ---------------------------------------------------------------------------------------------
// plugins

struct PluginDraft {
    name: String,
    name_span: Span,
    ip: Option<(Ipv4Addr, Span)>,
}

impl Cx<'_> {
    /// The plugins of one file, unchecked (checks and allocation run on the merged list).
    fn plugin_drafts(&mut self, value: &Raw, key: &Key<'_>) -> Vec<PluginDraft> {
        let items = match value {
            Raw::Null => return Vec::new(),
            Raw::Seq(items) => items,
            other => {
                let found = other.describe();
                self.err(
                    Code::E101,
                    format!("expected a list of plugins (`- name: suricata`), found {found}"),
                    &key.value.span,
                );
                return Vec::new();
            }
        };
        let mut drafts = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let here = key.value.item(i);
            let entries = match item {
                Raw::Map(entries) => self.entries(entries, &here, "a plugin"),
                other => {
                    let found = other.describe();
                    self.err(
                        Code::E101,
                        format!(
                            "plugin {}: expected a mapping such as `name: suricata`, found {found}",
                            i + 1
                        ),
                        &here.span,
                    );
                    continue;
                }
            };
            let mut name = None;
            let mut ip = None;
            for (k, v) in &entries {
                match k.name.as_str() {
                    "name" => name = self.plugin_name(v, k),
                    "ip" => ip = self.plugin_ip(v, k),
                    _ => self.unknown_key("a plugin", k, PLUGIN_KEYS),
                }
            }
            match name {
                Some((name, name_span)) => {
                    let name_span = self.span(&name_span);
                    let ip = ip.map(|(a, r)| (a, self.span(&r)));
                    drafts.push(PluginDraft { name, name_span, ip });
                }
                None if !entries.iter().any(|(k, _)| k.name == "name") => {
                    self.err(Code::E101, format!("plugin {} has no `name`", i + 1), &here.span)
                        .help = Some("each plugin needs `name:`; `ip:` is optional".into());
                }
                None => {}
            }
        }
        drafts
    }

    fn plugin_name(&mut self, v: &Raw, k: &Key<'_>) -> Option<(String, Range<usize>)> {
        let Some(name) = (match v {
            Raw::Str(_) | Raw::Int(_) => v.scalar_text(),
            _ => None,
        }) else {
            let found = v.describe();
            self.err(
                Code::E101,
                format!("plugin name: expected a name such as `suricata`, found {found}"),
                &k.value.span,
            );
            return None;
        };
        if !is_name(&name, true) {
            self.bad_name(&name, &k.value.span, "plugin name", true);
            return None;
        }
        Some((name, k.value.span.clone()))
    }

    fn plugin_ip(&mut self, v: &Raw, k: &Key<'_>) -> Option<(Ipv4Addr, Range<usize>)> {
        self.address(v, k).map(|a| (a.value, k.value.span.clone()))
    }

    /// Duplicate names and addresses, addresses outside the network or reserved in it.
    fn plugin_checks(&mut self, drafts: &[PluginDraft], net: Option<&Located<Ipv4Network>>) {
        let mut names: HashMap<&str, Span> = HashMap::new();
        let mut ips: HashMap<Ipv4Addr, &PluginDraft> = HashMap::new();
        for p in drafts {
            if let Some(first) = names.get(p.name.as_str()) {
                let d = Diagnostic::error(
                    Code::E103,
                    format!("plugin name `{}` is used twice", p.name),
                    p.name_span,
                )
                .with_label("second plugin with this name")
                .with_secondary(*first, "first declared here");
                self.add(d);
            } else {
                names.insert(&p.name, p.name_span);
            }
            let Some((ip, ip_span)) = &p.ip else { continue };
            if let Some(net) = net {
                let n = net.value;
                let problem = if !n.contains(*ip) {
                    Some(format!("is outside the plugin network {n}"))
                } else if *ip == n.network() {
                    Some(format!("is the network address of {n}"))
                } else if *ip == n.broadcast() {
                    Some(format!("is the broadcast address of {n}"))
                } else if u32::from(*ip) == u32::from(n.network()) + 1 {
                    Some("is the bridge address (the plugin network's first host)".to_string())
                } else {
                    None
                };
                if let Some(problem) = problem {
                    let mut d = Diagnostic::error(Code::E104, format!("plugin `{}`: address {ip} {problem}", p.name), *ip_span)
                        .with_help(format!("containers use the hosts of {n} from the second one up; omit `ip` to allocate one"));
                    if net.span.end > net.span.start {
                        d = d.with_secondary(net.span, "plugin network declared here");
                    }
                    self.add(d);
                    continue;
                }
            }
            if let Some(first) = ips.get(ip) {
                let first_span = first.ip.as_ref().map_or(first.name_span, |(_, s)| *s);
                let d = Diagnostic::error(
                    Code::E103,
                    format!("plugins `{}` and `{}` both use {ip}", first.name, p.name),
                    *ip_span,
                )
                .with_secondary(first_span, format!("already used by `{}`", first.name));
                self.add(d);
            } else {
                ips.insert(*ip, p);
            }
        }
    }

    /// Gives each plugin without `ip` the first free host from the second one up, in order.
    fn allocate(&mut self, drafts: Vec<PluginDraft>, net: &Located<Ipv4Network>) -> Vec<Plugin> {
        let n = net.value;
        let taken: HashSet<u32> =
            drafts.iter().filter_map(|p| p.ip.as_ref().map(|(a, _)| u32::from(*a))).collect();
        // Bounds as u64 so a /0 cannot overflow; allocation only moves up, so one cursor serves.
        let last = u64::from(u32::from(n.broadcast())) - 1;
        let mut next = u64::from(u32::from(n.network())) + 2;
        let mut out = Vec::with_capacity(drafts.len());
        let mut exhausted = false;
        for (i, p) in drafts.into_iter().enumerate() {
            let id = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let (ip, allocated) = match p.ip {
                Some((ip, _)) => (ip, false),
                None => {
                    while next <= last && taken.contains(&(next as u32)) {
                        next += 1;
                    }
                    if next > last {
                        if !exhausted {
                            let mut d = Diagnostic::error(
                                Code::E104,
                                format!("no free address left in {n} for plugin `{}`", p.name),
                                p.name_span,
                            )
                            .with_help("use a larger `plugin_network` or fewer plugins");
                            if net.span.end > net.span.start {
                                d = d.with_secondary(net.span, "plugin network declared here");
                            }
                            self.add(d);
                        }
                        exhausted = true;
                        continue;
                    }
                    let ip = Ipv4Addr::from(next as u32);
                    next += 1;
                    (ip, true)
                }
            };
            out.push(Plugin { id, name: p.name, ip, allocated, span: p.name_span });
        }
        out
    }

    fn plugin_fwset_clashes(&mut self, plugins: &[Plugin], fwsets: &BTreeMap<String, FwSet>) {
        let mut seen = HashSet::new();
        for p in plugins {
            // A repeated plugin name is already an error of its own; report the clash once.
            if !seen.insert(p.name.as_str()) {
                continue;
            }
            if let Some(set) = fwsets.get(&p.name) {
                let d = Diagnostic::error(
                    Code::E103,
                    format!("`{}` is both a plugin and a FWset", p.name),
                    set.span,
                )
                .with_label("FWset declared here")
                .with_secondary(p.span, "plugin declared here")
                .with_help(format!("`-s {}` in a rule could mean either; rename one", p.name));
                self.add(d);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// variables

/// Whether a variable name is one of the built-ins.
fn reserved(name: &str) -> bool {
    if name == "vns3_overlay_subnet"
        || name == "vns3_primary_private_ip"
        || name.starts_with("fwset_")
    {
        return true;
    }
    name.strip_prefix("plugin_instance_")
        .and_then(|r| r.strip_suffix("_ip"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
}

impl Cx<'_> {
    fn variables(&mut self, value: &Raw, key: &Key<'_>) -> BTreeMap<String, Variable> {
        let mut out = BTreeMap::new();
        let entries = match value {
            Raw::Null => return out,
            Raw::Map(entries) => self.entries(entries, &key.value, "`variables`"),
            other => {
                let found = other.describe();
                self.err(Code::E101, format!("`variables` must map names to values (`office: 203.0.113.0/24`), found {found}"), &key.value.span);
                return out;
            }
        };
        for (k, v) in entries {
            let mut ok = true;
            if k.name.is_empty() || !k.name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
            {
                let shown: String = k.name.chars().take(MAX_NAME).collect();
                self.err(
                    Code::E102,
                    format!("invalid variable name `{}`", shown.escape_debug()),
                    &k.span,
                )
                .help = Some("a variable name has letters, digits and `_` only".into());
                ok = false;
            } else if reserved(&k.name) {
                self.err(Code::E102, format!("variable name `{}` is reserved", k.name), &k.span).help = Some(
                    "`vns3_overlay_subnet`, `vns3_primary_private_ip`, `plugin_instance_N_ip` and `fwset_*` are built in; choose another name".into(),
                );
                ok = false;
            }
            let values = match v {
                Raw::Seq(items) if items.is_empty() => {
                    self.err(
                        Code::E102,
                        format!("variable `{}` is an empty list", k.name),
                        &k.value.span,
                    );
                    None
                }
                Raw::Seq(items) => {
                    let mut vals = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        if let Some(t) = self.variable_scalar(item, &k.name, &k.value.item(i).span)
                        {
                            vals.push(t);
                        }
                    }
                    (vals.len() == items.len()).then_some(vals)
                }
                other => self.variable_scalar(other, &k.name, &k.value.span).map(|t| vec![t]),
            };
            if let (true, Some(values)) = (ok, values) {
                let span = self.span(&k.span);
                out.insert(k.name, Variable { values, span });
            }
        }
        out
    }

    fn variable_scalar(&mut self, v: &Raw, name: &str, at: &Range<usize>) -> Option<String> {
        match v.scalar_text() {
            Some(t) if t.is_empty() => {
                self.err(Code::E102, format!("variable `{name}` holds an empty string"), at);
                None
            }
            Some(t) => Some(t),
            None => {
                let found = v.describe();
                self.err(
                    Code::E101,
                    format!("variable `{name}`: expected a string or a number, found {found}"),
                    at,
                );
                None
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// FWsets

#[derive(Clone, Copy, PartialEq, Eq)]
enum Elem {
    Net(Ipv4Network),
    Ports(u16, u16),
}

/// A port or range `a:b` / `a-b`, numbers 0–65535, `a <= b`.
fn parse_ports(s: &str) -> Result<(u16, u16), String> {
    let port = |p: &str| -> Result<u16, String> {
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!("`{}` is not a port number", p.escape_debug()));
        }
        p.parse::<u16>().map_err(|_| format!("port {p} is out of range (0–65535)"))
    };
    let (a, b) = match s.split_once([':', '-']) {
        Some((a, b)) => (port(a)?, port(b)?),
        None => {
            let a = port(s)?;
            (a, a)
        }
    };
    if a > b {
        return Err(format!("range {a}–{b} runs backwards"));
    }
    Ok((a, b))
}

impl Cx<'_> {
    fn fwsets(&mut self, value: &Raw, key: &Key<'_>) -> BTreeMap<String, FwSet> {
        let mut out = BTreeMap::new();
        let entries = match value {
            Raw::Null => return out,
            Raw::Map(entries) => self.entries(entries, &key.value, "`fwsets`"),
            other => {
                let found = other.describe();
                self.err(Code::E101, format!("`fwsets` must map set names to lists (`blacklist: [192.0.2.0/24]`), found {found}"), &key.value.span);
                return out;
            }
        };
        for (k, v) in entries {
            let name_ok = is_name(&k.name, false);
            if !name_ok {
                self.bad_name(&k.name, &k.span, "FWset name", false);
            }
            if let (true, Some(elements)) = (name_ok, self.fwset_elements(v, &k)) {
                let span = self.span(&k.span);
                out.insert(k.name, FwSet { elements, span });
            }
        }
        out
    }

    fn fwset_elements(&mut self, v: &Raw, k: &Key<'_>) -> Option<FwSetElements> {
        let (items, is_list): (&[Raw], bool) = match v {
            Raw::Seq(items) => (items, true),
            Raw::Str(_) | Raw::Int(_) | Raw::BigInt(_) | Raw::Float(_) => {
                (std::slice::from_ref(v), false)
            }
            Raw::Null => {
                self.err(Code::E102, format!("FWset `{}` is empty", k.name), &k.span);
                return None;
            }
            other => {
                let found = other.describe();
                self.err(
                    Code::E101,
                    format!(
                        "FWset `{}`: expected a list of networks or ports, found {found}",
                        k.name
                    ),
                    &k.value.span,
                );
                return None;
            }
        };
        if items.is_empty() {
            self.err(Code::E102, format!("FWset `{}` is empty", k.name), &k.value.span).help =
                Some("a FWset needs at least one network, address, port or port range".into());
            return None;
        }
        let at = |i: usize| if is_list { k.value.item(i).span } else { k.value.span.clone() };
        let mut nets = Vec::new();
        let mut ports = Vec::new();
        // The first element of each kind, to point at when kinds mix.
        let mut first_net: Option<usize> = None;
        let mut first_port: Option<usize> = None;
        let mut bad = 0usize;
        let mut first_unshown = None;
        let mut mixed = false;
        for (i, item) in items.iter().enumerate() {
            let elem = match self.fwset_element(item) {
                Ok(e) => e,
                Err((code, msg, help)) => {
                    bad += 1;
                    if bad <= MAX_ELEMENT_ERRORS {
                        let d = self.err(code, format!("FWset `{}`: {msg}", k.name), &at(i));
                        d.help = help;
                    } else {
                        first_unshown.get_or_insert(i);
                    }
                    continue;
                }
            };
            match elem {
                Elem::Net(n) => {
                    first_net.get_or_insert(i);
                    nets.push(n);
                }
                Elem::Ports(a, b) => {
                    first_port.get_or_insert(i);
                    ports.push((a, b));
                }
            }
            if let (false, Some(n), Some(p)) = (mixed, first_net, first_port) {
                mixed = true;
                let (this, other, kind) = if n < p { (p, n, "networks") } else { (n, p, "ports") };
                let d = Diagnostic::error(
                    Code::E102,
                    format!("FWset `{}` mixes networks and ports", k.name),
                    self.span(&at(this)),
                )
                .with_label(format!("this is not one of the set's {kind}"))
                .with_secondary(self.span(&at(other)), format!("the set holds {kind} from here"))
                .with_help("a FWset holds networks and addresses, or ports and port ranges; split it in two");
                self.add(d);
            }
        }
        if bad > MAX_ELEMENT_ERRORS {
            self.err(
                Code::E102,
                format!(
                    "FWset `{}`: {} more invalid elements not shown",
                    k.name,
                    bad - MAX_ELEMENT_ERRORS
                ),
                &at(first_unshown.unwrap_or(0)),
            );
        }
        if bad > 0 || mixed {
            return None;
        }
        if first_net.is_some() {
            nets.sort_unstable();
            nets.dedup();
            Some(FwSetElements::Addrs(nets))
        } else {
            ports.sort_unstable();
            ports.dedup();
            Some(FwSetElements::Ports(ports))
        }
    }

    /// One element: a network or address if it has a `.` (or `:`), else a port or range.
    #[allow(clippy::type_complexity)]
    fn fwset_element(&self, item: &Raw) -> Result<Elem, (Code, String, Option<String>)> {
        match item {
            Raw::Int(n) => u16::try_from(*n)
                .map(|p| Elem::Ports(p, p))
                .map_err(|_| (Code::E102, format!("port {n} is out of range (0–65535)"), None)),
            Raw::BigInt(n) => Err((Code::E102, format!("port {n} is out of range (0–65535)"), None)),
            Raw::Float(f) => Err((Code::E102, format!("`{f}` is neither a network nor a port"), None)),
            Raw::Str(s) if s.contains('.') || s.matches(':').count() > 1 => match parse_net(s, true) {
                Ok(n) => Ok(Elem::Net(n)),
                Err(NetError::HostBits(m)) => {
                    Err((Code::E102, format!("network `{}` has host bits set", s.escape_debug()), Some(format!("write the network as `{m}`"))))
                }
                Err(NetError::V6) => Err((Code::E102, format!("`{}` is not IPv4", s.escape_debug()), Some("overlayfw handles IPv4 only".into()))),
                Err(NetError::Malformed) => Err((
                    Code::E102,
                    format!("invalid network or address `{}`", s.escape_debug()),
                    Some("expected an IPv4 address such as 192.0.2.7 or a network such as 192.0.2.0/24".into()),
                )),
            },
            Raw::Str(s) => parse_ports(s).map(|(a, b)| Elem::Ports(a, b)).map_err(|why| {
                let shown: String = s.chars().take(80).collect();
                (
                    Code::E102,
                    format!("invalid element `{}`: {why}", shown.escape_debug()),
                    Some("an element is an IPv4 address or network, a port, or a range `a:b` / `a-b`".into()),
                )
            }),
            other => Err((Code::E101, format!("expected a network or a port, found {}", other.describe()), None)),
        }
    }
}
