//! Writing files the way every output of overlayfw is written: a regular file replaced
//! atomically, never through a planted name, and devices or FIFOs left what they are.

use std::io::{self, Write};
use std::path::Path;

/// Writes what `write` writes to `path`. A regular file (or a symlink to one) is replaced
/// atomically: the text goes to a new temporary file beside the target, created exclusively
/// under a random name (a name planted in the directory, a symlink included, is never
/// followed), then renamed over it, so readers see the old file or the new one, never a part,
/// and a symlink stays a symlink. Anything else that exists (a device such as `/dev/null`, a
/// FIFO, `/dev/stdout`) is written in place: renaming over it would replace it. The new file
/// gets `permissions` if given, else the old file's.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    permissions: Option<std::fs::Permissions>,
) -> io::Result<()> {
    let (target, old) = match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => {
            if m.is_dir() {
                return Err(io::Error::new(io::ErrorKind::IsADirectory, "is a directory"));
            }
            // No create, no truncate: a device or FIFO is only written to.
            let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
            write(&mut f)?;
            return f.flush();
        }
        Ok(m) => (std::fs::canonicalize(path)?, Some(m.permissions())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => (path.to_path_buf(), None),
        Err(e) => return Err(e),
    };
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    // O_CREAT|O_EXCL under a random name; removed on drop unless persisted.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    if let Some(p) = permissions.or(old) {
        tmp.as_file().set_permissions(p)?;
    }
    write(tmp.as_file_mut())?;
    tmp.as_file().sync_all()?;
    tmp.persist(&target).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The old code wrote `.NAME.PID.tmp` with `File::create`, which follows a symlink planted
    /// under that name: the victim got the text. The temporary file is now created exclusively.
    #[test]
    fn a_planted_temporary_symlink_is_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").expect("write");
        let out = dir.path().join("out.nft");
        let planted = dir.path().join(format!(".out.nft.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).expect("symlink");
        write_atomically_with(&out, |w| w.write_all(b"new text"), None).expect("write");
        assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "precious");
        assert_eq!(std::fs::read_to_string(&out).expect("out"), "new text");
        assert!(std::fs::symlink_metadata(&planted).expect("planted").file_type().is_symlink());
    }

    #[test]
    fn a_replaced_file_keeps_its_permissions() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out.nft");
        std::fs::write(&out, "old").expect("write");
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        write_atomically_with(&out, |w| w.write_all(b"new"), None).expect("write");
        let mode = std::fs::metadata(&out).expect("out").permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert_eq!(std::fs::read_to_string(&out).expect("out"), "new");
    }
}
