//! Tests of the syntax stage: every construct to its AST, every diagnostic code with its message
//! and column, line handling (BOM, CRLF, blanks), and hostile input.

use std::net::Ipv4Addr;

use super::ast::*;
use super::parse;
use crate::diagnostic::{Code, Diagnostic, FileId, Span, Spanned};
use crate::ir::NatFlags;

const F: FileId = FileId(7);

fn sp(start: usize, end: usize) -> Span {
    Span::new(F, start, end)
}

/// Parses one good line; fails the test on any diagnostic.
fn ok(text: &str) -> Rule {
    let (file, diags) = parse(F, text);
    assert!(diags.is_empty(), "unexpected diagnostics for {text:?}: {diags:#?}");
    assert_eq!(file.rules.len(), 1, "{text:?}");
    file.rules.into_iter().next().expect("one rule")
}

/// Parses one bad line; it must yield no rule and exactly one diagnostic.
fn err(text: &str) -> Diagnostic {
    let (file, diags) = parse(F, text);
    assert!(file.rules.is_empty(), "{text:?} produced a rule: {:#?}", file.rules);
    assert_eq!(diags.len(), 1, "{text:?}: {diags:#?}");
    diags.into_iter().next().expect("one diagnostic")
}

/// Asserts code, exact message and 1-based column (ASCII lines) of a one-diagnostic line.
#[track_caller]
fn check(text: &str, code: Code, message: &str, column: usize) -> Diagnostic {
    let d = err(text);
    assert_eq!(d.code, code, "{text:?}: {d:#?}");
    assert_eq!(d.message, message, "{text:?}");
    assert_eq!(d.span().start as usize + 1, column, "{text:?}: column");
    assert_eq!(d.span().file, F);
    d
}

fn kinds(r: &Rule) -> Vec<MatchKind> {
    r.matches.iter().map(|m| m.kind.clone()).collect()
}

fn target(r: &Rule) -> TargetKind {
    r.target.as_ref().expect("rule has a target").kind.clone()
}

fn net(a: [u8; 4], prefix: u8) -> AddrItem {
    AddrItem::Net(Net { addr: Ipv4Addr::from(a), prefix })
}

fn lit_port(p: u16) -> PortSpec {
    PortSpec::Single(Value::Lit(p))
}

fn range(a: u16, b: u16) -> PortSpec {
    PortSpec::Range(Value::Lit(a), Value::Lit(b))
}

fn nodes<T: Clone>(v: &[Spanned<T>]) -> Vec<T> {
    v.iter().map(|s| s.node.clone()).collect()
}

// ---- line handling ----

#[test]
fn empty_file_blank_and_comment_lines_give_nothing() {
    for text in ["", "\n", "   \n\t\n", "# a comment\n   # indented comment\n", "\u{feff}"] {
        let (file, diags) = parse(F, text);
        assert!(file.rules.is_empty() && diags.is_empty(), "{text:?}");
    }
}

#[test]
fn bom_and_crlf_keep_absolute_spans_and_line_numbers() {
    let text = "\u{feff}INPUT -j DROP\r\n\r\n# c\r\n  FORWARD -j ACCEPT  \r\n";
    let (file, diags) = parse(F, text);
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!(file.rules.len(), 2);
    let (a, b) = (&file.rules[0], &file.rules[1]);
    assert_eq!((a.line, b.line), (1, 4));
    assert_eq!(a.span, sp(3, 16));
    assert_eq!(&text[a.span.start as usize..a.span.end as usize], "INPUT -j DROP");
    assert_eq!(&text[b.span.start as usize..b.span.end as usize], "FORWARD -j ACCEPT");
    let chain = b.chain.as_ref().expect("chain");
    assert_eq!(&text[chain.span.start as usize..chain.span.end as usize], "FORWARD");
}

#[test]
fn mixed_file_reports_every_bad_line_and_keeps_every_good_one() {
    let text = "INPUT -j DROP\nINPUT -s 10.199.2.0. -j DROP\n\nFORWARD -j ACCEPT\nINPUT_CUTS -j DROP\n\
                OUTPUT -p tcp --dport 99999 -j DROP\nINPUT -j RETURN\n";
    let (file, diags) = parse(F, text);
    let lines: Vec<u32> = file.rules.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![1, 4, 7]);
    let codes: Vec<Code> = diags.iter().map(|d| d.code).collect();
    assert_eq!(codes, vec![Code::E001, Code::E003, Code::E008]);
}

#[test]
fn hash_inside_a_line_is_not_a_comment() {
    let d = check(
        "INPUT -j DROP # trailing",
        Code::E001,
        "unexpected `#`: expected an option such as -s, -p or -j",
        15,
    );
    assert_eq!(d.labels[0].message, "not an option");
}

#[test]
fn e020_control_character() {
    let d = check("INPUT -s 1.2.3.4\0 -j DROP", Code::E020, "control character U+0000 in line", 17);
    assert_eq!(d.span(), sp(16, 17));
    check("INPUT\u{7} -j DROP", Code::E020, "control character U+0007 in line", 6);
    // A tab is a separator, not a control character.
    ok("INPUT\t-j\tDROP");
}

#[test]
fn e021_line_too_long_without_parsing_it() {
    let text = format!("INPUT -s {}", "1".repeat(1_000_000));
    let d = err(&text);
    assert_eq!(d.code, Code::E021);
    assert_eq!(d.message, "line is 1000009 bytes long; the limit is 65536");
    assert_eq!(d.span(), sp(0, text.len()));
}

// ---- chains ----

#[test]
fn chain_words() {
    use Builtin::*;
    let cases = [
        ("INPUT_CUST", ChainWord::Builtin(Input)),
        ("OUTPUT_CUST", ChainWord::Builtin(Output)),
        ("FORWARD_CUST", ChainWord::Builtin(Forward)),
        ("PREROUTING_CUST", ChainWord::Builtin(Prerouting)),
        ("POSTROUTING_CUST", ChainWord::Builtin(Postrouting)),
        ("INPUT", ChainWord::Builtin(Input)),
        ("POSTROUTING", ChainWord::Builtin(Postrouting)),
        ("MACRO_CUST", ChainWord::Macro),
        ("PRE_C_web", ChainWord::Subgroup { parent: Prerouting, name: "PRE_C_web".into() }),
        ("PST_C_a-1", ChainWord::Subgroup { parent: Postrouting, name: "PST_C_a-1".into() }),
        ("FWD_C_x_y", ChainWord::Subgroup { parent: Forward, name: "FWD_C_x_y".into() }),
        ("INP_C_9", ChainWord::Subgroup { parent: Input, name: "INP_C_9".into() }),
        ("OUT_C_o", ChainWord::Subgroup { parent: Output, name: "OUT_C_o".into() }),
    ];
    for (word, want) in cases {
        let r = ok(&format!("{word} -j ACCEPT"));
        let chain = r.chain.expect("chain");
        assert_eq!(chain.node, want);
        assert_eq!(chain.span, sp(0, word.len()));
    }
    assert!(ok("-o eth0 -j MASQUERADE").chain.is_none());
}

#[test]
fn e003_unknown_chain_with_did_you_mean() {
    let d = check("INPUT_CUTS -j DROP", Code::E003, "unknown chain `INPUT_CUTS`", 1);
    assert_eq!(d.help.as_deref(), Some("did you mean `INPUT_CUST`?"));
    assert_eq!(d.span(), sp(0, 10));
    let d = check("input -j DROP", Code::E003, "unknown chain `input`", 1);
    assert_eq!(d.help.as_deref(), Some("did you mean `INPUT`?"));
    let d = check("PRE_C_ -j DROP", Code::E003, "unknown chain `PRE_C_`", 1);
    assert!(d.help.is_some());
    let (_, diags) = parse(F, "iptables -A INPUT -j DROP");
    assert_eq!(diags[0].code, Code::E003);
    assert_eq!(diags[0].message, "unknown chain `iptables`");
    assert!(diags[0].help.as_deref().is_some_and(|h| h.contains("without `iptables -A CHAIN`")));
}

// ---- matches ----

#[test]
fn the_three_vns3_example_lines() {
    let r = ok("MACRO_CUST -j COPY --from tun0 --to 198.51.100.2 --bidirectional");
    assert_eq!(
        target(&r),
        TargetKind::Copy {
            from: Spanned::new(Value::Lit("tun0".into()), sp(26, 30)),
            to: Spanned::new(NatAddr::Addr(Ipv4Addr::new(198, 51, 100, 2)), sp(36, 48)),
            bidirectional: true,
        }
    );
    assert_eq!(r.target.as_ref().map(|t| t.span), Some(sp(11, 18)));

    let r = ok("-o eth0 -s 198.51.100.0/28 -j MASQUERADE");
    assert_eq!(
        kinds(&r),
        vec![
            MatchKind::OutIface(Spanned::new(Value::Lit("eth0".into()), sp(3, 7))),
            MatchKind::Source(vec![Spanned::new(net([198, 51, 100, 0], 28), sp(11, 26))]),
        ]
    );
    assert_eq!(r.matches[1].span, sp(8, 26));
    assert_eq!(
        target(&r),
        TargetKind::Masquerade { ports: None, flags: NatFlags::NONE, once: false }
    );

    let r =
        ok("PREROUTING_CUST -i eth0 -p tcp -s 0.0.0.0/0 --dport 2222 -j DNAT --to 198.51.100.2:22");
    assert_eq!(r.matches.len(), 4);
    assert_eq!(r.matches[3].kind, MatchKind::DstPort(Spanned::new(lit_port(2222), sp(52, 56))));
    let TargetKind::Dnat { to, flags: NatFlags::NONE } = target(&r) else { panic!("not DNAT") };
    assert_eq!(to.node.addr.node, NatAddr::Addr(Ipv4Addr::new(198, 51, 100, 2)));
    assert_eq!(to.node.ports, Some((22, 22)));
    assert_eq!(to.span, sp(70, 85));
}

#[test]
fn interfaces_long_forms_wildcards_and_variables() {
    let r = ok("FORWARD --in-interface tun+ --out-interface ${wan} -j ACCEPT");
    assert_eq!(
        kinds(&r),
        vec![
            MatchKind::InIface(Spanned::new(Value::Lit("tun+".into()), sp(23, 27))),
            MatchKind::OutIface(Spanned::new(Value::Var("wan".into()), sp(44, 50))),
        ]
    );
    // Aliases are names here; the resolver checks them.
    let r = ok("INPUT -i public -j ACCEPT");
    assert_eq!(
        kinds(&r),
        vec![MatchKind::InIface(Spanned::new(Value::Lit("public".into()), sp(9, 15)))]
    );
}

#[test]
fn negation_before_options() {
    let r = ok("INPUT ! -s 10.0.0.0/8 ! -i eth0 ! -p udp -j DROP");
    assert!(r.matches.iter().all(|m| m.negated));
    assert_eq!(r.matches[0].span, sp(6, 21));
    assert_eq!(
        r.matches[0].kind,
        MatchKind::Source(vec![Spanned::new(net([10, 0, 0, 0], 8), sp(11, 21))])
    );
}

#[test]
fn negation_is_only_a_bang_word_right_before_an_option() {
    // Tabs, several blanks, first on a line without a chain.
    let r = ok("! \t-s 10.0.0.0/8 -p tcp\t!\t--dport 22 -j DROP");
    assert_eq!(r.matches.iter().map(|m| m.negated).collect::<Vec<_>>(), [true, false, true]);
    assert_eq!(r.matches[0].span, sp(0, 16));
    assert_eq!(r.matches[2].span, sp(24, 36));
    // A `!` ending the value before an option is part of that value.
    let r = ok("INPUT -m comment --comment x! -s 10.0.0.0/8 -j DROP");
    assert!(!r.matches[0].negated);
    assert_eq!(r.comment.map(|c| c.node).as_deref(), Some("x!"));
}

/// iptables' dotted netmasks: a contiguous one is its prefix length, another one stays a mask.
#[test]
fn dotted_netmasks_are_prefixes_or_masks() {
    let r = ok("INPUT -s 10.11.12.13/255.255.0.0 -d 10.0.12.0/255.0.255.0 -j DROP");
    let MatchKind::Source(items) = &r.matches[0].kind else { panic!() };
    assert_eq!(nodes(items), vec![net([10, 11, 12, 13], 16)]);
    let MatchKind::Destination(items) = &r.matches[1].kind else { panic!() };
    let masked =
        AddrItem::Masked { addr: Ipv4Addr::new(10, 0, 12, 0), mask: Ipv4Addr::new(255, 0, 255, 0) };
    assert_eq!(nodes(items), vec![masked]);
    let r = ok("INPUT -s 0.0.0.0/0.0.0.0 -d 1.2.3.4/255.255.255.255 -j DROP");
    let MatchKind::Source(items) = &r.matches[0].kind else { panic!() };
    assert_eq!(nodes(items), vec![net([0, 0, 0, 0], 0)]);
    let MatchKind::Destination(items) = &r.matches[1].kind else { panic!() };
    assert_eq!(nodes(items), vec![net([1, 2, 3, 4], 32)]);
}

#[test]
fn address_lists_keep_host_bits_vars_and_names() {
    let r = ok(
        "INPUT --src 100.127.255.193/29,${vns3_overlay_subnet},blacklist,1.2.3.4 --dst fw_set-1 -j DROP",
    );
    let MatchKind::Source(items) = &r.matches[0].kind else { panic!() };
    assert_eq!(
        nodes(items),
        vec![
            net([100, 127, 255, 193], 29),
            AddrItem::Var("vns3_overlay_subnet".into()),
            AddrItem::Name("blacklist".into()),
            net([1, 2, 3, 4], 32),
        ]
    );
    assert_eq!(items[1].span, sp(31, 53));
    assert_eq!(
        kinds(&r)[1],
        MatchKind::Destination(vec![Spanned::new(AddrItem::Name("fw_set-1".into()), sp(78, 86))])
    );
    let r = ok("INPUT --destination 0.0.0.0/0 --source 255.255.255.255/32 -j DROP");
    assert_eq!(r.matches.len(), 2);
}

#[test]
fn protocols_by_name_number_and_case() {
    let cases = [
        ("tcp", Protocol::Tcp),
        ("UDP", Protocol::Udp),
        ("udplite", Protocol::Udplite),
        ("sctp", Protocol::Sctp),
        ("ICMP", Protocol::Icmp),
        ("all", Protocol::All),
        ("0", Protocol::All),
        ("6", Protocol::Tcp),
        ("255", Protocol::Number(255)),
        ("esp", Protocol::Number(50)),
        ("ah", Protocol::Number(51)),
        ("gre", Protocol::Number(47)),
        ("igmp", Protocol::Number(2)),
        ("ipip", Protocol::Number(4)),
        ("ospf", Protocol::Number(89)),
        ("vrrp", Protocol::Number(112)),
    ];
    for (w, want) in cases {
        let r = ok(&format!("INPUT --protocol {w} -j ACCEPT"));
        assert_eq!(kinds(&r), vec![MatchKind::Protocol(Spanned::new(want, sp(17, 17 + w.len())))]);
    }
}

#[test]
fn ports_ranges_open_ends_services_and_variables() {
    let cases = [
        ("22", lit_port(22)),
        ("1024:65535", range(1024, 65535)),
        (":1024", range(0, 1024)),
        ("1024:", range(1024, 65535)),
        ("ssh", lit_port(22)),
        ("HTTPS", lit_port(443)),
        ("${web}", PortSpec::Single(Value::Var("web".into()))),
        ("${lo}:${hi}", PortSpec::Range(Value::Var("lo".into()), Value::Var("hi".into()))),
    ];
    for (p, want) in cases {
        let r = ok(&format!("INPUT -p tcp --dport {p} --source-port {p} -j ACCEPT"));
        assert_eq!(
            kinds(&r)[1],
            MatchKind::DstPort(Spanned::new(want.clone(), sp(21, 21 + p.len())))
        );
        assert!(matches!(&kinds(&r)[2], MatchKind::SrcPort(s) if s.node == want));
    }
    for proto in ["udp", "udplite", "sctp"] {
        ok(&format!("INPUT -p {proto} --sport 53 -j ACCEPT"));
    }
}

#[test]
fn multiport_lists() {
    let r = ok("INPUT -p tcp -m multiport --dports 22,80,8000:8080 --sports 1024: -j ACCEPT");
    let MatchKind::MultiDstPorts(p) = &kinds(&r)[1] else { panic!() };
    assert_eq!(nodes(p), vec![lit_port(22), lit_port(80), range(8000, 8080)]);
    assert_eq!(p[2].span, sp(41, 50));
    let MatchKind::MultiSrcPorts(p) = &kinds(&r)[2] else { panic!() };
    assert_eq!(nodes(p), vec![range(1024, 65535)]);
    // 15 entries is iptables' limit.
    let list: Vec<String> = (1..=15).map(|n| n.to_string()).collect();
    ok(&format!("INPUT -p udp -m multiport --destination-ports {} -j ACCEPT", list.join(",")));
}

#[test]
fn connection_states_in_all_three_spellings() {
    use CtState::*;
    let want = vec![New, Established, Related];
    for line in [
        "INPUT -m conntrack --ctstate NEW,ESTABLISHED,RELATED -j ACCEPT",
        "INPUT -m state --state new,established,related -j ACCEPT",
        "INPUT -ctrack NEW,ESTABLISHED,RELATED -j ACCEPT",
        "INPUT -ctrack NEW, ESTABLISHED,RELATED -j ACCEPT",
    ] {
        let r = ok(line);
        let MatchKind::CtState(s) = &kinds(&r)[0] else { panic!("{line}") };
        assert_eq!(nodes(s), want, "{line}");
    }
    let r = ok("INPUT -ctrack NEW, ESTABLISHED -j ACCEPT");
    let MatchKind::CtState(s) = &kinds(&r)[0] else { panic!() };
    assert_eq!(s[1].span, sp(19, 30));
    let r = ok("INPUT ! -ctrack INVALID,UNTRACKED -j DROP");
    assert!(r.matches[0].negated);
}

#[test]
fn comments_in_every_quoting() {
    let cases = [
        (r#""allow \"web\" \\ ok""#, r#"allow "web" \ ok"#),
        ("'single # quoted'", "single # quoted"),
        ("bare", "bare"),
        (r#""""#, ""),
    ];
    for (written, want) in cases {
        let line = format!("INPUT -m comment --comment {written} -j ACCEPT");
        let r = ok(&line);
        let c = r.comment.expect("comment");
        assert_eq!(c.node, want);
        assert_eq!(c.span, sp(27, 27 + written.len()));
        assert!(r.matches.is_empty(), "a comment is not a match");
    }
}

#[test]
fn iprange_limit_set_icmp_syn() {
    let r = ok(
        "INPUT -m iprange --src-range 10.0.0.1-10.0.0.9 ! --dst-range 10.1.0.0-10.1.0.255 -j ACCEPT",
    );
    assert_eq!(
        kinds(&r),
        vec![
            MatchKind::SrcRange(Spanned::new(
                (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 9)),
                sp(29, 46)
            )),
            MatchKind::DstRange(Spanned::new(
                (Ipv4Addr::new(10, 1, 0, 0), Ipv4Addr::new(10, 1, 0, 255)),
                sp(61, 80)
            )),
        ]
    );
    assert!(r.matches[1].negated);

    let units = [
        ("s", RateUnit::Second),
        ("sec", RateUnit::Second),
        ("minute", RateUnit::Minute),
        ("m", RateUnit::Minute),
        ("h", RateUnit::Hour),
        ("hour", RateUnit::Hour),
        ("d", RateUnit::Day),
        ("day", RateUnit::Day),
    ];
    for (u, unit) in units {
        let r = ok(&format!("INPUT -m limit --limit 5/{u} --limit-burst 10 -j LOG"));
        assert_eq!(kinds(&r), vec![MatchKind::Limit { rate: 5, unit, burst: Some(10) }]);
    }
    let r = ok("INPUT -m limit --limit 7 -j ACCEPT");
    assert_eq!(kinds(&r), vec![MatchKind::Limit { rate: 7, unit: RateUnit::Second, burst: None }]);

    let r = ok("INPUT -m set --match-set blacklist src -m set ! --set office dst -j DROP");
    assert_eq!(
        kinds(&r),
        vec![
            MatchKind::Set { name: Spanned::new("blacklist".into(), sp(25, 34)), dir: SetDir::Src },
            MatchKind::Set { name: Spanned::new("office".into(), sp(54, 60)), dir: SetDir::Dst },
        ]
    );
    assert!(r.matches[1].negated);

    let cases = [
        ("echo-request", IcmpType::Type { kind: 8, code: None }),
        ("Destination-Unreachable", IcmpType::Type { kind: 3, code: None }),
        ("port-unreachable", IcmpType::Type { kind: 3, code: Some(3) }),
        ("any", IcmpType::Any),
        ("8", IcmpType::Type { kind: 8, code: None }),
        ("3/4", IcmpType::Type { kind: 3, code: Some(4) }),
    ];
    for (w, want) in cases {
        let r = ok(&format!("INPUT -p icmp --icmp-type {w} -j ACCEPT"));
        assert_eq!(kinds(&r)[1], MatchKind::IcmpType(Spanned::new(want, sp(26, 26 + w.len()))));
    }

    let r = ok("INPUT -p tcp ! --syn -m tcp -j DROP");
    assert_eq!(kinds(&r)[1], MatchKind::Syn);
    assert!(r.matches[1].negated);
    assert_eq!(r.matches[1].span, sp(13, 20));
}

#[test]
fn tcp_flags_and_tcpmss() {
    let r = ok("FORWARD -p tcp ! --tcp-flags syn,RST,Ack SYN -j DROP");
    assert_eq!(kinds(&r)[1], MatchKind::TcpFlags { mask: 0x16, comp: 0x02 });
    assert!(r.matches[1].negated);
    let r = ok("FORWARD -p tcp --tcp-flags ALL NONE -j DROP");
    assert_eq!(kinds(&r)[1], MatchKind::TcpFlags { mask: 0x3f, comp: 0 });
    let r = ok("FORWARD -p tcp --tcp-flags FIN,PSH,URG FIN,PSH,URG -j DROP");
    assert_eq!(kinds(&r)[1], MatchKind::TcpFlags { mask: 0x29, comp: 0x29 });
    let r = ok("FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu");
    assert_eq!(target(&r), TargetKind::Tcpmss { mss: None });
    let r = ok("POSTROUTING -p tcp --syn -j TCPMSS --set-mss 1360");
    assert_eq!(target(&r), TargetKind::Tcpmss { mss: Some(1360) });

    check(
        "FORWARD -p tcp --tcp-flags SYN,BOGUS SYN -j DROP",
        Code::E008,
        "unknown TCP flag `BOGUS`",
        28,
    );
    check(
        "FORWARD -p tcp --tcp-flags SYN -j DROP",
        Code::E001,
        "`--tcp-flags SYN` needs the flags that must be set, such as SYN (or NONE)",
        28,
    );
    check(
        "FORWARD -p udp --tcp-flags SYN SYN -j DROP",
        Code::E007,
        "`--tcp-flags` needs `-p tcp`, not `-p udp`",
        16,
    );
    check(
        "FORWARD -p tcp --syn -j TCPMSS",
        Code::E010,
        "TCPMSS needs `--clamp-mss-to-pmtu` or `--set-mss`",
        22,
    );
    check(
        "FORWARD -p tcp --syn -j TCPMSS --set-mss 1400 --clamp-mss-to-pmtu",
        Code::E008,
        "TCPMSS takes `--set-mss` or `--clamp-mss-to-pmtu`, not both",
        47,
    );
    check(
        "FORWARD -p tcp --syn -j TCPMSS --set-mss 65536",
        Code::E008,
        "`65536` is not an MSS between 0 and 65535",
        42,
    );
    check(
        "FORWARD -p tcp --syn -j ACCEPT --clamp-mss-to-pmtu",
        Code::E009,
        "`--clamp-mss-to-pmtu` belongs to the TCPMSS target, not ACCEPT",
        32,
    );
}

#[test]
fn protocol_modules_are_accepted_when_they_agree() {
    for (p, m) in [("tcp", "tcp"), ("udp", "udp"), ("icmp", "icmp"), ("sctp", "sctp")] {
        let r = ok(&format!("INPUT -p {p} -m {m} -j ACCEPT"));
        assert_eq!(r.matches.len(), 1, "-m adds no match of its own");
    }
}

// ---- targets ----

#[test]
fn simple_targets_and_jumps() {
    assert_eq!(target(&ok("INPUT -j ACCEPT")), TargetKind::Accept);
    assert_eq!(target(&ok("INPUT --jump DROP")), TargetKind::Drop);
    assert_eq!(target(&ok("FWD_C_x -j RETURN")), TargetKind::Return);
    assert_eq!(target(&ok("INPUT -j REJECT")), TargetKind::Reject { with: None });
    let r = ok("FORWARD -j FWD_C_web-1");
    assert_eq!(target(&r), TargetKind::Jump(Spanned::new("FWD_C_web-1".into(), sp(11, 22))));
    assert_eq!(r.target.map(|t| t.span), Some(sp(8, 22)));
    assert!(ok("INPUT -s 1.2.3.4").target.is_none());
}

#[test]
fn target_options() {
    let r = ok("INPUT -p tcp -j REJECT --reject-with TCP-RESET");
    assert_eq!(
        target(&r),
        TargetKind::Reject { with: Some(Spanned::new(RejectWith::TcpReset, sp(37, 46))) }
    );

    let r = ok("INPUT -j LOG --log-prefix \"fw drop: \" --log-level warning");
    assert_eq!(
        target(&r),
        TargetKind::Log {
            prefix: Some(Spanned::new("fw drop: ".into(), sp(26, 37))),
            level: Some(Spanned::new(LogLevel::Warn, sp(50, 57))),
            flags: crate::ir::LogFlags::NONE,
        }
    );
    let r = ok("INPUT -j LOG --log-uid --log-tcp-options --log-macdecode");
    let TargetKind::Log { flags, .. } = target(&r) else { panic!("a LOG target") };
    use crate::ir::LogFlags;
    assert_eq!(flags, LogFlags::UID.with(LogFlags::TCP_OPTIONS).with(LogFlags::MAC_DECODE));

    let r = ok("POSTROUTING -o eth0 -j SNAT --to-source 1.2.3.4-1.2.3.8:1000-2000 --random");
    let TargetKind::Snat { to, flags: NatFlags::RANDOM } = target(&r) else { panic!() };
    assert_eq!(
        to.node.addr.node,
        NatAddr::Range(Ipv4Addr::new(1, 2, 3, 4), Ipv4Addr::new(1, 2, 3, 8))
    );
    assert_eq!(to.node.ports, Some((1000, 2000)));

    let r =
        ok("PREROUTING -p tcp --dport 80 -j DNAT --to-destination ${plugin_instance_2_ip}:8080");
    let TargetKind::Dnat { to, flags: NatFlags::NONE } = target(&r) else { panic!() };
    assert_eq!(to.node.addr.node, NatAddr::Var("plugin_instance_2_ip".into()));
    assert_eq!(to.node.ports, Some((8080, 8080)));

    let r = ok("PREROUTING -p tcp --dport 80 -j DNAT --to suricata");
    let TargetKind::Dnat { to, .. } = target(&r) else { panic!() };
    assert_eq!(to.node.addr.node, NatAddr::Name("suricata".into()));

    let r = ok("POSTROUTING -j MASQUERADE --to-ports 1024-2048 --random");
    assert_eq!(
        target(&r),
        TargetKind::Masquerade { ports: Some((1024, 2048)), flags: NatFlags::RANDOM, once: false }
    );
    let r = ok("POSTROUTING -j MASQUERADE-ONCE");
    assert_eq!(
        target(&r),
        TargetKind::Masquerade { ports: None, flags: NatFlags::NONE, once: true }
    );
    let r = ok("PREROUTING -p tcp --dport 80 -j REDIRECT --to-ports 8080");
    assert_eq!(
        target(&r),
        TargetKind::Redirect { ports: Some((8080, 8080)), flags: NatFlags::NONE }
    );

    let r = ok("PREROUTING -j NETMAP --to 10.1.0.0/24");
    let net24 = Net { addr: Ipv4Addr::new(10, 1, 0, 0), prefix: 24 };
    assert_eq!(target(&r), TargetKind::Netmap { to: Spanned::new(Value::Lit(net24), sp(26, 37)) });

    let r = ok("MACRO_CUST -j COPY --from ${ovl} --to nids");
    assert_eq!(
        target(&r),
        TargetKind::Copy {
            from: Spanned::new(Value::Var("ovl".into()), sp(26, 32)),
            to: Spanned::new(NatAddr::Name("nids".into()), sp(38, 42)),
            bidirectional: false,
        }
    );
}

// ---- diagnostics, one test per code ----

#[test]
fn e001_bad_address_points_at_the_token_and_says_what_was_expected() {
    let d = check(
        "INPUT_CUST -s 10.199.2.0. -j DROP",
        Code::E001,
        "expected an IPv4 address or network such as 10.0.0.0/24, a ${variable} or a set name \
         after `-s`, found `10.199.2.0.`",
        15,
    );
    assert_eq!(d.span(), sp(14, 25));
    check(
        "INPUT -s 10.1 -j DROP",
        Code::E001,
        "expected an IPv4 address or network such as 10.0.0.0/24, a ${variable} or a set name \
         after `-s`, found `10.1`",
        10,
    );
}

#[test]
fn e001_other_syntax_errors() {
    let d = check(
        "INPUT --comment \"unterminated -j DROP",
        Code::E001,
        "expected a text: \"double quoted\", 'single quoted' or one word after `--comment`, found \
         `\"unterminated`",
        17,
    );
    assert_eq!(d.help.as_deref(), Some("is the closing quote missing?"));
    let d = check(
        "INPUT -s ${foo -j DROP",
        Code::E001,
        "expected an IPv4 address or network such as 10.0.0.0/24, a ${variable} or a set name \
         after `-s`, found `${foo`",
        10,
    );
    assert_eq!(d.help.as_deref(), Some("a variable is written `${name}`"));
    check(
        "INPUT -s 1.2.3.4,",
        Code::E001,
        "expected an IPv4 address or network such as 10.0.0.0/24, a ${variable} or a set name \
         after `-s`, found `1.2.3.4,`",
        10,
    );
    check(
        "INPUT -j",
        Code::E001,
        "`-j` needs a value: expected a target such as ACCEPT, DROP or LOG",
        7,
    );
    check(
        "INPUT -s -j DROP",
        Code::E001,
        "`-s` needs a value: expected an IPv4 address or network such as 10.0.0.0/24, a ${variable} or a set name",
        7,
    );
    check(
        "INPUT -m set --match-set bad",
        Code::E001,
        "`--match-set bad` needs a direction: src or dst",
        26,
    );
    check("INPUT -j DROP !", Code::E001, "`!` must be followed by the option it negates", 15);
    check("!", Code::E001, "`!` must be followed by the option it negates", 1);
    check("INPUT ! foo", Code::E001, "expected an option after `!`, found `foo`", 9);
    let d = check(
        "INPUT -s 1.2.3.4 5.6.7.8 -j DROP",
        Code::E001,
        "unexpected `5.6.7.8`: expected an option such as -s, -p or -j",
        18,
    );
    assert!(d.help.as_deref().is_some_and(|h| h.contains("commas")));
    let d = check(
        "INPUT -p tcp --dport 22,80 -j DROP",
        Code::E001,
        "expected a port or range such as 22, 1024:65535 or ${var} after `--dport`, found `22,80`",
        22,
    );
    assert_eq!(d.help.as_deref(), Some("for a list of ports use `-m multiport --dports 22,80`"));
    let d = check(
        "-s 1.2.3.4 INPUT -j DROP",
        Code::E001,
        "unexpected `INPUT`: expected an option such as -s, -p or -j",
        12,
    );
    assert_eq!(d.help.as_deref(), Some("the chain name must be the first word of the line"));
}

#[test]
fn e002_unknown_option_with_did_you_mean() {
    let d = check(
        "INPUT -p tcp --dprot 22 -j DROP",
        Code::E002,
        "unknown or unsupported option `--dprot`",
        14,
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `--dport`?"));
    assert_eq!(d.span(), sp(13, 20));
    check(
        "INPUT -p tcp --tcp-opt 2 -j DROP",
        Code::E002,
        "unknown or unsupported option `--tcp-opt`",
        14,
    );
    check("INPUT -x -j DROP", Code::E002, "unknown or unsupported option `-x`", 7);
    check("INPUT -g FWD_C_x", Code::E002, "unknown or unsupported option `-g`", 7);
}

/// `--ports` is either port (it was refused as E002 before).
#[test]
fn multiport_ports_is_a_match() {
    let r = ok("INPUT -p tcp -m multiport ! --ports 22,80:90 -j DROP");
    let [_, m] = &r.matches[..] else { panic!("two matches: {:?}", r.matches) };
    assert!(m.negated);
    let MatchKind::MultiPorts(ports) = &m.kind else { panic!("{:?}", m.kind) };
    assert_eq!(nodes(ports), vec![lit_port(22), range(80, 90)]);
}

#[test]
fn e004_unsupported_module() {
    let d =
        check("INPUT -m u32 -j DROP", Code::E004, "unknown or unsupported match module `u32`", 10);
    assert_eq!(d.span(), sp(9, 12));
    check(
        "INPUT -m string -j DROP",
        Code::E004,
        "unknown or unsupported match module `string`",
        10,
    );
    let d = check(
        "INPUT -m multiprot --dports 1 -p tcp -j DROP",
        Code::E004,
        "unknown or unsupported match module `multiprot`",
        10,
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `multiport`?"));
}

#[test]
fn e005_unknown_target() {
    let d = check("INPUT -j accept", Code::E005, "unknown or unsupported target `accept`", 10);
    assert_eq!(d.help.as_deref(), Some("did you mean `ACCEPT`? (targets are case-sensitive)"));
    let d = check("INPUT -j TPROXY", Code::E005, "unknown or unsupported target `TPROXY`", 10);
    assert!(d.help.as_deref().is_some_and(|h| h.contains("; instead: DNAT to the proxy")));
    let d = check("INPUT -j FROB", Code::E005, "unknown or unsupported target `FROB`", 10);
    assert!(d.help.as_deref().is_some_and(|h| h.starts_with("supported targets: ACCEPT,")));
    check("INPUT -j SECMARK", Code::E005, "unknown or unsupported target `SECMARK`", 10);
}

#[test]
fn e006_option_twice_has_a_secondary_label_at_the_first() {
    let d = check(
        "INPUT -s 1.2.3.4 -s 5.6.7.8 -j DROP",
        Code::E006,
        "`-s` given twice in one rule",
        18,
    );
    assert_eq!(d.labels.len(), 2);
    assert_eq!(d.labels[1].span, sp(6, 8));
    assert_eq!(d.labels[1].message, "first given here");
    let d =
        check("INPUT -j DROP --jump ACCEPT", Code::E006, "`--jump` given twice in one rule", 15);
    assert_eq!(d.labels[1].span, sp(6, 8));
}

#[test]
fn e007_missing_module_or_protocol() {
    let d = check(
        "INPUT --dport 22 -j DROP",
        Code::E007,
        "`--dport` needs `-p tcp`, `udp`, `udplite`, `sctp` or `dccp` in the same rule",
        7,
    );
    assert_eq!(d.help.as_deref(), Some("add `-p tcp` before it"));
    check(
        "INPUT -p icmp --sport 22 -j DROP",
        Code::E007,
        "`--sport` needs `-p tcp`, `udp`, `udplite`, `sctp` or `dccp`, not `-p icmp`",
        15,
    );
    check(
        "INPUT ! -p tcp --dport 22 -j DROP",
        Code::E007,
        "`--dport` needs `-p tcp`, `udp`, `udplite`, `sctp` or `dccp` in the same rule",
        16,
    );
    let d = check(
        "INPUT -p tcp --dports 22 -j DROP",
        Code::E007,
        "`--dports` needs `-m multiport`",
        14,
    );
    assert_eq!(d.help.as_deref(), Some("add `-m multiport` before it"));
    check("INPUT --ctstate NEW -j DROP", Code::E007, "`--ctstate` needs `-m conntrack`", 7);
    check("INPUT --state NEW -j DROP", Code::E007, "`--state` needs `-m state`", 7);
    check("INPUT --comment hi -j DROP", Code::E007, "`--comment` needs `-m comment`", 7);
    check(
        "INPUT --src-range 1.1.1.1-1.1.1.2 -j DROP",
        Code::E007,
        "`--src-range` needs `-m iprange`",
        7,
    );
    check("INPUT --limit 5/s -j DROP", Code::E007, "`--limit` needs `-m limit`", 7);
    check("INPUT --match-set x src -j DROP", Code::E007, "`--match-set` needs `-m set`", 7);
    check(
        "INPUT --icmp-type 8 -j DROP",
        Code::E007,
        "`--icmp-type` needs `-p icmp` in the same rule",
        7,
    );
    check("INPUT -p udp --syn -j DROP", Code::E007, "`--syn` needs `-p tcp`, not `-p udp`", 14);
    check("INPUT -p tcp -m udp -j DROP", Code::E007, "`-m udp` does not agree with `-p tcp`", 17);
    check("INPUT -m tcp -j DROP", Code::E007, "`-m tcp` needs `-p tcp` in the same rule", 10);
    check(
        "INPUT -j REJECT --reject-with tcp-reset",
        Code::E007,
        "`--reject-with tcp-reset` needs `-p tcp`",
        31,
    );
}

#[test]
fn e008_values_out_of_range_or_malformed() {
    check(
        "INPUT -p tcp --dport 99999999999999999999 -j DROP",
        Code::E008,
        "port `99999999999999999999` is out of range (0–65535)",
        22,
    );
    check(
        "INPUT -p tcp --dport 65536 -j DROP",
        Code::E008,
        "port `65536` is out of range (0–65535)",
        22,
    );
    let d = check(
        "INPUT -p tcp --dport 90:80 -j DROP",
        Code::E008,
        "port range 90:80 runs backwards",
        22,
    );
    assert_eq!(d.help.as_deref(), Some("write 80:90"));
    check(
        "INPUT -s 10.0.0.256 -j DROP",
        Code::E008,
        "`256` in `10.0.0.256` is not an octet (0–255)",
        10,
    );
    let d = check("INPUT -s 10.0.0.0/33 -j DROP", Code::E008, "prefix length `/33` is over 32", 19);
    assert_eq!(d.span(), sp(18, 20));
    // The address is checked first, and an error in it points at the address alone.
    let d = check(
        "INPUT -s 10.0.0.300/33 -j DROP",
        Code::E008,
        "`300` in `10.0.0.300` is not an octet (0–255)",
        10,
    );
    assert_eq!(d.span(), sp(9, 19));
    check(
        "INPUT -s 010.0.0.1 -j DROP",
        Code::E008,
        "octet `010` of `010.0.0.1` has a leading zero",
        10,
    );
    let d = check("INPUT -p foo -j DROP", Code::E008, "unknown protocol `foo`", 10);
    assert!(d.help.is_some());
    check("INPUT -p 256 -j DROP", Code::E008, "protocol number `256` is over 255", 10);
    let d =
        check("INPUT -p tcp --dport sshh -j DROP", Code::E008, "unknown service name `sshh`", 22);
    assert_eq!(d.help.as_deref(), Some("did you mean `ssh`?"));
    check(
        "INPUT -m state --state NEW,SNAT -j DROP",
        Code::E008,
        "connection state SNAT is not supported",
        28,
    );
    check("INPUT -ctrack DNAT -j DROP", Code::E008, "connection state DNAT is not supported", 15);
    let d = check(
        "INPUT -ctrack ESTABLISHD -j DROP",
        Code::E008,
        "unknown connection state `ESTABLISHD`",
        15,
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `ESTABLISHED`?"));
    check(
        "INPUT -m set --set x src,dst -j DROP",
        Code::E008,
        "matching a set on several directions (`src,dst`) is not supported",
        22,
    );
    check("INPUT -m set --set x both -j DROP", Code::E008, "`both` is not a set direction", 22);
    let list: Vec<String> = (1..=16).map(|n| n.to_string()).collect();
    check(
        &format!("INPUT -p tcp -m multiport --dports {} -j DROP", list.join(",")),
        Code::E008,
        "`--dports` lists more than 15 ports (a range counts as two)",
        36,
    );
    check(
        "INPUT -m limit --limit 5/fortnight -j DROP",
        Code::E008,
        "unknown rate unit `fortnight`",
        26,
    );
    check(
        "INPUT -m limit --limit 0/s -j DROP",
        Code::E008,
        "rate `0` is not a positive number",
        24,
    );
    check(
        "INPUT -m limit --limit 1/s --limit-burst 10001 -j DROP",
        Code::E008,
        "`10001` is not a burst between 0 and 10000",
        42,
    );
    check(
        "INPUT -m iprange --src-range 10.0.0.9-10.0.0.1 -j DROP",
        Code::E008,
        "address range 10.0.0.9-10.0.0.1 runs backwards",
        30,
    );
    check(
        "INPUT -p icmp --icmp-type echo-rquest -j DROP",
        Code::E008,
        "unknown ICMP type `echo-rquest`",
        27,
    );
    check(
        "INPUT -p icmp --icmp-type 300 -j DROP",
        Code::E008,
        "`300` is not an ICMP type (0–255, optionally /CODE)",
        27,
    );
    check(
        "INPUT -j REJECT --reject-with icmp-foo",
        Code::E008,
        "unknown reject type `icmp-foo`",
        31,
    );
    check("INPUT -j LOG --log-level loud", Code::E008, "unknown log level `loud`", 26);
    check(
        "INPUT -j LOG --log-prefix 'a prefix longer than twenty-nine'",
        Code::E008,
        "a log prefix may be at most 29 characters",
        27,
    );
    check(
        "-j SNAT --to 1.2.3.0/24",
        Code::E008,
        "`--to` takes an address or address range, not a network",
        14,
    );
    check("-j DNAT --to 1.2.3.4:0", Code::E008, "port `0` is out of range (1–65535)", 22);
    check(
        "-j NETMAP --to 10.0.0.0/8:80",
        Code::E008,
        "ports in `--to` are only valid for DNAT and SNAT",
        27,
    );
    check(
        "-j NETMAP --to 10.0.0.1-10.0.0.9",
        Code::E008,
        "NETMAP `--to` takes a network such as 10.1.0.0/24",
        16,
    );
    check(
        "-j COPY --from tun0 --to 10.0.0.0/8",
        Code::E008,
        "COPY `--to` takes one address, a ${variable} or a plugin name",
        26,
    );
}

#[test]
fn e009_target_option_for_another_target() {
    let d = check(
        "INPUT -j ACCEPT --to-ports 80",
        Code::E009,
        "`--to-ports` belongs to the MASQUERADE or REDIRECT target, not ACCEPT",
        17,
    );
    assert_eq!(d.help.as_deref(), Some("remove it, or change the target"));
    let d = check(
        "INPUT --log-prefix x",
        Code::E009,
        "`--log-prefix` belongs to the LOG target, but the rule has no `-j`",
        7,
    );
    assert_eq!(d.help.as_deref(), Some("add `-j LOG`"));
    check(
        "-j DNAT --to-source 1.2.3.4",
        Code::E009,
        "`--to-source` belongs to the SNAT target, not DNAT",
        9,
    );
    check(
        "-j DROP --reject-with tcp-reset -p tcp",
        Code::E009,
        "`--reject-with` belongs to the REJECT target, not DROP",
        9,
    );
}

#[test]
fn e010_target_without_its_required_option() {
    let d = check("-j DNAT", Code::E010, "DNAT needs `--to-destination`", 1);
    assert_eq!(d.span(), sp(0, 7));
    assert_eq!(d.help.as_deref(), Some("add `--to-destination 192.0.2.10`"));
    check("POSTROUTING -j SNAT", Code::E010, "SNAT needs `--to-source`", 13);
    check("-j NETMAP", Code::E010, "NETMAP needs `--to`", 1);
    check("MACRO_CUST -j COPY --from tun0", Code::E010, "COPY needs `--to`", 12);
    check("MACRO_CUST -j COPY --to 198.51.100.2", Code::E010, "COPY needs `--from`", 12);
}

#[test]
fn e022_negation_not_allowed() {
    let d = check("INPUT ! -j DROP", Code::E022, "`-j` cannot be negated", 7);
    assert_eq!(d.span(), sp(6, 7));
    check("INPUT ! -m comment --comment x -j DROP", Code::E022, "`-m` cannot be negated", 7);
    let d = check(
        "INPUT -s ! 10.0.0.0/8 -j DROP",
        Code::E022,
        "`!` after `-s` is the old iptables form and is not accepted",
        10,
    );
    assert_eq!(d.help.as_deref(), Some("write `! -s 10.0.0.0/8`"));
}

#[test]
fn one_line_can_carry_several_problems() {
    // `--u32` belongs to the unsupported module: its E004 covers it, no extra E002.
    let (file, diags) = parse(F, "INPUT -m u32 --u32 1 --tcp-flagz -j TPROXY");
    assert!(file.rules.is_empty());
    let codes: Vec<Code> = diags.iter().map(|d| d.code).collect();
    assert_eq!(codes, vec![Code::E004, Code::E005]);
    let (_, diags) = parse(F, "INPUT --tcp-flagz -m u32 --u32 1 -j TPROXY");
    let codes: Vec<Code> = diags.iter().map(|d| d.code).collect();
    assert_eq!(codes, vec![Code::E002, Code::E004, Code::E005]);
}

// ---- hostile input ----

#[test]
fn garbage_never_panics_and_always_reports() {
    let nasty = [
        "!".to_string(),
        "! !".to_string(),
        "-".to_string(),
        "--".to_string(),
        "${".to_string(),
        "INPUT -s ${".to_string(),
        format!("INPUT -s {}", "${".repeat(10_000)),
        format!("INPUT {}", "${".repeat(10_000)),
        format!("INPUT --comment \"{}", "a ".repeat(30_000)),
        "INPUT -p tcp --dport 1:99999999999999999999999".to_string(),
        "INPUT -m limit --limit 99999999999999999999/s".to_string(),
        "INPUT -s 999999999999999999999.1.1.1".to_string(),
        "-j DNAT --to 1.2.3.4:99999999999999999999".to_string(),
        "INPUT -j \u{e9}t\u{e9}".to_string(),
        "\u{1F525} -j DROP".to_string(),
        "INPUT -s '".to_string(),
        "INPUT -p icmp --icmp-type 3/999".to_string(),
    ];
    for text in &nasty {
        let (file, diags) = parse(F, text);
        assert!(file.rules.is_empty(), "{text:.60}");
        assert!(!diags.is_empty(), "{text:.60}");
        for d in &diags {
            assert!(d.span().end as usize <= text.len());
            assert!(d.message.len() < 300, "message too long: {}", d.message);
        }
    }
    let bytes: Vec<u8> =
        (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let text = String::from_utf8_lossy(&bytes);
    let (_, diags) = parse(F, &text);
    assert!(!diags.is_empty());
}

#[test]
fn twenty_thousand_lines_keep_line_numbers_and_offsets() {
    let line =
        "PREROUTING_CUST -i eth0 -p tcp -s 10.0.0.0/8 --dport 2222 -j DNAT --to 198.51.100.2:22\n";
    let text = line.repeat(20_000);
    let (file, diags) = parse(F, &text);
    assert!(diags.is_empty());
    assert_eq!(file.rules.len(), 20_000);
    assert_eq!(file.rules[19_999].line, 20_000);
    assert_eq!(file.rules[19_999].span.start as usize, 19_999 * line.len());
}

#[test]
fn a_large_file_parsed_in_pieces_equals_one_pass() {
    // Over PARALLEL_MIN_BYTES, with a BOM, CRLF and LF endings, comments, blanks, bad lines and
    // a final line without its end, so that piece borders fall on every kind of line.
    let mut text = String::from("\u{feff}");
    let mut i = 0;
    while text.len() < 3 * super::PARALLEL_MIN_BYTES {
        text += &match i % 7 {
            0 => format!(
                "FORWARD_CUST -s 10.0.{}.0/24 -p tcp --dport {} -j ACCEPT\r\n",
                i % 256,
                i % 60000
            ),
            1 => "# a comment\n".to_string(),
            2 => "\n".to_string(),
            3 => format!("FORWARD_CUST -p tcp --dport {} -j ACCPET\n", i % 60000),
            4 => format!(
                "  PREROUTING_CUST -i eth0 -p tcp --dport {} -j DNAT --to 198.51.100.2:22\n",
                i % 60000
            ),
            5 => "FORWARD_CUST --bogus 1 -j DROP\r\n".to_string(),
            _ => format!("POSTROUTING_CUST -o eth0 -s 10.{}.0.0/16 -j MASQUERADE\n", i % 256),
        };
        i += 1;
    }
    text += "INPUT_CUST -p udp --dport 53 -j ACCEPT";
    let whole = super::parse_piece(F, &text, super::pieces(&text, 1)[0]);
    assert!(super::pieces(&text, 4).len() == 4);
    let pieces = parse(F, &text);
    assert_eq!(pieces.0, whole.0);
    assert_eq!(pieces.1, whole.1);
    assert_eq!(whole.0.rules.last().map(|r| r.line), Some(i as u32 + 1));
    assert!(whole.1.len() > 1000);
}

#[test]
fn control_characters_are_found_bytewise_exactly_as_char_is_control() {
    let mut text = String::new();
    for c in (0u32..0x300).filter_map(char::from_u32) {
        text.push('a');
        text.push(c);
    }
    for start in 0..text.len() {
        if !text.is_char_boundary(start) {
            continue;
        }
        let tail = &text[start..];
        let expected =
            tail.char_indices().find(|&(_, c)| c.is_control() && c != '\t').map(|(i, _)| i);
        assert_eq!(super::first_control(tail.as_bytes()), expected, "from {start}");
    }
    // Each character alone in a line of printable ASCII (the lines the quick pass clears).
    for c in (0u32..0x300).filter_map(char::from_u32) {
        let line = format!("FORWARD_CUST -j\tACCEPT{c}x");
        let expected = (c.is_control() && c != '\t').then_some(line.len() - 1 - c.len_utf8());
        assert_eq!(super::first_control(line.as_bytes()), expected, "U+{:04X}", c as u32);
    }
}

/// Every rule line of every rules file in the repository and a set of lines made to end inside
/// a value (an escape at the end of a quoted comment, an option missing its value, a trailing
/// `!`, …), in batches of 1 (each line alone), 2, 3 and 16: the same rules and diagnostics.
#[test]
fn lines_parsed_in_batches_equal_each_line_alone() {
    let mut texts = corpus();
    let tricky = [
        r#"INPUT_CUST -m comment --comment "ends in an escape\"#,
        r#"INPUT_CUST -m comment --comment "a\\" -j DROP"#,
        r#"INPUT_CUST -m comment --comment "half"#,
        "INPUT_CUST -m comment --comment 'half",
        "INPUT_CUST -m comment --comment x! -j DROP",
        "INPUT_CUST -s 10.0.0.1 !",
        "INPUT_CUST -s 10.0.0.1 -j",
        "INPUT_CUST -s",
        "INPUT_CUST -s 10.0.0.1,",
        "INPUT_CUST -s ${",
        "INPUT_CUST -p tcp --syn",
        "INPUT_CUST -m set --set x",
        "INPUT_CUST -m set --set x src",
        "INPUT_CUST -m conntrack --ctstate NEW,",
        "INPUT_CUST -m conntrack --ctstate NEW, ESTABLISHED",
        "INPUT_CUST --bogus a b c",
        "INPUT_CUST -j DNAT --to 198.51.100.2:",
        "PREROUTING_CUST\t-i eth0\t-p tcp --dport 22:\t-j DNAT --to 198.51.100.2",
        "-o eth0 -s 198.51.100.0/28 -j MASQUERADE",
        "FORWARD_CUST ! -s 10.0.0.0/8 -j ACCEPT",
        "FORWARD_CUST -j ACCEPT",
    ];
    // Each tricky line before, between and after good lines, and all of them in a run.
    for t in tricky {
        texts.push(format!("FORWARD_CUST -j ACCEPT\n{t}\nFORWARD_CUST -j DROP\n{t}\n{t}"));
    }
    texts.push(tricky.join("\n"));
    // A quoted text that would go on into the next line if an escape could take the line end.
    texts.push("FORWARD_CUST -m comment --comment \"a\\\n\" -j DROP\nFORWARD_CUST -j DROP".into());
    let lowered = |text: &str, batch: usize| {
        let mut out = Vec::new();
        super::lower_piece_in(F, text, 0, super::pieces(text, 1)[0], batch, |r| {
            out.push(r.map_err(|f| f.diags))
        });
        out
    };
    for text in &texts {
        let alone = lowered(text, 1);
        for batch in [2, 3, 16] {
            assert_eq!(lowered(text, batch), alone, "batches of {batch}:\n{text}");
        }
    }
}

/// Good adjacent lines are parsed in one call, a row per line (the batch is not quietly
/// falling back to one call a line).
#[test]
fn good_adjacent_lines_parse_in_one_call() {
    let text = "MACRO_CUST -j COPY --from tun0 --to 198.51.100.2 --bidirectional\n\
                PREROUTING_CUST -i eth0 -p tcp --dport 1024 -j DNAT --to 198.51.100.2:22\n\
                -o eth0 -s 10.0.0.0/24 -j MASQUERADE\n\
                FORWARD_CUST -m comment --comment \"a \\\" b\" -p tcp --syn -j ACCEPT\n\
                FORWARD_CUST -m set --set web src -j ACCEPT";
    let ctx = super::item::LineCtx { file: F, base: 0, text };
    let rows: Vec<_> = super::lower::parse_rows(ctx).expect("one call").collect();
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(rows.iter().map(|r| r.as_str()).collect::<Vec<_>>(), lines);
}

#[test]
fn first_words_count_builtin_lines_and_find_subgroups() {
    let text = "\u{feff}FORWARD_CUST -j ACCEPT\r\n# FORWARD_CUST -j DROP\n  FORWARD -j DROP\n\
                INPUT_CUST -j DROP\nFWD_C_web -p tcp -j ACCEPT\n-o eth0 -j MASQUERADE\n\
                MACRO_CUST -j MASQUERADE\nPOSTROUTING_CUST\t-j MASQUERADE\nFORWRD_CUST -j DROP\n\
                PRE_C_bad -j\u{7} DROP\n";
    let words = super::first_words(F, text);
    let mut expected = [0; 5];
    expected[Builtin::Forward as usize] = 2;
    expected[Builtin::Input as usize] = 1;
    expected[Builtin::Postrouting as usize] = 1;
    assert_eq!(words.builtin_lines, expected);
    let start = text.find("FWD_C_web").expect("in the text");
    assert_eq!(
        words.subgroups,
        [("FWD_C_web".to_string(), Builtin::Forward, sp(start, start + "FWD_C_web".len()))]
    );
}

/// The resolver reads the first words of a large file's pieces on their own threads: the
/// pieces' counts, added, and their subgroups, in piece order, are the whole file's.
#[test]
fn first_words_of_the_pieces_add_up_to_the_files() {
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 600 * 1024 {
        text += &match i % 6 {
            0 => format!("FWD_C_g{} -p tcp -j ACCEPT\n", i % 977),
            1 => format!("PRE_C_bad{i} -j\u{7} DROP\n"),
            2 => "# FORWARD_CUST -j DROP\n".to_string(),
            3 => format!("  FORWARD -s 10.0.{}.0/24 -j DROP\r\n", i % 256),
            4 => format!("POST_C_n{} -o eth0 -j MASQUERADE\n", i % 3001),
            _ => "INPUT_CUST -j ACCEPT\n".to_string(),
        };
        i += 1;
    }
    let whole = super::first_words(F, &text);
    assert!(whole.subgroups.len() > 1000, "{}", whole.subgroups.len());
    for threads in 2..=5 {
        let pieces = super::pieces(&text, threads);
        assert_eq!(pieces.len(), threads);
        let mut sum = super::FirstWords::default();
        for p in pieces {
            let part = super::first_words_in(F, &text, p);
            sum.builtin_lines.iter_mut().zip(part.builtin_lines).for_each(|(a, b)| *a += b);
            sum.subgroups.extend(part.subgroups);
        }
        assert_eq!(sum, whole, "{threads} pieces");
    }
}

#[test]
fn marks_and_mark_targets() {
    use super::ast::MarkOp;
    let r = ok("FORWARD -m mark ! --mark 0x10/0xff -j DROP");
    assert_eq!(kinds(&r)[0], MatchKind::Mark { ct: false, value: 0x10, mask: 0xff });
    assert!(r.matches[0].negated);
    // strtoul base 0, as iptables: decimal, 0x hex, a leading 0 octal.
    let r = ok("FORWARD -m connmark --mark 010 -j DROP");
    assert_eq!(kinds(&r)[0], MatchKind::Mark { ct: true, value: 8, mask: u32::MAX });
    // Each `--mark` belongs to the last of its modules loaded before it.
    let r = ok("FORWARD -m mark --mark 1 -m connmark --mark 2 -j DROP");
    assert_eq!(kinds(&r)[0], MatchKind::Mark { ct: false, value: 1, mask: u32::MAX });
    assert_eq!(kinds(&r)[1], MatchKind::Mark { ct: true, value: 2, mask: u32::MAX });
    let xmark = |line: &str| match target(&ok(line)) {
        TargetKind::Mark { op, .. } => op,
        other => panic!("{other:?}"),
    };
    let all = u32::MAX;
    assert_eq!(xmark("FORWARD -j MARK --set-mark 5"), MarkOp::Xmark { value: 5, mask: all });
    assert_eq!(
        xmark("FORWARD -j MARK --set-mark 0x100/0xff"),
        MarkOp::Xmark { value: 0x100, mask: 0x1ff }
    );
    assert_eq!(xmark("FORWARD -j MARK --set-xmark 0x1/0x3"), MarkOp::Xmark { value: 1, mask: 3 });
    assert_eq!(xmark("FORWARD -j MARK --and-mark 0xf"), MarkOp::Xmark { value: 0, mask: !0xf });
    assert_eq!(xmark("FORWARD -j MARK --or-mark 0xf"), MarkOp::Xmark { value: 0xf, mask: 0xf });
    assert_eq!(xmark("FORWARD -j MARK --xor-mark 0xf"), MarkOp::Xmark { value: 0xf, mask: 0 });
    assert_eq!(xmark("FORWARD -j CONNMARK --save-mark"), MarkOp::Save { nfmask: all, ctmask: all });
    assert_eq!(
        xmark("FORWARD -j CONNMARK --restore-mark --mask 0xff"),
        MarkOp::Restore { nfmask: 0xff, ctmask: 0xff }
    );
    assert_eq!(
        xmark("FORWARD -j CONNMARK --save-mark --nfmask 0xf --ctmask 0xf0"),
        MarkOp::Save { nfmask: 0xf, ctmask: 0xf0 }
    );

    check(
        "FORWARD --mark 1 -j DROP",
        Code::E007,
        "`--mark` needs `-m mark` or `-m connmark` before it",
        9,
    );
    check(
        "FORWARD --mark 1 -m mark -j DROP",
        Code::E007,
        "`--mark` needs `-m mark` or `-m connmark` before it",
        9,
    );
    check(
        "FORWARD -m mark --mark 1 --mark 2 -j DROP",
        Code::E006,
        "`--mark` given twice in one rule",
        26,
    );
    check("FORWARD -m mark --mark 0x1g -j DROP", Code::E008, "`0x1g` is not a 32-bit number", 24);
    check(
        "FORWARD -m mark --mark 4294967296 -j DROP",
        Code::E008,
        "`4294967296` is not a 32-bit number",
        24,
    );
    check(
        "FORWARD -j MARK",
        Code::E010,
        "MARK needs `--set-mark`, `--set-xmark`, `--and-mark`, `--or-mark` or `--xor-mark`",
        9,
    );
    check(
        "FORWARD -j MARK --set-mark 1 --or-mark 2",
        Code::E008,
        "MARK takes one of its operations, not both `--set-mark` and `--or-mark`",
        30,
    );
    check(
        "FORWARD -j MARK --save-mark",
        Code::E009,
        "`--save-mark` belongs to the CONNMARK target, not MARK",
        17,
    );
    check("FORWARD -j MARK --and-mark 1/2", Code::E008, "`--and-mark` takes no /MASK", 28);
    check(
        "FORWARD -j CONNMARK --set-mark 1 --mask 0xff",
        Code::E008,
        "`--mask` goes only with `--save-mark` or `--restore-mark`",
        34,
    );
    check(
        "FORWARD -j CONNMARK --save-mark --mask 1 --ctmask 2",
        Code::E008,
        "`--mask` and `--ctmask` both set the masks",
        42,
    );
}

#[test]
fn header_matches() {
    use super::ast::HeaderKey as H;
    use crate::ir::Cmp;
    let header = |line: &str| match kinds(&ok(line)).into_iter().find_map(|k| match k {
        MatchKind::Header { key, cmp } => Some((key, cmp)),
        _ => None,
    }) {
        Some(h) => h,
        None => panic!("{line}: no header match"),
    };
    assert_eq!(header("INPUT -m length --length 100:200"), (H::Length, Cmp::Range(100, 200)));
    assert_eq!(header("INPUT -m length --length 100:"), (H::Length, Cmp::Range(100, 65535)));
    assert_eq!(header("INPUT -m length --length :100"), (H::Length, Cmp::Range(0, 100)));
    assert_eq!(header("INPUT -m ttl --ttl-gt 0x10"), (H::Ttl, Cmp::Gt(16)));
    assert_eq!(header("INPUT -m ttl --ttl-lt 5"), (H::Ttl, Cmp::Lt(5)));
    assert_eq!(header("INPUT -m pkttype --pkt-type Multicast"), (H::PktType, Cmp::Range(2, 2)));
    assert_eq!(header("INPUT ! -f"), (H::Fragment, Cmp::Range(1, 1)));
    assert_eq!(header("INPUT --fragment"), (H::Fragment, Cmp::Range(1, 1)));
    assert_eq!(header("INPUT -m dscp --dscp-class af41"), (H::Dscp, Cmp::Range(0x22, 0x22)));
    assert_eq!(header("INPUT -p tcp -m ecn --ecn-tcp-ece"), (H::EcnTcpEce, Cmp::Range(1, 1)));
    assert_eq!(header("INPUT -p esp -m esp --espspi 7"), (H::EspSpi, Cmp::Range(7, 7)));
    assert_eq!(
        header("INPUT -p ah -m ah --ahspi 1:4294967295"),
        (H::AhSpi, Cmp::Range(1, u32::MAX))
    );
    assert_eq!(header("INPUT -p tcp -m tcpmss --mss 536"), (H::Mss, Cmp::Range(536, 536)));

    check("INPUT -m ttl ! --ttl-gt 5", Code::E022, "`--ttl-gt` cannot be negated", 14);
    check(
        "INPUT -m length --length 1:2:3",
        Code::E001,
        "expected a length or range such as 1400:65535 after `--length`, found `1:2:3`",
        26,
    );
    check("INPUT --length 5", Code::E007, "`--length` needs `-m length`", 7);
    check("INPUT -m pkttype --pkt-type host", Code::E008, "unknown packet type `host`", 29);
    check("INPUT -p esp -m ah --ahspi 1", Code::E007, "`--ahspi` needs `-p ah`, not `-p 50`", 20);
}

#[test]
fn conntrack_options() {
    use crate::ir::Cmp;
    let r = ok("FORWARD -m conntrack ! --ctstatus assured,SEEN_REPLY,none -j DROP");
    assert_eq!(kinds(&r)[0], MatchKind::CtStatus(0x06));
    assert!(r.matches[0].negated);
    let r = ok("FORWARD -m conntrack --ctstate snat,DNAT -j DROP");
    assert_eq!(kinds(&r)[0], MatchKind::CtStatus(0x30));
    let r = ok("FORWARD -m conntrack --ctproto udp ! --ctrepldstport 1024: -j DROP");
    assert_eq!(
        kinds(&r)[0],
        MatchKind::Header { key: HeaderKey::CtProto, cmp: Cmp::Range(17, 17) }
    );
    assert_eq!(
        kinds(&r)[1],
        MatchKind::Header {
            key: HeaderKey::CtPort { repl: true, dst: true },
            cmp: Cmp::Range(1024, 65535)
        }
    );
    assert!(r.matches[1].negated);
    let r = ok("FORWARD -m conntrack --ctorigsrc 10.1.2.3/255.255.0.0 -j DROP");
    let net = "10.1.0.0/16".parse().expect("a network");
    assert_eq!(kinds(&r)[0], MatchKind::CtAddr { repl: false, dst: false, net });
    let r = ok("FORWARD -m conntrack --ctrepldst 10.1.2.3 --ctdir reply --ctexpire :60 -j DROP");
    let net = "10.1.2.3/32".parse().expect("a network");
    assert_eq!(kinds(&r)[0], MatchKind::CtAddr { repl: true, dst: true, net });
    assert_eq!(kinds(&r)[1], MatchKind::Header { key: HeaderKey::CtDir, cmp: Cmp::Range(1, 1) });
    assert_eq!(
        kinds(&r)[2],
        MatchKind::Header { key: HeaderKey::CtExpire, cmp: Cmp::Range(0, 60) }
    );

    check(
        "INPUT -m conntrack --ctstate NEW,SNAT -j DROP",
        Code::E008,
        "`--ctstate` mixes connection states with SNAT/DNAT, which nft reads from another \
         field (`ct status`): one rule cannot match either",
        30,
    );
    check(
        "INPUT -m conntrack ! --ctstate SNAT -j DROP",
        Code::E008,
        "`! --ctstate SNAT|DNAT` cannot be translated: it also matches packets without a \
         connection, which nft's `ct status` never matches",
        20,
    );
    check(
        "INPUT -m conntrack ! --ctproto tcp --ctorigsrcport 80 -j DROP",
        Code::E008,
        "`--ctorigsrcport` needs `--ctproto tcp` (or udp, udplite, sctp, dccp) in the same \
         rule: nft reads a conntrack port only for a known protocol",
        36,
    );
    check(
        "INPUT -m conntrack --ctstatus NONE -j DROP",
        Code::E008,
        "`--ctstatus NONE` sets no status bit: it matches no connection",
        31,
    );
    check(
        "INPUT -m conntrack --ctreplsrc 10.0.0.0/255.0.0.255 -j DROP",
        Code::E008,
        "mask `255.0.0.255` is not contiguous",
        32,
    );
    check(
        "INPUT -m conntrack ! --ctdir REPLY -j DROP",
        Code::E022,
        "`--ctdir` cannot be negated",
        20,
    );
}

#[test]
fn mac_statistic_owner_addrtype() {
    let r = ok("INPUT -m mac ! --mac-source 00:1A:2b:3c:4d:5e -j DROP");
    assert_eq!(kinds(&r)[0], MatchKind::Mac([0x00, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e]));
    assert!(r.matches[0].negated);
    let r = ok("INPUT -m statistic --mode random ! --probability 0.25 -j DROP");
    assert!(matches!(
        kinds(&r)[0],
        MatchKind::Statistic { nth: false, probability: Some(536_870_912), every: None, .. }
    ));
    assert!(r.matches[0].negated);
    let r = ok("INPUT -m statistic --mode nth --every 3 --packet 2 -j DROP");
    assert!(matches!(
        kinds(&r)[0],
        MatchKind::Statistic { nth: true, probability: None, every: Some(3), packet: Some(2), .. }
    ));
    let r = ok("OUTPUT -m owner --uid-owner 1000-1999 -j DROP");
    assert_eq!(kinds(&r)[0], MatchKind::Owner { gid: false, lo: 1000, hi: 1999 });
    let r = ok("FORWARD -m addrtype --src-type local,Broadcast --limit-iface-in -j DROP");
    assert_eq!(
        kinds(&r)[0],
        MatchKind::AddrType { dst: false, types: (1 << 2) | (1 << 3), iface: Some(false) }
    );

    check(
        "INPUT -m mac --mac-source 00:11:22:33:44 -j DROP",
        Code::E008,
        "`00:11:22:33:44` is not a MAC address",
        27,
    );
    check(
        "INPUT -m statistic --mode Random -j DROP",
        Code::E008,
        "unknown statistic mode `Random`",
        27,
    );
    check(
        "INPUT -m statistic --every 2 -j DROP",
        Code::E007,
        "`--every` needs `--mode nth` in the same rule",
        20,
    );
    check(
        "OUTPUT -m owner --uid-owner 5-4 -j DROP",
        Code::E008,
        "range `5-4` is empty: the first id is larger",
        29,
    );
    check(
        "FORWARD -m addrtype --dst-type LOCAL --limit-iface-in --limit-iface-out -j DROP",
        Code::E008,
        "`--limit-iface-in` and `--limit-iface-out` cannot go together",
        55,
    );
}

#[test]
fn nflog_target() {
    let r = ok("INPUT -j NFLOG --nflog-group 0x5 --nflog-prefix \"in: \" --nflog-size 128");
    let TargetKind::Nflog { group, prefix, range, size, threshold } = target(&r) else {
        panic!("not NFLOG")
    };
    assert_eq!((group, range, size, threshold), (Some(5), None, Some(128), None));
    assert_eq!(prefix.map(|p| p.node).as_deref(), Some("in: "));
    let r = ok("INPUT -j NFLOG --nflog-range 64 --nflog-threshold 10");
    assert!(matches!(
        target(&r),
        TargetKind::Nflog { group: None, range: Some(64), threshold: Some(10), .. }
    ));
    check(
        "INPUT -j ACCEPT --nflog-size 1",
        Code::E009,
        "`--nflog-size` belongs to the NFLOG target, not ACCEPT",
        17,
    );
}

#[test]
fn nat_flags() {
    let flags = |line: &str| match target(&ok(line)) {
        TargetKind::Dnat { flags, .. }
        | TargetKind::Snat { flags, .. }
        | TargetKind::Masquerade { flags, .. }
        | TargetKind::Redirect { flags, .. } => flags,
        other => panic!("{other:?}"),
    };
    assert_eq!(flags("POSTROUTING -j MASQUERADE --random-fully"), NatFlags::FULLY_RANDOM);
    assert_eq!(
        flags("POSTROUTING -j SNAT --to-source 10.0.0.1 --persistent --random"),
        NatFlags::RANDOM.with(NatFlags::PERSISTENT)
    );
    assert_eq!(flags("PREROUTING -j DNAT --to 10.0.0.1 --persistent"), NatFlags::PERSISTENT);
    assert_eq!(flags("PREROUTING -p tcp -j REDIRECT --random"), NatFlags::RANDOM);
    check(
        "PREROUTING -j REDIRECT --random-fully",
        Code::E009,
        "`--random-fully` belongs to the SNAT or MASQUERADE target, not REDIRECT",
        24,
    );
}

/// `-m time` values as libxt_time reads them: dates in UTC, times of day, weekdays.
#[test]
fn time_values() {
    let kinds_of = |line: &str| kinds(&ok(line));
    use super::ast::TimeOpt as T;
    assert_eq!(
        kinds_of("INPUT -m time --datestart 2024-01-01 --datestop 2024-12-31T23:59:59 -j DROP"),
        vec![
            MatchKind::Time(T::DateStart(1_704_067_200)),
            MatchKind::Time(T::DateStop(1_735_689_599))
        ]
    );
    assert_eq!(
        kinds_of("INPUT -m time --datestart 1970 --timestart 09:30 --timestop 17:00:05 -j DROP"),
        vec![
            MatchKind::Time(T::DateStart(0)),
            MatchKind::Time(T::TimeStart(34_200)),
            MatchKind::Time(T::TimeStop(61_205))
        ]
    );
    assert_eq!(
        kinds_of("INPUT -m time --weekdays Mon,sunday,3 --kerneltz -j DROP"),
        vec![MatchKind::Time(T::WeekDays(0b1000_1010)), MatchKind::Time(T::KernelTz)]
    );
    // libxt_time reads a day by its first two letters.
    assert_eq!(
        kinds_of("INPUT -m time --weekdays Sa,Su,Tu,Th --kerneltz -j DROP"),
        vec![MatchKind::Time(T::WeekDays(0b1101_0100)), MatchKind::Time(T::KernelTz)]
    );
    for bad in [
        "--datestart 2024-02-30x",
        "--timestart 9",
        "--timestop 12:60",
        "--weekdays 8",
        "--weekdays S",
    ] {
        assert_eq!(err(&format!("INPUT -m time {bad} -j DROP")).code, Code::E008, "{bad}");
    }
}

#[test]
fn policy_options() {
    let r = ok("FORWARD -m policy --dir in -j ACCEPT");
    assert_eq!(kinds(&r)[0], MatchKind::Policy { out: false, none: false });
    let r = ok("FORWARD -m policy --pol none --dir out -j ACCEPT");
    assert_eq!(kinds(&r)[0], MatchKind::Policy { out: true, none: true });
    // `--mode` belongs to the last of statistic and policy loaded before it.
    let r = ok("FORWARD -m policy --dir in -m statistic --mode nth --every 2 --packet 0 -j ACCEPT");
    assert!(matches!(kinds(&r)[1], MatchKind::Statistic { nth: true, .. }));
    check(
        "INPUT -m policy --dir in --reqid 1 -j ACCEPT",
        Code::E002,
        "unknown or unsupported option `--reqid`",
        26,
    );
    check(
        "INPUT -m policy --dir in --mode tunnel -j ACCEPT",
        Code::E002,
        "unknown or unsupported option `--mode`",
        26,
    );
    check("INPUT -m policy --dir In -j ACCEPT", Code::E008, "unknown policy direction `In`", 23);
    check(
        "INPUT -m policy -j ACCEPT",
        Code::E007,
        "`-m policy` needs `--dir in` or `--dir out`",
        7,
    );
}

#[test]
fn meter_options() {
    use crate::syntax::ast::MeterSpec;
    let spec = |line: &str| -> MeterSpec {
        match kinds(&ok(line)).into_iter().find_map(|k| match k {
            MatchKind::Meter(m) => Some(*m),
            _ => None,
        }) {
            Some(m) => m,
            None => panic!("{line}: no meter"),
        }
    };
    let m = spec(
        "INPUT -p tcp -m hashlimit --hashlimit-above 3/min --hashlimit-mode srcip,dstport \
         --hashlimit-srcmask 24 --hashlimit-name ssh --hashlimit-htable-expire 60000 -j DROP",
    );
    let limit = m.limit.as_ref().expect("a hashlimit");
    assert_eq!((limit.rate, limit.unit, limit.burst, limit.expire_s), (3, RateUnit::Minute, 5, 60));
    assert_eq!(limit.name.node, "ssh");
    assert_eq!((m.over, m.src, m.dst, m.sport, m.dport), (true, Some(24), None, false, true));
    assert_eq!(m.written.len(), 5);
    let m = spec(
        "INPUT -m hashlimit --hashlimit 1/s --hashlimit-burst 9 --hashlimit-mode dstip --hashlimit-name x",
    );
    assert_eq!((m.over, m.src, m.dst), (false, None, Some(32)));
    assert_eq!(m.limit.map(|l| l.burst), Some(9));
    let m = spec("INPUT -m connlimit ! --connlimit-upto 4 --connlimit-mask 0 --connlimit-daddr");
    assert_eq!((m.count, m.over, m.src, m.dst), (4, true, None, Some(0)));
    let m = spec("INPUT -m connlimit ! --connlimit-above 4");
    assert_eq!((m.count, m.over, m.src, m.dst), (4, false, Some(32), None));
    check(
        "INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-name a",
        Code::E008,
        "`-m hashlimit` without `--hashlimit-mode` cannot be translated exactly: it is one \
         bucket for all packets, refilled whole after `--hashlimit-htable-expire` idle, which \
         nft's `limit` is not",
        7,
    );
    check(
        "INPUT -m connlimit --connlimit-mask 8",
        Code::E007,
        "`-m connlimit` needs `--connlimit-above` or `--connlimit-upto`",
        7,
    );
}

/// Every rules file of the repository (cases and examples), as text.
fn corpus() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = Vec::new();
    for dir in ["tests/cases/ok", "tests/cases/err", "tests/cases/lint", "examples"] {
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).expect("case folder") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rules") {
                    // A case that is not UTF-8 never reaches the parser; the rest as read.
                    let bytes = std::fs::read(&path).expect("rules file");
                    texts.push(String::from_utf8_lossy(&bytes).into_owned());
                }
            }
        }
    }
    assert!(texts.len() >= 50, "{} rules files", texts.len());
    texts
}

/// The plain path against the parser, line by line: every line it takes lowers to the same rule
/// or the same diagnostics. `None` when the plain path leaves the line to the parser.
fn plain_differs(line: &str) -> Option<bool> {
    let ctx = super::item::LineCtx { file: F, base: 0, text: line };
    let plain = super::plain::lower(ctx)?;
    let show = |r: Result<super::ast::Rule, super::Failed>| format!("{r:?}");
    Some(show(super::checked(plain, 1)) != show(super::lower_line(ctx, 1)))
}

/// Each line of the repository's rules files that the plain path takes (most of them) lowers as
/// the parser lowers it.
#[test]
fn the_plain_path_lowers_corpus_lines_as_the_parser_does() {
    let (mut taken, mut all) = (0, 0);
    for text in corpus() {
        for line in text.lines().map(|l| l.trim_matches([' ', '\t', '\r'])) {
            if line.is_empty()
                || line.starts_with('#')
                || super::first_control(line.as_bytes()).is_some()
            {
                continue;
            }
            all += 1;
            if let Some(differs) = plain_differs(line) {
                assert!(!differs, "the plain path lowers differently: {line}");
                taken += 1;
            }
        }
    }
    assert!(taken * 3 > all, "the plain path took {taken} of {all} lines");
}

/// Lines made of the plain path's options with values of every shape, good and bad (a fixed
/// pseudo-random sequence; mostly a value of the option's kind, sometimes any): each line it
/// takes lowers as the parser lowers it; it takes many.
#[test]
fn the_plain_path_lowers_generated_lines_as_the_parser_does() {
    let chains = [
        "",
        "FORWARD_CUST",
        "INPUT_CUST",
        "PREROUTING_CUST",
        "POSTROUTING_CUST",
        "MACRO_CUST",
        "OUTPUT",
        "FWD_C_web",
        "BOGUS",
        "-x",
        "!",
    ];
    let iface = [
        "eth0", "eth+", "+", "-x", "${v}", "${}", "${a-b}", "eth0.5", "eth0++", "a+b", ".x", "é",
        "*", "eth*", "a\\b", "a:b",
    ];
    let addrs = [
        "10.0.0.0/8",
        "10.0.0.1",
        "1.2.3",
        "10.0.0.0/255.0.0.0",
        "10.0.0.0/255.0.255.0",
        "10.0.0.0/33",
        "01.2.3.4",
        "256.1.1.1",
        "10.0.0.0/",
        "web",
        "web,10.0.0.1",
        "a,,b",
        "_x",
        "1web",
        "${v},10.0.0.0/24",
        "x.y",
        "10.0.0.1!",
        "10.0.0.0/08",
    ];
    let protos = ["tcp", "TCP", "udp", "icmp", "999", "6", "all", "bogus", "ip-x", "_"];
    let ports = [
        "22",
        "1:2",
        "2:1",
        ":5",
        "5:",
        ":",
        "1:1",
        "ssh",
        "nosuchsvc",
        "70000",
        "${p}",
        "${p}:ssh",
        "a:b",
        "0",
        "1:2:3",
        "8a",
    ];
    let states = [
        "NEW",
        "NEW,ESTABLISHED",
        "new,bogus",
        "SNAT",
        "DNAT,NEW",
        "NEW,",
        "dnat",
        "INVALID,UNTRACKED,RELATED",
    ];
    let modules = ["conntrack", "tcp", "mark", "bogusmod", "comment", "state", "multiport"];
    let targets = [
        "ACCEPT",
        "DROP",
        "DNAT",
        "SNAT",
        "LOG",
        "MASQUERADE",
        "COPY",
        "REJECT",
        "FWD_C_web",
        "nope",
        "NETMAP",
    ];
    let tos = [
        "1.2.3.4:80",
        "1.2.3.4-1.2.3.9:1-2",
        "1.2.3.9-1.2.3.4",
        "1.2.3.4:0",
        "1.2.3.4:2-1",
        "1.2.3.4/24:80",
        "198.51.100.2",
        "plugin-a",
        "${d}:22",
        "1.2.3.4/24",
        "eth0",
    ];
    let options: [(&str, &[&str]); 20] = [
        ("-i", &iface),
        ("-o", &iface),
        ("--from", &iface),
        ("-s", &addrs),
        ("--dst", &addrs),
        ("-p", &protos),
        ("--ctproto", &protos),
        ("--sport", &ports),
        ("--dport", &ports),
        ("--ctstate", &states),
        ("--state", &states),
        ("-ctrack", &states),
        ("-m", &modules),
        ("-j", &targets),
        ("--to", &tos),
        ("--to-destination", &tos),
        ("--syn", &[]),
        ("--bidirectional", &[]),
        ("-f", &[]),
        ("!", &[]),
    ];
    let any: Vec<&str> = options.iter().flat_map(|(_, v)| v.iter().copied()).collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut taken = 0;
    for _ in 0..20_000 {
        let mut words = vec![chains[next(chains.len())]];
        for _ in 0..1 + next(6) {
            let (name, pool) = options[next(options.len())];
            words.push(name);
            match next(16) {
                0 => {}
                1 => words.push(any[next(any.len())]),
                _ if !pool.is_empty() => words.push(pool[next(pool.len())]),
                _ => {}
            }
        }
        let line = words.join(if next(4) == 0 { " \t " } else { " " });
        let line = line.trim_matches([' ', '\t']);
        if line.is_empty() {
            continue;
        }
        if let Some(differs) = plain_differs(line) {
            assert!(!differs, "the plain path lowers differently: {line}");
            taken += 1;
        }
    }
    assert!(taken > 3_000, "the plain path took {taken} lines");
}

#[test]
fn connlabel_label_as_written_and_set_refused() {
    let r = ok("FORWARD -m connlabel --label \"40\" -j ACCEPT");
    assert!(
        matches!(&kinds(&r)[..], [MatchKind::ConnLabel(l)] if l.node == "40"),
        "{:?}",
        kinds(&r)
    );
    let r = ok("FORWARD -m connlabel ! --label 0x7f -j ACCEPT");
    assert!(r.matches[0].negated);
    // `--set` is connlabel's flag after `-m connlabel`, not set's `--set NAME DIR`.
    let d = check(
        "FORWARD -m connlabel --label 40 --set -j ACCEPT",
        Code::E008,
        "`-m connlabel --set` cannot be translated exactly",
        33,
    );
    assert!(d.help.as_deref().is_some_and(|h| h.contains("side effect")), "{d:#?}");
    // Without `-m connlabel` it is still set's option missing its value.
    check(
        "FORWARD -m set --set -j ACCEPT",
        Code::E001,
        "`--set` needs a value: expected a set name followed by src or dst",
        16,
    );
}

#[test]
fn interface_names_take_star_and_inner_plus_literally() {
    for (line, name) in [
        ("FORWARD -i * -j ACCEPT", "*"),
        ("FORWARD -o eth*foo -j ACCEPT", "eth*foo"),
        ("FORWARD -i eth*foo*+ -j ACCEPT", "eth*foo*+"),
        ("FORWARD -o eth++ -j ACCEPT", "eth++"),
        ("FORWARD -i a+b -j ACCEPT", "a+b"),
    ] {
        let r = ok(line);
        let v = match &kinds(&r)[..] {
            [MatchKind::InIface(v) | MatchKind::OutIface(v)] => v.node.clone(),
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(v, Value::Lit(name.to_string()), "{line}");
    }
}
