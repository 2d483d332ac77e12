//! The iptables match modules and targets overlayfw refuses, each with why and what to use
//! instead. The syntax stage words E004 and E005 from these tables; `docs/refused.md` is made
//! from them (and from the options table's refused options) by [`markdown`], and a test holds
//! the file to it. A module or target that overlayfw translates must not be listed here
//! (`syntax::tests` checks both ways).

/// One refused module or target.
#[derive(Clone, Copy, Debug)]
pub struct Refused {
    /// As iptables spells it (`-m NAME`, `-j NAME`).
    pub name: &'static str,
    /// Whether nftables could express it at all; `false`: nft has no equivalent.
    pub nft_can: bool,
    /// Why it is refused.
    pub why: &'static str,
    /// What to write instead.
    pub instead: &'static str,
}

const fn r(name: &'static str, nft_can: bool, why: &'static str, instead: &'static str) -> Refused {
    Refused { name, nft_can, why, instead }
}

/// Refused `-m` modules (IPv4 ones; the IPv6-only modules are unknown words here), by name.
pub const MODULES: &[Refused] = &[
    r(
        "bpf",
        false,
        "nftables cannot run a BPF program",
        "express the condition with supported matches, or filter with tc/XDP outside overlayfw",
    ),
    r(
        "cluster",
        true,
        "not translated: nft would need a `jhash … mod` of the right inputs and seed to \
         reproduce the kernel's node assignment",
        "use `-m statistic` or a separate rule set per node",
    ),
    r(
        "ipvs",
        false,
        "nftables has no IPVS match (xt_ipvs reads IPVS's own connection table)",
        "let IPVS set a firewall mark and match it with `-m mark --mark`",
    ),
    r(
        "nfacct",
        true,
        "not translated: nfacct objects live outside the rules file",
        "count with the rule's own counter (`overlayfw stats`)",
    ),
    r(
        "osf",
        true,
        "not translated: passive OS fingerprinting needs the fingerprint database loaded \
         into the kernel",
        "match by address or port",
    ),
    r(
        "physdev",
        false,
        "bridged packets seen by iptables through br_netfilter have no equivalent in a `table \
         ip` (nft filters bridges in `table bridge`)",
        "match the bridge's own interface with `-i`/`-o` (e.g. `plugin0`)",
    ),
    r(
        "rateest",
        false,
        "nftables has no rate estimator match (RATEEST/rateest share kernel estimators by name)",
        "use `-m limit` or `-m hashlimit`",
    ),
    r(
        "recent",
        false,
        "xt_recent keeps up to 20 hit times per address in a 200-address list that evicts its \
         oldest entry (`--rcheck --seconds` asks whether any hit is that recent, `--hitcount` \
         counts them); an nft dynamic set keeps one expiry per element, counts no hits and \
         refuses new keys when full instead of evicting",
        "`-m hashlimit --hashlimit-mode srcip --hashlimit-above RATE` to drop a source that opens \
         connections too fast, or `-m connlimit` to cap its connections",
    ),
    r(
        "rpfilter",
        true,
        "not translated: VNS3's overlay routes asymmetric traffic on purpose, and a reverse \
         path check belongs to the host's rp_filter setting",
        "set `net.ipv4.conf.*.rp_filter`, or match sources with `-s`",
    ),
    r(
        "socket",
        false,
        "xt_socket also matches a packet whose socket is a connection in TIME_WAIT or a \
         half-open request, which nft's `socket wildcard` and `socket mark` never match (they \
         read only full sockets, and nft cannot test for the others), and `--restore-skmark` \
         sets the packet's mark as a side effect of the match",
        "match local traffic with `-m addrtype --dst-type LOCAL`, or a connection with `-m \
         conntrack --ctstate`",
    ),
    r(
        "string",
        false,
        "nftables cannot search a packet's payload for a string (no Boyer-Moore/KMP match)",
        "inspect payloads in an IDS/IPS container: send the traffic with `-j NFQUEUE` (e.g. \
         to Suricata) or mirror it with `MACRO_CUST -j COPY`",
    ),
    r(
        "u32",
        false,
        "u32's shifts, masks and jumps through header fields (`@`) have no general nft form",
        "match the header field with its own module (`-m length`, `-m dscp`, `--tcp-flags`, \
         `-m ttl`, …)",
    ),
];

/// Refused `-j` targets, by name.
pub const TARGETS: &[Refused] = &[
    r(
        "CHECKSUM",
        false,
        "nftables cannot fill in a missing checksum (it only updates checksums it changes)",
        "fix the sender (CHECKSUM was for old dhclient versions), or set the NIC's offload",
    ),
    r(
        "CLUSTERIP",
        false,
        "CLUSTERIP is deprecated and has no nftables form",
        "put a load balancer in front of the managers",
    ),
    r(
        "CONNSECMARK",
        true,
        "not translated: SELinux labels are host policy, not VNS3 firewall rules",
        "label connections in the host's own ruleset",
    ),
    r(
        "CT",
        true,
        "not translated: conntrack zones, helpers and timeouts are host configuration",
        "leave conntrack tuning to the host",
    ),
    r(
        "HMARK",
        true,
        "not translated: nft's `jhash` does not reproduce HMARK's hash inputs and seed",
        "use `-j MARK` with explicit matches, or `-m statistic`",
    ),
    r(
        "IDLETIMER",
        false,
        "nftables has no idle timer (IDLETIMER creates sysfs files)",
        "watch connection counts with `conntrack -L`",
    ),
    r("LED", false, "nftables has no LED trigger", "use `-j NFLOG` and act on the log"),
    r(
        "NOTRACK",
        true,
        "not translated: it belongs in the raw table, before conntrack, which VNS3's chains \
         never reach",
        "exempt traffic from conntrack in the host's own raw-table ruleset",
    ),
    r("RATEEST", false, "nftables has no rate estimator", "use `-m limit` or `-m hashlimit`"),
    r(
        "SECMARK",
        true,
        "not translated: SELinux labels are host policy, not VNS3 firewall rules",
        "label packets in the host's own ruleset",
    ),
    r(
        "SYNPROXY",
        true,
        "not translated: it needs a raw-table NOTRACK rule and TCP timestamps tuned on the \
         host",
        "use `-m limit` on `--syn` packets",
    ),
    r(
        "TEE",
        true,
        "VNS3 spells mirroring `MACRO_CUST -j COPY --from IF --to ADDR`",
        "write `MACRO_CUST -j COPY --from tun0 --to 198.51.100.2` (nft `dup to`)",
    ),
    r(
        "TPROXY",
        true,
        "not translated: transparent proxying needs policy routing on the host",
        "DNAT to the proxy with `-j DNAT` or `-j REDIRECT`",
    ),
    r(
        "TRACE",
        true,
        "not translated: tracing is a debugging aid, not policy",
        "run `nft monitor trace` with a `meta nftrace set 1` rule added by hand",
    ),
    r(
        "TTL",
        true,
        "not translated: rewriting the TTL hides loops and breaks traceroute",
        "leave the TTL alone; match it with `-m ttl`",
    ),
    r(
        "ULOG",
        false,
        "ULOG was removed from the kernel (Linux 3.17)",
        "use `-j NFLOG --nflog-group N`",
    ),
];

/// xt_hashlimit's byte mode (`--hashlimit-above 20kb/s`, `--hashlimit-burst 1mb`): the syntax
/// stage words its E008 from this entry. tests/it/meters.rs sends the same datagrams through
/// xt_hashlimit and nft's byte limit.
pub const HASHLIMIT_BYTES: Refused = r(
    "-m hashlimit --hashlimit-upto/--hashlimit-above 20kb/s (b/s, kb/s, mb/s), --hashlimit-burst 1mb",
    false,
    "xt_hashlimit's byte mode charges each packet in 16-byte chunks (`len / 16 + 1`: a 29-byte \
     datagram costs 32 bytes), lets a packet longer than a second's rate through once its \
     one-second bucket is full, and spends a byte burst as whole refills of that bucket that \
     come back only when the key's entry expires; nft's `limit rate N bytes/second burst M \
     bytes` charges exact lengths, never passes a packet longer than its bucket and refills \
     its burst continuously (at 1kb/s, 200 29-byte datagrams: xt_hashlimit passes 32, nft 35)",
    "limit packets, not bytes (`--hashlimit-above 20/second --hashlimit-burst 10`), or shape \
     bytes per host with tc outside overlayfw",
);

/// `-m connlabel --set`: the syntax stage words its E008 from this entry.
pub const CONNLABEL_SET: Refused = r(
    "-m connlabel --label N --set",
    true,
    "xt_connlabel sets the label as a side effect of matching, at the point iptables \
     evaluates the match (after the -s/-d/-i/-o/-p tests, before the later -m matches); \
     overlayfw treats matches as conditions without effects (`fmt` reorders them) and lays \
     PREROUTING and POSTROUTING lines out twice (a filter copy that sees every packet, a nat \
     copy that sees a connection's first), so nft's `ct label set` would label connections \
     iptables leaves alone",
    "label connections in a ruleset of your own (`ct label set N` in nft) and match them here \
     with `-m connlabel --label N`",
);

/// Forms of translated modules refused because nft cannot say them exactly (E008; the err case
/// `E008-time-misuse.rules` shows each); `docs/codes/E008.md` lists every E008. Options refused
/// whatever their form are the options table's (`refused`).
pub const FORMS: &[Refused] = &[
    HASHLIMIT_BYTES,
    CONNLABEL_SET,
    r(
        "-m connlabel ! --label N",
        false,
        "xt_connlabel's `!` also matches a packet without a connection (invalid or untracked); \
         nft's `ct label` never matches one",
        "put a `-m connlabel --label N` line that returns or accepts before this one, and a \
         `-m conntrack --ctstate INVALID,UNTRACKED` line if those packets matter",
    ),
    r(
        "-m connlabel --label NAME",
        true,
        "iptables looks a label's name up in the connlabel.conf of the machine that loads the \
         rule (nft in its own), which overlayfw does not read",
        "write the label's number from 0 to 127 (its bit in connlabel.conf)",
    ),
    r(
        "-m time --weekdays D --contiguous (a range that wraps past midnight)",
        false,
        "xt_time asks the day before for the morning's packets and the day itself for the \
         evening's; one nft rule cannot ask both",
        "write two lines, the evening with DAYS and the morning with each of DAYS' next days",
    ),
    r(
        "-m time --timestart/--timestop/--datestart/--datestop … --kerneltz",
        false,
        "nft's `meta hour` and `meta time` are UTC in the kernel; nft converts a written time \
         with its own timezone once, at load, never at a DST change",
        "write the times and dates in UTC without `--kerneltz`",
    ),
];

/// The entry for a refused module, if `name` is one.
pub fn module(name: &str) -> Option<&'static Refused> {
    MODULES.iter().find(|m| m.name == name)
}

/// The entry for a refused target, if `name` is one.
pub fn target(name: &str) -> Option<&'static Refused> {
    TARGETS.iter().find(|t| t.name == name)
}

impl Refused {
    /// The E004/E005 help: why, then what to do.
    pub fn help(&self) -> String {
        format!("{}; instead: {}", self.why, self.instead)
    }
}

/// `docs/refused.md`: every refused module, target and option with its reason.
pub fn markdown() -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "# What overlayfw refuses, and what to use instead\n\n\
         Generated from `src/refused.rs` and the options table (`src/syntax/options.rs`); \
         `cargo test refused` fails when this file and the code disagree \
         (`OVERLAYFW_WRITE_DOCS=1 cargo test refused` rewrites it).\n\n\
         A refused line is an error (E004 for a module, E005 for a target, E002 for an \
         option) that names the construct and says why: overlayfw never drops a match or \
         a target it cannot translate exactly. \"nft can\" says whether nftables could \
         express it at all; \"no\" means it never will be translated.\n",
    );
    let table = |out: &mut String, title: &str, prefix: &str, rows: &[Refused]| {
        let _ = write!(
            out,
            "\n## {title}\n\n| {prefix} | nft can | why | instead |\n|---|---|---|---|\n"
        );
        for e in rows {
            let _ = writeln!(
                out,
                "| `{prefix} {}` | {} | {} | {} |",
                e.name,
                if e.nft_can { "yes" } else { "no" },
                e.why,
                e.instead
            );
        }
    };
    table(&mut out, "Match modules", "-m", MODULES);
    table(&mut out, "Targets", "-j", TARGETS);
    out.push_str(
        "\n## Forms\n\nForms of translated modules that nftables cannot say exactly (the other \
         E008 refusals are listed in docs/codes/E008.md).\n\n| form | why | instead |\n\
         |---|---|---|\n",
    );
    for f in FORMS {
        let _ = writeln!(out, "| `{}` | {} | {} |", f.name, f.why, f.instead);
    }
    out.push_str("\n## Options\n\n| option | why | instead |\n|---|---|---|\n");
    for d in crate::syntax::options::OPTIONS.iter() {
        if let Some(r) = d.refused {
            let module = d.module.map(|m| format!("`-m {m}` ")).unwrap_or_default();
            let _ = writeln!(out, "| {module}`{}` | {} | {} |", d.spellings[0], r.label, r.help);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module or target is either translated or refused, never both; names are unique.
    #[test]
    fn refused_names_are_not_translated_and_unique() {
        for m in MODULES {
            assert!(
                !crate::syntax::supported_module(m.name),
                "`-m {}` is translated and refused",
                m.name
            );
            assert_eq!(MODULES.iter().filter(|o| o.name == m.name).count(), 1, "{}", m.name);
        }
        for t in TARGETS {
            assert!(
                !crate::syntax::supported_target(t.name),
                "`-j {}` is translated and refused",
                t.name
            );
            assert_eq!(TARGETS.iter().filter(|o| o.name == t.name).count(), 1, "{}", t.name);
        }
        // Sorted, so that the document reads as an index.
        assert!(MODULES.windows(2).all(|w| w[0].name < w[1].name));
        assert!(TARGETS.windows(2).all(|w| w[0].name < w[1].name));
    }

    /// `docs/refused.md` is the tables' text (`OVERLAYFW_WRITE_DOCS=1` rewrites it).
    #[test]
    fn refused_doc_is_generated_from_the_tables() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/refused.md");
        let want = markdown();
        if std::env::var("OVERLAYFW_WRITE_DOCS").as_deref() == Ok("1") {
            std::fs::write(&path, &want).expect("write docs/refused.md");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/refused.md differs from src/refused.rs: run `OVERLAYFW_WRITE_DOCS=1 cargo test \
             refused` and review the diff"
        );
    }

    /// E004 and E005 carry the table's reason and alternative.
    #[test]
    fn refusals_say_why_and_what_instead() {
        let (_, diags) = crate::syntax::parse(
            crate::diagnostic::FileId(0),
            "FORWARD -m string --string x -j DROP\n",
        );
        let d = diags.iter().find(|d| d.code == crate::diagnostic::Code::E004).expect("E004");
        assert!(d.help.as_deref().unwrap_or("").contains("instead: inspect payloads"), "{d:?}");
        let (_, diags) = crate::syntax::parse(
            crate::diagnostic::FileId(0),
            "FORWARD -j TEE --gateway 1.2.3.4\n",
        );
        let d = diags.iter().find(|d| d.code == crate::diagnostic::Code::E005).expect("E005");
        assert!(d.help.as_deref().unwrap_or("").contains("COPY"), "{d:?}");
    }
}
