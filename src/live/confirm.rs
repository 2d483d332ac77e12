//! The handshake of `apply --confirm N`: the applying process leaves a "pending" file in the
//! state directory and waits; `overlayfw confirm` (another terminal) or Enter (this one)
//! confirms; otherwise the previous table comes back. Files are keyed by network namespace and
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

/// A change waiting for confirmation; its files are removed on drop.
pub struct Pending {
    pending: PathBuf,
    confirmed: PathBuf,
}

impl Pending {
    pub fn new(table: &str) -> io::Result<Pending> {
        fs::create_dir_all(state_dir())?;
        let p = Pending { pending: path(table, "pending"), confirmed: path(table, "confirmed") };
        let _ = fs::remove_file(&p.confirmed);
        fs::write(&p.pending, format!("{}\n", std::process::id()))?;
        Ok(p)
    }

    /// Waits until confirmed (file or a line on standard input) or `timeout` passes.
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
            if self.confirmed.exists() || rx.try_recv().is_ok() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.pending);
        let _ = fs::remove_file(&self.confirmed);
    }
}

/// Confirms a pending apply of `table` in this namespace. `Ok(false)`: nothing is pending.
pub fn confirm(table: &str) -> io::Result<bool> {
    if !path(table, "pending").exists() {
        return Ok(false);
    }
    fs::write(path(table, "confirmed"), b"")?;
    Ok(true)
}
