//! Throw-away network namespaces for loading rulesets into a real kernel with the real `nft`.
//!
//! Everything runs through `ip netns exec NAME …`: nothing here touches the machine's own
//! ruleset. Each [`Netns`] has a unique name and is deleted when dropped, also when the test
//! panics.

#![allow(dead_code)] // A shared harness: not every test uses every helper.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// Whether kernel tests can run here: the slow tier is on ([`crate::slow_tier`]), and root,
/// `ip` and `nft` are there. When they cannot, prints why and returns `false` so that the test
/// returns early, except under `CI=true`, where it panics: CI must never pass by skipping.
pub fn require_root() -> bool {
    if !crate::slow_tier("a kernel test") {
        return false;
    }
    static WHY_NOT: OnceLock<Option<String>> = OnceLock::new();
    let why_not = WHY_NOT.get_or_init(|| {
        if !is_root() {
            return Some("not running as root".to_owned());
        }
        for (tool, arg) in [("ip", "-V"), ("nft", "--version")] {
            match Command::new(tool).arg(arg).output() {
                Ok(out) if out.status.success() => {}
                Ok(out) => return Some(format!("`{tool} {arg}` failed: {}", lossy(&out.stderr))),
                Err(e) => return Some(format!("`{tool}` is not runnable: {e}")),
            }
        }
        None
    });
    match why_not {
        None => true,
        Some(reason) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("kernel tests cannot run under CI=true: {reason}")
        }
        Some(reason) => {
            eprintln!("skipping kernel test: {reason}");
            false
        }
    }
}

fn is_root() -> bool {
    // The effective uid is the second field of `Uid:` in /proc/self/status.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|rest| rest.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_owned()
}

/// A network namespace shaped like a VNS3 manager: `eth0` (10.0.1.120/24, a veth whose peer
/// `eth0p` stays in the namespace), `tun0` (a tun device, 172.31.0.1/24), `plugin0` (a bridge,
/// 198.51.100.1/28), all up, a default route via 10.0.1.1 on eth0 (nothing answers there, but
/// packets sent from the namespace cross the output and postrouting hooks), IPv4 forwarding on.
pub struct Netns {
    name: String,
}

impl Netns {
    pub fn new() -> Netns {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name =
            format!("ofw-test-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        run("ip", &["netns", "add", &name]).unwrap_or_else(|e| panic!("{e}"));
        // From here on, Drop deletes the namespace even if the setup below fails.
        let ns = Netns { name };
        ns.setup().unwrap_or_else(|e| panic!("setting up {}: {e}", ns.name));
        ns
    }

    fn setup(&self) -> Result<(), String> {
        let n = self.name.as_str();
        let steps: &[&[&str]] = &[
            &["-n", n, "link", "set", "lo", "up"],
            &["-n", n, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"],
            &["-n", n, "link", "set", "eth0p", "up"],
            &["-n", n, "link", "set", "eth0", "up"],
            &["-n", n, "addr", "add", "10.0.1.120/24", "dev", "eth0"],
            &["-n", n, "tuntap", "add", "tun0", "mode", "tun"],
            &["-n", n, "link", "set", "tun0", "up"],
            &["-n", n, "addr", "add", "172.31.0.1/24", "dev", "tun0"],
            &["-n", n, "link", "add", "plugin0", "type", "bridge"],
            &["-n", n, "link", "set", "plugin0", "up"],
            &["-n", n, "addr", "add", "198.51.100.1/28", "dev", "plugin0"],
            &["-n", n, "route", "add", "default", "via", "10.0.1.1", "dev", "eth0"],
        ];
        for args in steps {
            run("ip", args)?;
        }
        self.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs a command inside the namespace; its stdout, or an error naming it with its stderr.
    pub fn exec(&self, args: &[&str]) -> Result<String, String> {
        let mut full = vec!["netns", "exec", self.name.as_str()];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// `nft -f -` inside the namespace; on failure nft's error messages.
    pub fn nft_load(&self, script: &str) -> Result<(), String> {
        self.nft_load_with(&["-f", "-"], script)
    }

    /// Compiles `rules` as the file `name` ([`compile`]) and loads it; panics with nft's errors.
    pub fn load_rules(&self, name: &str, rules: &str) -> overlayfw::ir::Ruleset {
        let rs = compile(name, rules);
        self.nft_load(&overlayfw::emit::nft_script(&rs)).unwrap_or_else(|e| panic!("{e}"));
        rs
    }

    /// The packet count of each rule of `IPTABLES -L CHAIN` (iptables-nft or iptables-legacy),
    /// in order, and the listing.
    pub fn iptables_packets(&self, iptables: &str, chain: &str) -> (Vec<u64>, String) {
        let out =
            self.exec(&[iptables, "-L", chain, "-v", "-x", "-n"]).unwrap_or_else(|e| panic!("{e}"));
        // Header lines, then one line per rule starting with its packet count.
        let counts =
            out.lines().skip(2).filter_map(|l| l.split_whitespace().next()?.parse().ok()).collect();
        (counts, out)
    }

    /// `nft -j -f -` (a libnftables JSON script) inside the namespace.
    pub fn nft_load_json(&self, script: &str) -> Result<(), String> {
        self.nft_load_with(&["-j", "-f", "-"], script)
    }

    fn nft_load_with(&self, args: &[&str], script: &str) -> Result<(), String> {
        let mut child = Command::new("ip")
            .env("TZ", "UTC")
            .args(["netns", "exec", &self.name, "nft"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawning nft: {e}"))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // Written from another thread: nft may answer before reading all of a large script.
        let script = script.to_owned();
        let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
        let out = child.wait_with_output().map_err(|e| format!("waiting for nft: {e}"))?;
        let written = writer.join().expect("writer thread");
        if !out.status.success() {
            return Err(format!("nft -f failed ({}): {}", out.status, lossy(&out.stderr)));
        }
        written.map_err(|e| format!("writing the script to nft: {e}"))
    }

    /// `nft -j list ruleset` inside the namespace.
    pub fn list_json(&self) -> serde_json::Value {
        self.nft_json(&["list", "ruleset"])
    }

    /// `nft -j list table FAMILY NAME` inside the namespace.
    pub fn list_table_json(&self, family: &str, table: &str) -> serde_json::Value {
        self.nft_json(&["list", "table", family, table])
    }

    fn nft_json(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["nft", "-j"];
        full.extend_from_slice(args);
        let text = self.exec(&full).unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("nft -j output: {e}\n{text}"))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace removes its interfaces and ruleset with it.
        if let Err(e) = run("ip", &["netns", "delete", &self.name]) {
            eprintln!("could not delete namespace {}: {e}", self.name);
        }
    }
}

/// Runs a program; its stdout, or an error naming it with its stderr.
/// Compiles `rules` as the file `name` (no inventory, table `overlayfw`); panics on any
/// diagnostic, warnings included: a test's rules say exactly what they mean.
pub fn compile(name: &str, rules: &str) -> overlayfw::ir::Ruleset {
    let compiled = compile_with_warnings(name, rules);
    assert!(compiled.diagnostics.is_empty(), "{:?}", compiled.diagnostics);
    compiled.ruleset.expect("compiles")
}

/// [`compile`]'s result with its diagnostics, whatever they are.
pub fn compile_with_warnings(name: &str, rules: &str) -> overlayfw::pipeline::Compiled {
    let mut sources = overlayfw::diagnostic::Sources::new();
    let text = overlayfw::pipeline::Text { name: name.into(), bytes: rules.as_bytes().to_vec() };
    overlayfw::pipeline::compile(&mut sources, vec![text], None, "overlayfw")
}

/// Whether `program ARG` runs here (an oracle such as iptables-nft). When it does not, says so
/// and returns `false` so that the test returns early, except under `CI=true`, where it
/// panics: CI installs every oracle.
pub fn have(program: &str, arg: &str) -> bool {
    if run(program, &[arg]).is_ok() {
        return true;
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{program} is missing under CI=true");
    eprintln!("skipping: {program} is not installed");
    false
}

pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    // In UTC, as overlayfw runs nft: listed times of day and dates read back as UTC.
    let out = Command::new(program)
        .args(args)
        .env("TZ", "UTC")
        .output()
        .map_err(|e| format!("`{program} {}`: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            lossy(&out.stderr)
        ))
    }
}

/// The objects of one kind (`"table"`, `"chain"`, `"rule"`, `"set"`) in an `nft -j` listing.
pub fn objects<'a>(
    listing: &'a serde_json::Value,
    kind: &'a str,
) -> impl Iterator<Item = &'a serde_json::Value> + 'a {
    listing["nftables"].as_array().into_iter().flatten().filter_map(move |o| o.get(kind))
}

/// Rules per chain of one table in an `nft -j` listing, chains without rules included.
pub fn rule_counts(
    listing: &serde_json::Value,
    family: &str,
    table: &str,
) -> std::collections::BTreeMap<String, usize> {
    let mine = |o: &&serde_json::Value| o["family"] == family && o["table"] == table;
    let mut counts: std::collections::BTreeMap<String, usize> = objects(listing, "chain")
        .filter(mine)
        .filter_map(|c| c["name"].as_str())
        .map(|name| (name.to_owned(), 0))
        .collect();
    for rule in objects(listing, "rule").filter(mine) {
        if let Some(chain) = rule["chain"].as_str() {
            *counts.entry(chain.to_owned()).or_default() += 1;
        }
    }
    counts
}

/// The packet count of the (first) rule `rs` makes from `file:line`, in an `nft -j` listing of
/// `rs` loaded.
pub fn packets_at(
    listing: &serde_json::Value,
    rs: &overlayfw::ir::Ruleset,
    file: &str,
    line: u32,
) -> Option<u64> {
    let comment = rs.chains.iter().find_map(|c| {
        c.rules.iter().find_map(|r| {
            let o = r.origin.as_ref()?;
            (rs.files.name(o.file) == file && o.line.get() == line)
                .then(|| overlayfw::emit::comment(&c.name, r, &rs.sets, &rs.files))?
        })
    })?;
    packets(listing, &comment)
}

/// The packet count of the rule whose comment is `comment` in an `nft -j` listing.
pub fn packets(listing: &serde_json::Value, comment: &str) -> Option<u64> {
    let rule = objects(listing, "rule").find(|r| r["comment"] == comment)?;
    rule["expr"].as_array()?.iter().find_map(|e| e.get("counter")?.get("packets")?.as_u64())
}

/// Runs `f` on a thread inside the namespace; panics if the thread is not in it.
pub fn in_netns<R: Send>(ns: &Netns, f: impl FnOnce() -> R + Send) -> R {
    let path = format!("/var/run/netns/{}", ns.name());
    std::thread::scope(|s| {
        s.spawn(|| {
            use std::os::unix::fs::MetadataExt as _;
            let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            // A netlink socket belongs to the namespace of the thread that opens it: never
            // send unless this thread is in the throw-away namespace.
            let want = std::fs::metadata(&path).expect("netns file").ino();
            let have = std::fs::metadata("/proc/thread-self/ns/net").expect("own netns").ino();
            assert_eq!(have, want, "the thread is not in namespace {}", ns.name());
            f()
        })
        .join()
        .expect("namespace thread")
    })
}
/// Whether this kernel has nft's queue expression (`CONFIG_NFT_QUEUE`, module `nft_queue`):
/// probed once by loading a `queue` rule in a throw-away namespace. The development machine's
/// kernel is built without it (the load fails with "No such file or directory"); Debian's
/// kernels ship the module. Needs root: call after [`require_root`].
pub fn kernel_has_queue() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        let ns = Netns::new();
        let probe = "table ip probe {\n\tchain c {\n\t\ttype filter hook input priority 0;\n\t\tqueue num 0 bypass\n\t}\n}\n";
        match ns.nft_load(probe) {
            Ok(()) => true,
            Err(e) => {
                eprintln!(
                    "note: this kernel cannot load nft's `queue` (CONFIG_NFT_QUEUE unset or \
                     module nft_queue missing): {e}"
                );
                false
            }
        }
    })
}

/// Whether a rules file can load into this kernel: `false`, with the reason printed, for one
/// that uses `-j NFQUEUE` where the kernel lacks nft's queue expression.
pub fn loadable(path: &std::path::Path) -> bool {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    if text.contains("NFQUEUE") && !kernel_has_queue() {
        eprintln!(
            "skipping {} in this kernel test: it uses NFQUEUE and the kernel has no nft_queue",
            path.display()
        );
        return false;
    }
    true
}

/// Sends `count` numbered one-byte datagrams over lo to 127.0.0.1:9100 from inside the
/// namespace (29 bytes each at OUTPUT: IP 20, UDP 8, the digit; one the rules drop fails to
/// send) and returns the numbers that arrived, space-separated.
pub fn numbered_datagrams(ns: &Netns, count: usize) -> String {
    const SCRIPT: &str = r#"
import socket, sys
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("127.0.0.1", 9100)); r.settimeout(0.3)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[1])):
    try:
        s.sendto(str(i).encode(), ("127.0.0.1", 9100))
    except PermissionError:
        pass
got = []
try:
    while True:
        got.append(r.recv(16).decode())
except socket.timeout:
    pass
print(" ".join(got))
"#;
    let out = ns.exec(&["python3", "-c", SCRIPT, &count.to_string()]);
    out.unwrap_or_else(|e| panic!("{e}")).trim().to_string()
}

/// Runs overlayfw inside the namespace from `dir`, its state and persisted table under `dir`
/// (`state`, `persist`), with no input.
pub fn overlayfw_in(ns: &Netns, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new("ip")
        .args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_overlayfw")])
        .args(args)
        .current_dir(dir)
        .env("OVERLAYFW_STATE_DIR", dir.join("state"))
        .env("OVERLAYFW_PERSIST_DIR", dir.join("persist"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run overlayfw")
}
