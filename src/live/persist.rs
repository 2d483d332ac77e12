//! The table kept for the next boot: a successful `apply` (with `--confirm`, once confirmed)
//! writes exactly the script it loaded to `$OVERLAYFW_PERSIST_DIR/TABLE.nft` (default
//! `/var/lib/overlayfw`), which `overlayfw.service` loads with `nft -f` at boot.

use std::io;
use std::path::{Path, PathBuf};

/// Where the table is kept. Without `$OVERLAYFW_PERSIST_DIR`, only in the machine's own network
/// namespace: an apply inside another namespace (a test, a namespaced router) must not become
/// the table the host loads at boot.
pub fn path(table: &str) -> Option<PathBuf> {
    let file = format!("{table}.nft");
    match std::env::var_os("OVERLAYFW_PERSIST_DIR") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir).join(file)),
        _ => in_initial_netns().then(|| Path::new("/var/lib/overlayfw").join(file)),
    }
}

/// Whether this process shares the network namespace of process 1.
fn in_initial_netns() -> bool {
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/net")).ok();
    matches!((ns("self"), ns("1")), (Some(a), Some(b)) if a == b)
}

/// Writes the script atomically (a temporary file beside it, flushed, renamed over it): the
/// boot unit finds the old table or the new one, never a part.
pub fn write(path: &Path, script: &str) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    crate::files::write_atomically_with(path, |w| w.write_all(script.as_bytes()), None)?;
    // The rename itself is made durable by flushing the directory.
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_file_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/overlayfw.nft");
        write(&path, "old\n").expect("first");
        write(&path, "new\n").expect("second");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new\n");
        let names: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["overlayfw.nft"]);
    }
}
