use super::*;
use crate::diagnostic::Code;

fn fmt(text: &str) -> String {
    match format(FileId(0), text) {
        Ok(f) => f.text,
        Err(d) => panic!("{text}: {d:?}"),
    }
}

#[test]
fn orders_options_and_uses_short_spellings() {
    assert_eq!(
        fmt(
            "INPUT_CUST   --jump ACCEPT --protocol tcp --destination-port 22 --source 10.0.0.0/8 --in-interface eth0\n"
        ),
        "INPUT_CUST -i eth0 -s 10.0.0.0/8 -p tcp --dport 22 -j ACCEPT\n"
    );
    assert_eq!(
        fmt(
            "PREROUTING_CUST -j DNAT --to-destination 198.51.100.2:22 -p tcp --dport 2222 -i eth0\n"
        ),
        "PREROUTING_CUST -i eth0 -p tcp --dport 2222 -j DNAT --to 198.51.100.2:22\n"
    );
}

#[test]
fn modules_go_with_their_options_and_negation_before_the_option() {
    assert_eq!(
        fmt(
            "FORWARD_CUST -m comment -m multiport --comment 'web' -p tcp --dports 80,443 -m conntrack ! --ctstate NEW, ESTABLISHED -j DROP\n"
        ),
        "FORWARD_CUST -p tcp -m multiport --dports 80,443 -m conntrack ! --ctstate NEW,ESTABLISHED -m comment --comment 'web' -j DROP\n"
    );
    assert_eq!(
        fmt(
            "INPUT -m iprange --dst-range 10.0.0.1-10.0.0.9 --src-range 10.1.0.1-10.1.0.2 -j DROP\n"
        ),
        "INPUT -m iprange --src-range 10.1.0.1-10.1.0.2 --dst-range 10.0.0.1-10.0.0.9 -j DROP\n"
    );
    assert_eq!(
        fmt("INPUT -p tcp -m multiport --dports 80 --sports 1024:65535 -j ACCEPT\n"),
        "INPUT -p tcp -m multiport --sports 1024:65535 -m multiport --dports 80 -j ACCEPT\n"
    );
    assert_eq!(
        fmt("INPUT -ctrack NEW -p tcp --match tcp --dport ssh -j ACCEPT\n"),
        "INPUT -p tcp --dport ssh -ctrack NEW -j ACCEPT\n"
    );
    assert_eq!(
        fmt("INPUT -m set --set b dst -m set ! --match-set a src -m state --state NEW -j ACCEPT\n"),
        "INPUT -m state --state NEW -m set --match-set b dst -m set ! --match-set a src -j ACCEPT\n"
    );
}

#[test]
fn matches_written_after_a_limit_stay_after_it() {
    assert_eq!(
        fmt(
            "INPUT -m limit --limit 5/m --limit-burst 9 -p tcp --dport 22 -s 10.0.0.1 -j LOG --log-level 4 --log-prefix \"ssh: \"\n"
        ),
        "INPUT -s 10.0.0.1 -p tcp -m limit --limit 5/m --limit-burst 9 --dport 22 -j LOG --log-prefix \"ssh: \" --log-level 4\n"
    );
    assert_eq!(
        fmt("INPUT -m limit --limit-burst 3 -j ACCEPT\n"),
        "INPUT -m limit --limit-burst 3 -j ACCEPT\n"
    );
}

#[test]
fn target_options_in_a_fixed_order() {
    assert_eq!(
        fmt("MACRO_CUST --bidirectional -j COPY --to 198.51.100.2 --from tun0\n"),
        "MACRO_CUST -j COPY --from tun0 --to 198.51.100.2 --bidirectional\n"
    );
    assert_eq!(
        fmt("-o eth0 --random -j MASQUERADE --to-ports 1000-2000 -p udp\n"),
        "-o eth0 -p udp -j MASQUERADE --to-ports 1000-2000 --random\n"
    );
}

#[test]
fn keeps_comments_and_blank_lines_and_normalises_line_ends() {
    let f = format(
        FileId(0),
        "\u{feff}# a comment  \r\n   \r\n\tINPUT_CUST\t-j  DROP \r\n  # indented",
    )
    .unwrap();
    assert_eq!(f.text, "# a comment  \n\nINPUT_CUST -j DROP\n  # indented\n");
    assert_eq!(f.notes, vec!["byte order mark removed", "CRLF line ends → LF"]);
    assert_eq!(fmt(""), "");
}

#[test]
fn a_file_with_syntax_errors_is_not_formatted() {
    let errs =
        format(FileId(0), "INPUT_CUST -j DROP\nINPUT_CUST -s 10.199.2.0. -j DROP\n").unwrap_err();
    assert_eq!(errs[0].code, Code::E001);
}

#[test]
fn formatting_is_idempotent() {
    for text in [
        "FORWARD_CUST ! -p tcp ! -s 10.0.0.0/8,${office},blacklist -o tun+ -j REJECT --reject-with icmp-host-prohibited\n",
        "INPUT -p icmp --icmp-type echo-request -m limit --limit 1/s -j ACCEPT\n",
        "PRE_C_web -p tcp ! --syn -j RETURN\nPREROUTING -j PRE_C_web\n",
    ] {
        let once = fmt(text);
        assert_eq!(fmt(&once), once, "{text}");
    }
}

/// A good line holding option `d` spelt `spelling`, with the protocol, module and target it
/// needs around it; written as `written` (another spelling of the option).
fn line_with(d: &crate::syntax::options::OptDesc, spelling: &str, written: &str) -> String {
    use crate::syntax::options::ProtoNeed;
    let proto = match (d.opt, d.needs_proto) {
        (Opt::Proto, _) => "-i eth0",
        (_, Some(ProtoNeed::Icmp)) => "-p icmp",
        (_, Some(ProtoNeed::Ah)) => "-p ah",
        (_, Some(ProtoNeed::Esp)) => "-p esp",
        (_, Some(ProtoNeed::Dccp)) => "-p dccp",
        _ => "-p tcp",
    };
    let module = d.module.map(|m| format!("-m {m} ")).unwrap_or_default();
    let option = format!("{written}{}", d.value.example());
    // Options that need another of their module.
    let with = match d.opt {
        Opt::Probability => " --mode random",
        Opt::Every => " --mode nth --packet 0",
        Opt::Packet => " --mode nth --every 2",
        Opt::LimitIfaceIn | Opt::LimitIfaceOut => " --dst-type LOCAL",
        Opt::PolicyPol => " --dir in",
        Opt::HlUpto | Opt::HlAbove | Opt::HlUptoOld => " --hashlimit-mode srcip --hashlimit-name a",
        Opt::HlBurst | Opt::HlSrcMask | Opt::HlDstMask | Opt::HlExpire => {
            " --hashlimit-upto 1/s --hashlimit-mode srcip --hashlimit-name a"
        }
        Opt::HlMode => " --hashlimit-upto 1/s --hashlimit-name a",
        Opt::HlName => " --hashlimit-upto 1/s --hashlimit-mode srcip",
        Opt::ConnlimitMask | Opt::ConnlimitSaddr | Opt::ConnlimitDaddr => " --connlimit-above 1",
        Opt::Connbytes => " --connbytes-dir both --connbytes-mode bytes",
        Opt::ConnbytesDir => " --connbytes 1 --connbytes-mode bytes",
        Opt::ConnbytesMode => " --connbytes 1 --connbytes-dir both",
        Opt::CtOrigSrcPort | Opt::CtOrigDstPort | Opt::CtReplSrcPort | Opt::CtReplDstPort => {
            " --ctproto tcp"
        }
        _ => "",
    };
    match d.opt.owners(spelling) {
        None => format!("FORWARD_CUST {proto} {module}{option}{with} -j ACCEPT\n"),
        Some(targets) => {
            let target = targets[0];
            let mut extra = String::new();
            if target == "COPY" && d.opt != Opt::From {
                extra.push_str(" --from tun0");
            }
            if matches!(d.opt, Opt::Mask | Opt::NfMask | Opt::CtMask) {
                extra.push_str(" --save-mark");
            }
            if ["DNAT", "SNAT", "NETMAP", "COPY"].contains(&target) && d.opt != Opt::To {
                extra.push_str(" --to 10.0.0.1");
            }
            format!("PREROUTING_CUST {proto} -j {target} {option}{extra}\n")
        }
    }
}

/// `fmt` prints every option in its table's first spelling, whichever spelling was written.
#[test]
fn every_spelling_prints_as_the_tables_canonical_one() {
    use crate::syntax::options::OPTIONS;
    for d in &OPTIONS {
        // `--hashlimit-htable-expire`'s sample value, 2 ms, is refused (whole seconds only).
        if d.refused.is_some() || matches!(d.opt, Opt::Module | Opt::Jump | Opt::HlExpire) {
            continue; // refused, or part of every line
        }
        for s in d.spellings {
            let canonical = fmt(&line_with(d, s, d.opt.canonical()));
            assert!(
                canonical.split([' ', '\n']).any(|w| w == d.opt.canonical()),
                "{:?}: {canonical:?}",
                d.opt
            );
            assert_eq!(fmt(&line_with(d, s, s)), canonical, "{s}");
        }
    }
    assert_eq!(fmt("INPUT --match tcp -p tcp --jump DROP\n"), "INPUT -p tcp -j DROP\n");
}
