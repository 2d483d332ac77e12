//! Rules texts + inventory → placed VNS3 chains of concrete values. Parses each line (through
//! `syntax`) and resolves it at once, so that a whole file's AST never exists. A [`Resolver`]
//! takes a run of lines (the driver, `pipeline::drive`, gives each piece of a large file one,
//! on a thread of its own, and appends them in order); `place` puts every line in its VNS3 chain, `matches` and `targets` lower its options and
//! target to IR values, `values` resolves names and variables against the inventory. The
//! `layout` stage then makes nftables chains of the result.

mod matches;
mod place;
mod targets;
mod values;

use crate::diagnostic::{Code, Diagnostic, FileId, Span};
use crate::inventory::Inventory;
use crate::ir::{self, Action, Match};
use crate::nft::is_nft_keyword;
use crate::syntax::ast::{self, Builtin, TargetKind};
use crate::syntax::{self, FirstWords, Piece};
pub use place::SUBGROUP_NAME_MAX;
pub use place::Subgroups;
use values::Values;
pub use values::{Used, parse_net};

/// One rules file: the name it is shown by (in comments and diagnostics), its id, its text.
pub struct Input<'a> {
    pub name: &'a str,
    pub file: FileId,
    /// Empty when the file is streamed.
    pub text: &'a str,
    /// A file whose text is not held: the driver reads its pieces again as they are parsed.
    pub stream: Option<&'a dyn Streamed>,
}

/// A rules file whose text is not held while it is resolved (a large one): its pieces of whole
/// lines, as the driver first read and scanned them, and their text read again on demand. The
/// driver (`pipeline`) does the reading: resolving does no IO of its own.
pub trait Streamed: Sync {
    /// The text's length in bytes.
    fn text_len(&self) -> usize;
    /// The pieces the text was cut into, in order.
    fn pieces(&self) -> Vec<Piece>;
    /// The first words of piece `k`, found when it was first read.
    fn first_words(&self, k: usize) -> FirstWords;
    /// Reads piece `k` again, handing `each` its windows in order: whole lines, with the
    /// window's byte offset in the file and its first line's number. `Err` when reading fails
    /// or finds the text changed since it was first read.
    fn read_piece(&self, k: usize, each: &mut dyn FnMut(&str, usize, u32)) -> std::io::Result<()>;
}

impl Input<'_> {
    /// The text's length in bytes, held or not.
    pub fn text_len(&self) -> usize {
        self.stream.map_or(self.text.len(), |s| s.text_len())
    }
}

pub struct Options<'a> {
    /// `table ip NAME`; validated by [`check_table_name`].
    pub table: &'a str,
    /// Identifies the inputs; goes in the table comment.
    pub input_hash: String,
}

/// A table name must be a plain identifier so that it needs no quoting in the script.
pub fn check_table_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 64
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !is_nft_keyword(name);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid table name `{}`: use letters, digits and `_`, starting with a letter (at most 64), and not an nft keyword",
            name.escape_debug()
        ))
    }
}

/// What resolving produced: the placed VNS3 chains and the inventory entries rules named (for
/// lints), every diagnostic (errors and warnings) found, and — when there is no error — what
/// [`crate::layout::layout`] lays out as nftables chains.
pub struct Resolved {
    pub chains: Vec<VChain>,
    /// The rules files' names, for the placed lines' origins.
    pub files: Files,
    pub used: Used,
    pub diagnostics: Vec<Diagnostic>,
    /// Reading a streamed file again failed (or found it changed): nothing else counts.
    pub io: Option<std::io::Error>,
    /// `None` when there is an error.
    pub(crate) sets: Option<Vec<ir::Set>>,
    pub(crate) table: String,
    pub(crate) input_hash: String,
}

impl<'a> Resolver<'a> {
    /// A resolver of lines against `inv`. The driver (`pipeline`) gives each run of lines (a
    /// piece of a large file, on a thread of its own) a resolver, and appends them in order.
    pub fn new(inv: &'a Inventory) -> Self {
        Resolver {
            v: Values::new(inv),
            chains: Vec::new(),
            index: Default::default(),
            scratch: Default::default(),
            builtin_lines: [0; 5],
            io: None,
        }
    }

    /// Room to make in each builtin chain (by `Builtin as usize`) when it is first used: the
    /// driver's estimate of the lines that will land there.
    pub fn with_room(mut self, builtin_lines: [usize; 5]) -> Self {
        self.builtin_lines = builtin_lines;
        self
    }

    /// The subgroups the inputs' lines define, from the pieces' first words (in order, before
    /// any line is resolved), so that a jump can precede the subgroup's lines. Errors about
    /// their names are this resolver's.
    pub fn subgroups(&mut self, words: impl IntoIterator<Item = FirstWords>) -> Subgroups {
        place::subgroups(words, &mut self.v.diags)
    }

    /// What every line resolved: the jump checks over all chains, the inventory's sets, the
    /// diagnostics in order.
    pub fn finish(mut self, inputs: &[Input], inv: &Inventory, opts: &Options) -> Resolved {
        let r = &mut self;
        r.check_jump_loops();
        r.check_meters();
        r.check_stateful_nat();
        for (name, set) in &inv.fwsets {
            if is_nft_keyword(name) {
                r.v.diags.push(
                    Diagnostic::error(
                        Code::E102,
                        format!("FWset name `{name}` is an nft keyword and cannot name a set"),
                        set.span,
                    )
                    .with_help("rename the FWset"),
                );
            }
        }
        let diagnostics = std::mem::take(&mut r.v.diags);
        let used = std::mem::take(&mut r.v.used);
        let failed = r.io.is_some() || diagnostics.iter().any(Diagnostic::is_error);
        let sets = (!failed).then(|| {
            let mut sets: Vec<ir::Set> = inv
                .fwsets
                .iter()
                .map(|(name, s)| ir::Set {
                    name: name.clone(),
                    elements: match &s.elements {
                        crate::inventory::FwSetElements::Addrs(a) => {
                            ir::SetElements::Addrs(a.clone())
                        }
                        crate::inventory::FwSetElements::Ports(p) => {
                            ir::SetElements::Ports(p.clone())
                        }
                    },
                })
                .collect();
            sets.sort_by(|a, b| a.name.cmp(&b.name));
            sets
        });
        Resolved {
            chains: std::mem::take(&mut r.chains),
            files: files(inputs),
            used,
            diagnostics,
            io: r.io.take(),
            sets,
            table: opts.table.to_string(),
            input_hash: opts.input_hash.clone(),
        }
    }
}

/// Where a line's rules go: a builtin hook's chains (the builtin and its subgroups), or the
/// mirror.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Builtin(Builtin),
    Mirror,
}

/// A line placed in its VNS3 chain, with concrete values, before layout into nft chains: what
/// lints look at. A line whose `-s`/`-d` list expands gives several.
#[derive(Clone, Debug)]
pub struct Placed {
    /// Exactly the rule's matches (a boxed slice: 8 bytes less than a vector, here and in the
    /// allocation, which a vector's spare room made a size class larger).
    pub matches: Box<[Match]>,
    pub action: Action,
    /// What few lines have, in one box (every line carries the pointer: 64 bytes a line, was
    /// 80 with a vector and a box each for the two).
    pub extra: Option<Box<Extra>>,
    /// The line's number; its file is `span.file` (named in [`Resolved::files`]). The
    /// [`Origin`] is made at layout (`Placed::origin`): 16 bytes less here for every line.
    pub line: u32,
    /// The whole source line.
    pub span: Span,
}

/// A placed line's rarely present parts.
#[derive(Clone, Debug)]
pub struct Extra {
    /// For `Action::Jump`: the subgroup's VNS3 name (projection names are chosen at layout)
    /// and where the jump is written.
    pub jump: Option<(String, Span)>,
    /// The `-m comment` text, if any.
    pub note: Option<String>,
}

impl Placed {
    pub fn jump(&self) -> Option<&(String, Span)> {
        self.extra.as_ref()?.jump.as_ref()
    }
}

pub use crate::ir::Files;

/// The names of the rules files resolved, by their `FileId`.
pub(crate) fn files(inputs: &[Input]) -> Files {
    let mut files = Files::default();
    for input in inputs {
        files.insert(input.file, input.name);
    }
    files
}

/// A VNS3 chain: a builtin `X_CUST`, a subgroup, or the mirror's `MACRO_CUST_IN`/`_OUT`, with
/// its lines in order.
#[derive(Clone, Debug)]
pub struct VChain {
    pub name: String,
    pub family: Family,
    pub rules: Vec<Placed>,
}

/// Resolves lines as they are parsed (see [`Resolver::new`]).
pub struct Resolver<'a> {
    v: Values<'a>,
    chains: Vec<VChain>,
    index: crate::fasthash::FxHashMap<String, usize>,
    /// A line's interface matches and its other matches while [`Resolver::matches`] sorts them
    /// out: kept from line to line (cleared), not allocated for every line.
    scratch: (Vec<Match>, Vec<Match>),
    /// Room to make in each builtin chain (by `Builtin as usize`) when it is first used: the
    /// lines of all inputs that start with its word, or a piece's share of them. Grown by
    /// doubling from nothing, a 25,000-rule chain was copied 15 times over; room not filled is
    /// address space, not memory, until written.
    builtin_lines: [usize; 5],
    /// The first failure to read a streamed piece again.
    io: Option<std::io::Error>,
}

pub fn builtin_chain_name(b: Builtin) -> &'static str {
    match b {
        Builtin::Prerouting => "PREROUTING_CUST",
        Builtin::Input => "INPUT_CUST",
        Builtin::Forward => "FORWARD_CUST",
        Builtin::Output => "OUTPUT_CUST",
        Builtin::Postrouting => "POSTROUTING_CUST",
    }
}

fn target_name(t: &TargetKind) -> &'static str {
    match t {
        TargetKind::Accept => "ACCEPT",
        TargetKind::Drop => "DROP",
        TargetKind::Reject { .. } => "REJECT",
        TargetKind::Log { .. } => "LOG",
        TargetKind::Return => "RETURN",
        TargetKind::Jump(_) => "a subgroup jump",
        TargetKind::Dnat { .. } => "DNAT",
        TargetKind::Snat { .. } => "SNAT",
        TargetKind::Masquerade { once: false, .. } => "MASQUERADE",
        TargetKind::Masquerade { once: true, .. } => "MASQUERADE-ONCE",
        TargetKind::Redirect { .. } => "REDIRECT",
        TargetKind::Netmap { .. } => "NETMAP",
        TargetKind::Copy { .. } => "COPY",
        TargetKind::Tcpmss { mss: None } => "TCPMSS --clamp-mss-to-pmtu",
        TargetKind::Tcpmss { mss: Some(_) } => "TCPMSS",
        TargetKind::Mark { ct: false, .. } => "MARK",
        TargetKind::Mark { ct: true, .. } => "CONNMARK",
        TargetKind::Nflog { .. } => "NFLOG",
        TargetKind::Dscp { .. } => "DSCP",
        TargetKind::Classify(_) => "CLASSIFY",
        TargetKind::Audit { .. } => "AUDIT",
        TargetKind::Nfqueue { .. } => "NFQUEUE",
    }
}

pub(crate) fn hook_word(b: Builtin) -> &'static str {
    match b {
        Builtin::Prerouting => "PREROUTING",
        Builtin::Input => "INPUT",
        Builtin::Forward => "FORWARD",
        Builtin::Output => "OUTPUT",
        Builtin::Postrouting => "POSTROUTING",
    }
}

impl<'a> Resolver<'a> {
    /// Parses the lines of piece `k` of the input and resolves each at once.
    pub fn piece(&mut self, input: &Input, k: usize, piece: Piece, subgroups: &Subgroups) {
        // The name as the rules' comments carry it (W002 measures the comment).
        let name = crate::text::comment_name(input.name);
        let mut line = |line: Result<ast::Rule, syntax::Failed>| match line {
            Ok(rule) => self.rule(&name, &rule, subgroups),
            Err(f) => {
                self.v.diags.extend(f.diags);
                self.names_only(&f.matches);
            }
        };
        let Some(stream) = input.stream else {
            syntax::lower_piece(input.file, input.text, piece, line);
            return;
        };
        let read = stream.read_piece(k, &mut |window, base, first_line| {
            syntax::lower_window(input.file, window, base, first_line, &mut line);
        });
        if let Err(e) = read {
            self.io.get_or_insert(e);
        }
    }

    /// Adds what `next` resolved from the lines after ours: its chains' rules after ours (new
    /// chains after ours, in their order), its diagnostics after ours, the union of the
    /// inventory entries used.
    pub fn append(&mut self, next: Resolver<'_>) {
        self.v.diags.extend(next.v.diags);
        if self.io.is_none() {
            self.io = next.io;
        }
        let used = next.v.used;
        self.v.used.variables.extend(used.variables);
        self.v.used.fwsets.extend(used.fwsets);
        self.v.used.plugins.extend(used.plugins);
        self.v.used.interfaces.extend(used.interfaces);
        for chain in next.chains {
            match self.index.get(&chain.name) {
                Some(&i) => {
                    // The first piece made room for the whole file's lines (`resolve_on`); past
                    // that, one reallocation to exactly the joined length, not a doubling.
                    let rules = &mut self.chains[i].rules;
                    rules.reserve_exact(chain.rules.len());
                    rules.extend(chain.rules);
                }
                None => {
                    self.index.insert(chain.name.clone(), self.chains.len());
                    self.chains.push(chain);
                }
            }
        }
    }

    fn error(&mut self, d: Diagnostic) {
        self.v.diags.push(d);
    }

    fn chain_mut(&mut self, name: &str, family: Family) -> &mut VChain {
        let i = match self.index.get(name) {
            Some(&i) => i,
            None => {
                let room = match family {
                    Family::Builtin(b) if name == builtin_chain_name(b) => {
                        self.builtin_lines[b as usize]
                    }
                    _ => 0,
                };
                let rules = Vec::with_capacity(room);
                self.chains.push(VChain { name: name.to_string(), family, rules });
                self.index.insert(name.to_string(), self.chains.len() - 1);
                self.chains.len() - 1
            }
        };
        &mut self.chains[i]
    }
}

#[cfg(test)]
mod tests {
    use super::matches::{AddrAlts, addr_alternatives, one_net};
    use super::values::AddrPart;
    use super::*;
    use crate::diagnostic::{FileId, Sources};
    use crate::layout::layout;

    /// A placed line keeps its line number and note; its file (`span.file`) is named when the
    /// layout makes the rule's origin, and by the lints when they cite a line of another file.
    #[test]
    fn origins_name_each_lines_file_at_layout() {
        assert_eq!(std::mem::size_of::<Placed>(), 64, "a placed line per rule: keep it small");
        let mut sources = Sources::new();
        let inv = crate::inventory::default_inventory(&mut sources);
        let a = "FORWARD_CUST -s 10.0.0.1 -j DROP\n\nFORWARD_CUST -s 10.0.0.2 -j DROP -m comment --comment x\n";
        let b = "FORWARD_CUST -s 10.0.0.1 -j DROP\n";
        let inputs = [
            Input { name: "a.rules", file: FileId(7), text: a, stream: None },
            Input { name: "b.rules", file: FileId(9), text: b, stream: None },
        ];
        let opts = Options { table: "overlayfw", input_hash: String::new() };
        let resolved = crate::pipeline::drive::resolve_all(&inputs, &inv, &opts);
        assert!(resolved.diagnostics.is_empty(), "{:?}", resolved.diagnostics);
        let lints =
            crate::lint::lint(&resolved, &inv, &crate::lint::Options { inventory_given: false });
        let duplicate =
            lints.iter().find(|d| d.code == Code::W102).expect("b.rules:1 repeats a.rules:1");
        assert!(duplicate.message.ends_with("a.rules:1"), "{}", duplicate.message);
        let rs = layout(resolved).expect("no error");
        let fwd = rs.chains.iter().find(|c| c.name == "FORWARD_CUST").expect("the chain");
        let origins: Vec<(String, u32, Option<String>)> = fwd
            .rules
            .iter()
            .map(|r| r.origin.clone().expect("a line's rule"))
            .map(|o| (rs.files.name(o.file).to_string(), o.line.get(), o.note.map(String::from)))
            .collect();
        assert_eq!(
            origins,
            [
                ("a.rules".into(), 1, None),
                ("a.rules".into(), 3, Some("x".into())),
                ("b.rules".into(), 1, None)
            ]
        );
    }

    /// Resolves one file named `t.rules` against the built-in inventory.
    fn resolve_text(text: &str) -> Resolved {
        let mut sources = Sources::new();
        let inv = crate::inventory::default_inventory(&mut sources);
        let inputs = [Input { name: "t.rules", file: FileId(1), text, stream: None }];
        crate::pipeline::drive::resolve_all(
            &inputs,
            &inv,
            &Options { table: "overlayfw", input_hash: String::new() },
        )
    }

    /// Every spelling of a log level, in any case, passes the syntax stage and the resolver
    /// alike (they share `vocab::LOG_LEVELS`): `panic`, which iptables takes, was refused.
    #[test]
    fn every_log_level_spelling_resolves_to_its_level() {
        let spellings =
            crate::vocab::LOG_LEVELS.iter().flat_map(|&(level, number, nft, others)| {
                let words = [number.to_string(), nft.to_string()].into_iter();
                words.chain(others.iter().map(|o| o.to_string())).map(move |w| (w, level))
            });
        for (word, level) in spellings {
            for word in [word.clone(), word.to_ascii_uppercase()] {
                let resolved = resolve_text(&format!("INPUT_CUST -j LOG --log-level {word}\n"));
                assert!(resolved.diagnostics.is_empty(), "{word}: {:?}", resolved.diagnostics);
                let rs = layout(resolved).expect("no error");
                let chain = rs.chains.iter().find(|c| c.name == "INPUT_CUST").expect("chain");
                assert_eq!(
                    chain.rules[0].action,
                    Action::Log {
                        prefix: None,
                        level: Some(level),
                        flags: crate::ir::LogFlags::NONE
                    },
                    "{word}"
                );
            }
        }
        let panic = layout(resolve_text("INPUT_CUST -j LOG --log-level panic\n"));
        let script = crate::emit::nft_script(&panic.expect("panic is a level"));
        assert!(script.contains("log level emerg comment"), "{script}");
        for bad in ["8", "loud", "warnings", "07"] {
            let resolved = resolve_text(&format!("INPUT_CUST -j LOG --log-level {bad}\n"));
            let codes: Vec<_> = resolved.diagnostics.iter().map(|d| d.code).collect();
            assert_eq!(codes, [Code::E008], "{bad}");
        }
    }

    /// The syntax stage and the resolver read ICMP type names from one list: every name the
    /// syntax takes resolves, to its type and code.
    #[test]
    fn every_icmp_type_name_resolves_to_its_type_and_code() {
        for t in crate::vocab::ICMP_TYPES.iter().filter(|t| t.rules) {
            let (name, kind, code) = (t.name, t.kind, t.code);
            for word in [name.to_string(), name.to_ascii_uppercase()] {
                let text = format!("INPUT_CUST -p icmp --icmp-type {word} -j DROP\n");
                let resolved = resolve_text(&text);
                assert!(resolved.diagnostics.is_empty(), "{word}: {:?}", resolved.diagnostics);
                let rs = layout(resolved).expect("no error");
                let chain = rs.chains.iter().find(|c| c.name == "INPUT_CUST").expect("chain");
                let icmp = Match::IcmpType { neg: false, kind, code };
                assert!(chain.rules[0].matches.contains(&icmp), "{word}: {:?}", chain.rules[0]);
            }
        }
    }

    /// Every `--reject-with` spelling passes the syntax stage and resolves to its type, which
    /// the emitter writes by nft's name of its ICMP code.
    #[test]
    fn every_reject_spelling_resolves_to_its_type() {
        for &(with, spellings, _) in crate::vocab::REJECT_TYPES {
            for word in spellings.iter().flat_map(|s| [s.to_string(), s.to_ascii_uppercase()]) {
                let text = format!("INPUT_CUST -p tcp -j REJECT --reject-with {word}\n");
                let resolved = resolve_text(&text);
                assert!(resolved.diagnostics.is_empty(), "{word}: {:?}", resolved.diagnostics);
                let rs = layout(resolved).expect("no error");
                let chain = rs.chains.iter().find(|c| c.name == "INPUT_CUST").expect("chain");
                assert_eq!(chain.rules[0].action, Action::Reject(with), "{word}");
            }
        }
        let rs =
            layout(resolve_text("INPUT_CUST -j REJECT --reject-with icmp-proto-unreachable\n"));
        let script = crate::emit::nft_script(&rs.expect("compiles"));
        assert!(script.contains("reject with icmp type prot-unreachable comment"), "{script}");
    }

    #[test]
    fn one_network_resolves_as_the_general_address_path() {
        for (net, prefix) in [([10, 1, 2, 0], 24), ([0, 0, 0, 0], 0), ([192, 0, 2, 7], 32)] {
            let net = ipnetwork::Ipv4Network::new(net.into(), prefix).expect("network");
            for neg in [false, true] {
                for is_src in [false, true] {
                    let general = addr_alternatives(vec![AddrPart::Nets(vec![net])], neg, is_src);
                    assert_eq!(
                        one_net(net, neg, is_src),
                        AddrAlts::from_alternatives(general),
                        "{net} neg {neg} src {is_src}"
                    );
                }
            }
        }
    }

    #[test]
    fn e011_names_the_interface_the_chain_lacks() {
        // Packets in OUTPUT and POSTROUTING have no input interface (iptables refuses `-i`),
        // packets in INPUT and PREROUTING no output interface (`-o`).
        let text = "OUTPUT_CUST -i eth0 -j DROP\nPOSTROUTING_CUST -i eth0 -j DROP\n\
                    INPUT_CUST -o eth0 -j DROP\nPREROUTING_CUST -o eth0 -j DROP\n";
        let mut sources = Sources::new();
        let inv = crate::inventory::default_inventory(&mut sources);
        let inputs = [Input { name: "i.rules", file: FileId(2), text, stream: None }];
        let opts = Options { table: "overlayfw", input_hash: "h".into() };
        let r = crate::pipeline::drive::resolve(&inputs, &inv, &opts, 1);
        let found: Vec<(&str, &str, &str)> = r
            .diagnostics
            .iter()
            .filter(|d| d.code == Code::E011)
            .map(|d| {
                (d.message.as_str(), d.labels[0].message.as_str(), d.help.as_deref().unwrap_or(""))
            })
            .collect();
        let use_o = "use -o, or move the rule to a chain that sees that interface";
        let use_i = "use -i, or move the rule to a chain that sees that interface";
        assert_eq!(
            found,
            [
                ("-i is not allowed in OUTPUT", "OUTPUT packets have no input interface", use_o),
                (
                    "-i is not allowed in POSTROUTING",
                    "POSTROUTING packets have no input interface",
                    use_o
                ),
                ("-o is not allowed in INPUT", "INPUT packets have no output interface", use_i),
                (
                    "-o is not allowed in PREROUTING",
                    "PREROUTING packets have no output interface",
                    use_i
                ),
            ]
        );
    }

    #[test]
    fn an_interface_named_again_resolves_alike_and_shares_its_name() {
        // By alias and by kernel name, each twice; an unknown name fails every time.
        let text = "INPUT_CUST -i public -j ACCEPT\nINPUT_CUST -i public -j DROP\n\
                    FORWARD_CUST -i eth0 -o tun0 -j ACCEPT\nFORWARD_CUST -i eth0 -o tun0 -j DROP\n\
                    INPUT_CUST -i eth9 -j DROP\nINPUT_CUST -i eth9 -j DROP\n";
        let mut sources = Sources::new();
        let inv = crate::inventory::default_inventory(&mut sources);
        let inputs = [Input { name: "i.rules", file: FileId(2), text, stream: None }];
        let opts = Options { table: "overlayfw", input_hash: "h".into() };
        let r = crate::pipeline::drive::resolve(&inputs, &inv, &opts, 1);
        let line_of = |at: usize| text[..at].matches('\n').count() + 1;
        let unknown: Vec<usize> = r
            .diagnostics
            .iter()
            .filter(|d| d.code == Code::E016)
            .map(|d| line_of(d.span().start as usize))
            .collect();
        assert_eq!(unknown, [5, 6], "{:?}", r.diagnostics);
        let used: Vec<&str> = r.used.interfaces.iter().map(String::as_str).collect();
        assert_eq!(used, ["overlay", "public"]);
        let iifs: Vec<&std::sync::Arc<str>> = r
            .chains
            .iter()
            .flat_map(|c| &c.rules)
            .filter_map(|p| match &p.matches[0] {
                Match::IifName { name, .. } => Some(name),
                _ => None,
            })
            .collect();
        assert_eq!(iifs.len(), 4);
        assert!(iifs.iter().all(|n| &***n == "eth0"));
        // One allocation per name as written: `public` twice, `eth0` twice.
        assert!(
            std::sync::Arc::ptr_eq(iifs[0], iifs[1]) && std::sync::Arc::ptr_eq(iifs[2], iifs[3])
        );
    }
}
