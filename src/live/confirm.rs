//! The handshake of `apply --confirm N`: the applying process leaves a "pending" file and the
//! restore script in the state directory, and a watchdog process waits; `overlayfw confirm`
//! (another terminal) or Enter (the applying one) confirms; otherwise the watchdog puts the
//! previous table back, even when the terminal and the applying process are gone. Files are keyed by network namespace and
//! table, so applies in different namespaces do not meet. A lock file serialises applies.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead as _};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `$OVERLAYFW_STATE_DIR`, else `/run/overlayfw`.
pub fn state_dir() -> PathBuf {
    std::env::var_os("OVERLAYFW_STATE_DIR")
        .map_or_else(|| PathBuf::from("/run/overlayfw"), PathBuf::from)
}

/// The inode number of this process's network namespace.
fn netns_id() -> String {
    fs::read_link("/proc/self/ns/net")
        .ok()
        .and_then(|p| {
            let s = p.to_string_lossy().into_owned();
            s.strip_prefix("net:[").and_then(|r| r.strip_suffix(']')).map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_string())
}

fn path(table: &str, what: &str) -> PathBuf {
    state_dir().join(format!("{}-{table}.{what}", netns_id()))
}

/// Held while an apply runs: a second apply of the same table in the same namespace waits.
pub struct ApplyLock {
    _file: File,
}

pub fn lock(table: &str) -> io::Result<ApplyLock> {
    fs::create_dir_all(state_dir())?;
    let file =
        OpenOptions::new().create(true).truncate(false).write(true).open(path(table, "lock"))?;
    file.lock()?;
    Ok(ApplyLock { _file: file })
}

/// A change waiting for confirmation. The applying process creates it and starts a watchdog
/// process (`overlayfw watchdog`, in its own process group so that a hangup of the terminal
/// does not reach it) that restores the previous table at the deadline unless confirmed, and
/// then clears the files.
pub struct Pending {
    pending: PathBuf,
    confirmed: PathBuf,
    restore: PathBuf,
}

impl Pending {
    /// Records a pending change with the script that restores the previous table.
    pub fn create(table: &str, restore_script: &str) -> io::Result<Pending> {
        fs::create_dir_all(state_dir())?;
        let p = Pending::of(table);
        let _ = fs::remove_file(&p.confirmed);
        fs::write(&p.restore, restore_script)?;
        fs::write(&p.pending, format!("{}\n", std::process::id()))?;
        Ok(p)
    }

    /// The pending change of `table` in this namespace (files may or may not exist).
    pub fn of(table: &str) -> Pending {
        Pending {
            pending: path(table, "pending"),
            confirmed: path(table, "confirmed"),
            restore: path(table, "restore.nft"),
        }
    }

    pub fn restore_script(&self) -> io::Result<String> {
        fs::read_to_string(&self.restore)
    }

    /// Marks the change confirmed.
    pub fn confirm(&self) -> io::Result<()> {
        fs::write(&self.confirmed, b"")
    }

    pub fn is_confirmed(&self) -> bool {
        self.confirmed.exists()
    }

    /// Waits until confirmed (the file, or a line on standard input) or `timeout` passes.
    pub fn wait(&self, timeout: Duration, read_stdin: bool) -> bool {
        let (tx, rx) = mpsc::channel();
        if read_stdin {
            // The thread stays blocked on stdin if nothing comes; the process exits anyway.
            std::thread::spawn(move || {
                let mut line = String::new();
                if io::stdin().lock().read_line(&mut line).is_ok_and(|n| n > 0) {
                    let _ = tx.send(());
                }
            });
        }
        let deadline = Instant::now() + timeout;
        loop {
            if self.is_confirmed() {
                return true;
            }
            if rx.try_recv().is_ok() {
                return self.confirm().is_ok();
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
        }
    }

    /// Removes the files: nothing is pending any more.
    pub fn clear(&self) {
        let _ = fs::remove_file(&self.pending);
        let _ = fs::remove_file(&self.confirmed);
        let _ = fs::remove_file(&self.restore);
    }
}

/// Confirms a pending apply of `table` in this namespace. `Ok(false)`: nothing is pending.
pub fn confirm(table: &str) -> io::Result<bool> {
    if !path(table, "pending").exists() {
        return Ok(false);
    }
    Pending::of(table).confirm()?;
    Ok(true)
}
