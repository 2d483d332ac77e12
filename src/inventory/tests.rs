//! Inventory loading: the documented example, allocation, the built-in default, every error code
//! with its message and position, and hostile input.

use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

use super::*;
use crate::diagnostic::{Code, Sources};

const EXAMPLE: &str = "\
interfaces:              # alias: kernel name; rules may use either
  public: eth0
  overlay: tun0
  plugins: plugin0
overlay_subnet: 100.64.0.0/19      # ${vns3_overlay_subnet}
primary_private_ip: 10.0.1.120     # ${vns3_primary_private_ip}
plugin_network: 198.51.100.0/28    # containers; .1 is the bridge
plugins:                           # ids 1, 2, ... in order
  - name: suricata                 # a plugin name may stand for its address in rules
    ip: 198.51.100.2               # optional: else the first free address
  - name: todo-app
variables:                         # ${office}
  office: 203.0.113.0/24
  web_ports: [80, 443]
fwsets:                            # ${fwset_blacklist}, or bare `blacklist` in -s/-d
  blacklist: [192.0.2.0/24, 203.0.113.7]
  admin_ports: [22, \"8000:8080\"]
";

fn ok(text: &str) -> Inventory {
    let mut sources = Sources::new();
    let id = sources.add("inv.yaml", text);
    match load(text, id) {
        Ok(inv) => inv,
        Err(diags) => panic!("expected the inventory to load, got {diags:#?}"),
    }
}

/// Each error as (code, message, line, column) of its primary span, in order.
fn errors(text: &str) -> Vec<(Code, String, usize, usize)> {
    let mut sources = Sources::new();
    let id = sources.add("inv.yaml", text);
    let diags = load(text, id).expect_err("expected errors");
    let file = sources.get(id);
    diags
        .iter()
        .map(|d| {
            let s = d.span();
            assert!(
                s.start <= s.end && s.end as usize <= text.len(),
                "span {s:?} outside the text"
            );
            assert!(
                text.is_char_boundary(s.start as usize) && text.is_char_boundary(s.end as usize)
            );
            let (line, col) = file.line_col(s.start);
            (d.code, d.message.clone(), line, col)
        })
        .collect()
}

fn one_error(text: &str) -> (Code, String, usize, usize) {
    let mut e = errors(text);
    assert_eq!(e.len(), 1, "expected one error, got {e:#?}");
    e.remove(0)
}

fn net(s: &str) -> Ipv4Network {
    s.parse().unwrap()
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn the_documented_example_loads() {
    let inv = ok(EXAMPLE);
    let kernels: Vec<(&str, &str)> =
        inv.interfaces.iter().map(|(a, i)| (a.as_str(), i.kernel.as_str())).collect();
    assert_eq!(kernels, [("overlay", "tun0"), ("plugins", "plugin0"), ("public", "eth0")]);
    assert_eq!(inv.kernel_interfaces(), ["eth0", "plugin0", "tun0"]);
    assert_eq!(inv.overlay_subnet.as_ref().unwrap().value, net("100.64.0.0/19"));
    assert_eq!(inv.primary_private_ip.as_ref().unwrap().value, ip("10.0.1.120"));
    assert_eq!(inv.plugin_network.value, net("198.51.100.0/28"));

    let plugins: Vec<(u32, &str, Ipv4Addr, bool)> =
        inv.plugins.iter().map(|p| (p.id, p.name.as_str(), p.ip, p.allocated)).collect();
    assert_eq!(
        plugins,
        [(1, "suricata", ip("198.51.100.2"), false), (2, "todo-app", ip("198.51.100.3"), true)]
    );
    assert_eq!(inv.variables["office"].values, ["203.0.113.0/24"]);
    assert_eq!(inv.variables["web_ports"].values, ["80", "443"]);
    assert_eq!(
        inv.fwsets["blacklist"].elements,
        FwSetElements::Addrs(vec![net("192.0.2.0/24"), net("203.0.113.7/32")])
    );
    assert_eq!(
        inv.fwsets["admin_ports"].elements,
        FwSetElements::Ports(vec![(22, 22), (8000, 8080)])
    );
}

#[test]
fn spans_of_loaded_entries_point_at_their_text() {
    let inv = ok(EXAMPLE);
    let at = |s: Span| &EXAMPLE[s.start as usize..s.end as usize];
    assert_eq!(at(inv.interfaces["overlay"].span), "overlay: tun0");
    assert_eq!(at(inv.plugins[1].span), "todo-app");
    assert_eq!(at(inv.plugin_network.span), "198.51.100.0/28");
    assert_eq!(at(inv.variables["web_ports"].span), "web_ports");
    assert_eq!(at(inv.fwsets["admin_ports"].span), "admin_ports");
}

#[test]
fn allocation_skips_taken_addresses_including_later_ones() {
    let inv = ok("\
plugins:
  - name: a
  - name: b
    ip: 198.51.100.3
  - name: c
  - name: d
    ip: 198.51.100.5
  - name: e
");
    let ips: Vec<(&str, Ipv4Addr, bool)> =
        inv.plugins.iter().map(|p| (p.name.as_str(), p.ip, p.allocated)).collect();
    assert_eq!(
        ips,
        [
            ("a", ip("198.51.100.2"), true),
            ("b", ip("198.51.100.3"), false),
            ("c", ip("198.51.100.4"), true),
            ("d", ip("198.51.100.5"), false),
            ("e", ip("198.51.100.6"), true),
        ]
    );
    assert_eq!(inv.plugins.iter().map(|p| p.id).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
}

#[test]
fn the_default_inventory_loads() {
    let mut sources = Sources::new();
    let inv = default_inventory(&mut sources);
    assert_eq!(inv.kernel_interfaces(), ["eth0", "plugin0", "tun0"]);
    assert_eq!(inv.interfaces["public"].kernel, "eth0");
    assert_eq!(inv.plugin_network.value, net("198.51.100.0/28"));
    assert!(inv.plugins.is_empty() && inv.variables.is_empty() && inv.fwsets.is_empty());
}

#[test]
fn an_empty_file_is_an_empty_inventory_with_the_default_plugin_network() {
    let inv = ok("# nothing yet\n");
    assert!(inv.interfaces.is_empty());
    assert_eq!(inv.plugin_network.value, net("198.51.100.0/28"));
    assert_eq!(inv.plugin_network.span.start, 0);
}

#[test]
fn flow_style_and_quoted_keys_load() {
    let inv =
        ok("{interfaces: {public: eth0}, \"fwsets\": {s: [10.0.0.0/8, 10.0.0.0/8, 1.2.3.4]}}");
    assert_eq!(inv.interfaces["public"].kernel, "eth0");
    assert_eq!(
        inv.fwsets["s"].elements,
        FwSetElements::Addrs(vec![net("1.2.3.4/32"), net("10.0.0.0/8")])
    );
}

#[test]
fn fwset_ports_accept_both_range_spellings_sort_and_dedup() {
    let inv = ok("fwsets:\n  p: [443, \"1000-2000\", 80, \"80:80\", 22]\n");
    assert_eq!(
        inv.fwsets["p"].elements,
        FwSetElements::Ports(vec![(22, 22), (80, 80), (443, 443), (1000, 2000)])
    );
}

// E101 -----------------------------------------------------------------------------------------

#[test]
fn e101_yaml_syntax_error_points_where_the_parser_stopped() {
    let (code, msg, line, col) = one_error("plugins:\n  - name: a\n fwsets: [\n");
    assert_eq!(code, Code::E101);
    assert!(msg.starts_with("invalid YAML: "), "{msg}");
    assert!(!msg.contains(" at line "), "position belongs to the span: {msg}");
    assert_eq!((line, col), (3, 2));
}

#[test]
fn e101_unknown_keys_point_at_the_key_and_suggest() {
    let text = "interfaces:\n  public: eth0\nplugin_netwrok: 10.0.0.0/24\nplugins:\n  - name: a\n    addr: 198.51.100.9\n";
    let mut sources = Sources::new();
    let id = sources.add("inv.yaml", text);
    let diags = load(text, id).unwrap_err();
    assert_eq!(diags.len(), 2, "{diags:#?}");
    assert_eq!(diags[0].code, Code::E101);
    assert_eq!(diags[0].message, "unknown key `plugin_netwrok` in the inventory");
    assert!(diags[0].help.as_deref().unwrap().starts_with("did you mean `plugin_network`?"));
    assert_eq!(sources.get(id).line_col(diags[0].span().start), (3, 1));
    assert_eq!(diags[1].message, "unknown key `addr` in a plugin");
    assert_eq!(sources.get(id).line_col(diags[1].span().start), (6, 5));
}

#[test]
fn e101_wrong_shapes_are_worded_for_humans() {
    assert_eq!(
        one_error("plugins: suricata\n"),
        (
            Code::E101,
            "expected a list of plugins (`- name: suricata`), found a string".into(),
            1,
            10
        )
    );
    assert_eq!(one_error("- a\n- b\n").0, Code::E101);
    assert_eq!(
        one_error("variables:\n  x: {a: 1}\n"),
        (Code::E101, "variable `x`: expected a string or a number, found a mapping".into(), 2, 6)
    );
    assert_eq!(
        one_error("plugins:\n  - ip: 198.51.100.4\n"),
        (Code::E101, "plugin 1 has no `name`".into(), 2, 5)
    );
}

// E102 -----------------------------------------------------------------------------------------

#[test]
fn e102_host_bits_set_shows_the_masked_network() {
    let text = "overlay_subnet: 100.64.0.5/19\n";
    let mut sources = Sources::new();
    let id = sources.add("inv.yaml", text);
    let d = load(text, id).unwrap_err();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].code, d[0].message.as_str()),
        (Code::E102, "network `100.64.0.5/19` has host bits set")
    );
    assert_eq!(d[0].help.as_deref(), Some("write the network as `100.64.0.0/19`"));
    assert_eq!(sources.get(id).line_col(d[0].span().start), (1, 17));
}

#[test]
fn e102_bad_values() {
    assert_eq!(
        one_error("primary_private_ip: 10.0.1.0120\n"),
        (Code::E102, "invalid address `10.0.1.0120`".into(), 1, 21)
    );
    assert_eq!(
        one_error("interfaces:\n  public: eth0\n  bad name: tun0\n"),
        (
            Code::E102,
            "invalid interface alias `bad name`: not of the form [A-Za-z_][A-Za-z0-9_-]*".into(),
            3,
            3
        )
    );
    assert_eq!(
        one_error("interfaces:\n  public: averyveryverylongname0\n"),
        (
            Code::E102,
            "invalid kernel interface name `averyveryverylongname0`: longer than 15 bytes".into(),
            2,
            11
        )
    );
    // `*` and `+` are literal in a kernel name (iptables reads them so); `\` and `/` are not.
    assert_eq!(
        one_error("interfaces:\n  public: \"a\\\\b\"\n"),
        (
            Code::E102,
            "invalid kernel interface name `a\\\\b`: only letters, digits, `_`, `.`, `-`, `*` and `+` are allowed"
                .into(),
            2,
            11
        )
    );
    assert_eq!(one_error("interfaces:\n  public: eth/0\n").0, Code::E102);
    assert_eq!(
        one_error("variables:\n  fwset_x: 1\n"),
        (Code::E102, "variable name `fwset_x` is reserved".into(), 2, 3)
    );
    assert_eq!(one_error("variables:\n  plugin_instance_3_ip: 1\n").0, Code::E102);
    assert_eq!(
        one_error("fwsets:\n  bad-name: [22]\n"),
        (
            Code::E102,
            "invalid FWset name `bad-name`: not of the form [A-Za-z_][A-Za-z0-9_]*".into(),
            2,
            3
        )
    );
    assert_eq!(one_error("fwsets:\n  s: []\n"), (Code::E102, "FWset `s` is empty".into(), 2, 6));
    assert_eq!(
        one_error("variables:\n  v: []\n"),
        (Code::E102, "variable `v` is an empty list".into(), 2, 6)
    );
    assert_eq!(
        one_error("fwsets:\n  s:\n    - 22\n    - \"90:80\"\n"),
        (Code::E102, "FWset `s`: invalid element `90:80`: range 90–80 runs backwards".into(), 4, 7)
    );
    assert_eq!(
        one_error("fwsets:\n  s: [70000]\n").1,
        "FWset `s`: port 70000 is out of range (0–65535)"
    );
    assert_eq!(one_error("plugin_network: 198.51.100.0/31\n").0, Code::E102);
}

#[test]
fn e102_a_fwset_mixing_networks_and_ports_points_at_the_odd_one() {
    let text = "fwsets:\n  s: [10.0.0.0/8, 22, 10.1.0.0/16]\n";
    let mut sources = Sources::new();
    let id = sources.add("inv.yaml", text);
    let d = load(text, id).unwrap_err();
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(
        (d[0].code, d[0].message.as_str()),
        (Code::E102, "FWset `s` mixes networks and ports")
    );
    assert_eq!(sources.get(id).line_col(d[0].span().start), (2, 19));
    assert_eq!(sources.get(id).line_col(d[0].labels[1].span.start), (2, 7));
}

// E103 -----------------------------------------------------------------------------------------

#[test]
fn e103_duplicate_plugin_names_point_back_at_the_first() {
    let text = "plugins:\n  - name: ids\n  - name: web\n  - name: ids\n";
    let mut sources = Sources::new();
    let id = sources.add("inv.yaml", text);
    let d = load(text, id).unwrap_err();
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!((d[0].code, d[0].message.as_str()), (Code::E103, "plugin name `ids` is used twice"));
    assert_eq!(sources.get(id).line_col(d[0].span().start), (4, 11));
    assert_eq!(sources.get(id).line_col(d[0].labels[1].span.start), (2, 11));
}

#[test]
fn e103_conflicts() {
    assert_eq!(
        one_error(
            "plugins:\n  - name: a\n    ip: 198.51.100.9\n  - name: b\n    ip: 198.51.100.9\n"
        ),
        (Code::E103, "plugins `a` and `b` both use 198.51.100.9".into(), 5, 9)
    );
    assert_eq!(
        one_error("interfaces:\n  public: eth0\n  eth0: tun0\n"),
        (Code::E103, "interface alias `eth0` is also the kernel name of `public`".into(), 3, 3)
    );
    // Two aliases for one kernel name, and an alias equal to its own kernel name, are fine.
    ok("interfaces:\n  public: eth0\n  wan: eth0\n  eth0: eth0\n");
    assert_eq!(
        one_error("plugins:\n  - name: ids\nfwsets:\n  ids: [22]\n"),
        (Code::E103, "`ids` is both a plugin and a FWset".into(), 4, 3)
    );
    assert_eq!(
        one_error("variables:\n  a: 1\n  a: 2\n"),
        (Code::E103, "`variables`: `a` is given twice".into(), 3, 3)
    );
}

// E104 -----------------------------------------------------------------------------------------

#[test]
fn e104_addresses_outside_or_reserved_in_the_plugin_network() {
    assert_eq!(
        one_error("plugins:\n  - name: a\n    ip: 10.0.0.2\n"),
        (
            Code::E104,
            "plugin `a`: address 10.0.0.2 is outside the plugin network 198.51.100.0/28".into(),
            3,
            9
        )
    );
    assert_eq!(
        one_error("plugins:\n  - name: a\n    ip: 198.51.100.1\n").1,
        "plugin `a`: address 198.51.100.1 is the bridge address (the plugin network's first host)"
    );
    assert_eq!(
        one_error("plugins:\n  - name: a\n    ip: 198.51.100.15\n").1,
        "plugin `a`: address 198.51.100.15 is the broadcast address of 198.51.100.0/28"
    );
    assert_eq!(
        one_error("plugins:\n  - name: a\n    ip: 198.51.100.0\n").1,
        "plugin `a`: address 198.51.100.0 is the network address of 198.51.100.0/28"
    );
}

#[test]
fn e104_no_free_address_left() {
    // A /30 has one container address (.2).
    assert_eq!(
        one_error("plugin_network: 10.9.0.0/30\nplugins:\n  - name: a\n  - name: b\n"),
        (Code::E104, "no free address left in 10.9.0.0/30 for plugin `b`".into(), 4, 11)
    );
}

// Several, and hostile input ------------------------------------------------------------------

#[test]
fn every_problem_in_a_file_is_reported() {
    let text = "\
interfaces:
  public: eth0
  -bad: eth1
overlay_subnet: 100.64.0.1/19
extra: 1
plugins:
  - name: a
    ip: 10.0.0.1
fwsets:
  s: [22, 1.2.3.4]
";
    let codes: Vec<(Code, usize, usize)> =
        errors(text).into_iter().map(|(c, _, l, col)| (c, l, col)).collect();
    assert_eq!(
        codes,
        [
            (Code::E102, 3, 3),
            (Code::E102, 4, 17),
            (Code::E101, 5, 1),
            (Code::E104, 8, 9),
            (Code::E102, 10, 11)
        ]
    );
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let inputs: Vec<String> = vec![
        "\u{0}\u{1}\u{2}\u{fffd}\u{7f}garbage: [".into(),
        "\t- x".into(),
        "[".repeat(10_000),
        "a: ".to_string() + &"[".repeat(500) + &"]".repeat(500),
        "---\na: 1\n---\nb: 2\n".into(),
        "plugins: &p [*p]\n".into(),
        "interfaces: !tag {a: b}\n".into(),
        "fwsets:\n  s: [99999999999999999999999999, -1, 1.5, .inf]\n".into(),
        "é: ü\n".into(),
        "? complex\n: key\n".into(),
        "a: &x [1, 2]\nb: *x\n".into(),
    ];
    for text in &inputs {
        let errs = errors(text);
        assert!(!errs.is_empty());
    }
    // A billion-laughs document is refused by serde_yaml's alias expansion limit.
    let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
    for (p, c) in
        ["a", "b", "c", "d", "e", "f", "g"].iter().zip(["b", "c", "d", "e", "f", "g", "h"])
    {
        bomb.push_str(&format!("{c}: &{c} [{}]\n", vec![format!("*{p}"); 9].join(",")));
    }
    assert_eq!(errors(&bomb)[0].0, Code::E101);
}

/// A large FWset loads sorted and without duplicates (the million-element scale is the CLI's
/// slow-tier test, `cli::a_million_element_fwset_compiles`; speed is `cargo bench`'s).
#[test]
fn a_large_fwset_loads_sorted() {
    let mut text = String::from("fwsets:\n  big: [");
    for i in 0..50_000u32 {
        let a = Ipv4Addr::from(0x0a00_0000 + (u64::from(i) * 7919 % 100_000) as u32);
        text.push_str(&a.to_string());
        text.push_str(", ");
    }
    text.push_str("10.0.0.0]\n");
    let inv = ok(&text);
    let FwSetElements::Addrs(v) = &inv.fwsets["big"].elements else { panic!("addresses expected") };
    assert!(v.windows(2).all(|w| w[0] < w[1]), "sorted and deduplicated");
}

#[test]
fn huge_numbers_keep_their_decimal_text_in_variables() {
    let inv = ok(
        "variables:\n  big: 340282366920938463463374607431768211455\n  neg: -170141183460469231731687303715884105728\n",
    );
    assert_eq!(inv.variables["big"].values, ["340282366920938463463374607431768211455"]);
    assert_eq!(inv.variables["neg"].values, ["-170141183460469231731687303715884105728"]);
}

#[test]
fn many_bad_elements_are_capped() {
    let text = format!("fwsets:\n  s: [{}]\n", vec!["x"; 1000].join(", "));
    let e = errors(&text);
    assert_eq!(e.len(), 11);
    assert_eq!(e[10].1, "FWset `s`: 990 more invalid elements not shown");
}

#[test]
fn a_long_block_style_fwset_loads() {
    let mut text = String::from("fwsets:\n  ports:\n");
    for i in 0..200_000u32 {
        text.push_str(&format!("    - {}\n", i % 65_536));
    }
    let inv = ok(&text);
    let FwSetElements::Ports(v) = &inv.fwsets["ports"].elements else { panic!("ports expected") };
    assert_eq!(v.len(), 65_536);
}

/// Mutations of the example (deleting, duplicating and inserting YAML-significant characters)
/// must never panic, and every span must stay inside the text on char boundaries.
#[test]
fn mutated_inputs_never_panic_and_spans_stay_in_bounds() {
    let pool: Vec<char> = " \n\t-:#[]{},'\"&*!|>?é0.5/".chars().collect();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rand = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for _ in 0..3000 {
        let mut chars: Vec<char> = EXAMPLE.chars().collect();
        for _ in 0..1 + rand(4) {
            let at = rand(chars.len());
            match rand(3) {
                0 => {
                    chars.remove(at);
                }
                1 => chars.insert(at, pool[rand(pool.len())]),
                _ => {
                    let c = chars[at];
                    chars.insert(at, c);
                }
            }
        }
        let text: String = chars.into_iter().collect();
        let mut sources = Sources::new();
        let id = sources.add("inv.yaml", text.as_str());
        if let Err(diags) = load(&text, id) {
            assert!(!diags.is_empty());
            for d in &diags {
                for l in &d.labels {
                    let (s, e) = (l.span.start as usize, l.span.end as usize);
                    assert!(s <= e && e <= text.len(), "{d:?} in {text:?}");
                    assert!(text.is_char_boundary(s) && text.is_char_boundary(e));
                }
            }
        }
    }
}

#[test]
fn a_name_clash_is_reported_once_even_for_a_repeated_plugin() {
    let e = errors("plugins:\n  - name: ids\n  - name: ids\nfwsets:\n  ids: [22]\n");
    let codes: Vec<(Code, usize, usize)> = e.iter().map(|(c, _, l, col)| (*c, *l, *col)).collect();
    assert_eq!(codes, [(Code::E103, 3, 11), (Code::E103, 5, 3)], "{e:#?}");
}

#[test]
fn long_unknown_keys_are_cut_short_in_messages() {
    let key = "k".repeat(500); // YAML caps implicit keys at 1024 characters
    let (code, msg, line, col) = one_error(&format!("{key}: 1\n"));
    assert_eq!((code, line, col), (Code::E101, 1, 1));
    assert_eq!(msg, format!("unknown key `{}…` in the inventory", "k".repeat(64)));
}

#[test]
fn crlf_line_ends_and_comments_keep_positions() {
    let text = "# inventory\r\nplugins:\r\n  # the IDS\r\n  - name: ids\r\n    ip: 198.51.100.1   # bridge!\r\n";
    assert_eq!(
        one_error(text),
        (
            Code::E104,
            "plugin `ids`: address 198.51.100.1 is the bridge address (the plugin network's first host)"
                .into(),
            5,
            9
        )
    );
}

/// U+2028, U+2029, U+0085 and a lone CR end a YAML comment: what follows on the same line (as
/// an editor shows it) would be a live entry. They, other control characters and the
/// text-direction and invisible characters are refused anywhere in an inventory (E020), at the
/// character, once per line.
#[test]
fn hidden_line_breaks_and_invisible_characters_are_refused() {
    for brk in ['\u{2028}', '\u{2029}', '\u{85}', '\r'] {
        let text = format!(
            "fwsets:\n  ssh_admins:\n    - 203.0.113.7\n    # - 0.0.0.0/0 (off){brk}    - 0.0.0.0/0\n"
        );
        let (code, message, line, col) = one_error(&text);
        assert_eq!((code, line, col), (Code::E020, 4, 24), "{brk:?}: {message}");
        assert!(message.contains("ends a YAML comment"), "{message}");
    }
    for (text, line, col) in [
        ("fwsets:\n  ssh\u{200b}: [10.0.0.1]\n", 2, 6),
        ("variables:\n  office: \"203.0.113.0/24\u{202e}\"\n", 2, 26),
        ("# \u{61c} comment\nfwsets: {}\n", 1, 3),
        ("fwsets: {}\n# a\u{7}bell\n", 2, 4),
        ("fwsets:\n  a: [10.0.0.1]\u{2066}\u{2069}\n  b: [10.0.0.2]\u{ad}\n", 2, 16),
    ] {
        let errs = errors(text);
        assert_eq!(
            (errs[0].0, errs[0].2, errs[0].3),
            (Code::E020, line, col),
            "{text:?}: {errs:?}"
        );
    }
    // One per line, every line.
    assert_eq!(
        errors("fwsets:\n  a: [10.0.0.1]\u{2066}\u{2069}\n  b: [10.0.0.2]\u{ad}\n").len(),
        2
    );
    // CRLF line ends, tabs in a comment and a leading byte-order mark are fine.
    ok("\u{feff}fwsets:\r\n  a: [10.0.0.1]\t# tab\r\n");
}

/// A FWset's id is its place in name order, as in the IR's sets (`ir::SetId`), whatever the
/// order the inventory writes them in.
#[test]
fn fwset_ids_follow_name_order() {
    let inv = ok("fwsets:\n  web: [80]\n  bl: [192.0.2.0/24]\n  mid: [10.0.0.0/8]\n");
    let ids: Vec<_> = ["bl", "mid", "web", "nope"].map(|n| inv.fwset_id(n)).into();
    let want = [Some(0), Some(1), Some(2), None].map(|i| i.map(crate::ir::SetId));
    assert_eq!(ids, want);
    assert_eq!(inv.fwset_name(crate::ir::SetId(1)), "mid");
    assert_eq!(inv.fwset_name(crate::ir::SetId(7)), "");
}

// ---------------------------------------------------------------------------------------------
// several inventories, merged in order

/// Loads `texts` as `a.yaml`, `b.yaml`, … merged in order.
fn merged(texts: &[&str]) -> (Sources, LoadResult) {
    let mut sources = Sources::new();
    let ids: Vec<_> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| sources.add(format!("{}.yaml", (b'a' + i as u8) as char), *t))
        .collect();
    let docs: Vec<(&str, crate::diagnostic::FileId)> =
        texts.iter().zip(&ids).map(|(t, &id)| (*t, id)).collect();
    let result = load_all(&docs);
    (sources, result)
}

/// Where a span is, as `FILE:LINE:COL`.
fn at(sources: &Sources, s: Span) -> String {
    let f = sources.get(s.file);
    let (line, col) = f.line_col(s.start);
    format!("{}:{line}:{col}", f.name)
}

#[test]
fn later_inventories_add_entries_and_may_repeat_them_unchanged() {
    let common = "\
interfaces:
  public: eth0
  overlay: tun0
plugin_network: 10.9.0.0/28
plugins:
  - name: ids
variables:
  office: 203.0.113.0/24
fwsets:
  blacklist: [192.0.2.0/24]
";
    let router = "\
interfaces:
  public: eth0
  lan: eth1
plugins:
  - name: web
  - name: db
    ip: 10.9.0.2
variables:
  office: 203.0.113.0/24
  dns: 10.0.0.53
fwsets:
  admins: [198.51.100.7]
";
    let (sources, result) = merged(&[common, router]);
    let inv = result.unwrap_or_else(|d| panic!("merges: {d:#?}"));
    let aliases: Vec<_> = inv.interfaces.keys().map(String::as_str).collect();
    assert_eq!(aliases, ["lan", "overlay", "public"]);
    // The repeated alias keeps the first place it was given.
    assert_eq!(at(&sources, inv.interfaces["public"].span), "a.yaml:2:3");
    assert_eq!(at(&sources, inv.interfaces["lan"].span), "b.yaml:3:3");
    // Plugins extend: ids continue, and allocation sees the later file's fixed address (.2)
    // and the merged network, which only the common file gave.
    let plugins: Vec<_> =
        inv.plugins.iter().map(|p| (p.id, p.name.as_str(), p.ip.to_string())).collect();
    assert_eq!(
        plugins,
        [
            (1, "ids", "10.9.0.3".into()),
            (2, "web", "10.9.0.4".into()),
            (3, "db", "10.9.0.2".into())
        ]
    );
    assert_eq!(inv.variables.keys().collect::<Vec<_>>(), ["dns", "office"]);
    assert_eq!(inv.fwsets.keys().collect::<Vec<_>>(), ["admins", "blacklist"]);
    assert_eq!(sources.get(inv.file).name, "b.yaml");
}

#[test]
fn a_changed_entry_is_an_error_at_both_places() {
    let common = "\
interfaces:
  public: eth0
overlay_subnet: 100.64.0.0/19
variables:
  office: 203.0.113.0/24
fwsets:
  blacklist: [192.0.2.0/24]
plugins:
  - name: ids
";
    let router = "\
interfaces:
  public: eth1
overlay_subnet: 100.64.0.0/20
variables:
  office: 203.0.113.0/25
fwsets:
  blacklist: [192.0.2.0/25]
plugins:
  - name: ids
";
    let (sources, result) = merged(&[common, router]);
    let diags = result.expect_err("conflicts");
    let shown: Vec<_> = diags
        .iter()
        .map(|d| {
            let secondary = d.labels.get(1).expect("secondary label");
            (d.code, d.message.clone(), at(&sources, d.span()), at(&sources, secondary.span))
        })
        .collect();
    let expect =
        |m: &str, now: &str, then: &str| (Code::E103, m.to_string(), now.into(), then.into());
    assert_eq!(
        shown,
        [
            expect(
                "interface alias `public` is given a different value by a later inventory",
                "b.yaml:2:3",
                "a.yaml:2:3"
            ),
            expect(
                "`overlay_subnet` is given a different value by a later inventory",
                "b.yaml:3:17",
                "a.yaml:3:17"
            ),
            expect(
                "variable `office` is given a different value by a later inventory",
                "b.yaml:5:3",
                "a.yaml:5:3"
            ),
            expect(
                "FWset `blacklist` is given a different value by a later inventory",
                "b.yaml:7:3",
                "a.yaml:7:3"
            ),
            expect("plugin name `ids` is used twice", "b.yaml:9:11", "a.yaml:9:11"),
        ]
    );
}

#[test]
fn every_inventory_reports_its_own_errors() {
    // A YAML error in the first file does not hide the second file's problems.
    let (sources, result) = merged(&["interfaces: [\n", "fwsets:\n  bad-name: [10.0.0.0/8]\n"]);
    let diags = result.expect_err("errors");
    let shown: Vec<_> = diags.iter().map(|d| (d.code, at(&sources, d.span()))).collect();
    assert_eq!(shown, [(Code::E101, "a.yaml:2:1".into()), (Code::E102, "b.yaml:2:3".into())]);
}

#[test]
fn an_alias_that_is_another_files_kernel_name_is_a_conflict() {
    let (sources, result) = merged(&["interfaces:\n  lan: eth1\n", "interfaces:\n  eth1: eth2\n"]);
    let diags = result.expect_err("ambiguous");
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].code, Code::E103);
    assert_eq!(at(&sources, diags[0].span()), "b.yaml:2:3");
    assert_eq!(at(&sources, diags[0].labels[1].span), "a.yaml:2:3");
}

// ---------------------------------------------------------------------------------------------
// ipv6

#[test]
fn ipv6_is_unmanaged_unless_the_inventory_says_drop() {
    assert_eq!(ok(EXAMPLE).ipv6, None);
    let drop = ok("ipv6: drop\n").ipv6.expect("given");
    assert_eq!(drop.value, crate::ip6::Ipv6::Drop);
    assert_eq!((drop.span.start, drop.span.end), (6, 10));
    let said = ok("ipv6: unmanaged\n").ipv6.expect("given");
    assert_eq!(said.value, crate::ip6::Ipv6::Unmanaged);
}

#[test]
fn an_unknown_ipv6_setting_is_an_error_that_names_both() {
    assert_eq!(
        errors("ipv6: accept\n"),
        [(Code::E102, "unknown `ipv6` setting `accept`".into(), 1, 7)]
    );
    assert_eq!(
        errors("ipv6: [drop]\n"),
        [(Code::E101, "`ipv6`: expected `drop` or `unmanaged`, found a list".into(), 1, 7)]
    );
    let mut sources = Sources::new();
    let text = "ipv6: yes\n";
    let id = sources.add("inv.yaml", text);
    let d = load(text, id).expect_err("invalid");
    assert!(d[0].help.as_deref().is_some_and(|h| h.contains("`ipv6: drop`")), "{d:#?}");
}

#[test]
fn later_inventories_may_repeat_ipv6_but_not_change_it() {
    let (_, result) = merged(&["ipv6: drop\n", "ipv6: drop\n"]);
    assert_eq!(result.expect("same").ipv6.map(|l| l.value), Some(crate::ip6::Ipv6::Drop));
    let (_, result) = merged(&["ipv6: drop\n", "ipv6: unmanaged\n"]);
    let diags = result.expect_err("changed");
    assert_eq!(diags[0].code, Code::E103, "{diags:#?}");
    assert!(diags[0].message.contains("`ipv6`"), "{diags:#?}");
}
