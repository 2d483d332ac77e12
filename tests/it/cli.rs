//! The binary as users run it: exit codes, where output goes, atomic `-o`, odd inputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::netns;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_overlayfw"))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).current_dir(root()).output().expect("run overlayfw")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("overlayfw-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }

    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).expect("write scratch file");
        p.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn compile_of_the_seed_prints_a_script_and_exits_0() {
    let o = run(&["compile", "examples/blog/blog.rules"]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let script = String::from_utf8(o.stdout).expect("utf8");
    assert!(script.contains("table ip overlayfw"), "{script}");
    assert!(script.contains("dup to 198.51.100.2"), "{script}");
    assert!(script.contains("masquerade"), "{script}");
    assert!(script.contains("dnat to 198.51.100.2:22"), "{script}");
    assert!(o.stderr.is_empty());
}

#[test]
fn names_and_literals_compile_to_the_same_rules() {
    let literal = run(&["compile", "examples/blog/blog.rules"]);
    let named = run(&[
        "compile",
        "examples/nids-demo/nids.rules",
        "--inventory",
        "examples/nids-demo/topology.yaml",
    ]);
    assert_eq!(code(&literal), 0);
    assert_eq!(code(&named), 0, "{}", String::from_utf8_lossy(&named.stderr));
    // Rule comments (file:line), the input hash and the version chain differ; the statements
    // must not.
    let strip = |o: &Output| -> Vec<String> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim_start().starts_with("comment"))
            .filter(|l| !l.contains("chain version_"))
            .map(|l| l.split(" comment \"").next().unwrap_or(l).to_string())
            .collect()
    };
    assert_eq!(strip(&literal), strip(&named));
}

#[test]
fn check_exits_0_on_clean_input_and_prints_nothing() {
    let o = run(&["check", "examples/blog/blog.rules"]);
    assert_eq!(code(&o), 0);
    assert!(o.stdout.is_empty(), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn check_short_format_is_one_line_per_problem() {
    let s = Scratch::new("short");
    let f = s.file("r.rules", b"INPUT_CUST -j ACCEPT\nINPUT_CUST -i eht0 -j DROP\nINPUT_CUST -p tcp --dport 99999 -j DROP\n");
    let o = run(&["check", "--format", "short", &f]);
    assert_eq!(code(&o), 1);
    let out = String::from_utf8(o.stdout).expect("utf8");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with(&format!("{f}:2:15: error[E016]: unknown interface `eht0`")),
        "{out}"
    );
    assert!(lines[1].starts_with(&format!("{f}:3:")) && lines[1].contains("error[E008]"), "{out}");
    // --message-format, as every subcommand names it, is the same flag.
    let o = run(&["check", "--message-format", "short", &f]);
    assert_eq!((code(&o), String::from_utf8(o.stdout).expect("utf8")), (1, out));
}

#[test]
fn check_json_is_an_array_with_positions() {
    let s = Scratch::new("json");
    let f = s.file("r.rules", b"INPUT_CUST -j ACCEPT\nFORWARD_CUST -j TPROXY\n");
    let o = run(&["check", "--format", "json", &f]);
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v[0]["code"], "E005");
    assert_eq!(v[0]["line"], 2);
    assert_eq!(v[0]["severity"], "error");
}

#[test]
fn compile_of_a_bad_file_exits_1_and_prints_no_script() {
    let s = Scratch::new("bad");
    let f = s.file("r.rules", b"INPUT_CUST -j ACCEPT\nINPUT_CUST -j FROB\n");
    let o = run(&["compile", &f]);
    assert_eq!(code(&o), 1);
    assert!(o.stdout.is_empty());
    assert!(String::from_utf8_lossy(&o.stderr).contains("error[E005]"));
}

#[test]
fn output_file_is_written_atomically_and_left_alone_on_error() {
    let s = Scratch::new("out");
    let good = s.file("good.rules", b"INPUT_CUST -j ACCEPT\n");
    let bad = s.file("bad.rules", b"INPUT_CUST -j FROB\n");
    let out = s.0.join("out.nft");
    let o = run(&["compile", &good, "-o", out.to_str().expect("path")]);
    assert_eq!(code(&o), 0);
    assert!(o.stdout.is_empty());
    let first = std::fs::read_to_string(&out).expect("written");
    assert!(first.contains("chain INPUT_CUST"));
    let o = run(&["compile", &bad, "-o", out.to_str().expect("path")]);
    assert_eq!(code(&o), 1);
    assert_eq!(std::fs::read_to_string(&out).expect("still there"), first);
    let leftovers: Vec<_> = std::fs::read_dir(&s.0)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Whether the path is a FIFO (its file type, symlinks followed or not).
fn is_fifo(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt as _;
    m.file_type().is_fifo()
}

#[test]
fn output_to_a_fifo_a_device_or_a_symlink_writes_through_and_keeps_it() {
    use std::os::unix::fs::FileTypeExt as _;
    let s = Scratch::new("special");
    let good = s.file("good.rules", b"INPUT_CUST -j ACCEPT\n");
    // A FIFO (as `/dev/stdout` may be) and a symlink to it: the script goes through them and
    // both stay what they were (the old code renamed a regular file over each).
    let fifo = s.0.join("pipe");
    netns::run("mkfifo", &[fifo.to_str().expect("path")]).expect("mkfifo");
    let link = s.0.join("stdout-link");
    std::os::unix::fs::symlink(&fifo, &link).expect("symlink");
    for target in [&fifo, &link] {
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).expect("read fifo"))
        };
        let o = run(&["compile", &good, "-o", target.to_str().expect("path")]);
        assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
        // Checked before joining: a replaced FIFO would leave the reader waiting for good.
        assert!(is_fifo(&std::fs::metadata(&fifo).expect("fifo")), "the FIFO was replaced");
        let got = reader.join().expect("reader");
        assert!(got.contains("chain INPUT_CUST"), "{got}");
    }
    assert!(std::fs::symlink_metadata(&link).expect("link").file_type().is_symlink());
    // A symlink to a regular file: the file gets the script, the symlink stays.
    let real = s.0.join("real.nft");
    std::fs::write(&real, "old").expect("write");
    let link = s.0.join("link.nft");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let o = run(&["compile", &good, "-o", link.to_str().expect("path")]);
    assert_eq!(code(&o), 0);
    assert!(std::fs::symlink_metadata(&link).expect("link").file_type().is_symlink());
    assert!(std::fs::read_to_string(&real).expect("real").contains("chain INPUT_CUST"));
    // A character device like /dev/null (made here, as root, rather than risk the real one).
    if netns::require_root() {
        let null = s.0.join("null");
        netns::run("mknod", &[null.to_str().expect("path"), "c", "1", "3"]).expect("mknod");
        let o = run(&["compile", &good, "-o", null.to_str().expect("path")]);
        assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
        let m = std::fs::metadata(&null).expect("null");
        assert!(m.file_type().is_char_device(), "the device became {:?}", m.file_type());
    }
    // A directory is refused, and left alone.
    let o = run(&["compile", &good, "-o", s.0.to_str().expect("path")]);
    assert_eq!(code(&o), 2);
    assert!(s.0.is_dir());
}

#[test]
fn usage_and_io_problems_exit_2() {
    assert_eq!(code(&run(&["compile"])), 2);
    assert_eq!(code(&run(&["frobnicate"])), 2);
    assert_eq!(code(&run(&["compile", "/nonexistent/rules.rules"])), 2);
    assert_eq!(code(&run(&["compile", "examples/blog/blog.rules", "--table", "bad name;"])), 2);
    assert_eq!(
        code(&run(&["check", "examples/blog/blog.rules", "--inventory", "/nonexistent.yaml"])),
        2
    );
    let o = run(&["compile", "examples/blog/blog.rules", "-o", "/nonexistent/dir/out.nft"]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/dir/out.nft"));
}

#[test]
fn crlf_bom_and_empty_files_work() {
    let s = Scratch::new("crlf");
    let crlf = s.file(
        "crlf.rules",
        b"\xef\xbb\xbfINPUT_CUST  -p tcp\t--dport 22 -j ACCEPT\r\n# note\r\n\r\n",
    );
    let empty = s.file("empty.rules", b"");
    for f in [&crlf, &empty] {
        let o = run(&["check", f]);
        assert_eq!(code(&o), 0, "{f}: {}", String::from_utf8_lossy(&o.stdout));
    }
    let o = run(&["compile", &crlf]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("tcp dport 22"));
}

#[test]
fn garbage_and_huge_lines_exit_1_without_panic() {
    let s = Scratch::new("garbage");
    let mut garbage = Vec::new();
    let mut x: u32 = 0x1234_5678;
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        garbage.push(x as u8);
    }
    let g = s.file("garbage.rules", &garbage);
    let mut long = b"INPUT_CUST -s ".to_vec();
    long.extend(std::iter::repeat_n(b'1', 1 << 20));
    long.extend(b" -j DROP\n");
    let l = s.file("long.rules", &long);
    let nested = format!("INPUT_CUST -s {}x{} -j DROP\n", "${".repeat(10_000), "}".repeat(10_000));
    let n = s.file("nested.rules", nested.as_bytes());
    for f in [&g, &l, &n] {
        let o = run(&["check", "--format", "short", f]);
        assert_eq!(code(&o), 1, "{f}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(!o.stdout.is_empty());
        let o = run(&["compile", f]);
        assert_eq!(code(&o), 1);
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn stdin_is_read_with_dash() {
    let o = run_with_stdin(&["check", "--format", "short", "-"], b"INPUT_CUST -j NOPE\n");
    assert_eq!(code(&o), 1);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("<stdin>:1:"));
}

#[test]
fn a_100_mb_input_is_refused_with_a_clear_error() {
    let s = Scratch::new("huge");
    let path = s.0.join("huge.rules");
    let f = std::fs::File::create(&path).expect("create");
    f.set_len(100 << 20).expect("sparse 100 MB file");
    let o = run(&["check", path.to_str().expect("path")]);
    assert_eq!(code(&o), 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("larger than 64 MiB"), "{err}");
}

#[test]
fn a_million_element_fwset_compiles() {
    if !crate::slow_tier("a scale test") {
        return;
    }
    let s = Scratch::new("million");
    let mut yaml = String::from("fwsets:\n  big: [");
    for i in 0..1_000_000u32 {
        if i > 0 {
            yaml.push_str(", ");
        }
        yaml.push_str(&std::net::Ipv4Addr::from(0x0a00_0000 + i * 2).to_string());
    }
    yaml.push_str("]\n");
    let inv = s.file("big.yaml", yaml.as_bytes());
    let rules = s.file("big.rules", b"INPUT_CUST -s big -j DROP\n");
    let out = s.0.join("big.nft");
    let o = run(&["compile", &rules, "--inventory", &inv, "-o", out.to_str().expect("path")]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let script = std::fs::read_to_string(&out).expect("script");
    assert!(
        script.contains("set big {") && script.contains("10.30.132.126"),
        "the last element is there"
    );
    assert!(script.contains("ip saddr @big counter drop"));
}

/// Runs `args` with `stdin` as standard input.
fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    crate::output_with_stdin(bin().args(args).current_dir(root()), stdin)
}

/// A file over a megabyte is read again as it is parsed, not held (`stream`): it compiles,
/// checks and reports exactly as the same text given on standard input (which is held),
/// diagnostics in its middle and at its end included.
#[test]
fn a_large_file_read_again_compiles_and_reports_as_a_held_text() {
    if !crate::slow_tier("a scale test") {
        return;
    }
    let s = Scratch::new("large");
    let mut text = String::from("\u{feff}");
    for i in 0..24_000u32 {
        let end = if i % 5 == 0 { "\r\n" } else { "\n" };
        text += &format!(
            "FORWARD_CUST -s 10.{}.{}.0/24 -p tcp --dport 22 -j ACCEPT{end}",
            i / 256,
            i % 256
        );
    }
    assert!(text.len() > 1 << 20, "{} bytes", text.len());
    let path = s.file("large.rules", text.as_bytes());
    let same = |args: &[&str], text: &str| {
        let by_path = run(&[args, &[path.as_str()]].concat());
        let by_stdin = run_with_stdin(&[args, &["-"]].concat(), text.as_bytes());
        // The same but for the file's name (which the input hash covers too).
        let named = |b: &[u8]| {
            let text = String::from_utf8_lossy(b).replace("<stdin>", &path);
            let lines: Vec<String> = text
                .lines()
                .map(|l| match l.find("fx64:") {
                    Some(i) => format!("{}fx64:…{}", &l[..i], &l[(i + 21).min(l.len())..]),
                    None => l.to_string(),
                })
                .collect();
            lines
        };
        assert_eq!(code(&by_path), code(&by_stdin), "{args:?}");
        for (a, b) in [(&by_path.stdout, &by_stdin.stdout), (&by_path.stderr, &by_stdin.stderr)] {
            let (a, b) = (named(a), named(b));
            let first = a.iter().zip(&b).position(|(x, y)| x != y);
            assert!(first.is_none() && a.len() == b.len(), "{args:?}: first differs at {first:?}");
        }
        by_path
    };
    let clean = same(&["compile"], &text);
    assert_eq!(code(&clean), 0);
    assert!(clean.stderr.is_empty());
    // A warning in the middle (a duplicate line, W102) and an error at the end.
    let warned = text.replacen("10.0.6.0/24 -p tcp --dport 22 -j ACCEPT\n", "10.0.6.0/24 -p tcp --dport 22 -j ACCEPT\nFORWARD_CUST -s 10.0.6.0/24 -p tcp --dport 22 -j ACCEPT\n", 1);
    std::fs::write(&path, &warned).expect("write");
    let o = same(&["check", "--format", "json"], &warned);
    assert!(String::from_utf8_lossy(&o.stdout).contains("W102"));
    let o = same(&["compile"], &warned);
    assert_eq!(code(&o), 0);
    assert!(String::from_utf8_lossy(&o.stderr).contains("FORWARD_CUST -s 10.0.6.0/24"));
    let broken = warned.clone() + "\nFORWARD_CUST -j NOPE\n";
    std::fs::write(&path, &broken).expect("write");
    let o = same(&["check"], &broken);
    assert_eq!(code(&o), 1);
    assert!(String::from_utf8_lossy(&o.stdout).contains("NOPE"));
}

/// An unknown name without `--inventory` says which inventory it was checked against (the
/// built-in one); with an inventory, or without unknown names, nothing is added.
#[test]
fn unknown_names_without_an_inventory_name_the_built_in_one() {
    let s = Scratch::new("builtin-note");
    let f = s.file("r.rules", b"INPUT_CUST -i eth7 -j ACCEPT\n");
    let o = run(&["check", "--message-format", "json", &f]);
    assert_eq!(code(&o), 1);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no --inventory was given") && err.contains("built-in"), "{err}");
    serde_json::from_slice::<serde_json::Value>(&o.stdout).expect("stdout stays one JSON document");
    let o = run(&["compile", &f]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no --inventory was given"));
    let inv = s.file("inv.yaml", b"interfaces:\n  public: eth0\n");
    let o = run(&["check", &f, "--inventory", &inv]);
    assert_eq!(code(&o), 1);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("no --inventory"));
    let ok = s.file("ok.rules", b"INPUT_CUST -i eth0 -p tcp --dport 99999 -j ACCEPT\n");
    let o = run(&["check", &ok]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("no --inventory"), "not a name problem");
}

/// Several `--inventory` files merge in order on every subcommand that takes them: the router's
/// file adds to the fleet's; a changed entry is an error at both places (FILE:LINE:COL each);
/// the table comment's hash covers both files, in order.
#[test]
fn several_inventories_merge_in_order_and_conflicts_name_both_places() {
    let s = Scratch::new("inventories");
    let fleet = s
        .file("fleet.yaml", b"interfaces:\n  public: eth0\nvariables:\n  office: 203.0.113.0/24\n");
    let router =
        s.file("router.yaml", b"interfaces:\n  lan: eth1\nvariables:\n  office: 203.0.113.0/24\n");
    let rules = s.file("r.rules", b"FORWARD_CUST -i lan -o public -s ${office} -j ACCEPT\n");
    let o = run(&["compile", &rules, "--inventory", &fleet, "--inventory", &router]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let script = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        script.contains("iifname \"eth1\" oifname \"eth0\" ip saddr 203.0.113.0/24"),
        "{script}"
    );
    // Either file alone lacks a name.
    for one in [&fleet, &router] {
        assert_eq!(code(&run(&["check", &rules, "--inventory", one])), 1);
    }
    // The order of the files is in the hash of the table comment.
    let swapped = run(&["compile", &rules, "--inventory", &router, "--inventory", &fleet]);
    assert_eq!(code(&swapped), 0);
    assert_ne!(script, String::from_utf8_lossy(&swapped.stdout));
    // `debug ir` and `check` take them too.
    assert_eq!(
        code(&run(&["debug", "ir", &rules, "--inventory", &fleet, "--inventory", &router])),
        0
    );

    let other = s.file("other.yaml", b"interfaces:\n  public: eth9\n");
    let o = run(&[
        "check",
        "--message-format",
        "json",
        &rules,
        "--inventory",
        &fleet,
        "--inventory",
        &other,
    ]);
    assert_eq!(code(&o), 1);
    let diags: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let d = &diags[0];
    assert_eq!(d["code"], "E103", "{diags:#}");
    let labels = d["labels"].as_array().expect("labels");
    let place = |l: &serde_json::Value| {
        let file = l["file"].as_str().expect("file").rsplit('/').next().expect("name").to_owned();
        format!("{file}:{}:{}", l["line"], l["column"])
    };
    assert_eq!(place(&labels[0]), "other.yaml:2:3", "{diags:#}");
    assert_eq!(place(&labels[1]), "fleet.yaml:2:3", "{diags:#}");
}

/// Accepted warnings: `# overlayfw: allow CODE (reason)` silences that code on the next rule
/// only; `--allow CODE` silences it everywhere, on every subcommand that compiles; errors are
/// never silenced, and `--allow` of an error's code is a usage error.
#[test]
fn warnings_are_accepted_by_comment_or_flag_and_errors_never() {
    let s = Scratch::new("allow");
    let dup = "INPUT_CUST -p tcp --dport 22 -j ACCEPT\n";
    let text = format!("{dup}# overlayfw: allow W102 (kept for the audit)\n{dup}{dup}");
    let rules = s.file("r.rules", text.as_bytes());
    let o = run(&["check", "--format", "short", "--deny-warnings", &rules]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    // The accepted line 3 is silent; line 4, a duplicate too, still warns.
    assert_eq!(
        out,
        format!(
            "{rules}:4:1: warning[W102]: this rule is an exact duplicate of line 1 (help: remove one of the two lines)\n"
        )
    );
    assert_eq!(code(&o), 1);
    for sub in ["check", "compile", "diff"] {
        let mut args = vec![sub, "--allow", "W102", "--allow", "w004", &rules];
        if sub == "diff" {
            args.extend(["--against", "/dev/null"]);
        }
        let o = run(&args);
        // check prints on standard output, the others on standard error (compile's script
        // carries no codes).
        let shown =
            format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(!shown.contains("W102") && !shown.contains("W004"), "{sub}: {shown}");
    }
    let o = run(&["check", "--deny-warnings", "--allow", "W102", &rules]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stdout));
    // An error's code cannot be allowed, neither by flag nor by comment.
    let o = run(&["check", "--allow", "E016", &rules]);
    assert_eq!(code(&o), 2);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("E016 is an error; errors cannot be allowed")
    );
    let bad = s.file("e.rules", b"# overlayfw: allow E016 (no)\nINPUT_CUST -i eth7 -j ACCEPT\n");
    let o = run(&["check", "--format", "short", &bad]);
    assert_eq!(code(&o), 1);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("warning[W003]: E016 is an error; errors cannot be allowed"), "{out}");
    assert!(out.contains("error[E016]"), "{out}");
}

/// `debug ir` prints the IR of each ok case exactly as its `ok_cases_ir` snapshot holds it;
/// `--optimize` shows the merges; errors stop it with 1; the subcommand is hidden from help.
#[test]
fn debug_ir_prints_the_snapshotted_ir_and_is_hidden() {
    let cases = root().join("tests/cases");
    for entry in std::fs::read_dir(cases.join("ok")).expect("ok cases") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rules") {
            continue;
        }
        let name = format!("ok/{}", path.file_name().expect("name").to_string_lossy());
        let mut args = vec!["debug".to_owned(), "ir".to_owned(), name.clone()];
        if path.with_extension("yaml").exists() {
            args.extend(["--inventory".to_owned(), name.replace(".rules", ".yaml")]);
        }
        let o = bin().args(&args).current_dir(&cases).output().expect("run overlayfw");
        assert_eq!(code(&o), 0, "{name}: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(String::from_utf8_lossy(&o.stdout), crate::cases::ir_dump(&path), "{name}");
    }
    let scratch = Scratch::new("debug-ir");
    let rules = scratch.file(
        "m.rules",
        b"INPUT_CUST -s 10.0.0.1 -p tcp --dport 22 -j ACCEPT\n\
          INPUT_CUST -s 10.0.0.2 -p tcp --dport 80 -j ACCEPT\n",
    );
    let plain = run(&["debug", "ir", &rules]);
    assert!(String::from_utf8_lossy(&plain.stdout).contains("m.rules:2] saddr 10.0.0.2/32"));
    let merged = run(&["debug", "ir", "--optimize", &rules]);
    let merged = String::from_utf8_lossy(&merged.stdout).into_owned();
    assert!(
        merged.contains(
            "m.rules:1 \"+1 merged\"] (saddr . tcp dport) in {10.0.0.1/32 . 22, 10.0.0.2/32 . 80} \
             => accept\n"
        ),
        "{merged}"
    );
    let bad = scratch.file("bad.rules", b"INPUT_CUST -i eht0 -j DROP\n");
    let o = run(&["debug", "ir", &bad]);
    assert_eq!(code(&o), 1);
    assert!(o.stdout.is_empty() && String::from_utf8_lossy(&o.stderr).contains("E016"));
    let help = String::from_utf8_lossy(&run(&["--help"]).stdout).into_owned();
    assert!(help.contains("explain") && !help.contains("debug"), "{help}");
}
