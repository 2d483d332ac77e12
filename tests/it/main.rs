//! The one integration-test binary.

mod apply;
mod cases;
mod cli;
mod conformance;
mod diff_live;
mod emit_load;
mod fmt;
mod injection;
mod irgen;
mod lint;
mod load;
#[cfg(feature = "netlink")]
mod netlink;
mod netns;
mod optimize;
mod precommit;
mod probes;
mod properties;
mod scene;

/// Runs `cmd` with `stdin` written to its standard input (from a thread of its own, so that a
/// child that writes much before reading everything cannot block on us), and collects its
/// output.
pub fn output_with_stdin(cmd: &mut std::process::Command, stdin: &[u8]) -> std::process::Output {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut input = child.stdin.take().expect("piped");
    let bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&bytes));
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer").expect("writing standard input");
    out
}
