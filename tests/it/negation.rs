//! A `!` before a value that stands for every packet (`! -p all`, `! --icmp-type any`) must not
//! be dropped or compiled into a rule broader than the line: such a line is refused (E022), as
//! iptables refuses `! -p all` and never matches with `! --icmp-type any`. What iptables does is
//! checked with iptables-nft and real packets in a namespace; type 255 means any ICMP type.

use overlayfw::diagnostic::{Code, Sources};
use overlayfw::pipeline::{self, Text};

use crate::netns::{self, Netns};

fn compile(rules: &str) -> (Option<overlayfw::ir::Ruleset>, Vec<Code>) {
    let mut sources = Sources::new();
    let c = pipeline::compile(
        &mut sources,
        vec![Text { name: "neg.rules".into(), bytes: rules.as_bytes().to_vec() }],
        None,
        "overlayfw",
    );
    let codes = c.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.code).collect();
    (c.ruleset, codes)
}

/// The negations that would widen or empty a rule, as iptables options.
const EVERYTHING_NEGATED: &[&str] = &[
    "-p icmp ! --icmp-type any",
    "-p icmp ! --icmp-type 255",
    "-p icmp ! --icmp-type 255/3",
    "! -p all",
    "! -p 0",
];

#[test]
fn negating_everything_is_refused() {
    for opts in EVERYTHING_NEGATED {
        let (rs, codes) = compile(&format!("INPUT_CUST {opts} -j DROP\n"));
        assert!(rs.is_none(), "{opts} compiled");
        assert_eq!(codes, [Code::E022], "{opts}");
    }
    // Near misses compile: a real type negated, a protocol negated, 255 without `!`.
    for opts in ["-p icmp ! --icmp-type 8", "! -p icmp", "-p icmp --icmp-type any", "-p all"] {
        let (rs, codes) = compile(&format!("INPUT_CUST {opts} -j DROP\n"));
        assert!(rs.is_some(), "{opts}: {codes:?}");
    }
}

/// ICMP type 255 means any type to iptables, so `--icmp-type 255` compiles to every ICMP
/// packet (it was `icmp type 255`).
#[test]
fn icmp_type_255_is_any_type() {
    let (rs, codes) = compile("INPUT_CUST -p icmp --icmp-type 255 -j DROP\n");
    let script = overlayfw::emit::nft_script(&rs.unwrap_or_else(|| panic!("{codes:?}")));
    assert!(script.contains("\t\tip protocol icmp counter drop comment"), "{script}");
    assert!(!script.contains("icmp type"), "{script}");
}

/// Sends one ICMP packet of `kind` to 127.0.0.1 inside the namespace (INPUT sees it on `lo`).
fn send_icmp(ns: &Netns, kind: u8) {
    let py = "import socket,struct,sys\n\
        t=int(sys.argv[1]); h=struct.pack('!BBHHH',t,0,0,1,1)+b'overlayfw!'\n\
        s=sum(struct.unpack('!9H',h))\n\
        s=(s>>16)+(s&0xffff); s=~(s+(s>>16))&0xffff\n\
        h=h[:2]+struct.pack('!H',s)+h[4:]\n\
        socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_ICMP).sendto(h,('127.0.0.1',0))\n";
    ns.exec(&["python3", "-c", py, &kind.to_string()]).unwrap_or_else(|e| panic!("{e}"));
}

/// Packets counted by the first rule of iptables-nft's INPUT chain.
fn iptables_first_rule_packets(ns: &Netns) -> u64 {
    let (counts, out) = ns.iptables_packets("iptables-nft", "INPUT");
    *counts.first().unwrap_or_else(|| panic!("no rule: {out}"))
}

/// What iptables does with each refused line, with real packets: `! -p all` is refused, a
/// negated `any`/255 ICMP type never matches; and `--icmp-type 255` matches every ICMP type,
/// there and in what overlayfw compiles.
#[test]
fn iptables_refuses_or_never_matches_what_is_refused() {
    if !netns::require_root() {
        return;
    }
    for opts in EVERYTHING_NEGATED {
        let ns = Netns::new();
        let mut args = vec!["iptables-nft", "-A", "INPUT"];
        args.extend(opts.split(' '));
        args.extend(["-j", "DROP"]);
        match ns.exec(&args) {
            Err(e) if opts.contains("-p all") || opts.contains("-p 0") => {
                assert!(e.contains("never match"), "{opts}: {e}")
            }
            Err(e) => panic!("{opts}: iptables refused: {e}"),
            Ok(_) => {
                assert!(!opts.contains("-p all") && !opts.contains("-p 0"), "{opts} taken");
                for kind in [8, 42, 255] {
                    send_icmp(&ns, kind);
                }
                assert_eq!(iptables_first_rule_packets(&ns), 0, "{opts} matched a packet");
            }
        }
    }
    // Positive 255: any ICMP type, in iptables and in overlayfw's rule.
    let ns = Netns::new();
    ns.exec(&["iptables-nft", "-A", "INPUT", "-p", "icmp", "--icmp-type", "255", "-j", "ACCEPT"])
        .expect("iptables");
    let (rs, codes) = compile("INPUT_CUST -p icmp --icmp-type 255 -j ACCEPT\n");
    let rs = rs.unwrap_or_else(|| panic!("{codes:?}"));
    ns.nft_load(&overlayfw::emit::nft_script(&rs)).expect("load");
    for kind in [42, 250] {
        send_icmp(&ns, kind);
    }
    assert_eq!(iptables_first_rule_packets(&ns), 2, "iptables: 255 is any type");
    let listing = ns.list_table_json("ip", "overlayfw");
    assert_eq!(netns::packets_at(&listing, &rs, "neg.rules", 1), Some(2), "ours: 255 is any type");
}
