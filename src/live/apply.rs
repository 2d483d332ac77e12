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
    Err(ApplyError::Netlink(NO_NETLINK.to_string()))
}

/// Why `--backend netlink` is unavailable in this build, if it is.
pub fn netlink_missing(backend: Backend) -> Option<&'static str> {
    (backend == Backend::Netlink && !cfg!(feature = "netlink")).then_some(NO_NETLINK)
}

const NO_NETLINK: &str = "this overlayfw was built without the `netlink` feature: --backend netlink is not available; use --backend nft (or build with `--features netlink`)";

/// The live table before an apply: to check whose it is, and to put it back.
pub struct Snapshot {
    table: String,
    /// `nft list table` text, or `None` when the table did not exist.
    text: Option<String>,
}

impl Snapshot {
    pub fn take(table: &str) -> Result<Snapshot, NftError> {
        Ok(Snapshot { table: table.to_string(), text: nft::list_table_text(table)? })
    }

    /// Why the live table is not overlayfw's to replace: it exists and its comment is not the
    /// `overlayfw …` that every table overlayfw makes carries (iptables-nft's `nat`, say).
    /// `None`: absent, or ours.
    pub fn foreign(&self) -> Option<String> {
        let text = self.text.as_deref()?;
        let t = &self.table;
        match nft::table_comment(text) {
            Some(c) if c == "overlayfw" || c.starts_with("overlayfw ") => None,
            Some(c) => Some(format!(
                "table ip {t} was not made by overlayfw (its comment is \"{}\")",
                c.escape_debug()
            )),
            None => Some(format!("table ip {t} was not made by overlayfw (it has no comment)")),
        }
    }

    /// One transaction that makes the table what it was (or removes it if it was absent).
    /// The table name is a checked one (letters, digits, `_`); the rest is nft's own listing.
    pub fn restore_script(&self) -> String {
        let t = &self.table;
        let mut s = format!("table ip {t} {{}}\ndelete table ip {t}\n");
        if let Some(text) = &self.text {
            s.push_str(text);
        }
        s
    }

    /// Whether the restore script can be loaded (`nft -c`): a table that nft lists in a form it
    /// cannot read back (iptables-nft's `xt` matches) cannot be put back.
    pub fn check_restore(&self) -> Result<(), NftError> {
        nft::check(&self.restore_script())
    }

    pub fn restore(&self) -> Result<(), NftError> {
        nft::load(&self.restore_script())
    }
}

#[cfg(test)]
mod tests {
    use super::Snapshot;

    fn snapshot(text: Option<&str>) -> Snapshot {
        Snapshot { table: "t".into(), text: text.map(str::to_string) }
    }

    #[test]
    fn only_a_table_with_overlayfws_comment_is_ours() {
        assert_eq!(snapshot(None).foreign(), None);
        let ours = snapshot(Some("table ip t {\n\tcomment \"overlayfw fx64:ab\"\n}\n"));
        assert_eq!(ours.foreign(), None);
        let bare = snapshot(Some("table ip t {\n\tchain c {\n\t}\n}\n")).foreign();
        assert_eq!(
            bare.as_deref(),
            Some("table ip t was not made by overlayfw (it has no comment)")
        );
        let other = snapshot(Some("table ip t {\n\tcomment \"overlayfwx\"\n}\n")).foreign();
        assert_eq!(
            other.as_deref(),
            Some("table ip t was not made by overlayfw (its comment is \"overlayfwx\")")
        );
    }

    #[test]
    fn the_restore_script_replaces_the_table_or_removes_it() {
        assert_eq!(snapshot(None).restore_script(), "table ip t {}\ndelete table ip t\n");
        let s = snapshot(Some("table ip t {\n}\n")).restore_script();
        assert_eq!(s, "table ip t {}\ndelete table ip t\ntable ip t {\n}\n");
    }
}
