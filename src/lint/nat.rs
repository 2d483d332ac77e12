//! Lints about where translated and mirrored traffic goes: a DNAT or COPY to an address on no
//! declared network (W104), a mirror whose target sits behind the mirrored interface (W106),
//! and a DNAT to a plugin that FORWARD drops (W107).

use std::net::Ipv4Addr;

use crate::diagnostic::{Code, Diagnostic, Span};
use crate::inventory::{FwSetElements, Inventory};
use crate::ir::{Action, Match};
use crate::resolve::{Family, Files, VChain, parse_net};
use crate::syntax::ast::Builtin;

use super::at;
use super::space::{self, Ivs, Sets, Shape};

/// Earlier FORWARD rules examined per DNAT at most (W107); past it the lint says nothing.
const FORWARD_CHECKS: usize = 256;

/// The networks the inventory declares, as intervals: the plugin network, the overlay subnet,
/// the primary private IP, every network or address a custom variable holds, every address
/// element of a FWset.
pub fn declared_networks(inv: &Inventory) -> Ivs {
    let mut v = vec![space::net_ivs(&inv.plugin_network.value)];
    if let Some(n) = &inv.overlay_subnet {
        v.push(space::net_ivs(&n.value));
    }
    if let Some(a) = &inv.primary_private_ip {
        v.push((u32::from(a.value), u32::from(a.value)));
    }
    for var in inv.variables.values() {
        for t in &var.values {
            if let Some(n) = parse_net(t)
                && let Ok(net) = ipnetwork::Ipv4Network::new(n.addr, n.prefix)
            {
                v.push(space::net_ivs(&net));
            }
        }
    }
    for s in inv.fwsets.values() {
        if let FwSetElements::Addrs(a) = &s.elements {
            v.extend(a.iter().map(space::net_ivs));
        }
    }
    space::normalize(v)
}

/// The interface an address sits behind, as far as the inventory tells: the plugin bridge for
/// the plugin network, the overlay interface for the overlay subnet. The bridge is the
/// interface aliased `plugins` (else one named `plugin0`); the overlay the one aliased
/// `overlay` (else `tun0`).
pub fn behind(inv: &Inventory, addr: Ipv4Addr) -> Option<&str> {
    let by = |alias: &str, kernel: &str| {
        inv.interfaces
            .get(alias)
            .or_else(|| inv.interfaces.values().find(|i| i.kernel == kernel))
            .map(|i| i.kernel.as_str())
    };
    if inv.plugin_network.value.contains(addr) {
        return by("plugins", "plugin0");
    }
    if inv.overlay_subnet.as_ref().is_some_and(|n| n.value.contains(addr)) {
        return by("overlay", "tun0");
    }
    None
}

/// `complete`: no line was dropped for an error; without it W107, which needs every FORWARD
/// accept, says nothing.
pub fn lint(
    chains: &[VChain],
    files: &Files,
    inv: &Inventory,
    sets: &Sets,
    complete: bool,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let declared = declared_networks(inv);
    let mut seen: crate::fasthash::FxHashSet<(Code, Span)> = Default::default();
    let forward = forward_drop_all(chains, sets).filter(|_| complete);
    for chain in chains {
        for p in &chain.rules {
            let (what, lo, hi) = match &p.action {
                Action::Dnat { to, .. } => ("DNAT", to.addr, to.addr_end.unwrap_or(to.addr)),
                Action::Dup { to } => ("COPY", *to, *to),
                _ => continue,
            };
            let range = [(u32::from(lo), u32::from(hi))];
            if !space::subset(&range, &declared) && seen.insert((Code::W104, p.span)) {
                let shown = if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") };
                out.push(
                    Diagnostic::warning(
                        Code::W104,
                        format!("{what} to {shown}, which is on no network the inventory declares"),
                        p.span,
                    )
                    .with_label("sends traffic to an undeclared address")
                    .with_secondary(inv.plugin_network.span, "the plugin network is declared here")
                    .with_help("check the address for a typo; if it is right, declare its network in the inventory (e.g. as a variable)"),
                );
            }
            if let Action::Dup { to } = &p.action
                && chain.name == "MACRO_CUST_IN"
                && let Some(Match::IifName { neg: false, name: from }) = p.matches.first()
                && let Some(iface) = behind(inv, *to)
                && space::pattern_matches(from, iface)
                && seen.insert((Code::W106, p.span))
            {
                out.push(
                    Diagnostic::warning(
                        Code::W106,
                        format!("the mirror can loop: {to} sits behind {iface}, the interface it mirrors (`--from {}`)", crate::ir::IfName::parse(from).iptables()),
                        p.span,
                    )
                    .with_label("copies go back out through the mirrored interface")
                    .with_help("mirror another interface (e.g. the overlay), or narrow the COPY so that the target's own traffic is not copied to it"),
                );
            }
            if let Action::Dnat { to, .. } = &p.action
                && chain.family == Family::Builtin(Builtin::Prerouting)
                && let Some(fwd) = &forward
                && inv.plugin_network.value.contains(to.addr)
                && let Some(drop) = dropped(p, to, fwd, sets)
            {
                out.push(
                    Diagnostic::warning(
                        Code::W107,
                        format!(
                            "DNAT to plugin address {} is dropped in FORWARD: {} drops everything and no earlier FORWARD rule accepts a new connection to it",
                            to.addr,
                            at(drop, p, files)
                        ),
                        p.span,
                    )
                    .with_label("translated traffic is forwarded to the plugin network")
                    .with_secondary(drop.span, "drops it")
                    .with_help(format!(
                        "accept it before the drop, e.g. `FORWARD_CUST -d {} -j ACCEPT` (narrowed to the port); an ESTABLISHED,RELATED accept does not pass a connection's first packet",
                        to.addr
                    )),
                );
            }
        }
    }
    out
}

/// FORWARD_CUST when its first catch-all verdict is a DROP or REJECT: its rules and the index of
/// that catch-all.
struct ForwardDrop<'a> {
    chain: &'a VChain,
    shapes: Vec<Shape<'a>>,
    drop: usize,
}

fn forward_drop_all<'a>(chains: &'a [VChain], sets: &Sets) -> Option<ForwardDrop<'a>> {
    let chain = chains.iter().find(|c| c.name == "FORWARD_CUST")?;
    let mut shapes = Vec::new();
    // A catch-all further down than FORWARD_CHECKS is never examined (see `dropped`): stop
    // looking there rather than shape every rule of a long chain.
    for (i, p) in chain.rules.iter().enumerate().take(FORWARD_CHECKS + 1) {
        let s = space::shape(&p.matches, sets);
        if s.is_universe() {
            match p.action {
                Action::Drop | Action::Reject(_) => {
                    return Some(ForwardDrop { chain, shapes, drop: i });
                }
                Action::Accept | Action::Return => return None,
                _ => {}
            }
        }
        shapes.push(s);
    }
    None
}

/// The FORWARD catch-all drop, when no rule before it can let the first packet of a translated
/// connection through (ct state NEW). Any earlier rule that may meet that packet and is not a
/// DROP/REJECT (an accept, a return, a jump into a subgroup that might accept) keeps the lint
/// silent; one that matches only other states (ESTABLISHED,RELATED) does not.
fn dropped<'a>(
    dnat: &crate::resolve::Placed,
    to: &crate::ir::NatTarget,
    fwd: &ForwardDrop<'a>,
    sets: &Sets,
) -> Option<&'a crate::resolve::Placed> {
    if fwd.drop > FORWARD_CHECKS {
        return None;
    }
    // After DNAT: the destination is the target, the port the target's (else unchanged), the
    // output interface unknown (taken as any).
    let mut t = space::shape(&dnat.matches, sets);
    let (lo, hi) = (u32::from(to.addr), u32::from(to.addr_end.unwrap_or(to.addr)));
    t.daddr = Some(super::space::Vals::One((lo, hi)));
    if let Some((a, b)) = to.ports {
        t.dport = Some(super::space::Vals::One((u32::from(a), u32::from(b))));
    }
    t.set_oif(None);
    // The connection's first packet, the one the nat chain translates, is NEW in FORWARD: if
    // it is dropped, the connection never exists, whatever accepts its later packets. So only
    // rules that may pass a NEW packet count; an ESTABLISHED,RELATED accept does not. The
    // DNAT's own `--syn` (if any) still holds for that packet.
    t.ct &= space::ct_bit(crate::ir::CtState::New);
    if t.ct == 0 {
        return None; // the DNAT never sees a NEW packet: not this lint's business
    }
    for (p, s) in fwd.chain.rules[..fwd.drop].iter().zip(&fwd.shapes) {
        let passes = !matches!(
            p.action,
            Action::Drop
                | Action::Reject(_)
                | Action::Count
                | Action::Log { .. }
                | Action::Dup { .. }
                | Action::Tcpmss(_)
                | Action::Mark { .. }
                | Action::MarkCopy { .. }
                | Action::Nflog(_)
                | Action::Dscp(_)
                | Action::Classify(_)
                | Action::Audit
        );
        if passes && space::meets(s, &t) {
            return None;
        }
    }
    Some(&fwd.chain.rules[fwd.drop])
}
