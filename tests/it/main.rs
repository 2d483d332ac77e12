//! The one integration-test binary.

mod ansible;
mod apply;
mod boot;
mod cases;
mod cli;
mod conformance;
mod conntrack;
mod devgroup;
mod diff_live;
mod ecn;
mod edits;
mod emit_load;
mod fmt;
mod ifnames;
#[cfg(feature = "netlink")]
mod incremental;
mod injection;
mod ipsec;
mod ipv6;
mod irgen;
mod limits;
mod lint;
mod load;
mod marks;
mod meters;
mod multiport;
mod natkeep;
mod negation;
#[cfg(feature = "netlink")]
mod netlink;
mod netns;
mod optimize;
mod persist;
mod precommit;
mod probes;
mod properties;
mod qos;
mod quota;
mod readme;
mod refill;
mod scene;
mod tcpmss;
mod time;
mod txlate;
mod version;

/// Whether the slow tier runs: the tests that need the kernel, real external tools or a large
/// scale. It runs under `CI=true` (CI, `.ci/run`) or `OVERLAYFW_SLOW_TESTS=1`; elsewhere such a
/// test prints why and returns early, so that a developer's `cargo test` stays quick.
pub fn slow_tier(what: &str) -> bool {
    let on = |var: &str, value: &str| std::env::var(var).as_deref() == Ok(value);
    if on("CI", "true") || on("OVERLAYFW_SLOW_TESTS", "1") {
        return true;
    }
    eprintln!("skipping {what}: slow tier (set OVERLAYFW_SLOW_TESTS=1 or CI=true to run it)");
    false
}

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
