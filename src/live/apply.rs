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
    /// Chains added and deleted, the version chain aside (`version`).
    pub chains_added: usize,
    pub chains_deleted: usize,
    /// The version chain added (`ir::Ruleset::label_version`), when the version changed.
    pub version: Option<String>,
    pub sets_added: usize,
    /// Meters' dynamic sets no rule uses any more (with their state).
    pub sets_deleted: usize,
    pub elements_added: usize,
    pub elements_deleted: usize,
    /// The ruleset generation after the change (the one read, when nothing changed).
    pub generation: Option<u32>,
    /// Times the plan was made again because the ruleset changed meanwhile.
    pub replans: usize,
    /// The plan was made from the view the last apply left, without reading the rules back.
    pub from_view: bool,
    /// What was done to `table ip6` ([`crate::ip6`]), if anything.
    pub ip6: Option<&'static str>,
    pub kernel: Duration,
}

impl Changes {
    pub fn nothing(&self) -> bool {
        self.replaced.is_none()
            && self.ip6.is_none()
            && self.version.is_none()
            && self.rules_added
                + self.rules_deleted
                + self.chains_added
                + self.chains_deleted
                + self.sets_added
                + self.sets_deleted
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
            let what = match &c.replaced {
                None if c.version.is_some() => {
                    format!("{what}; now {}", c.version.as_deref().unwrap_or_default())
                }
                _ => what,
            };
            // `table ip6` made again or deleted (`ipv6:`).
            let what = match c.ip6 {
                Some(done) => format!("{what}; {done}"),
                None => what,
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
        Backend::Nft => {
            // In place where it can be; a change to `table ip6` (made, replaced or deleted)
            // goes with a whole replace.
            let mut why = None;
            if !replace {
                if ip6_changes(rs).map_err(no_blame)? {
                    why = Some("table ip6 changes".to_string());
                } else {
                    match super::refill::apply(rs).map_err(no_blame)? {
                        Ok(c) => return Ok(Applied { changes: Some(c), ..Applied::default() }),
                        Err(reason) => why = Some(reason),
                    }
                }
            }
            let started = std::time::Instant::now();
            let mut script = emit::nft_script(rs);
            // The setting switched off: the `ip6` table overlayfw made goes, in the same
            // transaction.
            if !rs.ipv6.managed() && ip6_table(&rs.table).map_err(no_blame)? == Ip6Table::Ours {
                script.push_str(&crate::ip6::delete_script(&rs.table));
            }
            nft::load(&script).map_err(|e| {
                let blame = match &e {
                    NftError::Failed { stderr, .. } => {
                        blamed_lines(rs, &nft::blame(&script, stderr))
                    }
                    _ => Vec::new(),
                };
                ApplyError::Nft { source: e, blame }
            })?;
            // Said for an apply that would have changed the table in place.
            let changes = why.map(|why| Changes {
                replaced: Some(why),
                kernel: started.elapsed(),
                ..Changes::default()
            });
            Ok(Applied { changes, ..Applied::default() })
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

fn no_blame(source: NftError) -> ApplyError {
    ApplyError::Nft { source, blame: Vec::new() }
}

/// Whether `table ip6 NAME` must change for `rs` ([`crate::ip6`]): made or replaced with
/// `ipv6: drop`, deleted (when overlayfw's) without it.
fn ip6_changes(rs: &Ruleset) -> Result<bool, NftError> {
    let want = rs.ipv6.managed();
    match ip6_table(&rs.table)? {
        Ip6Table::Absent | Ip6Table::Foreign(_) => Ok(want),
        Ip6Table::Ours if !want => Ok(true),
        Ip6Table::Ours => {
            let bytes = nft::list_json_bytes("ip6", &rs.table)?;
            let live = bytes
                .and_then(|b| crate::diff::from_listing_bytes_in(&b, "ip6", &rs.table).ok())
                .flatten();
            Ok(crate::diff::plan6(&rs.table, true, live.as_ref()).is_none_or(|p| !p.is_same()))
        }
    }
}

/// The live `table ip6 NAME`, as far as whose it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ip6Table {
    Absent,
    /// Made by overlayfw (`ipv6: drop`).
    Ours,
    /// Someone else's: why it is not overlayfw's.
    Foreign(String),
}

/// Whose `table ip6 NAME` is (read with `nft list`).
pub fn ip6_table(table: &str) -> Result<Ip6Table, NftError> {
    Ok(match nft::list_text("ip6", table)? {
        None => Ip6Table::Absent,
        Some(text) => match foreign_in("ip6", table, nft::table_comment(&text)) {
            None => Ip6Table::Ours,
            Some(why) => Ip6Table::Foreign(why),
        },
    })
}

/// The global-scope IPv6 addresses of this network namespace (ULAs included, link-local and
/// loopback left out), as `(interface, address)`: traffic overlayfw's IPv4 rules do not see.
pub fn global_ipv6_addresses() -> Vec<(String, std::net::Ipv6Addr)> {
    std::fs::read_to_string("/proc/net/if_inet6").map_or_else(|_| Vec::new(), |t| if_inet6(&t))
}

/// The global-scope addresses of a `/proc/net/if_inet6` text (address in 32 hex digits,
/// index, prefix length, scope, flags, interface).
fn if_inet6(text: &str) -> Vec<(String, std::net::Ipv6Addr)> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [hex, _, _, scope, _, name] = f[..] else { return None };
            let bits = u128::from_str_radix(hex, 16).ok().filter(|_| hex.len() == 32)?;
            (scope == "00").then(|| (name.to_string(), std::net::Ipv6Addr::from(bits)))
        })
        .collect()
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
    foreign_in("ip", table, comment)
}

/// [`foreign`] for `table FAMILY NAME`.
pub fn foreign_in(family: &str, table: &str, comment: Option<&str>) -> Option<String> {
    match comment {
        Some(c) if c == "overlayfw" || c.starts_with("overlayfw ") => None,
        Some(c) => Some(format!(
            "table {family} {table} was not made by overlayfw (its comment is \"{}\")",
            c.escape_debug()
        )),
        None => {
            Some(format!("table {family} {table} was not made by overlayfw (it has no comment)"))
        }
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
    /// `table ip6 NAME` ([`crate::ip6`]), when the apply may change it: with `ipv6: drop`, or
    /// when the live one is overlayfw's (an apply without the setting deletes it). `None`: the
    /// apply leaves it alone, and so does the restore. `Some(None)`: it did not exist.
    ip6: Option<Option<String>>,
}

impl Snapshot {
    /// The live tables an apply of a ruleset with this `ipv6` setting may change.
    pub fn take(table: &str, ipv6: crate::ip6::Ipv6) -> Result<Snapshot, NftError> {
        let text = nft::list_table_text(table)?;
        let ip6 = nft::list_text("ip6", table)?;
        let ours = ip6
            .as_deref()
            .is_some_and(|t| foreign_in("ip6", table, nft::table_comment(t)).is_none());
        let ip6 = (ipv6.managed() || ours).then_some(ip6);
        Ok(Snapshot { table: table.to_string(), text, ip6 })
    }

    /// Why the live table (or the `ip6` table the apply would replace) is not overlayfw's to
    /// replace: it exists and its comment is not the `overlayfw …` that every table overlayfw
    /// makes carries (iptables-nft's `nat`, say). `None`: absent, or ours.
    pub fn foreign(&self) -> Option<String> {
        let ip = self.text.as_deref().and_then(|t| foreign(&self.table, nft::table_comment(t)));
        let ip6 = self
            .ip6
            .as_ref()
            .and_then(|t| t.as_deref())
            .and_then(|t| foreign_in("ip6", &self.table, nft::table_comment(t)));
        match (ip, ip6) {
            (Some(a), Some(b)) => Some(format!("{a}, and {b}")),
            (a, b) => a.or(b),
        }
    }

    /// One transaction that makes the table what it was (or removes it if it was absent), and
    /// the `ip6` table too when the apply may change it. The table name is a checked one
    /// (letters, digits, `_`); the rest is nft's own listing.
    pub fn restore_script(&self) -> String {
        let t = &self.table;
        let mut s = format!("table ip {t} {{}}\ndelete table ip {t}\n");
        if let Some(text) = &self.text {
            s.push_str(text);
        }
        if let Some(ip6) = &self.ip6 {
            s.push_str(&crate::ip6::delete_script(t));
            if let Some(text) = ip6 {
                s.push_str(text);
            }
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
        Snapshot { table: "t".into(), text: text.map(str::to_string), ip6: None }
    }

    #[test]
    fn only_global_ipv6_addresses_are_read_from_if_inet6() {
        let text = "\
fe800000000000000000000000000001 02 40 20 80     eth0
20010db8000000000000000000000001 02 40 00 80     eth0
00000000000000000000000000000001 01 80 10 80       lo
fd000000000000000000000000000002 03 40 00 80     tun0
";
        let found = super::if_inet6(text);
        let shown: Vec<String> = found.iter().map(|(i, a)| format!("{i} {a}")).collect();
        assert_eq!(shown, ["eth0 2001:db8::1", "tun0 fd00::2"]);
        assert!(super::if_inet6("garbage\n1 2 3 00 5 x\n").is_empty());
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
    fn the_restore_script_puts_back_the_ip6_table_when_the_apply_may_change_it() {
        let absent = Snapshot { ip6: Some(None), ..snapshot(None) };
        assert_eq!(
            absent.restore_script(),
            "table ip t {}\ndelete table ip t\ntable ip6 t {}\ndelete table ip6 t\n"
        );
        let ours = "table ip6 t {\n\tcomment \"overlayfw ipv6: drop\"\n}\n";
        let kept = Snapshot { ip6: Some(Some(ours.into())), ..snapshot(None) };
        assert!(kept.restore_script().ends_with(&format!("delete table ip6 t\n{ours}")));
        assert_eq!(kept.foreign(), None);
        let theirs = Snapshot { ip6: Some(Some("table ip6 t {\n}\n".into())), ..snapshot(None) };
        assert_eq!(
            theirs.foreign().as_deref(),
            Some("table ip6 t was not made by overlayfw (it has no comment)")
        );
    }

    #[test]
    fn the_restore_script_replaces_the_table_or_removes_it() {
        assert_eq!(snapshot(None).restore_script(), "table ip t {}\ndelete table ip t\n");
        let s = snapshot(Some("table ip t {\n}\n")).restore_script();
        assert_eq!(s, "table ip t {}\ndelete table ip t\ntable ip t {\n}\n");
    }
}
