//! IR → nft script text. Pure and total: the IR is already validated, so every input gives a
//! script, the same IR always gives the same bytes, and nothing here does IO.
//!
//! The syntax printed here was checked by loading it for real with nft 1.0.6 (kernel 6.x) in
//! throw-away network namespaces: see `tests/it/emit_load.rs`. Facts that shape the output:
//! - `table ip T {}` + `delete table ip T` + `table ip T { … }` in one file is one transaction:
//!   the table is replaced whether it existed or not, other tables are untouched.
//! - Comments are at most 128 bytes, log prefixes at most 127 bytes: longer texts are cut at a
//!   char boundary (see [`COMMENT_MAX`], [`LOG_PREFIX_MAX`] in [`crate::nft`]).
//! - nft 1.0.6 expands `$name` inside a quoted log prefix (and fails on unknown names); a `$`
//!   in a log prefix is printed as `_`. Comments keep `$` (checked: they are not expanded).
//! - Names cannot be quoted in nft 1.0.6 declarations (`chain "x" {` is a syntax error), and a
//!   name that is an nft keyword (`fwd`, `tcp`, `counter`, …) fails to parse: see
//!   [`crate::nft::is_nft_keyword`], which the resolver uses to refuse or rename such names.

pub mod json;
mod refill;
pub(crate) mod rule;

use std::fmt::Write as _;

use crate::ir::{BaseChain, ChainKind, Hook, Ruleset, Set, SetElements};
use crate::nft::COMMENT_MAX;

pub use refill::{Carried, Refill, refill_script};
pub use rule::{comment, prefix_mask, push_statement, rule_id};

/// The nft script that atomically replaces the ruleset's table (and, with `ipv6: drop`, its
/// `table ip6`, see [`crate::ip6`]) and touches nothing else.
pub fn nft_script(ruleset: &Ruleset) -> String {
    // Room for a typical rule line each, so that a large script is seldom copied as it grows.
    let rules: usize = ruleset.chains.iter().map(|c| c.rules.len()).sum();
    let mut script = String::with_capacity(1024 + rules * 112);
    let done: Result<(), std::convert::Infallible> =
        stream(ruleset, threads_for(ruleset), RUN_RULES, |piece| {
            script.push_str(piece);
            Ok(())
        });
    let Ok(()) = done;
    script
}

/// Rulesets with fewer rules are printed on one thread: starting another costs more.
/// The comment of every `table ip` overlayfw makes: it marks the table as overlayfw's
/// ([`crate::live::apply::foreign`]). Fixed: the kernel keeps a table's comment from its
/// creation, so what varies (the version) is the name of a chain ([`Ruleset::label_version`]).
pub const TABLE_COMMENT: &str = "overlayfw";

const PARALLEL_MIN_RULES: usize = 16_384;

/// Writes [`nft_script`] to `w` while printing it: each run of rules is written as soon as
/// the runs before it are, so that the whole script is never held (a 100,000-rule script is
/// 10 MiB). An error writing stops the printing and is returned.
pub fn write_script(ruleset: &Ruleset, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    stream(ruleset, threads_for(ruleset), RUN_RULES, |piece| w.write_all(piece.as_bytes()))
}

fn threads_for(ruleset: &Ruleset) -> usize {
    let rules: usize = ruleset.chains.iter().map(|c| c.rules.len()).sum();
    if rules < PARALLEL_MIN_RULES { 1 } else { crate::parallel::threads() }
}

/// Rules printed in one run (about 220 KiB of script): small enough that the runs printed but
/// not yet written stay small, large enough that a thread takes a run a few dozen times for a
/// 100,000-rule ruleset.
const RUN_RULES: usize = 2048;

/// Rule lines are printed into pieces of about this many bytes: a piece is made once with room
/// for a quarter more and is cut when full, so it never grows (a line longer than
/// [`LINE_ROOM`] may make it). A guess of the whole run's
/// length, too low by a few bytes a rule (a longer file name in every rule's comment), doubled
/// the run's text and copied it: a 100,000-rule compile peaked 8 MiB higher.
const PIECE_BYTES: usize = 256 * 1024;

/// Room kept in a piece for its next line (a longer one makes the piece grow).
const LINE_ROOM: usize = 4096;

/// The script in pieces, as [`stream`] hands them out (tests).
#[cfg(test)]
fn pieces_on(ruleset: &Ruleset, threads: usize, run_rules: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let done: Result<(), std::convert::Infallible> = stream(ruleset, threads, run_rules, |piece| {
        pieces.push(piece.to_string());
        Ok(())
    });
    let Ok(()) = done;
    pieces
}

/// Hands the script to `sink` in consecutive pieces. The rules are cut into runs of `run_rules`
/// (counted over all chains in order: runs may start and end inside a chain); `threads`
/// workers print the runs, each into its own pieces of about [`PIECE_BYTES`], and
/// [`parallel::ordered_map`](crate::parallel::ordered_map) hands them to `sink` in order as
/// they come, the workers never far ahead. A piece handed out goes back to the workers to
/// print another run into: the script's 10 MiB are not each taken from the system anew (2,600
/// page faults, ~2 ms). The text is the same on any number of threads and any run length.
fn stream<E>(
    ruleset: &Ruleset,
    threads: usize,
    run_rules: usize,
    mut sink: impl FnMut(&str) -> Result<(), E>,
) -> Result<(), E> {
    let rules: usize = ruleset.chains.iter().map(|c| c.rules.len()).sum();
    let run_rules = run_rules.max(1);
    let runs = rules.div_ceil(run_rules).max(1);
    // Pieces handed out, emptied, for the next runs.
    let spare: std::sync::Mutex<Vec<String>> = Default::default();
    let print = |k: usize| {
        let (from, to) = (k * run_rules, ((k + 1) * run_rules).min(rules));
        let elements: usize = if k == 0 { ruleset.sets.iter().map(set_len).sum() } else { 0 };
        // 160 bytes a rule, more than nearly any rule line takes, so that the piece does not
        // grow: a full run gets a whole piece's room. (112, the average of a 100,000-rule
        // policy, was short of its FORWARD lines, 121 bytes each: every such run's piece grew
        // to twice its room and was copied, and peaks were up to 4 MiB higher.)
        let room = (512 + (to - from) * 160).min(PIECE_BYTES + PIECE_BYTES / 4) + elements * 20;
        let mut out = spare.lock().map_or(None, |mut s| s.pop()).unwrap_or_default();
        out.reserve(room);
        let mut done = Vec::new();
        if k == 0 {
            write_head(&mut out, ruleset);
        }
        write_rules(&mut out, &mut done, ruleset, from, to, k + 1 == runs);
        done.push(out);
        done
    };
    let threads = threads.clamp(1, runs);
    let hand_out = |pieces: Vec<String>| {
        for mut piece in pieces {
            sink(&piece)?;
            piece.clear();
            // A run takes one spare piece; one that printed more (long lines, a large set)
            // leaves the rest to be freed, so the spares stay a few pieces a thread.
            if let Ok(mut spare) = spare.lock()
                && spare.len() < 2 * threads
            {
                spare.push(piece);
            }
        }
        Ok(())
    };
    crate::parallel::ordered_map(runs, threads, print, hand_out)
}

/// The script up to the first chain: the replace idiom, the table's comment, the sets.
fn write_head(out: &mut String, ruleset: &Ruleset) {
    let table = &ruleset.table;
    // `write!` into a String cannot fail; the results are ignored throughout this module.
    let _ = writeln!(out, "#!/usr/sbin/nft -f");
    let _ = writeln!(out, "# generated by overlayfw; table {table}, inputs {}", ruleset.input_hash);
    // Create-if-absent, then delete, then build: one transaction, so the replacement is atomic
    // and works whether the table exists or not.
    let _ = writeln!(out, "table ip {table} {{}}");
    let _ = writeln!(out, "delete table ip {table}");
    let _ = writeln!(out, "table ip {table} {{");
    out.push_str("\tcomment ");
    push_quoted(out, TABLE_COMMENT, COMMENT_MAX);
    out.push('\n');
    for set in &ruleset.sets {
        write_set(out, set);
    }
    for m in ruleset.meters() {
        let _ = writeln!(out, "\tset {} {{", m.name);
        let _ = writeln!(out, "\t\ttype {}", m.key_type());
        let _ = writeln!(out, "\t\tsize {}", crate::nft::METER_SIZE);
        let flags = if m.has_timeout() { "dynamic,timeout" } else { "dynamic" };
        let _ = writeln!(out, "\t\tflags {flags}\n\t}}");
    }
}

/// The chains' text for the rules with global indices `from..to` (counted over all chains in
/// order); `last` (the last run) adds the table's end. A piece of [`PIECE_BYTES`] or more goes
/// to `done`, and `out` starts anew.
fn write_rules(
    out: &mut String,
    done: &mut Vec<String>,
    ruleset: &Ruleset,
    from: usize,
    to: usize,
    last: bool,
) {
    let mut start = 0;
    for chain in &ruleset.chains {
        let end = start + chain.rules.len();
        // A chain's head goes with the run holding its first rule and its end with the run
        // holding its last; an empty chain goes whole with the run starting at its place (the
        // last run, for empty chains after every rule).
        let opens = (from <= start && start < to) || (last && start == to);
        let closes = if chain.rules.is_empty() { opens } else { from < end && end <= to };
        if opens {
            let _ = writeln!(out, "\tchain {} {{", chain.name);
            if let Some(base) = &chain.base {
                out.push_str("\t\t");
                push_base(out, base);
                out.push('\n');
            }
        }
        let (lo, hi) = (from.max(start), to.min(end));
        if lo < hi {
            for r in &chain.rules[lo - start..hi - start] {
                out.push_str("\t\t");
                rule::push_rule(out, &chain.name, r, &ruleset.sets, &ruleset.files);
                out.push('\n');
                // Cut when full: past PIECE_BYTES and without room for another long line (a
                // run whose lines are longer than the guess stays one piece while it fits;
                // cut at PIECE_BYTES, a run of 131-byte lines took two pieces and twice the
                // memory).
                if out.len() >= PIECE_BYTES && out.capacity() - out.len() < LINE_ROOM {
                    let next = String::with_capacity(PIECE_BYTES + PIECE_BYTES / 4);
                    done.push(std::mem::replace(out, next));
                }
            }
        }
        if closes {
            out.push_str("\t}\n");
        }
        start = end;
    }
    if last {
        out.push_str("}\n");
        // The `ip6` table overlayfw owns with `ipv6: drop`: in the same file, so the same
        // transaction.
        if ruleset.ipv6.managed() {
            out.push_str(&crate::ip6::script(&ruleset.table));
        }
    }
}

/// One rule as its nft statement line, without the comment (for plans and messages).
pub fn rule_text(rule: &crate::ir::Rule, sets: &[Set]) -> String {
    let mut out = String::new();
    rule::push_statement(&mut out, rule, sets);
    out
}

fn set_len(set: &Set) -> usize {
    match &set.elements {
        SetElements::Addrs(a) => a.len(),
        SetElements::Ports(p) => p.len(),
    }
}

fn write_set(out: &mut String, set: &Set) {
    let _ = writeln!(out, "\tset {} {{", set.name);
    let _ = writeln!(out, "\t\ttype {}", set_type(set));
    out.push_str("\t\tflags interval\n\t\tauto-merge\n");
    // `elements = { }` is a syntax error: an empty set simply has no elements line.
    if set_len(set) > 0 {
        out.push_str("\t\telements = { ");
        push_elements(out, set);
        out.push_str(" }\n");
    }
    out.push_str("\t}\n");
}

fn set_type(set: &Set) -> &'static str {
    match set.elements {
        SetElements::Addrs(_) => "ipv4_addr",
        SetElements::Ports(_) => "inet_service",
    }
}

/// A set's elements, `, ` between them.
fn push_elements(out: &mut String, set: &Set) {
    match &set.elements {
        SetElements::Addrs(nets) => {
            for (i, net) in nets.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                rule::push_net(out, net);
            }
        }
        SetElements::Ports(ports) => {
            for (i, range) in ports.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                rule::push_port_range(out, *range);
            }
        }
    }
}

fn push_base(out: &mut String, base: &BaseChain) {
    let kind = match base.kind {
        ChainKind::Filter => "filter",
        ChainKind::Nat => "nat",
    };
    let hook = match base.hook {
        Hook::Prerouting => "prerouting",
        Hook::Input => "input",
        Hook::Forward => "forward",
        Hook::Output => "output",
        Hook::Postrouting => "postrouting",
    };
    let _ = write!(out, "type {kind} hook {hook} priority ");
    match priority_keyword(base.hook, base.priority) {
        Some(word) => out.push_str(word),
        None => {
            let _ = write!(out, "{}", base.priority);
        }
    }
    out.push_str("; policy accept;");
}

/// The standard name of a priority, where nft 1.0.6 accepts it in this hook of an `ip` table:
/// `dstnat` only in prerouting and `srcnat` only in postrouting ("invalid priority expression
/// value in this context" elsewhere); `raw`, `mangle`, `filter` in every hook.
fn priority_keyword(hook: Hook, priority: i32) -> Option<&'static str> {
    match (priority, hook) {
        (-300, _) => Some("raw"),
        (-150, _) => Some("mangle"),
        (-100, Hook::Prerouting) => Some("dstnat"),
        (0, _) => Some("filter"),
        (100, Hook::Postrouting) => Some("srcnat"),
        _ => None,
    }
}

/// Appends `"text"`, cut to at most `max` bytes at a char boundary. The IR guarantees the text
/// holds no `"`, `\` or control character.
fn push_quoted(out: &mut String, text: &str, max: usize) {
    out.push('"');
    out.push_str(truncate(text, max));
    out.push('"');
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests;
