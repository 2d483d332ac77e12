//! Target lowering: a line's `-j` target → the IR action, checked against the chain it stands
//! in (iptables' own rules on where NAT targets may go) and the protocol its ports need.

use crate::diagnostic::{Code, Diagnostic, Span};
use crate::ir::{self, Action};
use crate::nft::LOG_PREFIX_MAX;
use crate::syntax::ast::{self, Builtin, Protocol, TargetKind};

use super::matches::l4_of;
use super::place::Subgroups;
use super::{Family, Resolver, hook_word, target_name};

impl Resolver<'_> {
    /// Checks the target against the chain and resolves it.
    pub(super) fn action(
        &mut self,
        rule: &ast::Rule,
        family: Family,
        proto: Option<(bool, &Protocol, Span)>,
        subgroups: &Subgroups,
    ) -> Option<(Action, Option<(String, Span)>)> {
        let Some(target) = &rule.target else { return Some((Action::Count, None)) };
        let b = match family {
            Family::Builtin(b) => Some(b),
            Family::Mirror => None,
        };
        let allowed: &[Builtin] = match &target.kind {
            TargetKind::Dnat { .. } | TargetKind::Redirect { .. } => {
                &[Builtin::Prerouting, Builtin::Output]
            }
            TargetKind::Snat { .. } | TargetKind::Masquerade { .. } => &[Builtin::Postrouting],
            TargetKind::Netmap { .. } => {
                &[Builtin::Prerouting, Builtin::Output, Builtin::Postrouting]
            }
            // The kernel's TCPMSS: path-MTU clamping needs the route, known from FORWARD on.
            TargetKind::Tcpmss { mss: None } => {
                &[Builtin::Forward, Builtin::Output, Builtin::Postrouting]
            }
            // xt_CLASSIFY: mangle LOCAL_OUT, FORWARD and POST_ROUTING only.
            TargetKind::Classify(_) => &[Builtin::Forward, Builtin::Output, Builtin::Postrouting],
            _ => &[],
        };
        if let Some(b) = b
            && !allowed.is_empty()
            && !allowed.contains(&b)
        {
            let names: Vec<&str> = allowed.iter().map(|&a| hook_word(a)).collect();
            self.error(
                Diagnostic::error(
                    Code::E012,
                    format!("{} is not allowed in {}", target_name(&target.kind), hook_word(b)),
                    target.span,
                )
                .with_help(format!(
                    "{} works only in {}",
                    target_name(&target.kind),
                    names.join(" and ")
                )),
            );
            return None;
        }
        let l4 = proto.and_then(|(neg, p, _)| if neg { None } else { l4_of(p) });
        let need_ports_proto = |me: &mut Self, ports: Option<(u16, u16)>| -> bool {
            if ports.is_some() && l4.is_none() {
                me.error(
                    Diagnostic::error(
                        Code::E007,
                        format!(
                            "{} with ports needs `-p tcp`, `-p udp` or `-p sctp`",
                            target_name(&target.kind)
                        ),
                        target.span,
                    )
                    .with_help("add `-p tcp` (or udp/sctp) to the rule"),
                );
                return false;
            }
            true
        };
        let action = match &target.kind {
            TargetKind::Accept => Action::Accept,
            TargetKind::Drop => Action::Drop,
            TargetKind::Return => Action::Return,
            TargetKind::Reject { with } => {
                let w = with.as_ref().map_or(ir::RejectWith::PortUnreachable, |w| w.node);
                if w == ir::RejectWith::TcpReset && l4 != Some(ir::L4::Tcp) {
                    self.error(
                        Diagnostic::error(
                            Code::E007,
                            "`--reject-with tcp-reset` needs `-p tcp`",
                            target.span,
                        )
                        .with_help("add `-p tcp` to the rule"),
                    );
                    return None;
                }
                Action::Reject(w)
            }
            TargetKind::Log { prefix, level, flags } => {
                let prefix = match prefix {
                    Some(p) => {
                        let text =
                            self.v.nft_text(&p.node, p.span, "the log prefix", LOG_PREFIX_MAX)?;
                        if text.contains('$') {
                            // nft expands `$name` inside a quoted log prefix, with no escape.
                            self.error(
                                Diagnostic::error(Code::E019, "the log prefix contains `$`, which nft would expand as a variable", p.span)
                                    .with_help("remove the `$`"),
                            );
                            return None;
                        }
                        Some(text)
                    }
                    None => None,
                };
                let level = level.as_ref().map(|l| l.node);
                Action::Log { prefix: prefix.map(String::into_boxed_str), level, flags: *flags }
            }
            TargetKind::Nflog { group, prefix, size, threshold, .. } => {
                let prefix = match prefix {
                    Some(p) => {
                        let text = self.v.nft_text(&p.node, p.span, "the NFLOG prefix", 63)?;
                        if text.contains('$') {
                            // nft expands `$name` inside a quoted log prefix, with no escape.
                            self.error(
                                Diagnostic::error(Code::E019, "the NFLOG prefix contains `$`, which nft would expand as a variable", p.span)
                                    .with_help("remove the `$`"),
                            );
                            return None;
                        }
                        Some(text.into_boxed_str())
                    }
                    None => None,
                };
                // `--nflog-range` never reached the kernel's log (it needs the copy-length flag
                // `--nflog-size` sets): iptables warns and ignores it, and so does this.
                Action::Nflog(Box::new(ir::Nflog {
                    group: group.unwrap_or(0),
                    prefix,
                    snaplen: *size,
                    threshold: *threshold,
                }))
            }
            TargetKind::Jump(name) => {
                let parent = b.expect("jumps are never placed in the mirror");
                match subgroups.get(&name.node) {
                    None => {
                        let mut d = Diagnostic::error(
                            Code::E014,
                            format!("no subgroup `{}` is defined", name.node),
                            name.span,
                        );
                        let same: Vec<&str> = subgroups
                            .iter()
                            .filter(|(_, (p, _))| *p == parent)
                            .map(|(n, _)| n.as_str())
                            .collect();
                        d = match crate::suggest::did_you_mean(&name.node, same) {
                            Some(s) => d.with_help(format!("did you mean `{s}`?")),
                            None => d.with_help(format!(
                                "define it with lines that start with `{}`",
                                name.node
                            )),
                        };
                        self.error(d);
                        return None;
                    }
                    Some(&(p, def)) if p != parent => {
                        self.error(
                            Diagnostic::error(
                                Code::E014,
                                format!(
                                    "subgroup `{}` belongs to {}, not {}",
                                    name.node,
                                    hook_word(p),
                                    hook_word(parent)
                                ),
                                name.span,
                            )
                            .with_secondary(def, "defined here")
                            .with_help("a subgroup can be reached only from its own parent chain"),
                        );
                        return None;
                    }
                    Some(_) => {
                        return Some((
                            Action::Jump(name.node.as_str().into()),
                            Some((name.node.clone(), name.span)),
                        ));
                    }
                }
            }
            TargetKind::Dnat { to, flags } | TargetKind::Snat { to, flags } => {
                let (addr, addr_end) = self.v.nat_addr(&to.node.addr)?;
                if !need_ports_proto(self, to.node.ports) {
                    return None;
                }
                let to = ir::NatTarget { addr, addr_end, ports: to.node.ports };
                if matches!(target.kind, TargetKind::Dnat { .. }) {
                    Action::Dnat { to, flags: *flags }
                } else {
                    Action::Snat { to, flags: *flags }
                }
            }
            TargetKind::Masquerade { ports, flags, .. } => {
                if !need_ports_proto(self, *ports) {
                    return None;
                }
                Action::Masquerade { ports: *ports, flags: *flags }
            }
            TargetKind::Redirect { ports, flags } => {
                if !need_ports_proto(self, *ports) {
                    return None;
                }
                Action::Redirect { ports: *ports, flags: *flags }
            }
            TargetKind::Netmap { to } => {
                let to = self.v.network(to)?;
                if b == Some(Builtin::Postrouting) {
                    Action::NetmapSnat { to }
                } else {
                    Action::NetmapDnat { to }
                }
            }
            &TargetKind::Dscp { value, .. } => Action::Dscp(value),
            &TargetKind::Classify(class) => Action::Classify(class),
            TargetKind::Audit { .. } => Action::Audit,
            &TargetKind::Nfqueue { first, last, bypass, fanout, .. } => {
                Action::Queue(ir::Queue { first, last, bypass, fanout })
            }
            TargetKind::Tcpmss { mss } => {
                if l4 != Some(ir::L4::Tcp) {
                    self.error(
                        Diagnostic::error(Code::E007, "TCPMSS needs `-p tcp`", target.span)
                            .with_help("add `-p tcp --tcp-flags SYN,RST SYN` to the rule"),
                    );
                    return None;
                }
                // The kernel's TCPMSS refuses a rule that may match other packets than SYNs
                // ("Only works on TCP SYN packets"): a `--syn`, or a `--tcp-flags` whose mask and
                // flags both hold SYN, not negated.
                let syn = rule.matches.iter().any(|m| {
                    !m.negated
                        && match m.kind {
                            ast::MatchKind::Syn => true,
                            ast::MatchKind::TcpFlags { mask, comp } => mask & comp & 0x02 != 0,
                            _ => false,
                        }
                });
                if !syn {
                    self.error(
                        Diagnostic::error(
                            Code::E007,
                            "TCPMSS needs a match on SYN packets",
                            target.span,
                        )
                        .with_label("iptables refuses TCPMSS without one")
                        .with_help("add `--tcp-flags SYN,RST SYN` (or `--syn`) to the rule"),
                    );
                    return None;
                }
                Action::Tcpmss(match mss {
                    None => ir::Mss::ClampToPmtu,
                    Some(n) => ir::Mss::Set(*n),
                })
            }
            &TargetKind::Mark { ct, op, .. } => match op {
                ast::MarkOp::Xmark { value, mask } => Action::Mark { ct, and: !mask, xor: value },
                ast::MarkOp::Save { nfmask: u32::MAX, ctmask: u32::MAX } => {
                    Action::MarkCopy { to_ct: true }
                }
                ast::MarkOp::Restore { nfmask: u32::MAX, ctmask: u32::MAX } => {
                    Action::MarkCopy { to_ct: false }
                }
                ast::MarkOp::Save { .. } | ast::MarkOp::Restore { .. } => {
                    // ct mark = (ct mark & !ctmask) ^ (mark & nfmask) combines two registers;
                    // nft 1.0.6 and its kernel interface take a constant on one side only.
                    self.error(
                        Diagnostic::error(
                            Code::E008,
                            "CONNMARK with a mask other than 0xffffffff cannot be translated: \
                             nftables cannot merge part of one mark into the other",
                            target.span,
                        )
                        .with_label("saves or restores part of a mark")
                        .with_help(
                            "save or restore the whole mark (no mask), and mask it where it is \
                             matched: `-m connmark --mark V/M`",
                        ),
                    );
                    return None;
                }
            },
            TargetKind::Copy { to, .. } => {
                let (addr, end) = self.v.nat_addr(to)?;
                if end.is_some() {
                    self.error(Diagnostic::error(
                        Code::E008,
                        "COPY mirrors to one address, not a range",
                        to.span,
                    ));
                    return None;
                }
                Action::Dup { to: addr }
            }
        };
        Some((action, None))
    }
}
