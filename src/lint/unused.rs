//! Inventory entries no rule uses (W108): a variable, FWset, plugin, or interface entry beyond
//! the manager's stock three. Only run for an inventory file the user gave; the built-in
//! default describes a stock manager.

use crate::diagnostic::{Code, Diagnostic};
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
    space::normalize(address_parts(chains, inv))
}

/// The intervals of [`rule_addresses`] before they are merged: each rule's own addresses, and
/// the elements of each FWset the rules name, taken once however many rules name it (a large
/// set named by many rules was copied once per rule: 1,000 rules × 100,000 addresses).
fn address_parts(chains: &[VChain], inv: &Inventory) -> Vec<(u32, u32)> {
    let mut v = Vec::new();
    let mut sets: crate::fasthash::FxHashSet<crate::ir::SetId> = Default::default();
    for p in chains.iter().flat_map(|c| &c.rules) {
        for m in &p.matches {
            let (Match::Saddr { addrs, .. } | Match::Daddr { addrs, .. }) = m else { continue };
            match addrs {
                AddrMatch::Nets(n) => v.extend(n.iter().map(space::net_ivs)),
                AddrMatch::Range(a, b) => v.push((u32::from(*a), u32::from(*b))),
                // Every address it may match lies between these two.
                AddrMatch::Masked { addr, mask } => {
                    v.push((u32::from(*addr), u32::from(*addr) | !u32::from(*mask)))
                }
                AddrMatch::Set(id) => {
                    sets.insert(*id);
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
    for id in sets {
        let elements = inv.fwsets.get(inv.fwset_name(id)).map(|s| &s.elements);
        if let Some(FwSetElements::Addrs(a)) = elements {
            v.extend(a.iter().map(space::net_ivs));
        }
    }
    v
}

pub fn lint(chains: &[VChain], inv: &Inventory, used: &Used) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let unused = |subject: String, span, help: String| {
        Diagnostic::warning(Code::W108, format!("{subject} is never used by any rule"), span)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Sources;
    use crate::pipeline::drive::resolve_all as resolve;
    use crate::resolve::{Input, Options};

    /// Each FWset's elements are taken once, however many rules name it: the work is the
    /// rules' own addresses plus the sets' sizes, not rules × set size.
    #[test]
    fn each_named_fwset_is_read_once() {
        let addr = |i: u32| std::net::Ipv4Addr::from(0x0a00_0000 + 2 * i);
        let mut yaml = String::from("plugin_network: 198.51.100.0/28\nfwsets:\n  big:\n");
        for i in 0..2_000 {
            yaml += &format!("    - {}\n", addr(i));
        }
        yaml += "  small: [192.0.2.1, 192.0.2.3, 192.0.2.5]\n  unnamed: [203.0.113.7]\n";
        let mut sources = Sources::new();
        let yid = sources.add("t.yaml", yaml.clone());
        let inv = crate::inventory::load(&yaml, yid).expect("valid inventory");
        let mut text = String::new();
        for i in 0..500 {
            text += &format!("FORWARD_CUST -s big -p tcp --dport {} -j ACCEPT\n", i + 1);
            text += &format!("INPUT_CUST ! -d small -p udp --dport {} -j DROP\n", i + 1);
        }
        text += "INPUT_CUST -s 172.16.0.0/12 -j DROP\n\
                 PREROUTING_CUST -p tcp --dport 80 -j DNAT --to 198.51.100.2\n";
        let id = sources.add("t.rules", text.clone());
        let inputs = [Input { name: "t.rules", file: id, text: &text, stream: None }];
        let opts = Options { table: "overlayfw", input_hash: String::new() };
        let resolved = resolve(&inputs, &inv, &opts);
        assert!(resolved.diagnostics.is_empty(), "{:?}", resolved.diagnostics);
        let parts = address_parts(&resolved.chains, &inv);
        // 2,000 + 3 set elements, one network, one DNAT target: not 500 × 2,003 more.
        assert_eq!(parts.len(), 2_000 + 3 + 1 + 1);
        // The same addresses as before: every rule's, every named set's, not the unnamed set's.
        let mut expected: Vec<(u32, u32)> =
            (0..2_000).map(|i| (u32::from(addr(i)), u32::from(addr(i)))).collect();
        for a in [[192, 0, 2, 1], [192, 0, 2, 3], [192, 0, 2, 5], [198, 51, 100, 2]] {
            let a = u32::from(std::net::Ipv4Addr::from(a));
            expected.push((a, a));
        }
        expected.push((
            u32::from(std::net::Ipv4Addr::new(172, 16, 0, 0)),
            u32::from(std::net::Ipv4Addr::new(172, 31, 255, 255)),
        ));
        assert_eq!(rule_addresses(&resolved.chains, &inv), space::normalize(expected));
    }
}
