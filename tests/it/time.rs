//! `-m time` in the kernel: at the current time, our `meta time|hour|day` rules count the same
//! packets as iptables-nft's own xt_time (the kernel's code) for the same lines: a time of day
//! around now, one that wraps past midnight around now and one that wraps around it without
//! it, dates around today, and today's weekday in the kernel's timezone (`--kerneltz`) and in
//! UTC (W005: the same while the kernel's timezone is UTC).

use crate::netns::{self, Netns};

/// Sends one datagram over lo to each port of argv.
const SEND: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in sys.argv[1:]:
    s.sendto(b"x", ("127.0.0.1", int(p)))
"#;

fn hms(secs: u64) -> String {
    let s = secs % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn date(secs: u64) -> String {
    let out = netns::run("date", &["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%S"]);
    out.expect("date").trim().to_owned()
}

#[test]
fn time_matches_count_the_packets_xt_time_counts() {
    if !netns::require_root() {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let t = now % 86_400;
    if !(900..86_400 - 900).contains(&t) {
        eprintln!("skipping: within 15 minutes of midnight UTC, the ranges below would wrap");
        return;
    }
    // xt_time's weekday: Monday 1 … Sunday 7 (1970-01-01 was a Thursday). The kernel's
    // timezone (sys_tz, global) must be UTC for `--kerneltz` and UTC weekdays to be the
    // same days, as below; it is unless the machine keeps its hardware clock in local time.
    let west = overlayfw::live::clock::kernel_minutes_west().expect("the kernel's timezone");
    if west != 0 {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI's kernel timezone is not UTC");
        eprintln!("skipping: the kernel's timezone is {west} minutes west of UTC");
        return;
    }
    let weekday = (now / 86_400 + 3) % 7 + 1;
    let other_day = weekday % 7 + 1;
    let lines: Vec<(u16, String)> = vec![
        (9101, format!("--timestart {} --timestop {}", hms(t - 300), hms(t + 300))),
        (9102, format!("--timestart {} --timestop {}", hms(t + 300), hms(t + 600))),
        // Start after now, stop before now: wraps past midnight, and misses now.
        (9103, format!("--timestart {} --timestop {}", hms(t + 300), hms(t - 300))),
        // Start just before now, stop before that: wraps, and holds now.
        (9104, format!("--timestart {} --timestop {}", hms(t - 300), hms(t - 600))),
        (9105, format!("--datestart {} --datestop {}", date(now - 86_400), date(now + 86_400))),
        (9106, format!("--datestop {}", date(now - 3600))),
        (9107, format!("--datestart {}", date(now - 3600))),
        (9108, format!("--weekdays {weekday} --kerneltz")),
        (9109, format!("! --weekdays {weekday} --kerneltz")),
        (9110, format!("--weekdays {other_day} --kerneltz")),
        // UTC weekdays (W005): the same days while the kernel's timezone is UTC.
        (9111, format!("--weekdays {weekday}")),
        (9112, format!("! --weekdays {weekday}")),
        (
            9113,
            format!(
                "--timestart {} --timestop {} --weekdays {weekday}",
                hms(t - 300),
                hms(t + 300)
            ),
        ),
        (
            9114,
            format!(
                "--timestart {} --timestop {} --weekdays {other_day}",
                hms(t - 300),
                hms(t + 300)
            ),
        ),
        // `--contiguous` without weekdays changes nothing.
        (9115, format!("--timestart {} --timestop {} --contiguous", hms(t - 300), hms(t - 600))),
    ];
    let rules: String = lines
        .iter()
        .map(|(port, opts)| format!("OUTPUT_CUST -p udp --dport {port} -m time {opts}\n"))
        .collect();
    let compiled = netns::compile_with_warnings("time.rules", &rules);
    let codes: Vec<&str> = compiled.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["W005"; 4], "{rules}{:?}", compiled.diagnostics);
    let rs = compiled.ruleset.expect("compiles");
    let ns = Netns::new();
    ns.nft_load(&overlayfw::emit::nft_script(&rs)).unwrap_or_else(|e| panic!("{e}"));
    let ports: Vec<String> = lines.iter().map(|(p, _)| p.to_string()).collect();
    let mut args = vec!["python3", "-c", SEND];
    args.extend(ports.iter().map(String::as_str));
    ns.exec(&args).unwrap_or_else(|e| panic!("{e}"));
    let listing = ns.list_json();
    let ours: Vec<u64> = (1..=lines.len() as u32)
        .map(|l| netns::packets_at(&listing, &rs, "time.rules", l).expect("rule listed"))
        .collect();
    assert_eq!(ours, [1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1], "{rules}{listing}");

    if !netns::have("iptables-nft", "--version") {
        return;
    }
    let theirs = Netns::new();
    for (port, opts) in &lines {
        let rule = format!("-p udp --dport {port} -m time {opts}");
        let mut a = vec!["iptables-nft", "-A", "OUTPUT"];
        a.extend(rule.split(' '));
        theirs.exec(&a).unwrap_or_else(|e| panic!("{e}"));
    }
    theirs.exec(&args).unwrap_or_else(|e| panic!("{e}"));
    let (counts, out) = theirs.iptables_packets("iptables-nft", "OUTPUT");
    assert_eq!(counts, ours, "xt_time counts as our rules:\n{out}\n{rules}");
}
