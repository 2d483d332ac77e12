//! The `nft` command: list a table as JSON or text, load a script. Everything runs in the
//! network namespace of this process.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("cannot run `nft`: {0} (install the nftables package)")]
    Spawn(std::io::Error),
    #[error("`nft {args}` failed: {stderr}")]
    Failed { args: String, stderr: String },
    #[error("`nft -j` printed something that is not JSON: {0}")]
    Json(serde_json::Error),
}

fn nft(args: &[&str], stdin: Option<&[u8]>) -> Result<std::process::Output, NftError> {
    let mut child = Command::new("nft")
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(NftError::Spawn)?;
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let bytes = bytes.to_vec();
        // A thread writes while we read, so a large script cannot deadlock on full pipes.
        let writer = std::thread::spawn(move || pipe.write_all(&bytes));
        let out = child.wait_with_output().map_err(NftError::Spawn)?;
        let _ = writer.join();
        return Ok(out);
    }
    child.wait_with_output().map_err(NftError::Spawn)
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
    let args = ["-j", "list", "table", "ip", table];
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
    let args = ["list", "table", "ip", table];
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

/// The rule comments (`FILE:LINE`) of the script lines nft's error messages point at
/// (`/dev/stdin:LINE:COL-COL: Error: …`), so a kernel refusal can be traced to the source.
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
            let c = text[i + 10..].trim_end_matches('"');
            let origin = c.split(' ').next().unwrap_or(c).to_string();
            if !out.contains(&origin) {
                out.push(origin);
            }
        }
    }
    out
}
