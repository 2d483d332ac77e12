//! Builders for hand-made IR rulesets, shared by the kernel tests of the emitter and of the
//! netlink backend.

#![allow(dead_code)] // Each user takes what it needs.

use std::net::Ipv4Addr;

use overlayfw::ir::*;

pub fn net(s: &str) -> ipnetwork::Ipv4Network {
    s.parse().expect("network")
}

pub fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("address")
}

/// Numbers origins by a running line counter so that every comment is distinct; every fifth
/// rule carries a note with a non-ASCII character.
pub struct Lines(pub u32);

impl Lines {
    pub fn rule(&mut self, matches: Vec<Match>, action: Action) -> Rule {
        self.0 += 1;
        let note = self.0.is_multiple_of(5).then(|| format!("note for line {} é", self.0));
        Rule {
            matches,
            action,
            origin: Some(Origin { file: "rules.fw".into(), line: self.0, note }),
        }
    }

    /// One rule per match, each with `action`.
    pub fn each(&mut self, matches: Vec<Match>, action: Action) -> Vec<Rule> {
        matches.into_iter().map(|m| self.rule(vec![m], action.clone())).collect()
    }
}

pub fn jump(chain: &str) -> Rule {
    Rule { matches: vec![], action: Action::Jump(chain.into()), origin: None }
}

pub fn chain(name: &str, rules: Vec<Rule>) -> Chain {
    Chain { name: name.into(), base: None, rules }
}

pub fn base(name: &str, kind: ChainKind, hook: Hook, priority: i32, rules: Vec<Rule>) -> Chain {
    Chain { name: name.into(), base: Some(BaseChain { kind, hook, priority }), rules }
}

pub fn iif(name: &str) -> Match {
    Match::IifName { neg: false, name: name.into() }
}

pub fn proto(p: u8) -> Match {
    Match::Protocol { neg: false, proto: p }
}

pub fn tcp_dport(port: u16) -> Match {
    Match::Port {
        proto: L4::Tcp,
        dir: Dir::Dst,
        neg: false,
        ports: PortMatch::Ports(vec![(port, port)]),
    }
}

pub fn nat(addr: &str, end: Option<&str>, ports: Option<(u16, u16)>) -> NatTarget {
    NatTarget { addr: ip(addr), addr_end: end.map(ip), ports }
}
