//! Lints: warnings about rules that compile but are probably not what their author meant
//! (shadowed, duplicated or unreachable rules, NAT and mirrors aimed at the wrong place, unused
//! inventory entries). Pure functions over the resolver's placed VNS3 chains and the inventory;
//! every finding is a `W1xx` diagnostic documented in `docs/codes/`. A lint says nothing when
//! it cannot be sure: a false warning teaches users to ignore them all.

mod nat;
mod shadow;
pub mod space;
#[cfg(test)]
mod tests;
mod unused;

use crate::diagnostic::Diagnostic;
use crate::inventory::Inventory;
use crate::resolve::{Files, Placed, Resolved};

pub struct Options {
    /// An inventory file was given (not the built-in default): unused entries are worth a word.
    pub inventory_given: bool,
}

/// Runs every lint. Call only when resolving found no error (the chains are then complete).
pub fn lint(resolved: &Resolved, inv: &Inventory, opts: &Options) -> Vec<Diagnostic> {
    let (chains, files) = (&resolved.chains, &resolved.files);
    let sets = space::Sets::new(inv);
    let mut out = shadow::lint(chains, files, &sets);
    out.extend(nat::lint(chains, files, inv, &sets, true));
    if opts.inventory_given {
        out.extend(unused::lint(chains, inv, &resolved.used));
    }
    out
}

/// The lints that stay true when lines are missing, for a compile with errors (a line with an
/// error is not placed at all; the others are placed exactly): a line that never matches
/// (W109), a duplicate (W102), a line shadowed by an earlier one that exists (W101, W103), a
/// catch-all with lines after it (W105), a DNAT or COPY to an undeclared address (W104), a
/// mirror that can loop (W106). A missing line can only take cover away, never add it. Left
/// out: W107 (the missing line may be the FORWARD accept) and W108 (it may use the entry).
pub fn lint_incomplete(resolved: &Resolved, inv: &Inventory) -> Vec<Diagnostic> {
    let (chains, files) = (&resolved.chains, &resolved.files);
    let sets = space::Sets::new(inv);
    let mut out = shadow::lint(chains, files, &sets);
    out.extend(nat::lint(chains, files, inv, &sets, false));
    out
}

/// How a rule names another in a message: `line 7`, or `FILE:7` in another file.
fn at(other: &Placed, here: &Placed, files: &Files) -> String {
    if other.span.file == here.span.file {
        format!("line {}", other.line)
    } else {
        format!("{}:{}", files.name(other.span.file), other.line)
    }
}
