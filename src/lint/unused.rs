//! Inventory entries no rule uses (W108): a variable, FWset, plugin, or interface entry beyond
//! the manager's stock three. Only run for an inventory file the user gave; the built-in
//! default describes a stock manager.

use crate::diagnostic::Diagnostic;
use crate::inventory::{FwSetElements, Inventory};
use crate::ir::{Action, AddrMatch, Match};
use crate::resolve::{Used, VChain};

use super::nat::behind;
use super::space::{self, Ivs};

/// A VNS3 manager's own interfaces, declared for name resolution whether or not the rules
/// filter on them: never reported.
const STOCK: &[(&str, &str)] = &[("public", "eth0"), ("overlay", "tun0"), ("plugins", "plugin0")];

/// Every address a rule matches on (negated or not) or translates or mirrors to.
fn rule_addresses(chains: &[VChain], inv: &Inventory) -> Ivs {
    let mut v = Vec::new();
    for p in chains.iter().flat_map(|c| &c.rules) {
        for m in &p.matches {
            let (Match::Saddr { addrs, .. } | Match::Daddr { addrs, .. }) = m else { continue };
            match addrs {
                AddrMatch::Nets(n) => v.extend(n.iter().map(space::net_ivs)),
                AddrMatch::Range(a, b) => v.push((u32::from(*a), u32::from(*b))),
                AddrMatch::Set(name) => {
                    if let Some(FwSetElements::Addrs(a)) =
                        inv.fwsets.get(&**name).map(|s| &s.elements)
                    {
                        v.extend(a.iter().map(space::net_ivs));
                    }
                }
            }
        }
        match &p.action {
            Action::Dnat { to, .. } | Action::Snat { to, .. } => {
                v.push((u32::from(to.addr), u32::from(to.addr_end.unwrap_or(to.addr))))
            }
            Action::Dup { to } => v.push((u32::from(*to), u32::from(*to))),
            Action::NetmapDnat { to } | Action::NetmapSnat { to } => v.push(space::net_ivs(to)),
            _ => {}
        }
    }
    space::normalize(v)
}

pub fn lint(chains: &[VChain], inv: &Inventory, used: &Used) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let unused = |subject: String, span, help: String| {
        Diagnostic::warning("W108", format!("{subject} is never used by any rule"), span)
            .with_label("declared here, used nowhere")
            .with_help(help)
    };
    for (name, v) in &inv.variables {
        if !used.variables.contains(name) {
            out.push(unused(
                format!("variable `{name}`"),
                v.span,
                format!("remove it, or check the rules for a misspelled `${{{name}}}`"),
            ));
        }
    }
    for (name, s) in &inv.fwsets {
        if !used.fwsets.contains(name) {
            out.push(unused(
                format!("FWset `{name}`"),
                s.span,
                "remove it, or check the rules for a misspelled set name".to_string(),
            ));
        }
    }
    let addrs = rule_addresses(chains, inv);
    let touched = |lo: u32, hi: u32| space::overlaps(&[(lo, hi)], &addrs);
    for p in &inv.plugins {
        let ip = u32::from(p.ip);
        if !used.plugins.contains(&p.id) && !touched(ip, ip) {
            out.push(unused(
                format!("plugin `{}`", p.name),
                p.span,
                "no rule names it or matches its address; remove it if the plugin is gone"
                    .to_string(),
            ));
        }
    }
    // An interface is also used when rules send traffic to the network behind it.
    let mut behind_used = Vec::new();
    let nets =
        std::iter::once(inv.plugin_network.value).chain(inv.overlay_subnet.iter().map(|n| n.value));
    for n in nets {
        let (lo, hi) = space::net_ivs(&n);
        if touched(lo, hi)
            && let Some(k) = behind(inv, n.network())
        {
            behind_used.push(k);
        }
    }
    for (alias, i) in &inv.interfaces {
        if STOCK.contains(&(alias.as_str(), i.kernel.as_str())) {
            continue;
        }
        if !used.interfaces.contains(alias) && !behind_used.contains(&i.kernel.as_str()) {
            out.push(unused(
                format!("interface `{alias}` ({})", i.kernel),
                i.span,
                "no rule names it (by alias, kernel name or wildcard) or sends traffic to the network behind it".to_string(),
            ));
        }
    }
    out
}
