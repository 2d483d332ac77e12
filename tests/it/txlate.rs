//! iptables' own translation tests as a measurement: how many of their IPv4 filter/nat lines
//! overlayfw compiles to what iptables means, judged by the kernel.
//!
//! Runs when `OVERLAYFW_TXLATE` names an iptables source tree (or its `extensions` folder); the
//! suite is read from there, never copied here. Selected: every `iptables-translate` line of
//! every `*.txlate` file (libxt_*, libipt_*, generic, and the one in libip6t_LOG) whose table is
//! `filter` or `nat` and which appends or inserts a rule. Left out, with the count printed:
//! - `ip6tables-`, `ebtables-` and `arptables-translate` lines: other families, and overlayfw's
//!   rules are IPv4;
//! - `-t mangle` and `-t raw` lines: VNS3's chains are filter and nat chains, the issue's goal
//!   counts filter/nat lines;
//! - lines that make no rule (`-F`).
//!
//! Each selected line `iptables-translate [-t T] -A|-I CHAIN ARGS` becomes the VNS3 line
//! `CHAIN_CUST ARGS` (nat's lower-case `prerouting`/`postrouting` are its base chains), compiled
//! with an inventory that declares every interface the lines name, and compared by
//! `conformance::compare_commands` (the corpus test's kernel comparison) with the file's expected
//! nft commands; when nft 1.0.6 cannot load those (newer syntax), with what the installed
//! `iptables-translate` makes of the line. Every line is one of: agree; disagree; refused
//! (overlayfw's error, and whether `iptables-nft` itself refuses the line in a namespace);
//! crash (a panic). The test asserts 0 disagree and 0 crash and prints the figures and every
//! refused line grouped by file; `bench/txlate.sh` runs it and writes the figures.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use overlayfw::pipeline::Text;

use crate::conformance::{self, compare_commands, words};
use crate::netns::{self, Netns};

const ENV: &str = "OVERLAYFW_TXLATE";

/// One selected test line.
struct Case {
    file: String,
    line: usize,
    table: &'static str,
    /// iptables' chain name, upper case.
    chain: String,
    args: Vec<String>,
    /// The nft commands the file expects, on iptables' upper-case chain names.
    expected: Vec<String>,
}

impl Case {
    fn vns3(&self) -> String {
        let mut out = format!("{}_CUST", self.chain);
        for a in &self.args {
            out.push(' ');
            if a.is_empty() || a.contains([' ', '"', '\'']) {
                let _ = write!(out, "\"{}\"", a.replace('\\', "\\\\").replace('"', "\\\""));
            } else {
                out.push_str(a);
            }
        }
        out
    }

    fn place(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// Where overlayfw means what iptables does and the translation tests' nft line does not (the
/// same differences as the corpus's `| deviation:` lines): a line using one of these options
/// with this value, not negated (any value when `None`), must differ, and is counted apart.
const DEVIATIONS: &[(&str, Option<&str>, &str)] = &[
    ("--ctorigsrc", None, CT_ADDR),
    ("--ctorigdst", None, CT_ADDR),
    ("--ctreplsrc", None, CT_ADDR),
    ("--ctrepldst", None, CT_ADDR),
    (
        "--ctexpire",
        None,
        "the translator writes `ct expiration N` (exactly N.000 s); xt_conntrack compares whole \
         seconds left: `ct expiration Ns-Ns999ms`",
    ),
    (
        "--length",
        None,
        "the translator writes `meta length` (skb->len); xt_length reads the IP header's total \
         length: `ip length`",
    ),
    ("--timestart", None, TIME),
    ("--timestop", None, TIME),
    ("--datestart", None, TIME),
    ("--datestop", None, TIME),
    ("--weekdays", None, TIME),
    (
        "--hashlimit-mode",
        None,
        "the translator writes a `meter` (an anonymous dynamic set), without xt_hashlimit's \
         default expiry of idle buckets and with its own key order; overlayfw declares the set \
         `hashlimit-NAME` and writes `update @hashlimit-NAME { KEY timeout Ts limit … }`, the key \
         in --hashlimit-mode's order (tests/it/meters.rs counts packets against xt_hashlimit)",
    ),
    ("--sport", Some("0:65535"), FULL_RANGE),
    ("--dport", Some("0:65535"), FULL_RANGE),
    ("--ahspi", Some("0:4294967295"), FULL_RANGE),
    ("--espspi", Some("0:4294967295"), FULL_RANGE),
];

const TIME: &str = "the translator drops xt_time's default --datestop (2038-01-19 03:14:07 UTC), \
    which xt_time compares on every packet (overlayfw keeps `meta time < 2147483648`), and \
    writes a --datestop as its first nanosecond where xt_time compares whole seconds (overlayfw \
    `meta time < STOP+1`)";

const CT_ADDR: &str = "the translator writes `ct original|reply saddr|daddr` (the kernel's \
    family-less key, a prefix listed back wrongly by nft 1.0.6); overlayfw the IPv4 key of `ct \
    original ip saddr`: the same address compared";

const FULL_RANGE: &str = "the translator drops a full-range port or SPI match and keeps only \
    the protocol, which then also matches non-first fragments; iptables' tcp/udp/ah/esp matches \
    never match those, and neither does overlayfw's full-range header match";

/// iptables-translate 1.8.9 carries the `!` of `--src-group` over to a `--dst-group` after it.
const DEVGROUP: &str = "the translator negates `--dst-group` too after `! --src-group`; \
    xt_devgroup negates only the option after `!` (XT_DEVGROUP_INVERT_SRC alone)";

/// `! --tcp-option N` is guarded against non-first fragments (tests/it/devgroup.rs).
const TCP_OPTION: &str = "the translator writes `tcp option N missing`, which a non-first \
    fragment meets; xt_tcpudp never matches one: `ip frag-off & 0x1fff == 0` before it";

fn deviation(case: &Case) -> Option<&'static str> {
    let after_bang = |opt: &str| case.args.windows(2).any(|w| w[0] == "!" && w[1] == opt);
    let plain = |opt: &str| {
        case.args.iter().enumerate().any(|(i, a)| a == opt && (i == 0 || case.args[i - 1] != "!"))
    };
    if after_bang("--src-group") && plain("--dst-group") {
        return Some(DEVGROUP);
    }
    if after_bang("--tcp-option") {
        return Some(TCP_OPTION);
    }

    DEVIATIONS.iter().find_map(|(opt, value, why)| {
        let hit = case.args.iter().enumerate().any(|(i, a)| {
            let full = |v: &&str| {
                case.args.get(i + 1).is_some_and(|x| x == v) && (i == 0 || case.args[i - 1] != "!")
            };
            a == opt && value.is_none_or(|v| full(&v))
        });
        hit.then_some(*why)
    })
}

enum Verdict {
    /// Agrees with the file's expected commands, or (`true`) with the installed translator's,
    /// because nft 1.0.6 cannot load the file's.
    Agree(bool),
    /// Differs as a [`DEVIATIONS`] entry says it must.
    Deviation(&'static str),
    Disagree(String),
    /// overlayfw's first error, and whether iptables-nft accepts the line.
    Refused(String, bool),
    Crash(String),
    /// Compiles, but this machine cannot load either side: not counted as agreeing.
    Unjudged(&'static str),
}

/// The folder holding the `*.txlate` files.
fn extensions_dir(root: &Path) -> PathBuf {
    let ext = root.join("extensions");
    if ext.is_dir() { ext } else { root.to_path_buf() }
}

/// The selected lines, and the count of left-out `*-translate` lines by reason.
fn select(dir: &Path) -> (Vec<Case>, BTreeMap<&'static str, usize>) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{ENV}: reading {}: {e}", dir.display()))
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txlate"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    let mut left_out: BTreeMap<&'static str, usize> = BTreeMap::new();
    for path in files {
        let file = path.file_name().expect("a file").to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("a txlate file");
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let Some(first) = l.split_whitespace().next() else { continue };
            if first != "iptables-translate" {
                if first.ends_with("-translate") {
                    *left_out
                        .entry("other families (ip6tables, ebtables, arptables)")
                        .or_default() += 1;
                }
                continue;
            }
            // The expected output: the `nft …` lines up to the next blank line.
            let expected: Vec<&str> =
                lines[i + 1..].iter().take_while(|x| x.starts_with("nft ")).copied().collect();
            let mut w = words(l);
            w.remove(0);
            let mut table = "filter".to_owned();
            let mut chain = None;
            let mut args = Vec::new();
            let mut k = 0;
            while k < w.len() {
                match w[k].as_str() {
                    "-t" | "--table" if k + 1 < w.len() => {
                        table = w[k + 1].clone();
                        k += 2;
                    }
                    "-A" | "-I" | "--append" | "--insert" if k + 1 < w.len() => {
                        chain = Some(w[k + 1].to_uppercase());
                        k += 2;
                    }
                    _ => {
                        args.push(w[k].clone());
                        k += 1;
                    }
                }
            }
            let table = match table.as_str() {
                "filter" => "filter",
                "nat" => "nat",
                "mangle" => {
                    *left_out.entry("-t mangle").or_default() += 1;
                    continue;
                }
                "raw" => {
                    *left_out.entry("-t raw").or_default() += 1;
                    continue;
                }
                _ => {
                    *left_out.entry("other tables").or_default() += 1;
                    continue;
                }
            };
            let Some(chain) = chain else {
                *left_out.entry("no rule made (-F and the like)").or_default() += 1;
                continue;
            };
            let target = args.iter().position(|a| a == "-j").and_then(|p| args.get(p + 1));
            let nat_target = target.is_some_and(|t| {
                matches!(t.as_str(), "DNAT" | "SNAT" | "MASQUERADE" | "REDIRECT" | "NETMAP")
            });
            if table == "nat" && chain == "OUTPUT" && !nat_target {
                // VNS3's OUTPUT_CUST puts a rule without a NAT target in the filter table.
                *left_out
                    .entry("nat OUTPUT without a NAT target (VNS3 has no such rule)")
                    .or_default() += 1;
                continue;
            }
            let expected = expected
                .iter()
                .map(|x| {
                    let x = x.trim_start_matches("nft ").trim();
                    let x = x.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')).unwrap_or(x);
                    x.replace(" ip nat prerouting ", " ip nat PREROUTING ")
                        .replace(" ip nat postrouting ", " ip nat POSTROUTING ")
                })
                .collect();
            cases.push(Case { file: file.clone(), line: i + 1, table, chain, args, expected });
        }
    }
    (cases, left_out)
}

/// The conformance inventory, with every interface the lines name declared: a plain name under
/// its own name, one with `*` or `+` (literal in iptables but for a last `+`) as `ifN`.
fn inventory(cases: &[Case]) -> Text {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let base = std::fs::read_to_string(dir.join("topology.yaml")).expect("topology.yaml");
    let mut names: Vec<String> = Vec::new();
    for c in cases {
        for pair in c.args.windows(2) {
            if matches!(pair[0].as_str(), "-i" | "-o" | "--in-interface" | "--out-interface") {
                // iptables' wildcard is the last `+` only: `eth++` is every name after `eth+`.
                let name = pair[1].strip_suffix('+').unwrap_or(&pair[1]);
                let ok = name.chars().all(|ch| ch.is_ascii_alphanumeric() || "_*+".contains(ch));
                if ok && !name.is_empty() && !base.contains(&format!(": {name}\n")) {
                    names.push(name.to_owned());
                }
            }
        }
    }
    names.sort();
    names.dedup();
    let extra: String = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if n.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                format!("  {n}: {n}\n")
            } else {
                format!("  if{i}: \"{n}\"\n")
            }
        })
        .collect();
    let yaml = base.replacen("interfaces:\n", &format!("interfaces:\n{extra}"), 1);
    Text { name: "txlate-topology.yaml".into(), bytes: yaml.into_bytes() }
}

/// Whether iptables-nft accepts the line (in a namespace of its own, its tables removed after).
fn iptables_accepts(ns: &Netns, case: &Case) -> bool {
    let mut cmd = vec!["iptables-nft", "-t", case.table, "-A", case.chain.as_str()];
    cmd.extend(case.args.iter().map(String::as_str));
    let ok = ns.exec(&cmd).is_ok();
    let _ = ns.exec(&["nft", "delete", "table", "ip", case.table]);
    ok
}

fn judge(ns: &Netns, oracle: &Netns, case: &Case, inventory: &Text) -> Verdict {
    let line = case.vns3();
    let compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        conformance::compile("", &line, inventory)
    }));
    match compiled {
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            return Verdict::Crash(why);
        }
        Ok(Err(diags)) => {
            let first = diags
                .first()
                .map(|d| match &d.help {
                    Some(h) => format!("{}: {} (help: {h})", d.code, d.message),
                    None => format!("{}: {}", d.code, d.message),
                })
                .unwrap_or_default();
            return Verdict::Refused(first, iptables_accepts(oracle, case));
        }
        Ok(Ok(_)) => {}
    }
    if case.args.iter().any(|a| a == "NFQUEUE") && !netns::kernel_has_queue() {
        return Verdict::Unjudged("this kernel has no nft_queue: neither side loads");
    }
    // The file's expectation, unless nft 1.0.6 cannot load it.
    let tables = conformance::TABLES.replace("SUBGROUPS", "");
    let loads = ns.nft_load(&format!("{tables}{}\n", case.expected.join("\n"))).is_ok();
    let (commands, installed) = if loads && !case.expected.is_empty() {
        (case.expected.clone(), false)
    } else {
        match conformance::translate(&[(case.table, case.chain.clone(), case.args.clone())]) {
            Ok(c) => (c, true),
            Err(e) => {
                return Verdict::Disagree(format!(
                    "nft cannot load the expected `{}`, and {e}",
                    case.expected.join(" ; ")
                ));
            }
        }
    };
    match (compare_commands(ns, &line, &commands, inventory), deviation(case)) {
        (Ok(()), None) => Verdict::Agree(installed),
        (Err(_), Some(why)) => Verdict::Deviation(why),
        (Ok(()), Some(why)) => Verdict::Disagree(format!("agrees: a stale deviation ({why})")),
        (Err(e), None) => Verdict::Disagree(e),
    }
}

#[test]
fn iptables_translation_tests_agree_or_are_refused() {
    let Some(root) = std::env::var_os(ENV) else {
        eprintln!(
            "skipping the iptables translation tests: set {ENV} to an iptables source tree \
             (bench/txlate.sh runs it)"
        );
        return;
    };
    if !netns::require_root() {
        return;
    }
    let dir = extensions_dir(Path::new(&root));
    let (cases, left_out) = select(&dir);
    assert!(
        cases.len() >= 100,
        "{ENV}={}: only {} filter/nat iptables-translate lines in {}: not an iptables tree?",
        Path::new(&root).display(),
        cases.len(),
        dir.display()
    );
    let inventory = inventory(&cases);
    let (ns, oracle) = (Netns::new(), Netns::new());
    let mut agree = 0;
    let mut deviations: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut by_installed = Vec::new();
    let mut disagree = Vec::new();
    let mut crash = Vec::new();
    let mut refused: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut refused_by_iptables = 0;
    let mut refused_count = 0;
    let mut unjudged = Vec::new();
    for case in &cases {
        let line = case.vns3();
        match judge(&ns, &oracle, case, &inventory) {
            Verdict::Agree(installed) => {
                agree += 1;
                if installed {
                    by_installed.push(format!("{}: {line}", case.place()));
                }
            }
            Verdict::Deviation(why) => {
                deviations.entry(why).or_default().push(format!("{}: {line}", case.place()))
            }
            Verdict::Disagree(e) => disagree.push(format!("{}: `{line}`\n{e}", case.place())),
            Verdict::Crash(e) => crash.push(format!("{}: `{line}`: {e}", case.place())),
            Verdict::Unjudged(why) => unjudged.push(format!("{}: `{line}`: {why}", case.place())),
            Verdict::Refused(why, iptables_ok) => {
                refused_count += 1;
                if !iptables_ok {
                    refused_by_iptables += 1;
                }
                let module = case.file.trim_end_matches(".txlate").to_owned();
                let also = if iptables_ok { "" } else { " [iptables-nft refuses it too]" };
                refused
                    .entry(module)
                    .or_default()
                    .push(format!(":{} `{line}`{also}\n      {why}", case.line));
            }
        }
    }
    let total = cases.len();
    let pct = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
    println!("refused lines, by file:");
    for (module, lines) in &refused {
        println!("  {module} ({}):", lines.len());
        for l in lines {
            println!("    {l}");
        }
    }
    if !by_installed.is_empty() {
        println!("compared with the installed iptables-translate (nft cannot load the file's):");
        for l in &by_installed {
            println!("  {l}");
        }
    }
    for (why, lines) in &deviations {
        println!("differ as intended ({}): {why}", lines.len());
        for l in lines {
            println!("  {l}");
        }
    }
    if !unjudged.is_empty() {
        println!("compiled but not judged on this machine ({}):", unjudged.len());
        for l in &unjudged {
            println!("  {l}");
        }
    }
    let left: Vec<String> = left_out.iter().map(|(why, n)| format!("{n} {why}")).collect();
    println!("left out: {}", left.join(", "));
    let accepted = total - refused_by_iptables;
    let deviated: usize = deviations.values().map(Vec::len).sum();
    let good = agree + deviated;
    println!(
        "txlate figures: {total} lines, {agree} agree, {deviated} differ as intended, {} \
         disagree, {refused_count} refused ({refused_by_iptables} of them refused by iptables-nft \
         too), {} crash; compile and agree or differ as intended: {:.1}% of all, {:.1}% of the \
         {accepted} lines iptables accepts",
        disagree.len(),
        crash.len(),
        pct(good, total),
        pct(good, accepted),
    );
    assert!(crash.is_empty(), "{} crashes:\n{}", crash.len(), crash.join("\n"));
    assert!(
        disagree.is_empty(),
        "{} lines disagree with iptables:\n{}",
        disagree.len(),
        disagree.join("\n\n")
    );
}

/// The selection and the VNS3 line, on a hand-written file in the suite's format: what is left
/// out and why, lower-case nat chains, quoting, and the expected commands on iptables' chains.
#[test]
fn selection_keeps_the_ipv4_filter_and_nat_rule_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = r#"iptables-translate -A INPUT -p tcp -j LOG --log-prefix "two words"
nft 'add rule ip filter INPUT ip protocol tcp counter log prefix "two words"'

iptables-translate -t nat -A prerouting -p tcp --dport 80 -j REDIRECT
nft 'add rule ip nat prerouting tcp dport 80 counter redirect'

iptables-translate -t nat -A OUTPUT -m owner --uid-owner 0 -j ACCEPT
nft 'add rule ip nat OUTPUT skuid 0 counter accept'

iptables-translate -t mangle -A PREROUTING -j MARK --set-mark 1
nft 'add rule ip mangle PREROUTING counter meta mark set 0x1'

ip6tables-translate -A INPUT -j ACCEPT
nft 'add rule ip6 filter INPUT counter accept'

iptables-translate -F -t nat
nft flush table ip nat
"#;
    std::fs::write(dir.path().join("libxt_made_up.txlate"), text).expect("write");
    std::fs::write(dir.path().join("notes.txt"), text).expect("write");
    let (cases, left_out) = select(dir.path());
    let lines: Vec<(String, &str, Vec<String>)> =
        cases.iter().map(|c| (c.vns3(), c.table, c.expected.clone())).collect();
    assert_eq!(
        lines,
        [
            (
                r#"INPUT_CUST -p tcp -j LOG --log-prefix "two words""#.to_owned(),
                "filter",
                vec![
                    r#"add rule ip filter INPUT ip protocol tcp counter log prefix "two words""#
                        .to_owned()
                ]
            ),
            (
                "PREROUTING_CUST -p tcp --dport 80 -j REDIRECT".to_owned(),
                "nat",
                vec!["add rule ip nat PREROUTING tcp dport 80 counter redirect".to_owned()]
            ),
        ]
    );
    assert_eq!(cases[1].place(), "libxt_made_up.txlate:4");
    let left: Vec<(&str, usize)> = left_out.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(
        left,
        [
            ("-t mangle", 1),
            ("nat OUTPUT without a NAT target (VNS3 has no such rule)", 1),
            ("no rule made (-F and the like)", 1),
            ("other families (ip6tables, ebtables, arptables)", 1),
        ]
    );
    // The words of the VNS3 line are the iptables line's, quoted where needed.
    assert_eq!(words(&cases[0].vns3())[6], "two words");
}
