//! Rules texts + inventory → IR. Parses each line (through `syntax`) and resolves it at once,
//! so that a whole file's AST never exists; places every line in its chain (VNS3 semantics:
//! chain-less lines, MACRO_CUST, subgroups), enforces iptables' own rules on where options and
//! targets may stand, resolves every name and variable to a concrete value, and lays the rules
//! out as nftables chains (see ARCHITECTURE.md, "Chain layout").

mod values;

use std::collections::HashMap;

use crate::diagnostic::{Diagnostic, FileId, Span, Spanned};
use crate::inventory::Inventory;
use crate::ir::{self, Action, BaseChain, ChainKind, Class, Hook, Match, Origin};
use crate::nft::{CHAIN_NAME_MAX, COMMENT_MAX, JUMP_DEPTH_MAX, LOG_PREFIX_MAX, is_nft_keyword};
use crate::syntax::ast::{self, Builtin, ChainWord, MatchKind, Protocol, TargetKind};
use crate::syntax::{self, Piece};
use values::{AddrPart, Values};
pub use values::{Used, parse_net};

/// One rules file: the name it is shown by (in comments and diagnostics), its id, its text.
pub struct Input<'a> {
    pub name: &'a str,
    pub file: FileId,
    /// Empty when the file is streamed.
    pub text: &'a str,
    /// A file whose text is not held: its pieces are read again as they are parsed.
    pub stream: Option<&'a crate::stream::Stream>,
}

impl Input<'_> {
    /// The text's length in bytes, held or not.
    fn len(&self) -> usize {
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
/// [`Resolved::into_ruleset`] lays out as nftables chains.
pub struct Resolved {
    pub chains: Vec<VChain>,
    /// The rules files' names, for the placed lines' origins.
    pub files: Files,
    pub used: Used,
    pub diagnostics: Vec<Diagnostic>,
    /// Reading a streamed file again failed (or found it changed): nothing else counts.
    pub io: Option<std::io::Error>,
    /// `None` when there is an error.
    sets: Option<Vec<ir::Set>>,
    table: String,
    input_hash: String,
}

impl Resolved {
    /// Lays the placed chains out as the ruleset, freeing each placed chain as soon as it is
    /// laid out (so that the two never both exist whole). `None` when resolving found an
    /// error.
    pub fn into_ruleset(self) -> Option<ir::Ruleset> {
        let sets = self.sets?;
        let chains = layout(self.chains, &self.files);
        Some(ir::Ruleset { table: self.table, input_hash: self.input_hash, sets, chains })
    }
}

/// Parses and resolves all files against the inventory. The diagnostics include the parse
/// errors.
pub fn resolve(inputs: &[Input], inv: &Inventory, opts: &Options) -> Resolved {
    resolve_on(inputs, inv, opts, crate::parallel::threads())
}

/// [`resolve`] on up to `threads` threads: a large file is cut into pieces of whole lines, each
/// parsed and resolved by its own resolver, and the pieces are joined in order.
fn resolve_on(inputs: &[Input], inv: &Inventory, opts: &Options, threads: usize) -> Resolved {
    let mut r = Resolver::new(inv);
    let pieces: Vec<Vec<syntax::Piece>> = inputs
        .iter()
        .map(|input| match input.stream {
            Some(s) => s.pieces.iter().map(|p| p.piece).collect(),
            None => syntax::pieces(input.text, threads),
        })
        .collect();
    let subgroups;
    (subgroups, r.builtin_lines) = collect_subgroups(inputs, &pieces, &mut r.v.diags);
    let bytes: usize = inputs.iter().map(Input::len).sum();
    let share = |n: usize, piece_bytes: usize| {
        let n = n as u128 * piece_bytes as u128 / bytes.max(1) as u128;
        usize::try_from(n + n / 4).unwrap_or(usize::MAX)
    };
    for (input, pieces) in inputs.iter().zip(pieces) {
        if let [piece] = pieces[..] {
            r.piece(input, 0, piece, &subgroups);
            continue;
        }
        let pieces: Vec<(usize, Piece)> = pieces.into_iter().enumerate().collect();
        let parts = crate::parallel::map(pieces, |(k, piece)| {
            let mut part = Resolver::new(inv);
            // Room for the piece's share of the lines and a quarter more (its lines need not be
            // spread like the file's); in the first piece, for every line of the file and an
            // eighth more: its chains take the others' rules when the pieces are joined, without
            // being copied to a larger vector (room not filled is address space, not memory).
            part.builtin_lines = if k == 0 {
                r.builtin_lines.map(|n| n + n / 8)
            } else {
                r.builtin_lines.map(|n| share(n, piece.to - piece.from))
            };
            part.piece(input, k, piece, &subgroups);
            part
        });
        for part in parts {
            r.append(part);
        }
    }
    r.check_jump_loops();
    for (name, set) in &inv.fwsets {
        if is_nft_keyword(name) {
            r.v.diags.push(
                Diagnostic::error(
                    "E102",
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
                    crate::inventory::FwSetElements::Addrs(a) => ir::SetElements::Addrs(a.clone()),
                    crate::inventory::FwSetElements::Ports(p) => ir::SetElements::Ports(p.clone()),
                },
            })
            .collect();
        sets.sort_by(|a, b| a.name.cmp(&b.name));
        sets
    });
    Resolved {
        chains: r.chains,
        files: Files::new(inputs),
        used,
        diagnostics,
        io: r.io,
        sets,
        table: opts.table.to_string(),
        input_hash: opts.input_hash.clone(),
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

    /// The line's origin for its IR rule: its span's file, its number and (taken) note.
    fn origin(&mut self, files: &Files) -> Origin {
        let note = self.extra.as_mut().and_then(|e| e.note.take()).map(Box::new);
        Origin { file: files.name(self.span.file), line: self.line, note }
    }
}

/// The names of the rules files, by `FileId`, shared by every rule of a file.
#[derive(Clone, Debug, Default)]
pub struct Files(Vec<Option<std::sync::Arc<String>>>);

impl Files {
    fn new(inputs: &[Input]) -> Files {
        let mut names = Vec::new();
        for input in inputs {
            let i = input.file.0 as usize;
            if names.len() <= i {
                names.resize(i + 1, None);
            }
            names[i] = Some(std::sync::Arc::new(crate::text::comment_name(input.name)));
        }
        Files(names)
    }

    /// The name of a rules file that was resolved, in the safe form rule comments carry
    /// ([`crate::text::comment_name`]).
    pub fn name(&self, file: FileId) -> std::sync::Arc<String> {
        let name = self.0.get(file.0 as usize).and_then(Option::as_ref);
        std::sync::Arc::clone(name.expect("a resolved file"))
    }
}

/// A VNS3 chain: a builtin `X_CUST`, a subgroup, or the mirror's `MACRO_CUST_IN`/`_OUT`, with
/// its lines in order.
#[derive(Clone, Debug)]
pub struct VChain {
    pub name: String,
    pub family: Family,
    pub rules: Vec<Placed>,
}

struct Resolver<'a> {
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

/// The match lists of the nft rules one line becomes: nearly always one.
enum Alts {
    One(Vec<Match>),
    /// A `-s`/`-d` list mixing FWsets and networks: a rule per combination.
    Many(Vec<Vec<Match>>),
}

impl Alts {
    fn as_slice(&self) -> &[Vec<Match>] {
        match self {
            Alts::One(m) => std::slice::from_ref(m),
            Alts::Many(v) => v,
        }
    }
}

/// What one `-s`/`-d` option asks of a packet.
#[derive(Debug, PartialEq)]
enum AddrAlts {
    /// Nothing (no option, or `0.0.0.0/0`).
    Any,
    /// One match.
    One(Match),
    /// Alternatives, each the matches of one rule.
    Many(Vec<Vec<Match>>),
}

impl AddrAlts {
    fn from_alternatives(mut alts: Vec<Vec<Match>>) -> Self {
        match &mut alts[..] {
            [one] if one.is_empty() => AddrAlts::Any,
            [one] if one.len() == 1 => AddrAlts::One(one.pop().expect("one match")),
            _ => AddrAlts::Many(alts),
        }
    }

    fn into_alternatives(self) -> Vec<Vec<Match>> {
        match self {
            AddrAlts::Any => vec![Vec::new()],
            AddrAlts::One(m) => vec![vec![m]],
            AddrAlts::Many(v) => v,
        }
    }
}

/// Longest subgroup name: layout derives chain names up to 7 bytes longer (`…_FILTER`).
pub const SUBGROUP_NAME_MAX: usize = CHAIN_NAME_MAX - "_FILTER".len();

/// Subgroup name → (parent, span of the first line that defines it).
type Subgroups = HashMap<String, (Builtin, Span)>;

/// Collects the subgroups the lines define (by their first word, before any line is parsed).
/// Names ending in `_FILTER` or `_NAT` are refused: layout derives chain names with those
/// suffixes, and nft would merge two chains of the same name into one.
/// Also returns how many lines of all inputs start with each builtin chain's word.
fn collect_subgroups(
    inputs: &[Input],
    pieces: &[Vec<syntax::Piece>],
    diags: &mut Vec<Diagnostic>,
) -> (Subgroups, [usize; 5]) {
    let mut map = Subgroups::new();
    let mut builtin_lines = [0; 5];
    // Each piece's lines on a thread of its own, as they are resolved (a 100,000-line file's
    // first words took 3.1 ms on one thread).
    let words = inputs.iter().zip(pieces).flat_map(|(input, pieces)| match input.stream {
        // Found when the streamed file was first read.
        Some(s) => s.pieces.iter().map(|p| p.words.clone()).collect(),
        None => crate::parallel::map(pieces.clone(), |piece| {
            syntax::first_words_in(input.file, input.text, piece)
        }),
    });
    for words in words {
        for (n, add) in builtin_lines.iter_mut().zip(words.builtin_lines) {
            *n += add;
        }
        for (name, parent, span) in words.subgroups {
            if map.contains_key(&name) {
                continue;
            }
            if name.len() > SUBGROUP_NAME_MAX {
                let head: String = name.chars().take(24).collect();
                diags.push(
                    Diagnostic::error(
                        "E003",
                        format!(
                            "subgroup name `{head}…` is {} bytes; with `_FILTER` its chain's name \
                             would pass nft's limit of {CHAIN_NAME_MAX}",
                            name.len()
                        ),
                        span,
                    )
                    .with_help(format!(
                        "shorten it to at most {SUBGROUP_NAME_MAX} bytes (overlayfw adds up to 7, `_FILTER`)"
                    )),
                );
            } else if name.ends_with("_FILTER") || name.ends_with("_NAT") {
                diags.push(
                    Diagnostic::error(
                        "E003",
                        format!("subgroup name `{name}` ends in a suffix overlayfw reserves"),
                        span,
                    )
                    .with_help("overlayfw names its own chains `…_FILTER` and `…_NAT`; rename the subgroup"),
                );
            }
            map.insert(name, (parent, span));
        }
    }
    (map, builtin_lines)
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
    }
}

fn hook_word(b: Builtin) -> &'static str {
    match b {
        Builtin::Prerouting => "PREROUTING",
        Builtin::Input => "INPUT",
        Builtin::Forward => "FORWARD",
        Builtin::Output => "OUTPUT",
        Builtin::Postrouting => "POSTROUTING",
    }
}

impl<'a> Resolver<'a> {
    fn new(inv: &'a Inventory) -> Self {
        Resolver {
            v: Values::new(inv),
            chains: Vec::new(),
            index: Default::default(),
            scratch: Default::default(),
            builtin_lines: [0; 5],
            io: None,
        }
    }

    /// Parses the lines of piece `k` of the input and resolves each at once.
    fn piece(&mut self, input: &Input, k: usize, piece: Piece, subgroups: &Subgroups) {
        // The name as the rules' comments carry it (W002 measures the comment).
        let name = crate::text::comment_name(input.name);
        let mut line = |line: Result<ast::Rule, Vec<Diagnostic>>| match line {
            Ok(rule) => self.rule(&name, &rule, subgroups),
            Err(ds) => self.v.diags.extend(ds),
        };
        let Some(stream) = input.stream else {
            syntax::lower_piece(input.file, input.text, piece, line);
            return;
        };
        let read = stream.read_piece(k, |window, base, first_line| {
            syntax::lower_window(input.file, window, base, first_line, &mut line);
        });
        if let Err(e) = read {
            self.io.get_or_insert(e);
        }
    }

    /// Adds what `next` resolved from the lines after ours: its chains' rules after ours (new
    /// chains after ours, in their order), its diagnostics after ours, the union of the
    /// inventory entries used.
    fn append(&mut self, next: Resolver<'_>) {
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

    /// Decides the VNS3 chain a line lands in: `(chain name, family)`.
    fn place<'r>(&mut self, rule: &'r ast::Rule) -> Option<(&'r str, Family)> {
        let target = rule.target.as_ref();
        let is_copy = matches!(target.map(|t| &t.kind), Some(TargetKind::Copy { .. }));
        match &rule.chain {
            Some(Spanned { node: ChainWord::Builtin(b), span }) => {
                if is_copy {
                    self.copy_misplaced(rule, *span);
                    return None;
                }
                Some((builtin_chain_name(*b), Family::Builtin(*b)))
            }
            Some(Spanned { node: ChainWord::Subgroup { parent, name }, span }) => {
                if is_copy {
                    self.copy_misplaced(rule, *span);
                    return None;
                }
                Some((name.as_str(), Family::Builtin(*parent)))
            }
            Some(Spanned { node: ChainWord::Macro, span }) => match target.map(|t| &t.kind) {
                Some(TargetKind::Copy { .. }) => Some(("", Family::Mirror)),
                Some(TargetKind::Masquerade { .. }) => Some((
                    builtin_chain_name(Builtin::Postrouting),
                    Family::Builtin(Builtin::Postrouting),
                )),
                other => {
                    let what = other.map_or("no target", target_name);
                    let at = target.map_or(*span, |t| t.span);
                    self.error(
                        Diagnostic::error("E012", format!("MACRO_CUST does not take {what}"), at)
                            .with_help("MACRO_CUST takes `-j COPY --from IF --to ADDR` or `-j MASQUERADE`; for other targets name the chain (e.g. FORWARD_CUST)"),
                    );
                    None
                }
            },
            None => match target.map(|t| &t.kind) {
                Some(TargetKind::Masquerade { .. } | TargetKind::Snat { .. }) => Some((
                    builtin_chain_name(Builtin::Postrouting),
                    Family::Builtin(Builtin::Postrouting),
                )),
                Some(TargetKind::Dnat { .. }) => Some((
                    builtin_chain_name(Builtin::Prerouting),
                    Family::Builtin(Builtin::Prerouting),
                )),
                Some(TargetKind::Copy { .. }) => Some(("", Family::Mirror)),
                other => {
                    let message = match other {
                        Some(t) => format!(
                            "a line without a chain needs a target that fixes one, not {}",
                            target_name(t)
                        ),
                        None => "a line without a chain or a target cannot be placed".to_string(),
                    };
                    let at = target.map_or(rule.span, |t| t.span);
                    self.error(
                        Diagnostic::error("E013", message, at)
                        .with_help("start the line with its chain, e.g. `INPUT_CUST`; only MASQUERADE, SNAT (POSTROUTING), DNAT (PREROUTING) and COPY (mirroring) may omit it"),
                    );
                    None
                }
            },
        }
    }

    fn copy_misplaced(&mut self, rule: &ast::Rule, chain_span: Span) {
        let at = rule.target.as_ref().map_or(chain_span, |t| t.span);
        self.error(
            Diagnostic::error("E012", "COPY mirrors traffic and belongs in MACRO_CUST", at)
                .with_secondary(chain_span, "this chain cannot mirror")
                .with_help("write `MACRO_CUST -j COPY --from IF --to ADDR [--bidirectional]`"),
        );
    }

    fn rule(&mut self, file: &str, rule: &ast::Rule, subgroups: &Subgroups) {
        let Some((chain, family)) = self.place(rule) else { return };
        let diags_before = self.v.diags.len();
        let note = rule.comment.as_ref().and_then(|c| {
            // iptables keeps 256 bytes of a comment; nft 128, so a longer one is cut (W002).
            let text = self.v.nft_text(&c.node, c.span, "the comment", 256)?;
            let full = format!("{file}:{} {text}", rule.line).len();
            if full > COMMENT_MAX {
                self.v.diags.push(
                    Diagnostic::warning(
                        "W002",
                        format!("the rule comment `{file}:{} …` is {full} bytes; nft keeps {COMMENT_MAX}, the rest is cut", rule.line),
                        c.span,
                    )
                    .with_help("shorten the comment"),
                );
            }
            Some(text)
        });
        self.check_interfaces(rule, family);
        let proto = protocol(rule);
        let alts = self.matches(rule, proto);
        let action = self.action(rule, family, proto, subgroups);
        let (Some(alts), Some((action, jump))) = (alts, action) else { return };
        if self.v.diags[diags_before..].iter().any(Diagnostic::is_error) {
            return;
        }
        match family {
            Family::Builtin(_) => {
                let c = self.chain_mut(chain, family);
                let extra =
                    (jump.is_some() || note.is_some()).then(|| Box::new(Extra { jump, note }));
                let matches = match alts {
                    Alts::One(matches) => matches,
                    Alts::Many(alts) => {
                        let mut alts = alts.into_iter();
                        let Some(last) = alts.next_back() else { return };
                        for matches in alts {
                            c.rules.push(Placed {
                                matches: matches.into_boxed_slice(),
                                action: action.clone(),
                                extra: extra.clone(),
                                line: rule.line,
                                span: rule.span,
                            });
                        }
                        last
                    }
                };
                c.rules.push(Placed {
                    matches: matches.into_boxed_slice(),
                    action,
                    extra,
                    line: rule.line,
                    span: rule.span,
                });
            }
            Family::Mirror => {
                let Some(TargetKind::Copy { from, bidirectional, .. }) =
                    rule.target.as_ref().map(|t| &t.kind)
                else {
                    unreachable!("place() puts only COPY lines in the mirror")
                };
                let Some(iface) = self.v.iface(from) else { return };
                let dirs: &[(&str, bool)] = if *bidirectional {
                    &[("MACRO_CUST_IN", true), ("MACRO_CUST_OUT", false)]
                } else {
                    &[("MACRO_CUST_IN", true)]
                };
                for &(name, arriving) in dirs {
                    let c = self.chain_mut(name, Family::Mirror);
                    for m in alts.as_slice() {
                        let mut matches = Vec::with_capacity(m.len() + 1);
                        matches.push(if arriving {
                            Match::IifName { neg: false, name: iface.clone() }
                        } else {
                            Match::OifName { neg: false, name: iface.clone() }
                        });
                        // `--bidirectional` mirrors both directions of the flow the line
                        // describes: departures are its replies, with addresses and ports
                        // swapped (`--dport 443` arriving, source port 443 leaving).
                        if arriving {
                            matches.extend(m.iter().cloned());
                        } else {
                            matches.extend(m.iter().map(reverse));
                        }
                        let extra =
                            note.clone().map(|n| Box::new(Extra { jump: None, note: Some(n) }));
                        c.rules.push(Placed {
                            matches: matches.into_boxed_slice(),
                            action: action.clone(),
                            extra,
                            line: rule.line,
                            span: rule.span,
                        });
                    }
                }
            }
        }
    }

    /// iptables refuses `-i` where no input interface is known, `-o` likewise.
    fn check_interfaces(&mut self, rule: &ast::Rule, family: Family) {
        for m in &rule.matches {
            let (opt, bad) = match (&m.kind, family) {
                (
                    MatchKind::InIface(_),
                    Family::Builtin(Builtin::Output | Builtin::Postrouting),
                ) => ("-i", true),
                (MatchKind::OutIface(_), Family::Builtin(Builtin::Input | Builtin::Prerouting)) => {
                    ("-o", true)
                }
                (MatchKind::InIface(_) | MatchKind::OutIface(_), Family::Mirror) => {
                    self.error(
                        Diagnostic::error("E011", "-i/-o cannot narrow a COPY rule", m.span)
                            .with_help("`--from IF` names the interface whose traffic is mirrored"),
                    );
                    continue;
                }
                _ => ("", false),
            };
            if bad {
                let Family::Builtin(b) = family else { unreachable!() };
                // `-i` is refused where packets have no input interface, `-o` where they
                // have no output interface: the label names the interface that is missing.
                let (missing, other) = if opt == "-i" { ("input", "-o") } else { ("output", "-i") };
                self.error(
                    Diagnostic::error(
                        "E011",
                        format!("{opt} is not allowed in {}", hook_word(b)),
                        m.span,
                    )
                    .with_label(format!("{} packets have no {missing} interface", hook_word(b)))
                    .with_help(format!(
                        "use {other}, or move the rule to a chain that sees that interface"
                    )),
                );
            }
        }
    }

    /// Resolves the matches. Returns the alternatives: each is the match list of one nft rule
    /// (a `-s`/`-d` list mixing FWsets and networks expands to several rules, as iptables does).
    fn matches(
        &mut self,
        rule: &ast::Rule,
        proto: Option<(bool, &Protocol, Span)>,
    ) -> Option<Alts> {
        let mut ok = true;
        let (mut iface, mut ext) = std::mem::take(&mut self.scratch);
        iface.clear();
        ext.clear();
        let (mut src, mut dst) = (AddrAlts::Any, AddrAlts::Any);
        let l4 = proto.and_then(|(neg, p, _)| if neg { None } else { l4_of(p) });
        let mut implied = false;
        for m in &rule.matches {
            let neg = m.negated;
            match &m.kind {
                MatchKind::InIface(v) => match self.v.iface(v) {
                    Some(name) => iface.push(Match::IifName { neg, name }),
                    None => ok = false,
                },
                MatchKind::OutIface(v) => match self.v.iface(v) {
                    Some(name) => iface.push(Match::OifName { neg, name }),
                    None => ok = false,
                },
                MatchKind::Source(items) | MatchKind::Destination(items) => {
                    let is_src = matches!(m.kind, MatchKind::Source(_));
                    let alts = if let [Spanned { node: ast::AddrItem::Net(n), span }] = &items[..] {
                        one_net(self.v.net(*n, *span), neg, is_src)
                    } else {
                        let mut parts = Vec::new();
                        for item in items {
                            match self.v.addr_item(item) {
                                Some(p) => parts.push(p),
                                None => ok = false,
                            }
                        }
                        AddrAlts::from_alternatives(addr_alternatives(parts, neg, is_src))
                    };
                    if is_src { src = alts } else { dst = alts }
                }
                MatchKind::Protocol(_) => {}
                MatchKind::SrcPort(spec) | MatchKind::DstPort(spec) => {
                    let dir = if matches!(m.kind, MatchKind::SrcPort(_)) {
                        ir::Dir::Src
                    } else {
                        ir::Dir::Dst
                    };
                    match (self.needs_l4(l4, m.span), self.v.ports(spec)) {
                        (Some(proto), Some(ports)) => {
                            implied = true;
                            ext.push(Match::Port { proto, dir, neg, ports })
                        }
                        _ => ok = false,
                    }
                }
                MatchKind::MultiSrcPorts(specs) | MatchKind::MultiDstPorts(specs) => {
                    let dir = if matches!(m.kind, MatchKind::MultiSrcPorts(_)) {
                        ir::Dir::Src
                    } else {
                        ir::Dir::Dst
                    };
                    let Some(proto) = self.needs_l4(l4, m.span) else {
                        ok = false;
                        continue;
                    };
                    let mut ranges = Vec::new();
                    for spec in specs {
                        match self.v.ports(spec) {
                            Some(ir::PortMatch::Ports(p)) => ranges.extend_from_slice(&p),
                            Some(ir::PortMatch::Set(s)) => {
                                self.error(
                                    Diagnostic::error(
                                        "E018",
                                        format!(
                                            "FWset `{s}` cannot be mixed into a multiport list"
                                        ),
                                        spec.span,
                                    )
                                    .with_help("use `--dport ${fwset_NAME}` on its own"),
                                );
                                ok = false;
                            }
                            None => ok = false,
                        }
                    }
                    ranges.sort_unstable();
                    ranges.dedup();
                    implied = true;
                    ext.push(Match::Port {
                        proto,
                        dir,
                        neg,
                        ports: ir::PortMatch::Ports(ranges.into()),
                    });
                }
                MatchKind::CtState(states) => {
                    let mut s: Vec<ir::CtState> = states.iter().map(|s| ct_state(s.node)).collect();
                    s.sort_unstable();
                    s.dedup();
                    ext.push(Match::CtState { neg, states: s.into() });
                }
                MatchKind::SrcRange(r) | MatchKind::DstRange(r) => {
                    let (a, b) = r.node;
                    if a > b {
                        self.error(Diagnostic::error(
                            "E008",
                            format!("address range {a}-{b} is empty: the first address is larger"),
                            r.span,
                        ));
                        ok = false;
                        continue;
                    }
                    let addrs = ir::AddrMatch::Range(a, b);
                    ext.push(if matches!(m.kind, MatchKind::SrcRange(_)) {
                        Match::Saddr { neg, addrs }
                    } else {
                        Match::Daddr { neg, addrs }
                    });
                }
                MatchKind::Limit { rate, unit, burst } => {
                    if *rate == 0 {
                        self.error(Diagnostic::error(
                            "E008",
                            "a limit rate must be at least 1",
                            m.span,
                        ));
                        ok = false;
                        continue;
                    }
                    ext.push(Match::Limit {
                        rate: *rate,
                        unit: rate_unit(*unit),
                        burst: burst.unwrap_or(5),
                    });
                }
                MatchKind::Set { name, dir } => match self.v.addr_set(&name.node, name.span) {
                    Some(AddrPart::Set(s)) => {
                        let addrs = ir::AddrMatch::Set(s.into());
                        ext.push(match dir {
                            ast::SetDir::Src => Match::Saddr { neg, addrs },
                            ast::SetDir::Dst => Match::Daddr { neg, addrs },
                        });
                    }
                    _ => ok = false,
                },
                MatchKind::IcmpType(t) => match icmp_type(&t.node) {
                    Ok(Some((kind, code))) => {
                        implied = true;
                        ext.push(Match::IcmpType { neg, kind, code });
                    }
                    Ok(None) => {}
                    Err(name) => {
                        self.error(
                            Diagnostic::error(
                                "E008",
                                format!("unknown ICMP type `{name}`"),
                                t.span,
                            )
                            .with_help("use a name such as echo-request, or TYPE[/CODE] numbers"),
                        );
                        ok = false;
                    }
                },
                MatchKind::Syn => {
                    implied = true;
                    ext.push(Match::TcpSyn { neg });
                }
            }
        }
        if !ok {
            self.scratch = (iface, ext);
            return None;
        }
        // The protocol match: nft infers it from a port, ICMP or TCP-flag match.
        let mut proto_match = None;
        if let Some((neg, p, _)) = proto
            && let Some(n) = proto_number(p)
            && (!implied || neg)
        {
            proto_match = Some(Match::Protocol { neg, proto: n });
        }
        canonical_order(&mut ext);
        let one = |a: &AddrAlts| match a {
            AddrAlts::Any => Some(0),
            AddrAlts::One(_) => Some(1),
            AddrAlts::Many(_) => None,
        };
        if let (Some(s), Some(d)) = (one(&src), one(&dst)) {
            // One rule (the common case): the matches move into it, a vector of exactly their
            // number (a 100,000-rule policy holds these until it is laid out).
            let p = usize::from(proto_match.is_some());
            let mut m = Vec::with_capacity(iface.len() + s + d + p + ext.len());
            m.append(&mut iface);
            for a in [src, dst] {
                if let AddrAlts::One(x) = a {
                    m.push(x);
                }
            }
            m.extend(proto_match);
            m.append(&mut ext);
            self.scratch = (iface, ext);
            return Some(Alts::One(m));
        }
        let (src, dst) = (src.into_alternatives(), dst.into_alternatives());
        let mut out = Vec::with_capacity(src.len() * dst.len());
        for s in &src {
            for d in &dst {
                let mut m = Vec::with_capacity(iface.len() + s.len() + d.len() + 1 + ext.len());
                m.extend(iface.iter().cloned());
                m.extend(s.iter().cloned());
                m.extend(d.iter().cloned());
                m.extend(proto_match.iter().cloned());
                m.extend(ext.iter().cloned());
                out.push(m);
            }
        }
        self.scratch = (iface, ext);
        Some(Alts::Many(out))
    }

    fn needs_l4(&mut self, l4: Option<ir::L4>, span: Span) -> Option<ir::L4> {
        if l4.is_none() {
            self.error(
                Diagnostic::error(
                    "E007",
                    "a port match needs `-p tcp`, `-p udp`, `-p udplite` or `-p sctp`",
                    span,
                )
                .with_help(
                    "add `-p tcp` (or udp/sctp) before it; a negated protocol cannot carry ports",
                ),
            );
        }
        l4
    }

    /// Checks the target against the chain and resolves it.
    fn action(
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
            _ => &[],
        };
        if let Some(b) = b
            && !allowed.is_empty()
            && !allowed.contains(&b)
        {
            let names: Vec<&str> = allowed.iter().map(|&a| hook_word(a)).collect();
            self.error(
                Diagnostic::error(
                    "E012",
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
                        "E007",
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
                let w = match with {
                    None => ir::RejectWith::PortUnreachable,
                    Some(w) => match reject_with(&w.node) {
                        Some(r) => r,
                        None => {
                            self.error(Diagnostic::error("E008", format!("unknown reject type `{}`", w.node), w.span)
                                .with_help("use icmp-port-unreachable, icmp-net-unreachable, icmp-host-unreachable, icmp-proto-unreachable, icmp-net-prohibited, icmp-host-prohibited, icmp-admin-prohibited or tcp-reset"));
                            return None;
                        }
                    },
                };
                if w == ir::RejectWith::TcpReset && l4 != Some(ir::L4::Tcp) {
                    self.error(
                        Diagnostic::error(
                            "E007",
                            "`--reject-with tcp-reset` needs `-p tcp`",
                            target.span,
                        )
                        .with_help("add `-p tcp` to the rule"),
                    );
                    return None;
                }
                Action::Reject(w)
            }
            TargetKind::Log { prefix, level } => {
                let prefix = match prefix {
                    Some(p) => {
                        let text =
                            self.v.nft_text(&p.node, p.span, "the log prefix", LOG_PREFIX_MAX)?;
                        if text.contains('$') {
                            // nft expands `$name` inside a quoted log prefix, with no escape.
                            self.error(
                                Diagnostic::error("E019", "the log prefix contains `$`, which nft would expand as a variable", p.span)
                                    .with_help("remove the `$`"),
                            );
                            return None;
                        }
                        Some(text)
                    }
                    None => None,
                };
                let level = match level {
                    Some(l) => match ir::LogLevel::parse(&l.node) {
                        Some(l) => Some(l),
                        None => {
                            self.error(
                                Diagnostic::error(
                                    "E008",
                                    format!("unknown log level `{}`", l.node),
                                    l.span,
                                )
                                .with_help(ir::LogLevel::HELP),
                            );
                            return None;
                        }
                    },
                    None => None,
                };
                Action::Log { prefix: prefix.map(String::into_boxed_str), level }
            }
            TargetKind::Jump(name) => {
                let parent = b.expect("jumps are never placed in the mirror");
                match subgroups.get(&name.node) {
                    None => {
                        let mut d = Diagnostic::error(
                            "E014",
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
                                "E014",
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
            TargetKind::Dnat { to, random } | TargetKind::Snat { to, random } => {
                let (addr, addr_end) = self.v.nat_addr(&to.node.addr)?;
                if !need_ports_proto(self, to.node.ports) {
                    return None;
                }
                let to = ir::NatTarget { addr, addr_end, ports: to.node.ports };
                if matches!(target.kind, TargetKind::Dnat { .. }) {
                    Action::Dnat { to, random: *random }
                } else {
                    Action::Snat { to, random: *random }
                }
            }
            TargetKind::Masquerade { ports, random, .. } => {
                if !need_ports_proto(self, *ports) {
                    return None;
                }
                Action::Masquerade { ports: *ports, random: *random }
            }
            TargetKind::Redirect { ports } => {
                if !need_ports_proto(self, *ports) {
                    return None;
                }
                Action::Redirect { ports: *ports }
            }
            TargetKind::Netmap { to } => {
                let to = self.v.network(to)?;
                if b == Some(Builtin::Postrouting) {
                    Action::NetmapSnat { to }
                } else {
                    Action::NetmapDnat { to }
                }
            }
            TargetKind::Copy { to, .. } => {
                let (addr, end) = self.v.nat_addr(to)?;
                if end.is_some() {
                    self.error(Diagnostic::error(
                        "E008",
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

    /// nft (like iptables) refuses jump loops; report the jump that closes one.
    fn check_jump_loops(&mut self) {
        let n = self.chains.len();
        // 0 = unvisited, 1 = on the stack, 2 = done.
        let mut state = vec![0u8; n];
        let mut found = Vec::new();
        for start in 0..n {
            if state[start] != 0 {
                continue;
            }
            // Iterative DFS: (chain, next rule index).
            let mut stack = vec![(start, 0usize)];
            state[start] = 1;
            while let Some(&mut (c, ref mut i)) = stack.last_mut() {
                let rules = &self.chains[c].rules;
                if *i >= rules.len() {
                    state[c] = 2;
                    stack.pop();
                    continue;
                }
                let r = &rules[*i];
                *i += 1;
                let Some((jump, jump_span)) = r.jump() else { continue };
                let Some(&target) = self.index.get(jump) else { continue };
                match state[target] {
                    0 => {
                        state[target] = 1;
                        stack.push((target, 0));
                    }
                    1 => found.push((c, *jump_span, self.chains[target].name.clone())),
                    _ => {}
                }
            }
        }
        let loops = !found.is_empty();
        for (c, span, target) in found {
            let name = self.chains[c].name.clone();
            self.v.diags.push(
                Diagnostic::error(
                    "E014",
                    format!("jumping from `{name}` to `{target}` closes a loop"),
                    span,
                )
                .with_help("nftables refuses jump loops; remove one of the jumps"),
            );
        }
        if !loops {
            self.check_jump_depth();
        }
    }

    /// Refuses a jump that reaches a chain deeper than [`JUMP_DEPTH_MAX`] below its base chain
    /// (the VNS3 chains are depth 1), at the jump's line. The jumps form no loop (checked
    /// first), so each chain's depth, the longest way down to it, is found in one pass over
    /// the chains in topological order.
    fn check_jump_depth(&mut self) {
        let n = self.chains.len();
        let targets = |c: usize| {
            self.chains[c]
                .rules
                .iter()
                .filter_map(|r| r.jump())
                .filter_map(|(jump, span)| Some((*self.index.get(jump)?, *span)))
        };
        // Postorder of a DFS from every chain; reversed, each chain comes before the chains
        // it jumps to.
        let mut order = Vec::with_capacity(n);
        let mut seen = vec![false; n];
        for start in 0..n {
            if seen[start] {
                continue;
            }
            seen[start] = true;
            let mut stack = vec![(start, targets(start).map(|t| t.0).collect::<Vec<_>>())];
            while let Some((c, next)) = stack.last_mut() {
                match next.pop() {
                    Some(t) if !seen[t] => {
                        seen[t] = true;
                        let below = targets(t).map(|t| t.0).collect();
                        stack.push((t, below));
                    }
                    Some(_) => {}
                    None => {
                        order.push(*c);
                        stack.pop();
                    }
                }
            }
        }
        let roots: Vec<&str> = [
            Builtin::Prerouting,
            Builtin::Input,
            Builtin::Forward,
            Builtin::Output,
            Builtin::Postrouting,
        ]
        .map(builtin_chain_name)
        .into();
        // 0: not reached from a base chain (the kernel does not walk it).
        let mut depth = vec![0usize; n];
        for (c, chain) in self.chains.iter().enumerate() {
            if roots.contains(&chain.name.as_str()) || chain.name.starts_with("MACRO_CUST") {
                depth[c] = 1;
            }
        }
        let mut too_deep = Vec::new();
        for &c in order.iter().rev() {
            if depth[c] == 0 {
                continue;
            }
            for (t, span) in targets(c) {
                let d = depth[c] + 1;
                if d > JUMP_DEPTH_MAX && depth[c] <= JUMP_DEPTH_MAX {
                    too_deep.push((c, t, span, d));
                }
                depth[t] = depth[t].max(d);
            }
        }
        for (c, t, span, d) in too_deep {
            let (from, to) = (&self.chains[c].name, &self.chains[t].name);
            let d = Diagnostic::error(
                "E014",
                format!(
                    "jumping from `{from}` to `{to}` nests chains {d} deep; the kernel allows {JUMP_DEPTH_MAX}"
                ),
                span,
            )
            .with_help(format!(
                "the kernel refuses jumps more than {JUMP_DEPTH_MAX} chains below a hook (the VNS3 chain is the first); \
                 flatten the subgroups"
            ));
            self.v.diags.push(d);
        }
    }
}

/// `-p` of a rule: (negated, protocol, span).
fn protocol(rule: &ast::Rule) -> Option<(bool, &Protocol, Span)> {
    rule.matches.iter().find_map(|m| match &m.kind {
        MatchKind::Protocol(p) => Some((m.negated, &p.node, m.span)),
        _ => None,
    })
}

fn l4_of(p: &Protocol) -> Option<ir::L4> {
    match p {
        Protocol::Tcp => Some(ir::L4::Tcp),
        Protocol::Udp => Some(ir::L4::Udp),
        Protocol::Udplite => Some(ir::L4::Udplite),
        Protocol::Sctp => Some(ir::L4::Sctp),
        _ => None,
    }
}

/// IP protocol number; `None` for `all`.
fn proto_number(p: &Protocol) -> Option<u8> {
    match p {
        Protocol::All | Protocol::Number(0) => None,
        Protocol::Tcp => Some(6),
        Protocol::Udp => Some(17),
        Protocol::Udplite => Some(136),
        Protocol::Sctp => Some(132),
        Protocol::Icmp => Some(1),
        Protocol::Number(n) => Some(*n),
    }
}

fn ct_state(s: ast::CtState) -> ir::CtState {
    match s {
        ast::CtState::New => ir::CtState::New,
        ast::CtState::Established => ir::CtState::Established,
        ast::CtState::Related => ir::CtState::Related,
        ast::CtState::Invalid => ir::CtState::Invalid,
        ast::CtState::Untracked => ir::CtState::Untracked,
    }
}

fn rate_unit(u: ast::RateUnit) -> ir::RateUnit {
    match u {
        ast::RateUnit::Second => ir::RateUnit::Second,
        ast::RateUnit::Minute => ir::RateUnit::Minute,
        ast::RateUnit::Hour => ir::RateUnit::Hour,
        ast::RateUnit::Day => ir::RateUnit::Day,
    }
}

/// iptables' ICMP type names (`iptables -p icmp -h`) → (type, code). `Ok(None)` for `any`.
fn icmp_type(t: &ast::IcmpType) -> Result<Option<(u8, Option<u8>)>, String> {
    match t {
        ast::IcmpType::Any => Ok(None),
        ast::IcmpType::Numeric { kind, code } => Ok(Some((*kind, *code))),
        ast::IcmpType::Name(n) => {
            let lower = n.to_ascii_lowercase();
            syntax::ICMP_TYPES
                .iter()
                .find(|(name, _, _)| *name == lower)
                .map(|&(_, k, c)| Some((k, c)))
                .ok_or_else(|| n.clone())
        }
    }
}

fn reject_with(s: &str) -> Option<ir::RejectWith> {
    use ir::RejectWith::*;
    Some(match s.to_ascii_lowercase().as_str() {
        "icmp-port-unreachable" | "port-unreach" => PortUnreachable,
        "icmp-net-unreachable" | "net-unreach" => NetUnreachable,
        "icmp-host-unreachable" | "host-unreach" => HostUnreachable,
        "icmp-proto-unreachable" | "proto-unreach" => ProtUnreachable,
        "icmp-net-prohibited" | "net-prohib" => NetProhibited,
        "icmp-host-prohibited" | "host-prohib" => HostProhibited,
        "icmp-admin-prohibited" | "admin-prohib" => AdminProhibited,
        "tcp-reset" | "tcp-rst" => TcpReset,
        _ => return None,
    })
}

/// Turns the resolved items of one `-s`/`-d` into alternatives (each the matches of one rule).
/// Positive: networks together in one match, each FWset its own rule (an nft anonymous set
/// cannot hold a named set). Negated: one rule that excludes all of them. `0.0.0.0/0` alone is
/// no constraint, as in iptables.
fn addr_alternatives(parts: Vec<AddrPart>, neg: bool, is_src: bool) -> Vec<Vec<Match>> {
    let mk = |addrs: ir::AddrMatch| {
        if is_src { Match::Saddr { neg, addrs } } else { Match::Daddr { neg, addrs } }
    };
    let mut nets = Vec::new();
    let mut sets = Vec::new();
    for p in parts {
        match p {
            AddrPart::Nets(n) => nets.extend(n),
            AddrPart::Set(s) => sets.push(s),
        }
    }
    nets.sort_unstable();
    nets.dedup();
    let everything = nets.iter().any(|n| n.prefix() == 0);
    if neg {
        let mut one = Vec::new();
        if !nets.is_empty() {
            one.push(mk(ir::AddrMatch::Nets(nets.into())));
        }
        one.extend(sets.into_iter().map(|s| mk(ir::AddrMatch::Set(Box::new(s)))));
        return vec![one];
    }
    if everything {
        return vec![Vec::new()];
    }
    let mut alts = Vec::new();
    if !nets.is_empty() {
        alts.push(vec![mk(ir::AddrMatch::Nets(nets.into()))]);
    }
    alts.extend(sets.into_iter().map(|s| vec![mk(ir::AddrMatch::Set(Box::new(s)))]));
    if alts.is_empty() {
        alts.push(Vec::new());
    }
    alts
}

/// [`addr_alternatives`] of one network (the common case), without its vectors.
fn one_net(net: ipnetwork::Ipv4Network, neg: bool, is_src: bool) -> AddrAlts {
    if net.prefix() == 0 && !neg {
        return AddrAlts::Any;
    }
    let addrs = ir::AddrMatch::Nets(ir::Few::One(net));
    AddrAlts::One(if is_src { Match::Saddr { neg, addrs } } else { Match::Daddr { neg, addrs } })
}

/// How a family's rules split over chain types.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// INPUT, FORWARD: filter only.
    FilterOnly,
    /// PREROUTING, POSTROUTING (VNS3's nat chains, which also take DROP): a filter projection
    /// that runs first and a nat projection, together keeping the lines' first-match order.
    Ordered,
    /// OUTPUT: each line to the table its target belongs to, as iptables does.
    Split,
}

fn mode(b: Builtin) -> Mode {
    match b {
        Builtin::Input | Builtin::Forward => Mode::FilterOnly,
        Builtin::Prerouting | Builtin::Postrouting => Mode::Ordered,
        Builtin::Output => Mode::Split,
    }
}

fn hook(b: Builtin) -> Hook {
    match b {
        Builtin::Prerouting => Hook::Prerouting,
        Builtin::Input => Hook::Input,
        Builtin::Forward => Hook::Forward,
        Builtin::Output => Hook::Output,
        Builtin::Postrouting => Hook::Postrouting,
    }
}

/// The nft name of a VNS3 chain's projection for one chain type.
fn projection_name(name: &str, family: Builtin, kind: ChainKind) -> String {
    match (mode(family), kind) {
        (Mode::Ordered, ChainKind::Filter) => format!("{name}_FILTER"),
        (Mode::Split, ChainKind::Nat) => format!("{name}_NAT"),
        _ => name.to_string(),
    }
}

/// The projection of one rule into a chain type, or `None` when it has no place there. Takes
/// the rule: its last projection moves it, an earlier one gets a copy.
fn project(mut p: Placed, family: Builtin, kind: ChainKind, files: &Files) -> Option<ir::Rule> {
    // `None`: the line's own action.
    let action = match (mode(family), kind, p.action.class()) {
        (_, _, _) if let Some((jump, _)) = p.jump() => {
            Some(Action::Jump(projection_name(jump, family, kind).into()))
        }
        (Mode::Ordered, ChainKind::Filter, Class::Nat) => Some(Action::Accept),
        (Mode::Ordered, ChainKind::Nat, Class::Filter) => return None,
        (Mode::Split, ChainKind::Filter, Class::Nat) => return None,
        (Mode::Split, ChainKind::Nat, Class::Filter) => return None,
        (Mode::Split, ChainKind::Nat, Class::Both) if p.action == Action::Accept => return None,
        _ => None,
    };
    let origin = Some(p.origin(files));
    Some(ir::Rule { matches: p.matches, action: action.unwrap_or(p.action), origin })
}

/// Base-chain priorities: the filter projections of PREROUTING/POSTROUTING run just before NAT
/// (so a DROP decides before a DNAT would), the mirror sees packets as they arrive (raw) and as
/// they leave (after source NAT).
fn base_chain(b: Builtin, kind: ChainKind) -> (String, BaseChain) {
    let priority = match (b, kind) {
        (Builtin::Prerouting, ChainKind::Filter) => -150,
        (Builtin::Postrouting, ChainKind::Filter) => 90,
        (_, ChainKind::Filter) => 0,
        (Builtin::Postrouting | Builtin::Input, ChainKind::Nat) => 100,
        (_, ChainKind::Nat) => -100,
    };
    let kind_word = match kind {
        ChainKind::Filter => "filter",
        ChainKind::Nat => "nat",
    };
    let hook_word = hook_word(b).to_ascii_lowercase();
    (format!("{kind_word}_{hook_word}"), BaseChain { kind, hook: hook(b), priority })
}

/// A nat base chain with no rules. Every hook keeps one: the kernel translates the packets of
/// existing NAT connections on a hook only while some nat chain is registered there, so a
/// table without one would cut every established DNATed or masqueraded connection when the
/// last NAT line goes (and the input hook carries the replies of DNAT in OUTPUT). The forward
/// hook has no NAT.
fn empty_nat_base(b: Builtin) -> Option<ir::Chain> {
    let (name, base) = base_chain(b, ChainKind::Nat);
    (b != Builtin::Forward).then(|| ir::Chain { name, base: Some(base), rules: Vec::new() })
}

/// Lays the VNS3 chains out as nft chains: for each family, its projections (subgroups before
/// the chains that jump to them), then the base chains; the mirror last.
fn layout(mut chains: Vec<VChain>, files: &Files) -> Vec<ir::Chain> {
    let mut out = Vec::new();
    let mut bases = Vec::new();
    for b in [
        Builtin::Prerouting,
        Builtin::Input,
        Builtin::Forward,
        Builtin::Output,
        Builtin::Postrouting,
    ] {
        let (mut members, rest): (Vec<VChain>, Vec<VChain>) =
            chains.into_iter().partition(|c| c.family == Family::Builtin(b));
        chains = rest;
        if members.is_empty() {
            bases.extend(empty_nat_base(b));
            continue;
        }
        let all = || members.iter().flat_map(|c| c.rules.iter());
        let has_nat = all().any(|p| p.action.class() == Class::Nat);
        let has_filter_only = all().any(|p| p.action.class() == Class::Filter);
        let has_non_nat = all().any(|p| p.action.class() != Class::Nat);
        let kinds: Vec<ChainKind> = match mode(b) {
            Mode::FilterOnly => vec![ChainKind::Filter],
            Mode::Ordered => {
                let mut k = Vec::new();
                if has_filter_only {
                    k.push(ChainKind::Filter);
                }
                if has_nat || !has_filter_only {
                    k.push(ChainKind::Nat);
                }
                k
            }
            Mode::Split => {
                let mut k = Vec::new();
                if has_non_nat {
                    k.push(ChainKind::Filter);
                }
                if has_nat {
                    k.push(ChainKind::Nat);
                }
                k
            }
        };
        let order = callee_first(&members, builtin_chain_name(b));
        let root_exists = members.iter().any(|c| c.name == builtin_chain_name(b));
        for (k, &kind) in kinds.iter().enumerate() {
            let last = k + 1 == kinds.len();
            for &i in &order {
                let c = &mut members[i];
                let rules = if last {
                    // Laid out for the last time: the rules move, and the chain is freed.
                    std::mem::take(&mut c.rules)
                        .into_iter()
                        .filter_map(|p| project(p, b, kind, files))
                        .collect()
                } else {
                    c.rules.iter().filter_map(|p| project(p.clone(), b, kind, files)).collect()
                };
                out.push(ir::Chain { name: projection_name(&c.name, b, kind), base: None, rules });
            }
            let (name, base) = base_chain(b, kind);
            let entry = projection_name(builtin_chain_name(b), b, kind);
            let rules = if root_exists {
                vec![ir::Rule {
                    matches: Box::new([]),
                    action: Action::Jump(entry.into()),
                    origin: None,
                }]
            } else {
                Vec::new()
            };
            bases.push(ir::Chain { name, base: Some(base), rules });
        }
        if !kinds.contains(&ChainKind::Nat) {
            bases.extend(empty_nat_base(b));
        }
    }
    for (name, base_name, hook, priority) in [
        ("MACRO_CUST_IN", "mirror_prerouting", Hook::Prerouting, -300),
        ("MACRO_CUST_OUT", "mirror_postrouting", Hook::Postrouting, 300),
    ] {
        if let Some(c) = chains.iter_mut().find(|c| c.name == name) {
            out.push(ir::Chain {
                name: name.to_string(),
                base: None,
                rules: std::mem::take(&mut c.rules)
                    .into_iter()
                    .map(|mut p| ir::Rule {
                        origin: Some(p.origin(files)),
                        matches: p.matches,
                        action: p.action,
                    })
                    .collect(),
            });
            bases.push(ir::Chain {
                name: base_name.to_string(),
                base: Some(BaseChain { kind: ChainKind::Filter, hook, priority }),
                rules: vec![ir::Rule {
                    matches: Box::new([]),
                    action: Action::Jump(name.into()),
                    origin: None,
                }],
            });
        }
    }
    out.extend(bases);
    out
}

/// Indices of `members` in an order where every jump target comes before the chains jumping to
/// it: a post-order walk from the builtin chain, then any subgroup nothing reaches.
fn callee_first(members: &[VChain], root: &str) -> Vec<usize> {
    let index: HashMap<&str, usize> =
        members.iter().enumerate().map(|(i, c)| (c.name.as_str(), i)).collect();
    let mut done = vec![false; members.len()];
    let mut order = Vec::with_capacity(members.len());
    let starts = index.get(root).copied().into_iter().chain(0..members.len());
    for start in starts {
        if done[start] {
            continue;
        }
        // Iterative post-order DFS; loops were rejected before layout.
        done[start] = true;
        let mut stack = vec![(start, 0usize)];
        while let Some(&mut (c, ref mut i)) = stack.last_mut() {
            let rules = &members[c].rules;
            if *i >= rules.len() {
                order.push(c);
                stack.pop();
                continue;
            }
            let jump = rules[*i].jump();
            *i += 1;
            if let Some(&t) = jump.and_then(|(j, _)| index.get(j.as_str()))
                && !done[t]
            {
                done[t] = true;
                stack.push((t, 0));
            }
        }
    }
    order
}

/// The same match for the reply direction of a flow: source and destination swapped.
fn reverse(m: &Match) -> Match {
    match m.clone() {
        Match::Saddr { neg, addrs } => Match::Daddr { neg, addrs },
        Match::Daddr { neg, addrs } => Match::Saddr { neg, addrs },
        Match::Port { proto, dir, neg, ports } => {
            let dir = match dir {
                ir::Dir::Src => ir::Dir::Dst,
                ir::Dir::Dst => ir::Dir::Src,
            };
            Match::Port { proto, dir, neg, ports }
        }
        other => other,
    }
}

/// Puts the extension matches in one canonical order, so that lines differing only in how
/// their options are ordered compile to the same rule (and `fmt` cannot change the result).
/// A `limit` spends a token on every packet that reaches it, so matches never cross it: each
/// stretch between limits is sorted on its own.
fn canonical_order(ext: &mut [Match]) {
    fn rank(m: &Match) -> u8 {
        match m {
            Match::Port { dir: ir::Dir::Src, .. } => 0,
            Match::Port { dir: ir::Dir::Dst, .. } => 1,
            Match::TcpSyn { .. } => 2,
            Match::IcmpType { .. } => 3,
            Match::Saddr { .. } => 4,
            Match::Daddr { .. } => 5,
            Match::CtState { .. } => 6,
            _ => 7,
        }
    }
    for stretch in ext.split_mut(|m| matches!(m, Match::Limit { .. })) {
        stretch.sort_by(|a, b| (rank(a), a).cmp(&(rank(b), b)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{FileId, Sources};

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
        let resolved = resolve(&inputs, &inv, &opts);
        assert!(resolved.diagnostics.is_empty(), "{:?}", resolved.diagnostics);
        let lints =
            crate::lint::lint(&resolved, &inv, &crate::lint::Options { inventory_given: false });
        let duplicate =
            lints.iter().find(|d| d.code == "W102").expect("b.rules:1 repeats a.rules:1");
        assert!(duplicate.message.ends_with("a.rules:1"), "{}", duplicate.message);
        let rs = resolved.into_ruleset().expect("no error");
        let fwd = rs.chains.iter().find(|c| c.name == "FORWARD_CUST").expect("the chain");
        let origins: Vec<(String, u32, Option<String>)> = fwd
            .rules
            .iter()
            .map(|r| r.origin.clone().expect("a line's rule"))
            .map(|o| (o.file.to_string(), o.line, o.note.map(|n| n.to_string())))
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
        resolve(&inputs, &inv, &Options { table: "overlayfw", input_hash: String::new() })
    }

    /// Every spelling of a log level, in any case, passes the syntax stage and the resolver
    /// alike (they share `LogLevel::SPELLINGS`): `panic`, which iptables takes, was refused.
    #[test]
    fn every_log_level_spelling_resolves_to_its_level() {
        for &(word, level) in ir::LogLevel::SPELLINGS {
            for word in [word.to_string(), word.to_ascii_uppercase()] {
                let resolved = resolve_text(&format!("INPUT_CUST -j LOG --log-level {word}\n"));
                assert!(resolved.diagnostics.is_empty(), "{word}: {:?}", resolved.diagnostics);
                let rs = resolved.into_ruleset().expect("no error");
                let chain = rs.chains.iter().find(|c| c.name == "INPUT_CUST").expect("chain");
                assert_eq!(
                    chain.rules[0].action,
                    Action::Log { prefix: None, level: Some(level) },
                    "{word}"
                );
            }
        }
        let panic = resolve_text("INPUT_CUST -j LOG --log-level panic\n").into_ruleset();
        let script = crate::emit::nft_script(&panic.expect("panic is a level"));
        assert!(script.contains("log level emerg comment"), "{script}");
        for bad in ["8", "loud", "warnings", "07"] {
            let resolved = resolve_text(&format!("INPUT_CUST -j LOG --log-level {bad}\n"));
            let codes: Vec<_> = resolved.diagnostics.iter().map(|d| d.code).collect();
            assert_eq!(codes, ["E008"], "{bad}");
        }
    }

    /// The syntax stage and the resolver read ICMP type names from one list: every name the
    /// syntax takes resolves, to its type and code.
    #[test]
    fn every_icmp_type_name_resolves_to_its_type_and_code() {
        for &(name, kind, code) in syntax::ICMP_TYPES {
            for word in [name.to_string(), name.to_ascii_uppercase()] {
                let text = format!("INPUT_CUST -p icmp --icmp-type {word} -j DROP\n");
                let resolved = resolve_text(&text);
                assert!(resolved.diagnostics.is_empty(), "{word}: {:?}", resolved.diagnostics);
                let rs = resolved.into_ruleset().expect("no error");
                let chain = rs.chains.iter().find(|c| c.name == "INPUT_CUST").expect("chain");
                let icmp = Match::IcmpType { neg: false, kind, code };
                assert!(chain.rules[0].matches.contains(&icmp), "{word}: {:?}", chain.rules[0]);
            }
        }
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
    fn resolving_on_several_threads_equals_one() {
        // Subgroups defined late and jumped to early, a loop, mirror lines, lines without a
        // chain, address lists, errors and warnings, spread over more lines than one run.
        let mut text = String::new();
        for i in 0..12_000 {
            text += &match i % 9 {
                0 => format!(
                    "FORWARD_CUST -s 10.0.{}.0/24,10.1.0.0/16 -p tcp --dport {} -j ACCEPT\n",
                    i % 256,
                    i % 60000
                ),
                1 => "FORWARD_CUST -j FWD_C_late\n".to_string(),
                2 => format!(
                    "PREROUTING_CUST -i eth0 -p tcp --dport {} -j DNAT --to 198.51.100.2:22\n",
                    i % 60000
                ),
                3 => {
                    "MACRO_CUST -j COPY --from tun0 --to 198.51.100.3 --bidirectional\n".to_string()
                }
                4 => format!("-o eth0 -s 10.{}.0.0/16 -j MASQUERADE\n", i % 256),
                5 => "FORWARD_CUST -i eht0 -j DROP\n".to_string(),
                6 => format!("FWD_C_late -p udp --dport {} -j RETURN\n", i % 60000),
                7 => "FORWARD_CUST -j FWD_C_nowhere\n".to_string(),
                _ => format!(
                    "INPUT_CUST -p tcp --dport {} -m comment --comment \"{}\" -j ACCEPT\n",
                    i % 60000,
                    "x".repeat(120)
                ),
            };
        }
        text += "FWD_C_late -j FWD_C_back\nFWD_C_back -j FWD_C_late\n";
        let mut sources = Sources::new();
        let inv = crate::inventory::default_inventory(&mut sources);
        let inputs = [Input { name: "big.rules", file: FileId(9), text: &text, stream: None }];
        let opts = Options { table: "overlayfw", input_hash: "h".into() };
        let one = resolve_on(&inputs, &inv, &opts, 1);
        let three = resolve_on(&inputs, &inv, &opts, 3);
        assert_eq!(syntax::pieces(&text, 3).len(), 3);
        assert!(one.diagnostics.iter().any(|d| d.code == "E014"), "a loop is found");
        assert!(one.diagnostics.iter().any(|d| d.code == "W002"), "warnings are kept");
        assert!(one.chains.iter().map(|c| c.rules.len()).sum::<usize>() > 8_000);
        assert_eq!(format!("{:?}", one.chains), format!("{:?}", three.chains));
        assert_eq!(one.diagnostics, three.diagnostics);
        assert_eq!(one.used, three.used);
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
        let r = resolve_on(&inputs, &inv, &opts, 1);
        let found: Vec<(&str, &str, &str)> = r
            .diagnostics
            .iter()
            .filter(|d| d.code == "E011")
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
        let r = resolve_on(&inputs, &inv, &opts, 1);
        let line_of = |at: usize| text[..at].matches('\n').count() + 1;
        let unknown: Vec<usize> = r
            .diagnostics
            .iter()
            .filter(|d| d.code == "E016")
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
