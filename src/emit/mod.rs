//! IR → nft script text. Pure and total: the IR is already validated.

use crate::ir::Ruleset;

/// The nft script that atomically replaces the ruleset's table and touches nothing else.
pub fn nft_script(ruleset: &Ruleset) -> String {
    let _ = ruleset;
    String::new()
}
