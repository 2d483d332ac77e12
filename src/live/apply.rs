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
    /// The live table is not overlayfw's (and `force` was not given); nothing was changed.
    #[error("{0}")]
    Foreign(String),
}

fn blame_text(blame: &[String]) -> String {
    if blame.is_empty() {
        String::new()
    } else {
        format!("\nrefused rule(s) from: {}", blame.join(", "))
    }
}

/// What an incremental apply changed (either backend).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Why the whole table was replaced instead, if it was.
    pub replaced: Option<String>,
    pub rules_added: usize,
    pub rules_deleted: usize,
    pub rules_kept: usize,
    pub chains_added: usize,
    pub chains_deleted: usize,
    pub sets_added: usize,
    pub elements_added: usize,
    pub elements_deleted: usize,
    /// The ruleset generation after the change (the one read, when nothing changed).
    pub generation: Option<u32>,
    /// Times the plan was made again because the ruleset changed meanwhile.
    pub replans: usize,
    /// The plan was made from the view the last apply left, without reading the rules back.
    pub from_view: bool,
    pub kernel: Duration,
}

impl Changes {
    pub fn nothing(&self) -> bool {
        self.replaced.is_none()
            && self.rules_added
                + self.rules_deleted
                + self.chains_added
                + self.chains_deleted
                + self.sets_added
                + self.elements_added
                + self.elements_deleted
                == 0
    }
}

/// What an apply did.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// How long the kernel took over the transaction, when the backend can tell (netlink).
    pub kernel: Option<Duration>,
    /// The ruleset generation the apply made, when the backend can tell (netlink).
    pub generation: Option<u32>,
    /// What changed, for an incremental apply (without `--replace`).
    pub changes: Option<Changes>,
}

impl Applied {
    /// A sentence on what changed (empty for a whole-table replace through nft).
    pub fn summary(&self) -> String {
        let took = self.kernel.map_or(String::new(), |t| {
            format!("the kernel's transaction took {:.3} s", t.as_secs_f64())
        });
        if let Some(c) = &self.changes {
            let what = match &c.replaced {
                Some(why) => format!("replaced whole: {why}"),
                None if c.nothing() => "nothing to change".to_string(),
                None => format!(
                    "{} rules added, {} deleted, {} kept; {} chains added, {} deleted; {} set elements added, {} removed",
                    c.rules_added,
                    c.rules_deleted,
                    c.rules_kept,
                    c.chains_added,
                    c.chains_deleted,
                    c.elements_added,
                    c.elements_deleted
                ),
            };
            return if took.is_empty() || c.nothing() {
                format!(" ({what})")
            } else {
                format!(" ({what}; {took})")
            };
        }
        if took.is_empty() { took } else { format!(" ({took})") }
    }
}

/// Makes `table ip NAME` the ruleset in one transaction; on error nothing changed. Through
/// nft, or with `replace`, the whole table is replaced; through netlink otherwise only what
/// differs changes, and a table overlayfw did not make is refused unless `force`.
pub fn apply(
    rs: &Ruleset,
    backend: Backend,
    replace: bool,
    force: bool,
) -> Result<Applied, ApplyError> {
    match backend {
        Backend::Nft if !replace => super::refill::apply(rs)
            .map(|c| Applied { kernel: None, generation: None, changes: Some(c) })
            .map_err(|source| ApplyError::Nft { source, blame: Vec::new() }),
        Backend::Nft => {
            let script = emit::nft_script(rs);
            nft::load(&script).map_err(|e| {
                let blame = match &e {
                    NftError::Failed { stderr, .. } => {
                        blamed_lines(rs, &nft::blame(&script, stderr))
                    }
                    _ => Vec::new(),
                };
                ApplyError::Nft { source: e, blame }
            })?;
            Ok(Applied::default())
        }
        Backend::Netlink => netlink(rs, replace, force),
    }
}

#[cfg(feature = "netlink")]
fn netlink(rs: &Ruleset, replace: bool, force: bool) -> Result<Applied, ApplyError> {
    use super::netlink::{self, incremental};
    if replace {
        return netlink::apply(rs)
            .map(|r| Applied {
                kernel: Some(r.kernel),
                generation: Some(r.generation),
                changes: None,
            })
            .map_err(|e| ApplyError::Netlink(e.to_string()));
    }
    match incremental::apply(rs, force) {
        Ok(c) => Ok(Applied { kernel: Some(c.kernel), generation: c.generation, changes: Some(c) }),
        Err(netlink::NetlinkError::Foreign(why)) => Err(ApplyError::Foreign(why)),
        Err(e) => Err(ApplyError::Netlink(e.to_string())),
    }
}

#[cfg(not(feature = "netlink"))]
fn netlink(_: &Ruleset, _: bool, _: bool) -> Result<Applied, ApplyError> {
    Err(ApplyError::Netlink(NO_NETLINK.to_string()))
}

/// `FILE:LINE` of each rule comment (`FILE #ID`) nft blamed.
fn blamed_lines(rs: &Ruleset, comments: &[String]) -> Vec<String> {
    let lines = super::stats::Lines::of(rs);
    let mut out = Vec::new();
    for c in comments {
        let Some((file, id, _, _)) = super::stats::parse_comment(c) else { continue };
        for (f, l) in lines.get(id).iter().copied().flatten().filter(|(f, _)| *f == file) {
            let place = format!("{f}:{l}");
            if !out.contains(&place) {
                out.push(place);
            }
        }
    }
    out
}

/// Why a live table with this comment is not overlayfw's to change: every table overlayfw
/// makes carries `overlayfw …` (iptables-nft's `nat`, say, does not). `None`: ours.
pub fn foreign(table: &str, comment: Option<&str>) -> Option<String> {
    match comment {
        Some(c) if c == "overlayfw" || c.starts_with("overlayfw ") => None,
        Some(c) => Some(format!(
            "table ip {table} was not made by overlayfw (its comment is \"{}\")",
            c.escape_debug()
        )),
        None => Some(format!("table ip {table} was not made by overlayfw (it has no comment)")),
    }
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
        foreign(&self.table, nft::table_comment(text))
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
