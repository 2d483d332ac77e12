//! One rule line → `ast::Rule`: runs the pest parser on the line, lowers each option's value,
//! then checks what needs the whole line (duplicates, negation, `-m` modules, protocols, target
//! options). Every problem becomes a diagnostic; a line with any problem yields no rule.

use std::net::Ipv4Addr;

use pest::Parser;
use pest::iterators::Pair;

use super::ast::{
    AddrItem, ChainWord, CtState, IcmpType, Net, PortSpec, Protocol, RateUnit, Rule, SetDir, Value,
};
use super::grammar::{Rule as G, Vns3Parser};
use super::{check, names, reword};
use crate::diagnostic::{Diagnostic, FileId, Span, Spanned};

/// The options we know, one per grammar rule `o_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Opt {
    In,
    Out,
    Src,
    Dst,
    Proto,
    Sport,
    Dport,
    Sports,
    Dports,
    Ports,
    CtState,
    State,
    Ctrack,
    Comment,
    SrcRange,
    DstRange,
    Limit,
    Burst,
    Set,
    Icmp,
    Syn,
    Module,
    Jump,
    RejectWith,
    LogPrefix,
    LogLevel,
    To,
    ToPorts,
    Random,
    From,
    Bidir,
}

/// Number of `Opt` variants.
pub(super) const OPT_COUNT: usize = Opt::Bidir as usize + 1;

/// Each option's spellings (as in the grammar) and what its value looks like, for messages.
const OPTIONS: &[(Opt, &[&str], &str)] = &[
    (Opt::In, &["-i", "--in-interface"], "an interface such as eth0, tun+ or ${var}"),
    (Opt::Out, &["-o", "--out-interface"], "an interface such as eth0, tun+ or ${var}"),
    (Opt::Src, &["-s", "--source", "--src"], ADDR_DESC),
    (Opt::Dst, &["-d", "--destination", "--dst"], ADDR_DESC),
    (Opt::Proto, &["-p", "--protocol"], "a protocol such as tcp, udp, icmp or a number"),
    (Opt::Sport, &["--sport", "--source-port"], PORT_DESC),
    (Opt::Dport, &["--dport", "--destination-port"], PORT_DESC),
    (Opt::Sports, &["--sports", "--source-ports"], PORTS_DESC),
    (Opt::Dports, &["--dports", "--destination-ports"], PORTS_DESC),
    (Opt::Ports, &["--ports"], PORTS_DESC),
    (Opt::CtState, &["--ctstate"], STATES_DESC),
    (Opt::State, &["--state"], STATES_DESC),
    (Opt::Ctrack, &["-ctrack"], STATES_DESC),
    (Opt::Comment, &["--comment"], TEXT_DESC),
    (Opt::SrcRange, &["--src-range"], "an address range such as 10.0.0.1-10.0.0.9"),
    (Opt::DstRange, &["--dst-range"], "an address range such as 10.0.0.1-10.0.0.9"),
    (Opt::Limit, &["--limit"], "a rate such as 5/minute"),
    (Opt::Burst, &["--limit-burst"], "a number such as 10"),
    (Opt::Set, &["--match-set", "--set"], "a set name followed by src or dst"),
    (Opt::Icmp, &["--icmp-type"], "an ICMP type such as echo-request, 8 or 3/4"),
    (Opt::Syn, &["--syn"], "nothing"),
    (Opt::Module, &["-m", "--match"], "a match module such as multiport or conntrack"),
    (Opt::Jump, &["-j", "--jump"], "a target such as ACCEPT, DROP or LOG"),
    (Opt::RejectWith, &["--reject-with"], "a reject type such as icmp-port-unreachable"),
    (Opt::LogPrefix, &["--log-prefix"], TEXT_DESC),
    (Opt::LogLevel, &["--log-level"], "a log level such as 4 or warning"),
    (Opt::To, &["--to", "--to-destination", "--to-source"], TO_DESC),
    (Opt::ToPorts, &["--to-ports"], "a port or port range such as 8080 or 8000-8010"),
    (Opt::Random, &["--random"], "nothing"),
    (Opt::From, &["--from"], "an interface such as tun0 or ${var}"),
    (Opt::Bidir, &["--bidirectional"], "nothing"),
];

const ADDR_DESC: &str =
    "an IPv4 address or network such as 10.0.0.0/24, a ${variable} or a set name";
const PORT_DESC: &str = "a port or range such as 22, 1024:65535 or ${var}";
const PORTS_DESC: &str = "a comma-separated list of ports or ranges such as 80,443,8000:8080";
const STATES_DESC: &str = "a comma-separated list of states such as NEW,ESTABLISHED";
const TEXT_DESC: &str = "a text: \"double quoted\", 'single quoted' or one word";
const TO_DESC: &str = "an address, address range or network (optionally with :PORT or \
                       :PORT-PORT), a ${variable} or a plugin name";

impl Opt {
    pub(super) fn of_rule(rule: G) -> Option<Opt> {
        Some(match rule {
            G::o_in => Opt::In,
            G::o_out => Opt::Out,
            G::o_src => Opt::Src,
            G::o_dst => Opt::Dst,
            G::o_proto => Opt::Proto,
            G::o_sport => Opt::Sport,
            G::o_dport => Opt::Dport,
            G::o_sports => Opt::Sports,
            G::o_dports => Opt::Dports,
            G::o_ports => Opt::Ports,
            G::o_ctstate => Opt::CtState,
            G::o_state => Opt::State,
            G::o_ctrack => Opt::Ctrack,
            G::o_comment => Opt::Comment,
            G::o_src_range => Opt::SrcRange,
            G::o_dst_range => Opt::DstRange,
            G::o_limit => Opt::Limit,
            G::o_burst => Opt::Burst,
            G::o_set => Opt::Set,
            G::o_icmp => Opt::Icmp,
            G::o_syn => Opt::Syn,
            G::o_module => Opt::Module,
            G::o_jump => Opt::Jump,
            G::o_reject_with => Opt::RejectWith,
            G::o_log_prefix => Opt::LogPrefix,
            G::o_log_level => Opt::LogLevel,
            G::o_to => Opt::To,
            G::o_to_ports => Opt::ToPorts,
            G::o_random => Opt::Random,
            G::o_from => Opt::From,
            G::o_bidir => Opt::Bidir,
            _ => return None,
        })
    }

    pub(super) fn of_spelling(s: &str) -> Option<Opt> {
        OPTIONS.iter().find(|(_, names, _)| names.contains(&s)).map(|(o, _, _)| *o)
    }

    pub(super) fn describe(self) -> &'static str {
        OPTIONS.iter().find(|(o, _, _)| *o == self).map_or("a value", |(_, _, d)| d)
    }

    /// Whether iptables accepts `!` before this option.
    pub(super) fn negatable(self) -> bool {
        use Opt::*;
        matches!(
            self,
            In | Out
                | Src
                | Dst
                | Proto
                | Sport
                | Dport
                | Sports
                | Dports
                | CtState
                | State
                | Ctrack
                | SrcRange
                | DstRange
                | Set
                | Icmp
                | Syn
        )
    }

    /// The `-m` module an option belongs to.
    pub(super) fn module(self) -> Option<&'static str> {
        use Opt::*;
        match self {
            Sports | Dports | Ports => Some("multiport"),
            CtState => Some("conntrack"),
            State => Some("state"),
            Comment => Some("comment"),
            SrcRange | DstRange => Some("iprange"),
            Limit | Burst => Some("limit"),
            Set => Some("set"),
            _ => None,
        }
    }

    /// Options iptables lets a rule repeat (each `-m set` is its own match).
    pub(super) fn repeatable(self) -> bool {
        matches!(self, Opt::Module | Opt::Set)
    }

    /// Targets a target option belongs to; `None` for a match option.
    pub(super) fn owners(self, spelling: &str) -> Option<&'static [&'static str]> {
        use Opt::*;
        Some(match self {
            RejectWith => &["REJECT"],
            LogPrefix | LogLevel => &["LOG"],
            To if spelling == "--to-destination" => &["DNAT"],
            To if spelling == "--to-source" => &["SNAT"],
            To => &["DNAT", "SNAT", "NETMAP", "COPY"],
            ToPorts => &["MASQUERADE", "MASQUERADE-ONCE", "REDIRECT"],
            Random => &["DNAT", "SNAT", "MASQUERADE", "MASQUERADE-ONCE"],
            From | Bidir => &["COPY"],
            _ => return None,
        })
    }

    /// Ports need one of these protocols.
    pub(super) fn needs_port_proto(self) -> bool {
        matches!(self, Opt::Sport | Opt::Dport | Opt::Sports | Opt::Dports)
    }
}

/// `--to` before we know which target reads it.
#[derive(Clone, Debug)]
pub(super) enum ToAddr {
    Addr(Ipv4Addr),
    /// Written with an explicit `/LEN`.
    Net(Net),
    Range(Ipv4Addr, Ipv4Addr),
    Var(String),
    Name(String),
}

#[derive(Clone, Debug)]
pub(super) struct ToVal {
    pub(super) addr: Spanned<ToAddr>,
    pub(super) ports: Option<Spanned<(u16, u16)>>,
}

/// A lowered option value.
#[derive(Clone, Debug)]
pub(super) enum Val {
    Flag,
    Iface(Spanned<Value<String>>),
    Addrs(Vec<Spanned<AddrItem>>),
    Proto(Spanned<Protocol>),
    Port(Spanned<PortSpec>),
    Ports(Vec<Spanned<PortSpec>>),
    States(Vec<Spanned<CtState>>),
    Text(Spanned<String>),
    Range(Spanned<(Ipv4Addr, Ipv4Addr)>),
    Rate(u32, RateUnit),
    Num(u32),
    Set(Spanned<String>, SetDir),
    Icmp(Spanned<IcmpType>),
    Word(Spanned<String>),
    To(Spanned<ToVal>),
    PortPair((u16, u16)),
}

/// One option of a line, lowered.
#[derive(Clone, Debug)]
pub(super) struct Item<'t> {
    pub(super) opt: Opt,
    pub(super) spelling: &'t str,
    pub(super) name_span: Span,
    /// The `!` before the option.
    pub(super) neg: Option<Span>,
    /// From the `!` (or the name) through the end of the value.
    pub(super) span: Span,
    pub(super) val: Val,
}

/// Where a line sits in its file.
#[derive(Clone, Copy)]
pub(super) struct LineCtx<'t> {
    pub file: FileId,
    /// Byte offset of `text` in the file.
    pub base: usize,
    /// The trimmed rule text.
    pub text: &'t str,
}

impl LineCtx<'_> {
    fn span(&self, p: &Pair<'_, G>) -> Span {
        let s = p.as_span();
        self.at(s.start(), s.end())
    }

    pub(super) fn at(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, self.base + start, self.base + end)
    }
}

pub(super) type Res<T> = Result<T, Diagnostic>;

pub(super) fn e001(msg: String, span: Span) -> Diagnostic {
    Diagnostic::error("E001", msg, span)
}

pub(super) fn e008(msg: String, span: Span) -> Diagnostic {
    Diagnostic::error("E008", msg, span)
}

/// At most 40 characters of `s`, for quoting user text in a message.
pub(super) fn shown(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Parses and lowers one trimmed rule line.
pub(super) fn lower_line(ctx: LineCtx<'_>, line_no: u32) -> Result<Rule, Vec<Diagnostic>> {
    let mut pairs = match Vns3Parser::parse(G::line, ctx.text) {
        Ok(p) => p,
        Err(e) => return Err(vec![reword::reword(ctx, &e)]),
    };
    // Grammar rule `line` matched, so it yields exactly one `line` pair.
    let line = pairs.next().expect("`line` yields one pair");
    lower_parsed(ctx, line, line_no)
}

/// Parses adjacent trimmed rule lines in one parser call: `ctx.text` is the lines joined by
/// `\n`. Returns the parse of each line (a `row`, whose parts are those `line` yields for the
/// line alone), or `None` when any line does not parse (then each line is lowered alone, to get
/// its diagnostics).
pub(super) fn parse_rows<'t>(ctx: LineCtx<'t>) -> Option<impl Iterator<Item = Pair<'t, G>>> {
    let mut pairs = Vns3Parser::parse(G::lines, ctx.text).ok()?;
    let lines = pairs.next().expect("`lines` yields one pair");
    Some(lines.into_inner().filter(|p| p.as_rule() == G::row))
}

/// Lowers a line's parse (a `line` pair, or a `row` of [`parse_rows`]): `ctx` is the text the
/// parser saw, the pair's positions are in it.
pub(super) fn lower_parsed<'t>(
    ctx: LineCtx<'t>,
    line: Pair<'t, G>,
    line_no: u32,
) -> Result<Rule, Vec<Diagnostic>> {
    let line_span = line.as_span();
    let mut diags = Vec::new();
    let mut chain = None;
    let mut items = Vec::with_capacity(8);
    let (mut stray_seen, mut bad_module) = (false, false);
    let mut failed = [false; OPT_COUNT];
    // Where the previous part ended: a `!` between it and an option negates the option.
    let mut prev_end = line_span.start();
    for part in line.into_inner() {
        let after = std::mem::replace(&mut prev_end, part.as_span().end());
        match part.as_rule() {
            G::chain => match chain_word(ctx, &part) {
                Ok(c) => chain = Some(c),
                Err(d) => diags.push(d),
            },
            G::EOI => {}
            // Grammar rule `item` (`neg? ~ option | stray`) is silent: each option or stray
            // word comes as a part of its own.
            rule => match item(ctx, part, after) {
                Ok(i) => items.push(i),
                // Words after a stray word are usually more of the same mistake (`# note`,
                // `-s a b c`): one diagnostic says it.
                Err(d) if d.code == "E001" && d.labels[0].message == STRAY_LABEL => {
                    if !stray_seen {
                        diags.push(d);
                    }
                    stray_seen = true;
                }
                // Options after an unsupported `-m` most likely belong to it: its E004 says it.
                Err(d) if bad_module && d.code == "E002" => {}
                Err(d) => {
                    bad_module |= d.code == "E004";
                    // Remember which option failed so that its absence is not reported again.
                    if let Some(opt) = Opt::of_rule(rule) {
                        failed[opt as usize] = true;
                    }
                    diags.push(d);
                }
            },
        }
    }
    check::check_line(&items, bad_module, &mut diags);
    let target = check::target(&items, &failed, &mut diags);
    if !diags.is_empty() {
        return Err(diags);
    }
    let (matches, comment) = check::matches(items);
    let span = ctx.at(line_span.start(), line_span.end());
    Ok(Rule { line: line_no, span, chain, matches, target, comment })
}

/// What a line's first word names, if it is a chain word: a builtin, `MACRO_CUST` or a
/// subgroup.
pub(super) fn classify_chain(word: &str) -> Option<ChainWord> {
    use super::ast::Builtin::*;
    let builtin = match word.strip_suffix("_CUST").unwrap_or(word) {
        "INPUT" => Some(Input),
        "OUTPUT" => Some(Output),
        "FORWARD" => Some(Forward),
        "PREROUTING" => Some(Prerouting),
        "POSTROUTING" => Some(Postrouting),
        _ => None,
    };
    if let Some(b) = builtin {
        return Some(ChainWord::Builtin(b));
    }
    if word == "MACRO_CUST" {
        return Some(ChainWord::Macro);
    }
    names::SUBGROUP_PREFIXES.iter().find_map(|(prefix, parent)| {
        let tail = word.strip_prefix(prefix)?;
        names::is_subgroup_tail(tail)
            .then(|| ChainWord::Subgroup { parent: *parent, name: word.to_string() })
    })
}

fn chain_word(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Res<Spanned<ChainWord>> {
    let word = p.as_str();
    let span = ctx.span(p);
    if let Some(c) = classify_chain(word) {
        return Ok(Spanned::new(c, span));
    }
    let mut d = Diagnostic::error("E003", format!("unknown chain `{}`", shown(word)), span)
        .with_label("not a chain name");
    if word == "iptables" || word == "ip6tables" {
        d = d.with_help("write the rule without `iptables -A CHAIN`: `[CHAIN] options`");
    } else if let Some(c) = names::closest(word, names::CHAIN_WORDS) {
        d = d.with_help(format!("did you mean `{c}`?"));
    } else {
        d = d.with_help(
            "a line starts with INPUT_CUST, FORWARD_CUST, PREROUTING_CUST, …, MACRO_CUST, a \
             subgroup such as FWD_C_name, or an option",
        );
    }
    Err(d)
}

/// Lowers one item: an option with its value (or a stray word), the text since `after` (the end
/// of the part before it) holding the blanks and the `!` that may negate it.
fn item<'t>(ctx: LineCtx<'t>, opt_pair: Pair<'t, G>, after: usize) -> Res<Item<'t>> {
    // `neg` is silent in the grammar: a `!` before the option is all that is left of it.
    let neg = ctx.text[after..opt_pair.as_span().start()].find('!').map(|i| after + i);
    let item_span = ctx.at(neg.unwrap_or(opt_pair.as_span().start()), opt_pair.as_span().end());
    let neg = neg.map(|i| ctx.at(i, i + 1));
    if opt_pair.as_rule() == G::stray {
        return Err(stray(ctx, &opt_pair));
    }
    if opt_pair.as_rule() == G::o_unknown {
        return Err(unknown_option(ctx, opt_pair));
    }
    let Some(opt) = Opt::of_rule(opt_pair.as_rule()) else {
        return Err(e001(format!("unexpected `{}`", shown(opt_pair.as_str())), item_span));
    };
    // Every `o_*` grammar rule starts with the option's name, which runs up to the first blank.
    let whole = opt_pair.as_str();
    let spelling = &whole[..whole.find([' ', '\t']).unwrap_or(whole.len())];
    let start = opt_pair.as_span().start();
    let name_span = ctx.at(start, start + spelling.len());
    let rest = &whole[spelling.len()..];
    // At most two value pairs (`o_set`: a name and a direction), kept without a vector.
    let mut inner = opt_pair.into_inner();
    let values = [inner.next(), inner.next()];
    // `old_neg` is silent too: a `!` between the name and the value.
    if rest.trim_start_matches([' ', '\t']).starts_with('!') {
        let bang = start + whole.len() - rest.trim_start_matches([' ', '\t']).len();
        let value = values[0].as_ref().map_or("VALUE", |v| v.as_str());
        return Err(Diagnostic::error(
            "E022",
            format!("`!` after `{spelling}` is the old iptables form and is not accepted"),
            ctx.at(bang, bang + 1),
        )
        .with_label("negation goes before the option")
        .with_help(format!("write `! {spelling} {}`", shown(value))));
    }
    // `missing` is silent: a value-taking option with no value pair had nothing after it.
    let wanted = match opt {
        Opt::Syn | Opt::Random | Opt::Bidir => 0,
        Opt::Set => 2,
        _ => 1,
    };
    if values.iter().flatten().count() < wanted {
        let (what, at) = if let Some(name) = &values[0] {
            let n = ctx.span(name);
            (format!("`{spelling} {}` needs a direction: src or dst", name.as_str()), n)
        } else {
            (format!("`{spelling}` needs a value: expected {}", opt.describe()), name_span)
        };
        return Err(e001(what, at).with_label("value missing after this"));
    }
    let val = value(ctx, opt, spelling, &values)?;
    Ok(Item { opt, spelling, name_span, neg, span: item_span, val })
}

const STRAY_LABEL: &str = "not an option";

fn stray(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Diagnostic {
    let word = p.as_str();
    let d = e001(
        format!("unexpected `{}`: expected an option such as -s, -p or -j", shown(word)),
        ctx.span(p),
    )
    .with_label(STRAY_LABEL);
    let is_chain = names::CHAIN_WORDS.contains(&word)
        || names::SUBGROUP_PREFIXES.iter().any(|(pre, _)| word.starts_with(pre));
    if is_chain {
        d.with_help("the chain name must be the first word of the line")
    } else if word.contains('.') {
        d.with_help("separate several addresses with commas and no spaces: `-s a,b`")
    } else {
        d
    }
}

fn unknown_option(ctx: LineCtx<'_>, p: Pair<'_, G>) -> Diagnostic {
    // `o_unknown` is `!known_name ~ n_unknown ~ …`: its first child is the name.
    let name = p.into_inner().next().expect("`o_unknown` starts with `n_unknown`");
    let word = name.as_str();
    let mut d = Diagnostic::error(
        "E002",
        format!("unknown or unsupported option `{}`", shown(word)),
        ctx.span(&name),
    );
    let hint = match word {
        "--tcp-flags" => Some("only `--syn` is supported among TCP flag matches".to_string()),
        "-A" | "-I" | "-t" | "--table" | "--append" | "--insert" => {
            Some("write only `[CHAIN] options`: no -t, -A or -I".to_string())
        }
        "-g" | "--goto" => Some("use `-j` to jump to a subgroup".to_string()),
        _ => {
            let all: Vec<&str> = OPTIONS.iter().flat_map(|(_, n, _)| n.iter().copied()).collect();
            names::closest(word, &all).map(|c| format!("did you mean `{c}`?"))
        }
    };
    if let Some(h) = hint {
        d = d.with_help(h);
    }
    d
}

/// Lowers the value pairs of a known option (`missing` and `old_neg` are handled already).
fn value(ctx: LineCtx<'_>, opt: Opt, spelling: &str, vals: &[Option<Pair<'_, G>>; 2]) -> Res<Val> {
    let [Some(v), dir] = vals else {
        return Ok(Val::Flag);
    };
    Ok(match opt {
        Opt::In | Opt::Out | Opt::From => Val::Iface(iface(ctx, v)),
        Opt::Src | Opt::Dst => Val::Addrs(addr_list(ctx, v)?),
        Opt::Proto => Val::Proto(protocol(ctx, v)?),
        Opt::Sport | Opt::Dport => Val::Port(port_spec(ctx, v.clone())?),
        Opt::Sports | Opt::Dports | Opt::Ports => {
            let mut list = Vec::new();
            for p in v.clone().into_inner() {
                list.push(port_spec(ctx, p)?);
            }
            // iptables' multiport takes 15 ports, a range counting as two.
            let weight: usize = list
                .iter()
                .map(|p| if matches!(p.node, PortSpec::Range(..)) { 2 } else { 1 })
                .sum();
            if weight > 15 {
                return Err(e008(
                    format!("`{spelling}` lists more than 15 ports (a range counts as two)"),
                    ctx.span(v),
                )
                .with_help("split the list over several rules"));
            }
            Val::Ports(list)
        }
        Opt::CtState | Opt::State | Opt::Ctrack => Val::States(states(ctx, v)?),
        Opt::Comment | Opt::LogPrefix => {
            let t = text(ctx, v);
            let (max, what) =
                if opt == Opt::Comment { (256, "a comment") } else { (29, "a log prefix") };
            if t.node.chars().count() > max {
                return Err(e008(format!("{what} may be at most {max} characters"), t.span));
            }
            Val::Text(t)
        }
        Opt::SrcRange | Opt::DstRange => Val::Range(ip_range(ctx, v)?),
        Opt::Limit => {
            let (rate, unit) = rate(ctx, v)?;
            Val::Rate(rate, unit)
        }
        Opt::Burst => {
            let n = number(v.as_str()).filter(|n| (1..=10_000).contains(n));
            let n = n.ok_or_else(|| {
                e008(
                    format!("`{}` is not a burst between 1 and 10000", shown(v.as_str())),
                    ctx.span(v),
                )
            })?;
            Val::Num(n as u32)
        }
        Opt::Set => {
            let name = Spanned::new(v.as_str().to_string(), ctx.span(v));
            // Grammar rule `o_set`: a set name is followed by `missing` (handled) or `set_dir`.
            let dir = dir.as_ref().expect("`o_set` has a direction after the name");
            let d = match dir.as_str() {
                "src" => SetDir::Src,
                "dst" => SetDir::Dst,
                s if s.contains(',') => {
                    return Err(e008(
                        format!(
                            "matching a set on several directions (`{}`) is not supported",
                            shown(s)
                        ),
                        ctx.span(dir),
                    )
                    .with_help("use one direction, src or dst"));
                }
                s => {
                    return Err(e008(
                        format!("`{}` is not a set direction", shown(s)),
                        ctx.span(dir),
                    )
                    .with_help("write src or dst"));
                }
            };
            Val::Set(name, d)
        }
        Opt::Icmp => Val::Icmp(icmp_type(ctx, v)?),
        Opt::Module => {
            let m = v.as_str();
            if !names::MODULES.contains(&m) {
                let mut d = Diagnostic::error(
                    "E004",
                    format!("unknown or unsupported match module `{}`", shown(m)),
                    ctx.span(v),
                );
                d = d.with_help(match names::closest(m, names::MODULES) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => format!(
                        "overlayfw translates these modules: {}; a rule needing `{}` cannot be compiled exactly",
                        names::MODULES.join(", "),
                        shown(m)
                    ),
                });
                return Err(d);
            }
            Val::Word(Spanned::new(m.to_string(), ctx.span(v)))
        }
        Opt::Jump => Val::Word(Spanned::new(v.as_str().to_string(), ctx.span(v))),
        Opt::RejectWith => {
            let w = v.as_str().to_ascii_lowercase();
            if !names::REJECT_TYPES.contains(&w.as_str()) {
                let mut d =
                    e008(format!("unknown reject type `{}`", shown(v.as_str())), ctx.span(v));
                if let Some(c) = names::closest(&w, names::REJECT_TYPES) {
                    d = d.with_help(format!("did you mean `{c}`?"));
                }
                return Err(d);
            }
            Val::Word(Spanned::new(w, ctx.span(v)))
        }
        Opt::LogLevel => {
            let w = v.as_str().to_ascii_lowercase();
            if crate::ir::LogLevel::parse(&w).is_none() {
                return Err(e008(
                    format!("unknown log level `{}`", shown(v.as_str())),
                    ctx.span(v),
                )
                .with_help(crate::ir::LogLevel::HELP));
            }
            Val::Word(Spanned::new(w, ctx.span(v)))
        }
        Opt::To => Val::To(to_value(ctx, v)?),
        Opt::ToPorts => Val::PortPair(port_pair(ctx, v)?.node),
        Opt::Syn | Opt::Random | Opt::Bidir => Val::Flag,
    })
}

/// Digits as a number, `None` when it does not fit (the grammar allows any length).
fn number(s: &str) -> Option<u64> {
    s.parse().ok()
}

fn var_name(p: &Pair<'_, G>) -> String {
    // Grammar rule `var` is `"${" ~ var_name ~ "}"`: the name sits between 2 and len-1.
    let s = p.as_str();
    s[2..s.len() - 1].to_string()
}

fn iface(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Spanned<Value<String>> {
    let v = match p.as_rule() {
        G::var => Value::Var(var_name(p)),
        _ => Value::Lit(p.as_str().to_string()),
    };
    Spanned::new(v, ctx.span(p))
}

fn ipv4(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Res<Ipv4Addr> {
    ipv4_text(p.as_str(), ctx.span(p))
}

/// Four dot-separated `number`s (grammar rule `ipv4`) as an address; `span` is where `s` is.
fn ipv4_text(s: &str, span: Span) -> Res<Ipv4Addr> {
    let mut octets = [0u8; 4];
    // Grammar rule `ipv4` is four `number`s joined by dots.
    for (i, part) in s.split('.').enumerate().take(4) {
        if part.len() > 1 && part.starts_with('0') {
            return Err(e008(format!("octet `{part}` of `{s}` has a leading zero"), span)
                .with_help("write octets without leading zeros (some tools read them as octal)"));
        }
        octets[i] = number(part).and_then(|n| u8::try_from(n).ok()).ok_or_else(|| {
            e008(format!("`{}` in `{}` is not an octet (0–255)", shown(part), shown(s)), span)
        })?;
    }
    Ok(Ipv4Addr::from(octets))
}

/// Grammar rule `cidr` is atomic (no inner pairs, which made parsing 2% slower): an `ipv4`,
/// maybe `/` and a `prefix` of digits.
fn cidr(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Res<(Net, bool)> {
    let (s, start) = (p.as_str(), p.as_span().start());
    let (a, digits) = s.split_once('/').map_or((s, None), |(a, d)| (a, Some(d)));
    let addr = ipv4_text(a, ctx.at(start, start + a.len()))?;
    let Some(digits) = digits else { return Ok((Net { addr, prefix: 32 }, false)) };
    let from = start + a.len() + 1;
    let prefix = number(digits).filter(|n| *n <= 32).ok_or_else(|| {
        e008(
            format!("prefix length `/{}` is over 32", shown(digits)),
            ctx.at(from, from + digits.len()),
        )
    })?;
    Ok((Net { addr, prefix: prefix as u8 }, true))
}

fn addr_list(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Res<Vec<Spanned<AddrItem>>> {
    let mut items = Vec::new();
    for c in p.clone().into_inner() {
        let item = match c.as_rule() {
            G::cidr => AddrItem::Net(cidr(ctx, &c)?.0),
            G::var => AddrItem::Var(var_name(&c)),
            _ => AddrItem::Name(c.as_str().to_string()),
        };
        items.push(Spanned::new(item, ctx.span(&c)));
    }
    Ok(items)
}

fn protocol(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Res<Spanned<Protocol>> {
    let w = p.as_str().to_ascii_lowercase();
    let by_number = |n: u8| match n {
        0 => Protocol::All,
        1 => Protocol::Icmp,
        6 => Protocol::Tcp,
        17 => Protocol::Udp,
        132 => Protocol::Sctp,
        136 => Protocol::Udplite,
        n => Protocol::Number(n),
    };
    let proto = match w.as_str() {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "udplite" => Protocol::Udplite,
        "sctp" => Protocol::Sctp,
        "icmp" => Protocol::Icmp,
        "all" => Protocol::All,
        s if s.bytes().all(|b| b.is_ascii_digit()) => {
            let n = number(s).and_then(|n| u8::try_from(n).ok()).ok_or_else(|| {
                e008(format!("protocol number `{}` is over 255", shown(s)), ctx.span(p))
            })?;
            by_number(n)
        }
        s => match names::PROTO_NUMBERS.iter().find(|(n, _)| *n == s) {
            Some((_, n)) => Protocol::Number(*n),
            None => {
                let mut known = vec!["tcp", "udp", "udplite", "sctp", "icmp", "all"];
                known.extend(names::PROTO_NUMBERS.iter().map(|(n, _)| *n));
                let mut d = e008(format!("unknown protocol `{}`", shown(p.as_str())), ctx.span(p));
                if let Some(c) = names::closest(s, &known) {
                    d = d.with_help(format!("did you mean `{c}`?"));
                } else {
                    d = d.with_help(
                        "use tcp, udp, udplite, sctp, icmp, all, esp, ah, gre, … or a number",
                    );
                }
                return Err(d);
            }
        },
    };
    Ok(Spanned::new(proto, ctx.span(p)))
}

fn port_val(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Res<Value<u16>> {
    match p.as_rule() {
        G::var => Ok(Value::Var(var_name(p))),
        G::number => number(p.as_str())
            .and_then(|n| u16::try_from(n).ok())
            .map(Value::Lit)
            .ok_or_else(|| {
                e008(format!("port `{}` is out of range (0–65535)", shown(p.as_str())), ctx.span(p))
            }),
        _ => {
            let w = p.as_str().to_ascii_lowercase();
            match names::SERVICES.iter().find(|(n, _)| *n == w) {
                Some((_, port)) => Ok(Value::Lit(*port)),
                None => {
                    let known: Vec<&str> = names::SERVICES.iter().map(|(n, _)| *n).collect();
                    let mut d =
                        e008(format!("unknown service name `{}`", shown(p.as_str())), ctx.span(p));
                    d = match names::closest(&w, &known) {
                        Some(c) => d.with_help(format!("did you mean `{c}`?")),
                        None => d.with_help("write the port number"),
                    };
                    Err(d)
                }
            }
        }
    }
}

fn port_spec(ctx: LineCtx<'_>, p: Pair<'_, G>) -> Res<Spanned<PortSpec>> {
    let span = ctx.span(&p);
    let (mut lo, mut colon, mut hi) = (None, false, None);
    for c in p.into_inner() {
        match c.as_rule() {
            G::port_colon => colon = true,
            _ if colon => hi = Some(port_val(ctx, &c)?),
            _ => lo = Some(port_val(ctx, &c)?),
        }
    }
    let spec = match (lo, colon, hi) {
        (Some(a), false, _) => PortSpec::Single(a),
        (lo, _, hi) => {
            let a = lo.unwrap_or(Value::Lit(0));
            let b = hi.unwrap_or(Value::Lit(u16::MAX));
            if let (Value::Lit(x), Value::Lit(y)) = (&a, &b)
                && x > y
            {
                return Err(e008(format!("port range {x}:{y} runs backwards"), span)
                    .with_help(format!("write {y}:{x}")));
            }
            PortSpec::Range(a, b)
        }
    };
    Ok(Spanned::new(spec, span))
}

fn states(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Res<Vec<Spanned<CtState>>> {
    let mut out = Vec::new();
    for c in p.clone().into_inner() {
        let s = c.as_str().to_ascii_uppercase();
        let st = match s.as_str() {
            "NEW" => CtState::New,
            "ESTABLISHED" => CtState::Established,
            "RELATED" => CtState::Related,
            "INVALID" => CtState::Invalid,
            "UNTRACKED" => CtState::Untracked,
            "SNAT" | "DNAT" => {
                return Err(e008(format!("connection state {s} is not supported"), ctx.span(&c))
                    .with_help("supported: NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED"));
            }
            _ => {
                let known = ["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"];
                let mut d =
                    e008(format!("unknown connection state `{}`", shown(c.as_str())), ctx.span(&c));
                if let Some(k) = names::closest(&s, &known) {
                    d = d.with_help(format!("did you mean `{k}`?"));
                }
                return Err(d);
            }
        };
        out.push(Spanned::new(st, ctx.span(&c)));
    }
    Ok(out)
}

fn text(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Spanned<String> {
    let span = ctx.span(p);
    let s = match p.as_rule() {
        G::dq_text | G::sq_text => {
            let inner = p.as_str();
            // Grammar rules `dq_text`/`sq_text`: one quote character each side.
            let inner = &inner[1..inner.len() - 1];
            if p.as_rule() == G::dq_text { unescape(inner) } else { inner.to_string() }
        }
        _ => p.as_str().to_string(),
    };
    Spanned::new(s, span)
}

/// `\"` → `"`, `\\` → `\`; other backslashes are kept as written.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('"' | '\\')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn ip_range(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Res<Spanned<(Ipv4Addr, Ipv4Addr)>> {
    // Grammar rule `ip_range` is `ipv4 ~ "-" ~ ipv4`.
    let ends: Vec<Pair<'_, G>> = p.clone().into_inner().collect();
    let (a, b) = (ipv4(ctx, &ends[0])?, ipv4(ctx, &ends[1])?);
    if a > b {
        return Err(e008(format!("address range {a}-{b} runs backwards"), ctx.span(p))
            .with_help(format!("write {b}-{a}")));
    }
    Ok(Spanned::new((a, b), ctx.span(p)))
}

fn rate(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Res<(u32, RateUnit)> {
    let mut n = None;
    let mut unit = RateUnit::Second;
    for c in p.clone().into_inner() {
        match c.as_rule() {
            G::number => {
                n = number(c.as_str()).and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0);
                if n.is_none() {
                    return Err(e008(
                        format!("rate `{}` is not a positive number", shown(c.as_str())),
                        ctx.span(&c),
                    ));
                }
            }
            _ => {
                // iptables accepts any prefix of the unit's name: s, sec, m, min, h, d, …
                let u = c.as_str().to_ascii_lowercase();
                let found = [
                    ("second", RateUnit::Second),
                    ("minute", RateUnit::Minute),
                    ("hour", RateUnit::Hour),
                    ("day", RateUnit::Day),
                ]
                .into_iter()
                .find(|(name, _)| name.starts_with(u.as_str()));
                unit = match found {
                    Some((_, r)) => r,
                    None => {
                        return Err(e008(
                            format!("unknown rate unit `{}`", shown(c.as_str())),
                            ctx.span(&c),
                        )
                        .with_help("use second, minute, hour or day (or s, m, h, d)"));
                    }
                };
            }
        }
    }
    // Grammar rule `rate` starts with a `number`.
    Ok((n.expect("`rate` holds a number"), unit))
}

fn icmp_type(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Res<Spanned<IcmpType>> {
    let w = p.as_str().to_ascii_lowercase();
    let span = ctx.span(p);
    let t = if w == "any" {
        IcmpType::Any
    } else if w.starts_with(|c: char| c.is_ascii_digit()) {
        let mut parts = w.splitn(2, '/');
        let byte = |s: Option<&str>| s.and_then(|s| s.parse::<u8>().ok());
        let kind = byte(parts.next());
        let code = parts.next();
        match (kind, code) {
            // iptables' icmp match reads type 255 as any type, whatever the code.
            (Some(255), _) if code.is_none_or(|c| byte(Some(c)).is_some()) => IcmpType::Any,
            (Some(kind), None) => IcmpType::Numeric { kind, code: None },
            (Some(kind), Some(c)) if byte(Some(c)).is_some() => {
                IcmpType::Numeric { kind, code: byte(Some(c)) }
            }
            _ => {
                return Err(e008(
                    format!(
                        "`{}` is not an ICMP type (0–255, optionally /CODE)",
                        shown(p.as_str())
                    ),
                    span,
                ));
            }
        }
    } else if names::ICMP_TYPES.iter().any(|t| t.0 == w) {
        IcmpType::Name(w)
    } else {
        let mut d = e008(format!("unknown ICMP type `{}`", shown(p.as_str())), span);
        let known: Vec<&str> = names::ICMP_TYPES.iter().map(|t| t.0).collect();
        if let Some(c) = names::closest(&w, &known) {
            d = d.with_help(format!("did you mean `{c}`?"));
        }
        return Err(d);
    };
    Ok(Spanned::new(t, span))
}

fn port_pair(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Res<Spanned<(u16, u16)>> {
    let span = ctx.span(p);
    let mut ports = Vec::new();
    for c in p.clone().into_inner() {
        let n = number(c.as_str()).and_then(|n| u16::try_from(n).ok()).filter(|n| *n > 0);
        ports.push(n.ok_or_else(|| {
            e008(format!("port `{}` is out of range (1–65535)", shown(c.as_str())), ctx.span(&c))
        })?);
    }
    // Grammar rule `port_pair` is `number ~ ("-" ~ number)?`.
    let lo = ports[0];
    let hi = ports.get(1).copied().unwrap_or(lo);
    if lo > hi {
        return Err(e008(format!("port range {lo}-{hi} runs backwards"), span)
            .with_help(format!("write {hi}-{lo}")));
    }
    Ok(Spanned::new((lo, hi), span))
}

fn to_value(ctx: LineCtx<'_>, p: &Pair<'_, G>) -> Res<Spanned<ToVal>> {
    let mut addr = None;
    let mut ports = None;
    for c in p.clone().into_inner() {
        let a = match c.as_rule() {
            G::ip_range => {
                let r = ip_range(ctx, &c)?;
                ToAddr::Range(r.node.0, r.node.1)
            }
            G::cidr => match cidr(ctx, &c)? {
                (net, true) => ToAddr::Net(net),
                (net, false) => ToAddr::Addr(net.addr),
            },
            G::var => ToAddr::Var(var_name(&c)),
            G::name => ToAddr::Name(c.as_str().to_string()),
            _ => {
                ports = Some(port_pair(ctx, &c)?);
                continue;
            }
        };
        addr = Some(Spanned::new(a, ctx.span(&c)));
    }
    // Grammar rule `to_value` starts with an address alternative.
    let addr = addr.expect("`to_value` holds an address");
    Ok(Spanned::new(ToVal { addr, ports }, ctx.span(p)))
}
