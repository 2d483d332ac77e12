//! Properties over generated rules files (a seeded generator of valid VNS3 lines of every
//! form): each compiles without error, its script loads in a real kernel, `apply` then `diff`
//! is empty, and `fmt` is idempotent and never changes the compiled result.

use std::process::Command;

use overlayfw::diagnostic::Sources;
use overlayfw::pipeline::{self, Text};

use crate::netns::{self, Netns};

/// xorshift64*: small, deterministic, good enough to pick shapes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn bang(rng: &mut Rng) -> &'static str {
    if rng.chance(20) { "! " } else { "" }
}

fn addr(rng: &mut Rng) -> String {
    let a = [10, 100, 192, 198, 203][rng.below(5) as usize];
    let len = [8, 16, 24, 28, 32][rng.below(5) as usize];
    let ip = format!("{a}.{}.{}.{}", rng.below(256), rng.below(256), rng.below(256));
    // Masked so that no W001 warning makes the property about host bits.
    let net: ipnetwork::Ipv4Network = format!("{ip}/{len}").parse().expect("net");
    if len == 32 { ip } else { format!("{}/{len}", net.network()) }
}

fn port(rng: &mut Rng) -> u64 {
    1 + rng.below(65000)
}

/// One valid line. `chain` decides which matches and targets may appear.
fn line(rng: &mut Rng) -> String {
    let chain = rng.pick(&[
        "INPUT_CUST",
        "FORWARD_CUST",
        "OUTPUT_CUST",
        "PREROUTING_CUST",
        "POSTROUTING_CUST",
        "INPUT",
        "FORWARD",
        "MACRO_CUST",
        "",
    ]);
    let copy = matches!(chain, "MACRO_CUST" | "") && rng.chance(50);
    let mut parts: Vec<String> = Vec::new();
    if !chain.is_empty() {
        parts.push(chain.to_string());
    }
    let ifaces = ["eth0", "tun0", "plugin0", "eth+", "public", "overlay"];
    let no_in = matches!(chain, "OUTPUT_CUST" | "POSTROUTING_CUST" | "MACRO_CUST")
        || copy
        || chain.is_empty();
    let no_out =
        matches!(chain, "INPUT_CUST" | "INPUT" | "PREROUTING_CUST") || copy || chain.is_empty();
    if !no_in && rng.chance(40) {
        parts.push(format!("{}-i {}", bang(rng), rng.pick(&ifaces)));
    }
    if !no_out && rng.chance(40) {
        parts.push(format!("{}-o {}", bang(rng), rng.pick(&ifaces)));
    }
    for opt in ["-s", "-d"] {
        if rng.chance(40) {
            let n = 1 + rng.below(3);
            let list: Vec<String> = (0..n).map(|_| addr(rng)).collect();
            parts.push(format!("{}{opt} {}", bang(rng), list.join(",")));
        }
    }
    let proto = rng.pick(&["tcp", "udp", "icmp", "all", "esp", "", "", ""]);
    let l4 = matches!(proto, "tcp" | "udp");
    if !proto.is_empty() {
        // `! -p all` negates every packet: refused (E022).
        let neg = if l4 || matches!(proto, "icmp" | "all") { "" } else { bang(rng) };
        parts.push(format!("{neg}-p {proto}"));
    }
    if l4 {
        if rng.chance(50) {
            let p = port(rng);
            let spec =
                if rng.chance(30) { format!("{p}:{}", p + rng.below(500)) } else { p.to_string() };
            parts.push(format!("{}--dport {spec}", bang(rng)));
        } else if rng.chance(40) {
            let list: Vec<String> = (0..1 + rng.below(4)).map(|_| port(rng).to_string()).collect();
            parts.push(format!("-m multiport {}--dports {}", bang(rng), list.join(",")));
        }
        if rng.chance(25) {
            parts.push(format!("{}--sport {}:65535", bang(rng), 1024 + rng.below(1000)));
        }
        if proto == "tcp" && rng.chance(20) {
            parts.push(format!("{}--syn", bang(rng)));
        }
    }
    if proto == "icmp" && rng.chance(60) {
        let t = rng.pick(&["echo-request", "echo-reply", "3/4", "8", "time-exceeded"]);
        parts.push(format!("{}--icmp-type {t}", if t.contains('/') { "" } else { bang(rng) }));
    }
    if rng.chance(25) {
        let states = ["NEW", "ESTABLISHED", "RELATED", "INVALID"];
        let n = 1 + rng.below(3) as usize;
        let chosen: Vec<&str> = (0..n).map(|i| states[(i + rng.below(4) as usize) % 4]).collect();
        parts.push(format!("-m conntrack {}--ctstate {}", bang(rng), chosen.join(",")));
    }
    if rng.chance(10) {
        parts.push(format!(
            "-m iprange {}--src-range 10.0.0.1-10.0.0.{}",
            bang(rng),
            2 + rng.below(250)
        ));
    }
    if rng.chance(10) {
        parts.push(format!(
            "-m limit --limit {}/{} --limit-burst {}",
            1 + rng.below(100),
            rng.pick(&["second", "minute", "hour"]),
            1 + rng.below(50)
        ));
    }
    if rng.chance(15) {
        parts.push(format!("-m comment --comment \"generated {}\"", rng.below(1000)));
    }
    let host = format!("198.51.100.{}", 2 + rng.below(12));
    let target = if copy {
        let from = rng.pick(&["tun0", "eth0", "overlay"]);
        format!(
            "-j COPY --from {from} --to {host}{}",
            if rng.chance(50) { " --bidirectional" } else { "" }
        )
    } else {
        let nat_to = |rng: &mut Rng| {
            if l4 && rng.chance(50) { format!("{host}:{}", port(rng)) } else { host.clone() }
        };
        let filter = |rng: &mut Rng| -> String {
            match rng.below(5) {
                0 => "-j ACCEPT".into(),
                1 => "-j DROP".into(),
                2 if proto == "tcp" && rng.chance(50) => "-j REJECT --reject-with tcp-reset".into(),
                2 => format!(
                    "-j REJECT --reject-with {}",
                    rng.pick(&[
                        "icmp-port-unreachable",
                        "icmp-host-prohibited",
                        "icmp-admin-prohibited"
                    ])
                ),
                3 => format!(
                    "-j LOG --log-prefix \"gen{}: \" --log-level {}",
                    rng.below(100),
                    rng.below(8)
                ),
                _ => "-j RETURN".into(),
            }
        };
        match chain {
            "PREROUTING_CUST" => match rng.below(5) {
                0 | 1 => format!("-j DNAT --to {}", nat_to(rng)),
                2 if l4 => format!("-j REDIRECT --to-ports {}", port(rng)),
                2 => "-j NETMAP --to 198.51.100.0/28".into(),
                _ => {
                    let f = filter(rng);
                    if f.contains("RETURN") { "-j ACCEPT".into() } else { f }
                }
            },
            "POSTROUTING_CUST" => match rng.below(5) {
                0 => format!("-j SNAT --to {}", nat_to(rng)),
                1 | 2 => format!(
                    "-j MASQUERADE{}",
                    if l4 && rng.chance(40) {
                        format!(" --to-ports {}-{}", 30000, 30000 + rng.below(1000))
                    } else {
                        String::new()
                    }
                ),
                3 => "-j NETMAP --to 203.0.113.0/24".into(),
                _ => rng.pick(&["-j ACCEPT", "-j DROP"]).to_string(),
            },
            "OUTPUT_CUST" if rng.chance(20) => format!("-j DNAT --to {}", nat_to(rng)),
            "MACRO_CUST" => "-j MASQUERADE".into(),
            "" => match rng.below(3) {
                0 => format!("-j DNAT --to {}", nat_to(rng)),
                1 => "-j MASQUERADE".into(),
                _ => format!("-j SNAT --to {}", nat_to(rng)),
            },
            _ => filter(rng),
        }
    };
    // A NAT line of PREROUTING or POSTROUTING with a rate that a later filter line could
    // follow is refused (E011): such lines keep no rate here.
    let nat = ["-j DNAT", "-j SNAT", "-j MASQUERADE", "-j REDIRECT", "-j NETMAP"];
    if chain != "OUTPUT_CUST" && nat.iter().any(|t| target.starts_with(t)) {
        parts.retain(|p| !p.starts_with("-m limit"));
    }
    format!("{} {target}", parts.join(" "))
}

fn generate(seed: u64, n: usize) -> String {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut out = String::new();
    for _ in 0..n {
        out.push_str(&line(&mut rng));
        out.push('\n');
    }
    out
}

fn compile(name: &str, text: &str) -> (Option<String>, String) {
    let mut sources = Sources::new();
    let c = pipeline::compile(
        &mut sources,
        vec![Text { name: name.into(), bytes: text.as_bytes().to_vec() }],
        None,
        "overlayfw",
    );
    let report = overlayfw::diagnostic::render(
        &c.diagnostics,
        &sources,
        overlayfw::diagnostic::Format::Short,
        false,
    );
    (c.ruleset.as_ref().map(overlayfw::emit::nft_script), report)
}

const SEEDS: u64 = 6;
const LINES: usize = 150;

#[test]
fn generated_files_compile_and_fmt_is_idempotent_and_meaning_preserving() {
    for seed in 0..SEEDS {
        let text = generate(seed, LINES);
        let (script, report) = compile("gen.rules", &text);
        let script =
            script.unwrap_or_else(|| panic!("seed {seed} does not compile:\n{report}\n{text}"));
        let mut sources = Sources::new();
        let id = sources.add("gen.rules", text.clone());
        let once = overlayfw::fmt::format(id, &text)
            .unwrap_or_else(|_| panic!("seed {seed}: fmt refused"))
            .text;
        let id2 = sources.add("gen.rules", once.clone());
        let twice = overlayfw::fmt::format(id2, &once).expect("fmt of fmt").text;
        assert_eq!(once, twice, "seed {seed}: fmt is not idempotent");
        let (after, report) = compile("gen.rules", &once);
        let after = after
            .unwrap_or_else(|| panic!("seed {seed}: formatted file does not compile:\n{report}"));
        // The script's head and the version chain hash the input text; everything else must
        // be the same bytes.
        let hashed = |l: &str| l.contains("fx64:") || l.contains("chain version_");
        let body = |s: &str| s.lines().filter(|l| !hashed(l)).collect::<Vec<_>>().join("\n");
        assert_eq!(body(&script), body(&after), "seed {seed}: fmt changed the compiled ruleset");
    }
}

#[test]
fn generated_files_load_and_apply_then_diff_is_empty() {
    if !netns::require_root() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("overlayfw-props-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ns = Netns::new();
    for seed in 0..SEEDS {
        let text = generate(seed, LINES);
        let (script, report) = compile("gen.rules", &text);
        let script = script.unwrap_or_else(|| panic!("seed {seed} does not compile:\n{report}"));
        ns.nft_load(&script)
            .unwrap_or_else(|e| panic!("seed {seed}: the kernel refused our script: {e}\n{text}"));
        let path = dir.join(format!("gen{seed}.rules"));
        std::fs::write(&path, &text).expect("write");
        let run = |sub: &str| {
            Command::new("ip")
                .args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_overlayfw"), sub])
                .arg(&path)
                .env("OVERLAYFW_STATE_DIR", &dir)
                .output()
                .expect("run overlayfw")
        };
        let apply = run("apply");
        assert_eq!(
            apply.status.code(),
            Some(0),
            "seed {seed}: {}",
            String::from_utf8_lossy(&apply.stderr)
        );
        let diff = run("diff");
        assert_eq!(
            diff.status.code(),
            Some(0),
            "seed {seed}: diff after apply:\n{}",
            String::from_utf8_lossy(&diff.stdout)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
