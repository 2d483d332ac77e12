//! The `nft` command: list a table as JSON or text, load or check a script. Everything runs in
//! the network namespace of this process. Every `nft` child has a time limit ([`timeout`]):
//! a hung `nft` is stopped rather than holding the apply lock for ever.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("cannot run `nft`: {0} (install the nftables package)")]
    Spawn(std::io::Error),
    #[error("`nft {args}` failed: {stderr}")]
    Failed { args: String, stderr: String },
    #[error("`nft -j` printed something that is not JSON: {0}")]
    Json(serde_json::Error),
    #[error(
        "`nft {args}` did not finish within {} s and was stopped (OVERLAYFW_NFT_TIMEOUT sets the limit in seconds)",
        .limit.as_secs_f64()
    )]
    Timeout { args: String, limit: Duration },
    #[error(
        "other processes changed the ruleset during each of {tries} tries to apply, so the last plan may have been made from an overtaken read; the table may hold their changes beside ours: run apply again"
    )]
    Busy { tries: usize },
    #[error("the ruleset's commits {0}")]
    Monitor(String),
    #[error("cannot prepare the script for `nft`: {0}")]
    Input(std::io::Error),
}

/// How long one `nft` may run when `OVERLAYFW_NFT_TIMEOUT` does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The time limit of one `nft` child: `$OVERLAYFW_NFT_TIMEOUT` (seconds, fractions allowed,
/// more than 0), else [`DEFAULT_TIMEOUT`]. `Err`: the variable says something else.
pub fn timeout() -> Result<Duration, String> {
    let Some(v) = std::env::var_os("OVERLAYFW_NFT_TIMEOUT") else {
        return Ok(DEFAULT_TIMEOUT);
    };
    v.to_str()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            format!(
                "OVERLAYFW_NFT_TIMEOUT={}: expected seconds, more than 0 and at most 86400",
                v.to_string_lossy().escape_debug()
            )
        })
}

/// Where `nft` would be run from: the first executable `nft` on `$PATH`. `Err`: a message
/// saying it is missing (or the time limit is malformed), for a usage error before anything
/// is locked or changed.
pub fn check_available() -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt as _;
    timeout()?;
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join("nft"))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .ok_or_else(|| {
            "`nft` was not found on PATH: install the nftables package (or put nft on PATH)"
                .to_string()
        })
}

fn nft(args: &[&str], stdin: Option<&[u8]>) -> Result<std::process::Output, NftError> {
    run(args, stdin).map(|(_, out)| out)
}

/// Runs `nft ARGS` (with `stdin` as its input): its process id and its output.
fn run(args: &[&str], stdin: Option<&[u8]>) -> Result<(u32, std::process::Output), NftError> {
    run_program("nft", args, stdin)
}

/// [`run`] with another program in nft's place (tests).
fn run_program(
    program: &str,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> Result<(u32, std::process::Output), NftError> {
    // The limit was checked by the command before it started (`check_available`).
    let limit = timeout().unwrap_or(DEFAULT_TIMEOUT);
    let input = match stdin {
        Some(bytes) => Stdio::from(whole_input(bytes).map_err(NftError::Input)?),
        None => Stdio::null(),
    };
    // In UTC: nft lists `meta time` and `meta hour` in its own timezone, and `diff` reads them
    // back as UTC (diff::canon).
    let mut child = Command::new(program)
        .args(args)
        .env("TZ", "UTC")
        .stdin(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(NftError::Spawn)?;
    let pid = child.id();
    // Threads read while we wait, so a large output cannot deadlock on a full pipe and the
    // wait can stop at the limit.
    let reader = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = reader(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = reader(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(1);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(NftError::Spawn)? {
            break status;
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            // The reading threads are left behind: a grandchild may still hold the pipes.
            return Err(NftError::Timeout { args: args.join(" "), limit });
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok((pid, std::process::Output { status, stdout, stderr }))
}

/// `bytes` in an anonymous in-memory file, read from its start. nft's input is never a pipe:
/// nft reads its input to the end before parsing it, and a pipe's end comes early when the
/// writer dies (`kill -9` of an apply), so nft would commit the lines that arrived, a
/// truncated script of `flush chain` and `add rule` lines being valid. A file that is whole
/// before nft starts cannot end early.
fn whole_input(bytes: &[u8]) -> std::io::Result<std::fs::File> {
    use std::io::Seek as _;
    let fd = rustix::fs::memfd_create("overlayfw-nft-input", rustix::fs::MemfdFlags::CLOEXEC)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes)?;
    file.rewind()?;
    Ok(file)
}

fn failed(args: &[&str], out: &std::process::Output) -> NftError {
    NftError::Failed {
        args: args.join(" "),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    }
}

fn absent(out: &std::process::Output) -> bool {
    String::from_utf8_lossy(&out.stderr).contains("No such file or directory")
}

/// `nft -j list table ip NAME` as text; `None` when the table does not exist.
pub fn list_table_json_bytes(table: &str) -> Result<Option<Vec<u8>>, NftError> {
    list_json_bytes("ip", table)
}

/// `nft -j list table FAMILY NAME` as text (`ip`, or `ip6` for [`crate::ip6`]); `None` when
/// the table does not exist.
pub fn list_json_bytes(family: &str, table: &str) -> Result<Option<Vec<u8>>, NftError> {
    let args = ["-j", "list", "table", family, table];
    let out = nft(&args, None)?;
    if !out.status.success() {
        return if absent(&out) { Ok(None) } else { Err(failed(&args, &out)) };
    }
    Ok(Some(out.stdout))
}

/// `nft -j list table ip NAME`; `None` when the table does not exist.
pub fn list_table_json(table: &str) -> Result<Option<Value>, NftError> {
    match list_table_json_bytes(table)? {
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(NftError::Json),
        None => Ok(None),
    }
}

/// `nft list table ip NAME` (text, loadable again); `None` when the table does not exist.
pub fn list_table_text(table: &str) -> Result<Option<String>, NftError> {
    list_text("ip", table)
}

/// `nft list table FAMILY NAME` (text); `None` when the table does not exist.
pub fn list_text(family: &str, table: &str) -> Result<Option<String>, NftError> {
    let args = ["list", "table", family, table];
    let out = nft(&args, None)?;
    if !out.status.success() {
        return if absent(&out) { Ok(None) } else { Err(failed(&args, &out)) };
    }
    Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// `nft -f -` with the script: one transaction; on failure nothing changed and the error has
/// nft's messages.
pub fn load(script: &str) -> Result<(), NftError> {
    let args = ["-f", "-"];
    let out = nft(&args, Some(script.as_bytes()))?;
    if out.status.success() { Ok(()) } else { Err(failed(&args, &out)) }
}

/// [`load`], returning the process id of the `nft` that committed the transaction (which
/// [`Monitor`] names).
pub fn load_by(script: &str) -> Result<u32, NftError> {
    let args = ["-f", "-"];
    let (pid, out) = run(&args, Some(script.as_bytes()))?;
    if out.status.success() { Ok(pid) } else { Err(failed(&args, &out)) }
}

/// `nft -c -f -` with the script: whether nft can parse it and the kernel would take it,
/// without changing anything.
pub fn check(script: &str) -> Result<(), NftError> {
    let args = ["-c", "-f", "-"];
    let out = nft(&args, Some(script.as_bytes()))?;
    if out.status.success() { Ok(()) } else { Err(failed(&args, &out)) }
}

/// The table's own comment in a `nft list table` text (`comment "…"` among the table's
/// attributes, before its first chain, set or other object); `None` when it has none.
pub fn table_comment(listing: &str) -> Option<&str> {
    for line in listing.lines().skip(1) {
        let l = line.trim();
        if l.ends_with('{') || l == "}" {
            return None;
        }
        if let Some(rest) = l.strip_prefix("comment \"") {
            return Some(rest.strip_suffix('"').unwrap_or(rest));
        }
    }
    None
}

/// The rule comments (`FILE:LINE`) of the script lines nft's error messages point at
/// (`/dev/stdin:LINE:COL-COL: Error: …`), so a kernel refusal can be traced to the source.
/// The comments (`FILE #ID[ NOTE]`) of the script's rules that nft's errors point at.
pub fn blame(script: &str, stderr: &str) -> Vec<String> {
    let lines: Vec<&str> = script.lines().collect();
    let mut out = Vec::new();
    for l in stderr.lines() {
        let Some(rest) = l.strip_prefix("/dev/stdin:") else { continue };
        let Some(n) = rest.split(':').next().and_then(|n| n.parse::<usize>().ok()) else {
            continue;
        };
        let Some(text) = n.checked_sub(1).and_then(|i| lines.get(i)) else { continue };
        if let Some(i) = text.rfind(" comment \"") {
            let c = text[i + 10..].trim_end_matches('"').to_string();
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{run_program, table_comment};

    /// The input is a whole file before the program starts, never a pipe that the death of
    /// the writer could end early (a truncated script of `add rule` lines would commit).
    #[test]
    fn the_input_is_a_whole_file_not_a_pipe() {
        let script = "add rule ip t c accept\n".repeat(20_000);
        let (_, out) =
            run_program("sh", &["-c", "readlink /proc/self/fd/0; wc -c"], Some(script.as_bytes()))
                .expect("sh runs");
        let out = String::from_utf8_lossy(&out.stdout);
        let (what, count) = out.split_once('\n').expect("two lines");
        assert!(what.starts_with("/memfd:overlayfw-nft-input"), "stdin is {what}");
        assert_eq!(count.trim(), script.len().to_string());
    }

    #[test]
    fn the_table_comment_is_read_among_the_table_attributes_only() {
        let ours =
            "table ip t {\n\tflags dormant\n\tcomment \"overlayfw fx64:1\"\n\tchain c {\n\t}\n}\n";
        assert_eq!(table_comment(ours), Some("overlayfw fx64:1"));
        // A chain's comment is not the table's.
        let chain = "table ip nat {\n\tchain c {\n\t\tcomment \"overlayfw\"\n\t}\n}\n";
        assert_eq!(table_comment(chain), None);
        assert_eq!(table_comment("table ip t {\n}\n"), None);
    }
}
