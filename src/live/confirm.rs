//! The handshake of `apply --confirm N` and the apply lock.
//!
//! Files live in the state directory, named by network namespace and table (`NS-TABLE.…`), so
//! applies in different namespaces do not meet:
//! - `NS-TABLE.lock`: an flock held while an apply runs, and after it by the watchdog of an
//!   unconfirmed change, which inherits the lock's open file (its standard input). A later
//!   apply of the table therefore waits until the change is confirmed or undone, even when the
//!   applying process is gone; whoever takes the lock knows no watchdog of the table lives.
//! - `NS-TABLE.ID.restore.nft`: the script that puts the previous table back, written (and
//!   checked with `nft -c`) before the kernel is changed. `ID` names one pending change, so no
//!   watchdog ever reads or removes another change's files.
//! - `NS-TABLE.pending`: the record of the change waiting for confirmation (its ID, the
//!   watchdog's pid, the deadline), written once the change is applied.
//! - `NS-TABLE.ID.decided`: `confirmed` or `restore`, created once, atomically, by whoever
//!   decides first (`overlayfw confirm` or Enter, or the watchdog at the deadline), so a
//!   confirmation and the deadline cannot both win. It outlives the change (a late `confirm`
//!   finds it decided) until an apply of the table ten minutes later sweeps it.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `$OVERLAYFW_STATE_DIR`, else `/run/overlayfw`.
pub fn state_dir() -> PathBuf {
    std::env::var_os("OVERLAYFW_STATE_DIR")
        .map_or_else(|| PathBuf::from("/run/overlayfw"), PathBuf::from)
}

/// The inode number of this thread's network namespace (a netlink socket belongs to the
/// namespace of the thread that opens it).
fn netns_id() -> String {
    fs::read_link("/proc/thread-self/ns/net")
        .ok()
        .and_then(|p| {
            let s = p.to_string_lossy().into_owned();
            s.strip_prefix("net:[").and_then(|r| r.strip_suffix(']')).map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// `table` is a checked table name (letters, digits, `_`), so it is safe in a file name.
pub(crate) fn path(table: &str, what: &str) -> PathBuf {
    state_dir().join(format!("{}-{table}.{what}", netns_id()))
}

fn open_lock_file(table: &str) -> io::Result<File> {
    fs::create_dir_all(state_dir())?;
    OpenOptions::new().create(true).truncate(false).write(true).open(path(table, "lock"))
}

/// Held while an apply runs: a second apply of the same table in the same namespace waits.
pub struct ApplyLock {
    file: File,
}

impl ApplyLock {
    /// Another handle on the lock's open file: a process that inherits it holds the lock
    /// (an flock belongs to the open file) until it ends, whatever happens to this one.
    pub fn share(&self) -> io::Result<File> {
        self.file.try_clone()
    }
}

/// Takes the apply lock of `table`. When another apply, or the watchdog of a change waiting for
/// confirmation, holds it, `waiting` gets a sentence saying so (with the time the change has
/// left) and this waits for the lock.
pub fn lock(table: &str, waiting: impl FnOnce(&str)) -> io::Result<ApplyLock> {
    let file = open_lock_file(table)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let why = match Record::read(table) {
                Some(r) => format!(
                    "table ip {table} has a change waiting for confirmation ({} s left): waiting until it is confirmed (`overlayfw confirm --table {table}`) or the previous table is restored",
                    r.seconds_left()
                ),
                None => format!("another apply of table ip {table} is running: waiting for it"),
            };
            waiting(&why);
            file.lock()?;
        }
        Err(TryLockError::Error(e)) => return Err(e),
    }
    Ok(ApplyLock { file })
}

/// Whether something (an apply, or a pending change's watchdog) holds the lock of `table`.
fn lock_is_held(table: &str) -> io::Result<bool> {
    let file = open_lock_file(table)?;
    match file.try_lock() {
        Ok(()) => Ok(false),
        Err(TryLockError::WouldBlock) => Ok(true),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// The record of a change waiting for confirmation (`NS-TABLE.pending`).
#[derive(Debug, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub watchdog: u32,
    /// Milliseconds since the Unix epoch.
    pub deadline_ms: u64,
}

impl Record {
    pub fn read(table: &str) -> Option<Record> {
        Record::parse(&fs::read_to_string(path(table, "pending")).ok()?)
    }

    fn parse(text: &str) -> Option<Record> {
        let field = |key: &str| {
            text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('=')).map(str::trim)
        };
        Some(Record {
            id: field("id").filter(|id| valid_id(id))?.to_string(),
            watchdog: field("watchdog")?.parse().ok()?,
            deadline_ms: field("deadline_ms")?.parse().ok()?,
        })
    }

    fn text(&self) -> String {
        format!("id={}\nwatchdog={}\ndeadline_ms={}\n", self.id, self.watchdog, self.deadline_ms)
    }

    /// Whole seconds until the deadline (rounded up), 0 once it has passed.
    pub fn seconds_left(&self) -> u64 {
        self.deadline_ms.saturating_sub(unix_ms(SystemTime::now())).div_ceil(1000)
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// An ID is made by [`Pending::new`]: digits and `-`; anything else read from a file is refused,
/// so that it cannot name a path elsewhere.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_digit() || b == b'-')
}

/// Who decided the fate of a pending change first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Confirmed,
    Restore,
}

impl Decision {
    fn word(self) -> &'static str {
        match self {
            Decision::Confirmed => "confirmed",
            Decision::Restore => "restore",
        }
    }
}

/// One change applied with `--confirm`: its files, keyed by its ID.
pub struct Pending {
    table: String,
    id: String,
}

impl Pending {
    /// A new pending change of `table`, with an ID no other change has (pid and time).
    pub fn new(table: &str) -> Pending {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Pending { table: table.to_string(), id: format!("{}-{nanos}", std::process::id()) }
    }

    /// The pending change `id` of `table` (for its watchdog). `None`: not an ID we make.
    pub fn open(table: &str, id: &str) -> Option<Pending> {
        valid_id(id).then(|| Pending { table: table.to_string(), id: id.to_string() })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn file(&self, what: &str) -> PathBuf {
        path(&self.table, &format!("{}.{what}", self.id))
    }

    pub fn restore_path(&self) -> PathBuf {
        self.file("restore.nft")
    }

    /// Writes the restore script (a new file, flushed to its device): once this returns, the
    /// way back is on record.
    pub fn write_restore(&self, script: &str) -> io::Result<()> {
        self.write_new_file(&self.restore_path(), script)
    }

    /// The script being applied, which the watchdog persists for the next boot once the
    /// change is confirmed (`live::persist`).
    pub fn applied_path(&self) -> PathBuf {
        self.file("applied.nft")
    }

    pub fn write_applied(&self, script: &str) -> io::Result<()> {
        self.write_new_file(&self.applied_path(), script)
    }

    fn write_new_file(&self, path: &std::path::Path, script: &str) -> io::Result<()> {
        fs::create_dir_all(state_dir())?;
        let path = path.to_path_buf();
        let result = (|| {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&path)?;
            f.write_all(script.as_bytes())?;
            f.sync_all()
        })();
        if result.is_err() {
            let _ = fs::remove_file(&path);
        }
        result.map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
    }

    pub fn restore_script(&self) -> io::Result<String> {
        fs::read_to_string(self.restore_path())
    }

    /// Writes the record that makes the change confirmable (atomically: a reader sees all of
    /// it or nothing).
    pub fn publish(&self, watchdog: u32, deadline: SystemTime) -> io::Result<()> {
        let record =
            Record { id: self.id.clone(), watchdog, deadline_ms: unix_ms(deadline) }.text();
        let tmp = self.file("pending.tmp");
        let result =
            fs::write(&tmp, record).and_then(|()| fs::rename(&tmp, path(&self.table, "pending")));
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Whether the record names this change.
    pub fn is_published(&self) -> bool {
        Record::read(&self.table).is_some_and(|r| r.id == self.id)
    }

    /// Decides the change's fate unless it is decided already; the decision that stands.
    pub fn decide(&self, decision: Decision) -> io::Result<Decision> {
        let decided = self.file("decided");
        // Written whole under a name of its own, then linked into place: the link fails if
        // the decision exists, and a reader never sees a half-written one.
        let tmp = self.file(&format!("decided.{}.tmp", std::process::id()));
        fs::write(&tmp, decision.word())?;
        let linked = fs::hard_link(&tmp, &decided);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(decision),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.decision().ok_or(e),
            Err(e) => Err(e),
        }
    }

    /// The decision taken, if any.
    pub fn decision(&self) -> Option<Decision> {
        match fs::read_to_string(self.file("decided")).ok()?.as_str() {
            "confirmed" => Some(Decision::Confirmed),
            "restore" => Some(Decision::Restore),
            _ => None,
        }
    }

    /// Removes this change's restore script, and the record if it names this change. The
    /// decision stays (a later apply sweeps it, [`sweep_decisions`]): were it removed, a
    /// `confirm` that read the record just before could decide the finished change anew and
    /// report a confirmation nobody keeps.
    pub fn clear(&self) {
        if self.is_published() {
            let _ = fs::remove_file(path(&self.table, "pending"));
        }
        let _ = fs::remove_file(self.restore_path());
        let _ = fs::remove_file(self.applied_path());
    }
}

/// What `overlayfw confirm` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Confirmed {
    /// The pending change is confirmed: its watchdog will keep it.
    Yes,
    /// Nothing waits for confirmation (no record, or its watchdog is gone).
    NothingPending,
    /// The deadline came first: the previous table is being (or was) restored.
    TooLate,
}

/// Confirms the pending change of `table` in this namespace.
pub fn confirm(table: &str) -> io::Result<Confirmed> {
    let Some(record) = Record::read(table) else { return Ok(Confirmed::NothingPending) };
    // A live watchdog holds the lock; a record nobody holds it for is stale.
    if !lock_is_held(table)? {
        return Ok(Confirmed::NothingPending);
    }
    let Some(pending) = Pending::open(table, &record.id) else {
        return Ok(Confirmed::NothingPending);
    };
    Ok(match pending.decide(Decision::Confirmed)? {
        Decision::Confirmed => Confirmed::Yes,
        Decision::Restore => Confirmed::TooLate,
    })
}

/// Called by an apply that holds the lock: a record left now is stale (its watchdog, which held
/// the lock, is gone without clearing it). Removes it; the restore script stays for the
/// operator. Returns a sentence saying what was found, if anything.
pub fn clear_stale(table: &str) -> Option<String> {
    let record = Record::read(table)?;
    let _ = fs::remove_file(path(table, "pending"));
    let restore = Pending::open(table, &record.id).map(|p| p.restore_path());
    let kept = restore
        .filter(|p| p.exists())
        .map_or(String::new(), |p| format!("; its restore script is {}", p.display()));
    Some(format!(
        "an earlier change of table ip {table} applied with --confirm was neither confirmed nor restored (its watchdog, pid {}, ended early){kept}",
        record.watchdog
    ))
}

/// Removes the decisions of `table`'s changes that ended more than ten minutes ago. Only for
/// an apply holding the lock (no watchdog of the table is alive); the age keeps a decision for
/// any `confirm` that read the change's record just before it ended.
pub fn sweep_decisions(table: &str) {
    const AGE: Duration = Duration::from_secs(600);
    let prefix = format!("{}-{table}.", netns_id());
    let Ok(entries) = fs::read_dir(state_dir()) else { return };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let old = || {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|a| a > AGE))
        };
        if name.starts_with(&prefix) && name.ends_with(".decided") && old() {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// How long the watchdog sleeps between looks at the files.
pub const POLL: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_a_forged_id_is_refused() {
        let r = Record { id: "12-345".into(), watchdog: 7, deadline_ms: 99 };
        assert_eq!(Record::parse(&r.text()), Some(r));
        assert_eq!(Record::parse("id=../../etc/x\nwatchdog=1\ndeadline_ms=1\n"), None);
        assert_eq!(Record::parse("id=1\nwatchdog=x\ndeadline_ms=1\n"), None);
        assert!(Pending::open("t", "a/b").is_none());
    }

    #[test]
    fn seconds_left_rounds_up_and_stops_at_zero() {
        let now = unix_ms(SystemTime::now());
        let r = |deadline_ms| Record { id: "1".into(), watchdog: 1, deadline_ms };
        assert_eq!(r(now.saturating_sub(5000)).seconds_left(), 0);
        let left = r(now + 2500).seconds_left();
        assert!((2..=3).contains(&left), "{left}");
    }
}
