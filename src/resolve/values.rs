//! Resolving written values against the inventory: interfaces (aliases, kernel names,
//! wildcards), addresses (networks, variables, FWsets, plugin names), ports, NAT addresses, and
//! the texts that end up inside nft strings.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;

use ipnetwork::Ipv4Network;

use crate::diagnostic::{Code, Diagnostic, Span, Spanned};
use crate::inventory::{FwSetElements, Inventory};
use crate::ir;
use crate::suggest::{Suggester, did_you_mean};
use crate::syntax::ast::{AddrItem, NatAddr, Net, PortSpec, Value};

/// What one `-s`/`-d` item resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddrPart {
    Nets(Vec<Ipv4Network>),
    Set(ir::SetId),
}

/// Resolution context: the inventory, the diagnostics collected so far, and which inventory
/// entries the rules named.
pub struct Values<'a> {
    pub inv: &'a Inventory,
    pub diags: Vec<Diagnostic>,
    pub used: Used,
    /// Interface names as written (variables replaced) → the kernel name they resolved to: one
    /// allocation per name, shared by every rule naming it.
    ifaces: crate::fasthash::FxHashMap<String, Arc<str>>,
    hints: Hints<'a>,
}

/// "Did you mean" over the inventory's larger lists, each measured at the first unknown name
/// it is asked about and kept, with its answers: many unknown names against many entries
/// cost bounded work each (see `suggest`).
#[derive(Default)]
struct Hints<'a> {
    /// Custom variables and the built-in ones named like them.
    variables: Option<Suggester<'a>>,
    fwsets: Option<Suggester<'a>>,
    /// FWsets and plugins: what a bare name may be.
    names: Option<Suggester<'a>>,
}

impl<'a> Hints<'a> {
    fn fwsets(&mut self, inv: &'a Inventory) -> &mut Suggester<'a> {
        self.fwsets.get_or_insert_with(|| Suggester::new(inv.fwsets.keys().map(String::as_str)))
    }
}

/// The inventory entries rules refer to by name (for the unused-entry lint).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Used {
    /// Custom variables, by name.
    pub variables: BTreeSet<String>,
    pub fwsets: BTreeSet<String>,
    /// Plugin ids named by name or `${plugin_instance_N_ip}`.
    pub plugins: BTreeSet<u32>,
    /// Interface aliases whose entry a rule named (by alias, kernel name or wildcard).
    pub interfaces: BTreeSet<String>,
}

/// A built-in or custom variable's value, as text, plus where it is declared.
enum VarValue<'a> {
    Texts(&'a [String], Span),
    Net(Ipv4Network, Span),
    Addr(Ipv4Addr, Span),
    Set(&'a str),
}

impl<'a> Values<'a> {
    pub fn new(inv: &'a Inventory) -> Self {
        Values {
            inv,
            diags: Vec::new(),
            used: Used::default(),
            ifaces: Default::default(),
            hints: Hints::default(),
        }
    }

    fn error(&mut self, d: Diagnostic) -> Option<std::convert::Infallible> {
        self.diags.push(d);
        None
    }

    /// Looks up `${name}`; reports E015 when it is not defined.
    fn var(&mut self, name: &str, span: Span) -> Option<VarValue<'a>> {
        let inv = self.inv;
        if let Some(v) = inv.variables.get(name) {
            self.used.variables.insert(name.to_string());
            return Some(VarValue::Texts(&v.values, v.span));
        }
        match name {
            "vns3_overlay_subnet" => match &inv.overlay_subnet {
                Some(n) => return Some(VarValue::Net(n.value, n.span)),
                None => {
                    self.error(
                        Diagnostic::error(
                            Code::E015,
                            "`${vns3_overlay_subnet}` is not set in the inventory",
                            span,
                        )
                        .with_help("add `overlay_subnet: 100.64.0.0/19` (your overlay's network) to the inventory and pass it with --inventory"),
                    );
                    return None;
                }
            },
            "vns3_primary_private_ip" => match &inv.primary_private_ip {
                Some(a) => return Some(VarValue::Addr(a.value, a.span)),
                None => {
                    self.error(
                        Diagnostic::error(
                            Code::E015,
                            "`${vns3_primary_private_ip}` is not set in the inventory",
                            span,
                        )
                        .with_help("add `primary_private_ip: ADDRESS` (the manager's private address) to the inventory and pass it with --inventory"),
                    );
                    return None;
                }
            },
            _ => {}
        }
        if let Some(id) = name.strip_prefix("plugin_instance_").and_then(|r| r.strip_suffix("_ip"))
            && let Ok(id) = id.parse::<u32>()
        {
            if let Some(p) = inv.plugins.iter().find(|p| p.id == id) {
                self.used.plugins.insert(p.id);
                return Some(VarValue::Addr(p.ip, p.span));
            }
            let help = if inv.plugins.is_empty() {
                "the inventory declares no plugins; list them under `plugins:`".to_string()
            } else {
                format!("the inventory declares plugins 1 to {}", inv.plugins.len())
            };
            self.error(
                Diagnostic::error(
                    Code::E015,
                    format!("there is no plugin {id} for `${{{name}}}`"),
                    span,
                )
                .with_help(help),
            );
            return None;
        }
        if let Some(set) = name.strip_prefix("fwset_") {
            if let Some((set_name, _)) = inv.fwsets.get_key_value(set) {
                self.used.fwsets.insert(set_name.clone());
                return Some(VarValue::Set(set_name));
            }
            let mut d =
                Diagnostic::error(Code::E015, format!("no FWset `{set}` for `${{{name}}}`"), span);
            if let Some(s) = self.hints.fwsets(inv).suggest(set) {
                d = d.with_help(format!("did you mean `${{fwset_{s}}}`?"));
            } else {
                d = d.with_help("declare it under `fwsets:` in the inventory");
            }
            self.error(d);
            return None;
        }
        let variables = self.hints.variables.get_or_insert_with(|| {
            Suggester::new(
                inv.variables
                    .keys()
                    .map(String::as_str)
                    .chain(["vns3_overlay_subnet", "vns3_primary_private_ip"]),
            )
        });
        let mut d =
            Diagnostic::error(Code::E015, format!("undefined variable `${{{name}}}`"), span);
        d = match variables.suggest(name) {
            Some(s) => d.with_help(format!("did you mean `${{{s}}}`?")),
            None => d.with_help("declare it under `variables:` in the inventory"),
        };
        self.error(d);
        None
    }

    /// Masks host bits, warning (W001) when there were any.
    pub fn net(&mut self, n: Net, span: Span) -> Ipv4Network {
        let masked = Ipv4Network::new(n.addr, n.prefix).expect("syntax checked prefix <= 32");
        let network = Ipv4Network::new(masked.network(), n.prefix).expect("same prefix");
        if network.ip() != n.addr {
            self.diags.push(
                Diagnostic::warning(
                    Code::W001,
                    format!("`{}/{}` has host bits set; it means {network}", n.addr, n.prefix),
                    span,
                )
                .with_label(format!("masked to {network}"))
                .with_help(format!("write `{network}`")),
            );
        }
        network
    }

    /// Warns (W001) when `addr` has bits outside a non-contiguous `mask`, as for a network.
    pub fn masked(&mut self, addr: std::net::Ipv4Addr, mask: std::net::Ipv4Addr, span: Span) {
        let kept = std::net::Ipv4Addr::from(u32::from(addr) & u32::from(mask));
        if kept != addr {
            self.diags.push(
                Diagnostic::warning(
                    Code::W001,
                    format!(
                        "`{addr}/{mask}` has bits outside the mask set; it means {kept}/{mask}"
                    ),
                    span,
                )
                .with_label(format!("masked to {kept}"))
                .with_help(format!("write `{kept}/{mask}`")),
            );
        }
    }

    /// The id of a FWset the inventory declares.
    fn set_id(&self, name: &str) -> ir::SetId {
        self.inv.fwset_id(name).expect("a declared FWset")
    }

    /// One `-s`/`-d` item.
    pub fn addr_item(&mut self, item: &Spanned<AddrItem>) -> Option<AddrPart> {
        let span = item.span;
        match &item.node {
            AddrItem::Net(n) => Some(AddrPart::Nets(vec![self.net(*n, span)])),
            AddrItem::Masked { addr, mask } => {
                self.error(
                    Diagnostic::error(
                        Code::E008,
                        format!(
                            "`{addr}/{mask}` has a non-contiguous mask and cannot be in a list"
                        ),
                        span,
                    )
                    .with_help(
                        "write it in a rule of its own (nft compares it with `&`, not in a set)",
                    ),
                );
                None
            }
            AddrItem::Var(name) => match self.var(name, span)? {
                VarValue::Net(n, _) => Some(AddrPart::Nets(vec![n])),
                VarValue::Addr(a, _) => Some(AddrPart::Nets(vec![host(a)])),
                VarValue::Set(s) => self.addr_set(s, span),
                VarValue::Texts(texts, decl) => {
                    let mut nets = Vec::with_capacity(texts.len());
                    for t in texts {
                        match parse_net(t) {
                            Some(n) => nets.push(self.net(n, span)),
                            None => {
                                self.error(
                                    Diagnostic::error(
                                        Code::E018,
                                        format!("`${{{name}}}` holds `{t}`, which is not an IPv4 address or network"),
                                        span,
                                    )
                                    .with_secondary(decl, "declared here"),
                                );
                                return None;
                            }
                        }
                    }
                    Some(AddrPart::Nets(nets))
                }
            },
            AddrItem::Name(name) => {
                if self.inv.fwsets.contains_key(name) {
                    return self.addr_set(name, span);
                }
                if let Some(p) = self.inv.plugin_by_name(name) {
                    self.used.plugins.insert(p.id);
                    return Some(AddrPart::Nets(vec![host(p.ip)]));
                }
                self.unknown_name(name, span);
                None
            }
        }
    }

    fn unknown_name(&mut self, name: &str, span: Span) {
        let inv = self.inv;
        let names = self.hints.names.get_or_insert_with(|| {
            Suggester::new(
                inv.fwsets
                    .keys()
                    .map(String::as_str)
                    .chain(inv.plugins.iter().map(|p| p.name.as_str())),
            )
        });
        let mut d = Diagnostic::error(
            Code::E017,
            format!("unknown name `{name}`: not a FWset or plugin in the inventory"),
            span,
        );
        d = match names.suggest(name) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help("write an address or network, or declare the name under `fwsets:` or `plugins:` in the inventory"),
        };
        self.error(d);
    }

    /// A FWset used as addresses; it must hold networks.
    pub fn addr_set(&mut self, name: &str, span: Span) -> Option<AddrPart> {
        let Some((key, set)) = self.inv.fwsets.get_key_value(name) else {
            let mut d = Diagnostic::error(Code::E017, format!("unknown FWset `{name}`"), span);
            if let Some(s) = self.hints.fwsets(self.inv).suggest(name) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            self.error(d);
            return None;
        };
        self.used.fwsets.insert(key.clone());
        match set.elements {
            FwSetElements::Addrs(_) => Some(AddrPart::Set(self.set_id(key))),
            FwSetElements::Ports(_) => {
                self.error(
                    Diagnostic::error(
                        Code::E018,
                        format!("FWset `{name}` holds ports, not addresses"),
                        span,
                    )
                    .with_secondary(set.span, "declared here"),
                );
                None
            }
        }
    }

    /// A port spec: literal ranges, or a variable holding ports, or `${fwset_NAME}` of ports.
    pub fn ports(&mut self, spec: &Spanned<PortSpec>) -> Option<ir::PortMatch> {
        let span = spec.span;
        match &spec.node {
            PortSpec::Single(Value::Lit(p)) => {
                Some(ir::PortMatch::Ports(ir::SmallList::One((*p, *p))))
            }
            PortSpec::Range(a, b) => {
                let a = self.port_scalar(a, span)?;
                let b = self.port_scalar(b, span)?;
                if a > b {
                    self.error(Diagnostic::error(
                        Code::E008,
                        format!("port range {a}:{b} is empty: the first port is larger"),
                        span,
                    ));
                    return None;
                }
                Some(ir::PortMatch::Ports(ir::SmallList::One((a, b))))
            }
            PortSpec::Single(Value::Var(name)) => match self.var(name, span)? {
                VarValue::Set(s) => match &self.inv.fwsets[s].elements {
                    FwSetElements::Ports(_) => Some(ir::PortMatch::Set(self.set_id(s))),
                    FwSetElements::Addrs(_) => {
                        let decl = self.inv.fwsets[s].span;
                        self.error(
                            Diagnostic::error(
                                Code::E018,
                                format!("FWset `{s}` holds addresses, not ports"),
                                span,
                            )
                            .with_secondary(decl, "declared here"),
                        );
                        None
                    }
                },
                VarValue::Texts(texts, decl) => {
                    let mut out = Vec::with_capacity(texts.len());
                    for t in texts {
                        match parse_port_range(t) {
                            Some(r) => out.push(r),
                            None => {
                                self.error(
                                    Diagnostic::error(
                                        Code::E018,
                                        format!("`${{{name}}}` holds `{t}`, which is not a port or port range"),
                                        span,
                                    )
                                    .with_secondary(decl, "declared here"),
                                );
                                return None;
                            }
                        }
                    }
                    out.sort_unstable();
                    out.dedup();
                    Some(ir::PortMatch::Ports(out.into()))
                }
                VarValue::Net(_, decl) | VarValue::Addr(_, decl) => {
                    self.error(
                        Diagnostic::error(
                            Code::E018,
                            format!("`${{{name}}}` holds an address, not a port"),
                            span,
                        )
                        .with_secondary(decl, "declared here"),
                    );
                    None
                }
            },
        }
    }

    fn port_scalar(&mut self, v: &Value<u16>, span: Span) -> Option<u16> {
        match v {
            Value::Lit(p) => Some(*p),
            Value::Var(name) => match self.var(name, span)? {
                VarValue::Texts([t], _) if t.parse::<u16>().is_ok() => t.parse().ok(),
                VarValue::Texts(_, decl) | VarValue::Net(_, decl) | VarValue::Addr(_, decl) => {
                    self.error(
                        Diagnostic::error(
                            Code::E018,
                            format!("`${{{name}}}` does not hold one port number"),
                            span,
                        )
                        .with_secondary(decl, "declared here"),
                    );
                    None
                }
                VarValue::Set(_) => {
                    self.error(Diagnostic::error(
                        Code::E018,
                        format!("`${{{name}}}` is a set; a port range needs single ports"),
                        span,
                    ));
                    None
                }
            },
        }
    }

    /// An interface as written (alias, kernel name, `name+` wildcard, or `${var}`) → the kernel
    /// name for `iifname`/`oifname` (a wildcard ends in `*`).
    pub fn iface(&mut self, v: &Spanned<Value<String>>) -> Option<Arc<str>> {
        let span = v.span;
        let written: &str = match &v.node {
            Value::Lit(s) => s,
            Value::Var(name) => match self.var(name, span)? {
                VarValue::Texts([t], _) => t,
                VarValue::Texts(_, decl) | VarValue::Net(_, decl) | VarValue::Addr(_, decl) => {
                    self.error(
                        Diagnostic::error(
                            Code::E018,
                            format!("`${{{name}}}` does not hold one interface name"),
                            span,
                        )
                        .with_secondary(decl, "declared here"),
                    );
                    return None;
                }
                VarValue::Set(_) => {
                    self.error(Diagnostic::error(
                        Code::E018,
                        format!("`${{{name}}}` is a set, not an interface"),
                        span,
                    ));
                    return None;
                }
            },
        };
        // The same name resolves the same way and marks the same entries used.
        if let Some(kernel) = self.ifaces.get(written) {
            return Some(Arc::clone(kernel));
        }
        let kernel: Arc<str> = self.iface_name(written, span)?.into();
        self.ifaces.insert(written.to_string(), Arc::clone(&kernel));
        Some(kernel)
    }

    /// The kernel name or `prefix*` wildcard, in nft's string form ([`crate::ir::IfName`]), an
    /// interface name as written stands for, marking
    /// the inventory entries it names as used; E016 when there is none.
    fn iface_name(&mut self, written: &str, span: Span) -> Option<String> {
        let inv = self.inv;
        if let Some(i) = inv.interfaces.get(written) {
            self.used.interfaces.insert(written.to_string());
            return Some(crate::ir::nft_ifname(&i.kernel, false));
        }
        let kernels = inv.kernel_interfaces();
        // iptables reads only a last `+` as the wildcard; `*`, and `+` elsewhere, are literal.
        if let Some(prefix) = written.strip_suffix('+') {
            if valid_iface(prefix) && kernels.iter().any(|k| k.starts_with(prefix)) {
                self.use_interfaces(|k| k.starts_with(prefix));
                return Some(crate::ir::nft_ifname(prefix, true));
            }
        } else if kernels.contains(&written) {
            self.use_interfaces(|k| k == written);
            return Some(crate::ir::nft_ifname(written, false));
        }
        let names = inv.interfaces.keys().map(String::as_str).chain(kernels.iter().copied());
        let mut d = Diagnostic::error(Code::E016, format!("unknown interface `{written}`"), span)
            .with_label("not declared in the inventory");
        d = match did_you_mean(written.trim_end_matches('+'), names) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => {
                let list: Vec<String> =
                    inv.interfaces.iter().map(|(a, i)| format!("{a} ({})", i.kernel)).collect();
                d.with_help(format!(
                    "declared interfaces: {}; add it under `interfaces:` in the inventory",
                    if list.is_empty() { "none".to_string() } else { list.join(", ") }
                ))
            }
        };
        if let Some(first) = inv.interfaces.values().next() {
            d = d.with_secondary(first.span, "interfaces are declared here");
        }
        self.error(d);
        None
    }

    /// Marks every interface entry whose kernel name satisfies `hit` as used.
    fn use_interfaces(&mut self, hit: impl Fn(&str) -> bool) {
        for (alias, i) in &self.inv.interfaces {
            if hit(&i.kernel) {
                self.used.interfaces.insert(alias.clone());
            }
        }
    }

    /// A single address for NAT/COPY targets: literal, range, `${var}` or plugin name.
    pub fn nat_addr(&mut self, a: &Spanned<NatAddr>) -> Option<(Ipv4Addr, Option<Ipv4Addr>)> {
        let span = a.span;
        match &a.node {
            NatAddr::Addr(x) => Some((*x, None)),
            NatAddr::Range(x, y) => {
                if x > y {
                    self.error(Diagnostic::error(
                        Code::E008,
                        format!("address range {x}-{y} is empty: the first address is larger"),
                        span,
                    ));
                    return None;
                }
                Some((*x, Some(*y)))
            }
            NatAddr::Name(name) => match self.inv.plugin_by_name(name) {
                Some(p) => {
                    self.used.plugins.insert(p.id);
                    Some((p.ip, None))
                }
                None => {
                    let names = self.inv.plugins.iter().map(|p| p.name.as_str());
                    let mut d =
                        Diagnostic::error(Code::E017, format!("unknown plugin `{name}`"), span);
                    d = match did_you_mean(name, names) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => d.with_help("write an address, or declare the plugin under `plugins:` in the inventory"),
                    };
                    self.error(d);
                    None
                }
            },
            NatAddr::Var(name) => match self.var(name, span)? {
                VarValue::Addr(x, _) => Some((x, None)),
                VarValue::Net(n, _) if n.prefix() == 32 => Some((n.ip(), None)),
                VarValue::Texts([t], _) if crate::net::parse_addr(t).is_ok() => {
                    Some((crate::net::parse_addr(t).expect("checked"), None))
                }
                VarValue::Texts(_, decl) | VarValue::Net(_, decl) => {
                    self.error(
                        Diagnostic::error(
                            Code::E018,
                            format!("`${{{name}}}` does not hold one IPv4 address"),
                            span,
                        )
                        .with_secondary(decl, "declared here"),
                    );
                    None
                }
                VarValue::Set(_) => {
                    self.error(Diagnostic::error(
                        Code::E018,
                        format!("`${{{name}}}` is a set, not one address"),
                        span,
                    ));
                    None
                }
            },
        }
    }

    /// A network for NETMAP: literal or `${var}` holding one network.
    pub fn network(&mut self, v: &Spanned<Value<Net>>) -> Option<Ipv4Network> {
        let span = v.span;
        match &v.node {
            Value::Lit(n) => Some(self.net(*n, span)),
            Value::Var(name) => match self.var(name, span)? {
                VarValue::Net(n, _) => Some(n),
                VarValue::Addr(a, _) => Some(host(a)),
                VarValue::Texts([t], _) if parse_net(t).is_some() => {
                    Some(self.net(parse_net(t).expect("checked"), span))
                }
                VarValue::Texts(_, decl) => {
                    self.error(
                        Diagnostic::error(
                            Code::E018,
                            format!("`${{{name}}}` does not hold one IPv4 network"),
                            span,
                        )
                        .with_secondary(decl, "declared here"),
                    );
                    None
                }
                VarValue::Set(_) => {
                    self.error(Diagnostic::error(
                        Code::E018,
                        format!("`${{{name}}}` is a set, not one network"),
                        span,
                    ));
                    None
                }
            },
        }
    }

    /// Validates text that goes inside an nft string (comment, log prefix): no `"`, `\` or
    /// control character, at most `max` bytes.
    pub fn nft_text(&mut self, text: &str, span: Span, what: &str, max: usize) -> Option<String> {
        if let Some(c) = text.chars().find(|&c| c == '"' || c == '\\' || c.is_control()) {
            self.error(
                Diagnostic::error(
                    Code::E019,
                    format!("{what} contains {}, which nft cannot carry in a string", describe(c)),
                    span,
                )
                .with_help("remove it or use another character"),
            );
            return None;
        }
        // Text-direction controls and invisible characters would make `nft list` show text
        // other than what is stored.
        if let Some(c) = text.chars().find(|&c| crate::text::is_hidden(c)) {
            self.error(
                Diagnostic::error(
                    Code::E019,
                    format!(
                        "{what} contains {}, a text-direction or invisible character",
                        describe(c)
                    ),
                    span,
                )
                .with_help("remove it"),
            );
            return None;
        }
        if text.len() > max {
            self.error(
                Diagnostic::error(
                    Code::E019,
                    format!("{what} is {} bytes long; nft keeps at most {max}", text.len()),
                    span,
                )
                .with_help("shorten it"),
            );
            return None;
        }
        Some(text.to_string())
    }
}

fn describe(c: char) -> String {
    match c {
        '"' => "a double quote".to_string(),
        '\\' => "a backslash".to_string(),
        c => format!("the character U+{:04X}", c as u32),
    }
}

pub fn host(a: Ipv4Addr) -> Ipv4Network {
    Ipv4Network::new(a, 32).expect("/32 is valid")
}

/// Kernel interface name characters (without a wildcard).
pub fn valid_iface(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= crate::nft::IFNAME_MAX
        && !s.starts_with('-')
        && s.bytes().all(crate::nft::is_ifname_byte)
}

/// `a.b.c.d` or `a.b.c.d/len` (a variable's text), by [`crate::net::parse_cidr`].
pub fn parse_net(s: &str) -> Option<Net> {
    let c = crate::net::parse_cidr(s).ok()?;
    Some(Net { addr: c.addr, prefix: c.prefix.unwrap_or(32) })
}

/// `p`, `a:b` or `a-b`.
pub fn parse_port_range(s: &str) -> Option<(u16, u16)> {
    let (a, b) = match s.split_once([':', '-']) {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let p = s.parse().ok()?;
            (p, p)
        }
    };
    (a <= b).then_some((a, b))
}
