//! What the last apply of a table in this namespace made, kept in the state directory
//! (`NS-TABLE.applied`): the ruleset generation right after it (known exactly: the batch was
//! checked to start from the one before), and the hash and form of the inputs. `diff` of the
//! same inputs while the generation is still that one needs no read of the rules: nothing in
//! the namespace's ruleset has changed since.

use super::confirm;

fn text(generation: u32, input_hash: &str, optimize: bool) -> String {
    format!("generation {generation}\ninputs {input_hash}\noptimize {optimize}\n")
}

/// Records an apply that made `generation`; `None` (a backend that cannot tell) forgets any
/// earlier record. Best effort: without a record `diff` reads the table.
pub fn write(table: &str, generation: Option<u32>, input_hash: &str, optimize: bool) {
    let path = confirm::path(table, "applied");
    match generation {
        Some(g) => {
            let _ = std::fs::create_dir_all(confirm::state_dir());
            let body = text(g, input_hash, optimize);
            let _ =
                crate::files::write_atomically_with(&path, |w| w.write_all(body.as_bytes()), None);
        }
        None => {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Whether the last apply was of these inputs in this form and made `generation`.
pub fn unchanged_since(table: &str, generation: u32, input_hash: &str, optimize: bool) -> bool {
    std::fs::read_to_string(confirm::path(table, "applied"))
        .is_ok_and(|t| t == text(generation, input_hash, optimize))
}

/// Whether the last apply recorded made `generation`, whatever its inputs: only then can
/// [`unchanged_since`] hold, so `diff` need not read the table before it knows the inputs.
pub fn made(table: &str, generation: u32) -> bool {
    std::fs::read_to_string(confirm::path(table, "applied"))
        .is_ok_and(|t| t.lines().next() == Some(&format!("generation {generation}")))
}
