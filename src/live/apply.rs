//! Replacing overlayfw's table in the kernel, and putting the previous one back.

use std::time::Duration;

use crate::emit;
use crate::ir::Ruleset;

use super::nft::{self, NftError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `nft -f` of the emitted script.
    Nft,
    /// One netlink batch through nftnl (cargo feature `netlink`).
    Netlink,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{source}{}", blame_text(.blame))]
    Nft { source: NftError, blame: Vec<String> },
    #[error("{0}")]
    Netlink(String),
    #[error("this overlayfw was built without the `netlink` feature; use --backend nft")]
    NoNetlink,
}

fn blame_text(blame: &[String]) -> String {
    if blame.is_empty() {
        String::new()
    } else {
        format!("\nrefused rule(s) from: {}", blame.join(", "))
    }
}

/// Replaces `table ip NAME` with the ruleset in one transaction; on error nothing changed.
/// Returns how long the kernel took over the transaction when the backend can tell (netlink).
pub fn apply(rs: &Ruleset, backend: Backend) -> Result<Option<Duration>, ApplyError> {
    match backend {
        Backend::Nft => {
            let script = emit::nft_script(rs);
            nft::load(&script).map_err(|e| {
                let blame = match &e {
                    NftError::Failed { stderr, .. } => nft::blame(&script, stderr),
                    _ => Vec::new(),
                };
                ApplyError::Nft { source: e, blame }
            })?;
            Ok(None)
        }
        Backend::Netlink => netlink(rs),
    }
}

#[cfg(feature = "netlink")]
fn netlink(rs: &Ruleset) -> Result<Option<Duration>, ApplyError> {
    super::netlink::apply(rs)
        .map(|r| Some(r.kernel))
        .map_err(|e| ApplyError::Netlink(e.to_string()))
}

#[cfg(not(feature = "netlink"))]
fn netlink(_: &Ruleset) -> Result<Option<Duration>, ApplyError> {
    Err(ApplyError::NoNetlink)
}

/// The table as it was before an apply, to put back.
pub struct Snapshot {
    table: String,
    /// `nft list table` text, or `None` when the table did not exist.
    text: Option<String>,
}

impl Snapshot {
    pub fn take(table: &str) -> Result<Snapshot, NftError> {
        Ok(Snapshot { table: table.to_string(), text: nft::list_table_text(table)? })
    }

    /// One transaction that makes the table what it was (or removes it if it was absent).
    pub fn restore_script(&self) -> String {
        let t = &self.table;
        let mut s = format!("table ip {t} {{}}\ndelete table ip {t}\n");
        if let Some(text) = &self.text {
            s.push_str(text);
        }
        s
    }

    pub fn restore(&self) -> Result<(), NftError> {
        nft::load(&self.restore_script())
    }
}
