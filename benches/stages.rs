//! The compile's stages one by one (`cargo bench`), on the policy `bench/gen.py` writes (DNAT
//! port forwards, FORWARD accepts and drops, masquerades, a COPY; no two rules alike) at 1,000
//! and 10,000 rules. Whole runs against the peers are in `bench/*.sh`.
//!
//! Every stage gets its own input prepared outside the timing: `parse` the text, `resolve`
//! the text (it parses each line as it resolves it), `lint` the resolved chains, `layout` the
//! resolved chains into the IR, `emit` the IR, `optimize` the IR, and `diff` both models; and
//! `inventory_fwset` loads an inventory with one large FWset.

use divan::{Bencher, black_box};
use overlayfw::diagnostic::{FileId, Sources};
use overlayfw::inventory::{self, Inventory};
use overlayfw::resolve::{Input, Options, Resolved};
use overlayfw::{diff, emit, lint, optimize, syntax};

const SIZES: &[usize] = &[1_000, 10_000];

fn main() {
    divan::main();
}

/// The same policy as `bench/gen.py N`.
fn policy(n: usize) -> String {
    let mut out =
        vec!["MACRO_CUST -j COPY --from tun0 --to 198.51.100.2 --bidirectional".to_string()];
    let mut i = 0;
    while out.len() < n {
        let (k, j) = (i % 4, i / 4);
        let host = 2 + j % 12;
        out.push(match k {
            0 => format!(
                "PREROUTING_CUST -i eth0 -p tcp --dport {} -j DNAT --to 198.51.100.{host}:{}",
                1024 + j % 64000,
                22 + j % 100
            ),
            1 => format!(
                "FORWARD_CUST -i tun0 -o plugin0 -s 100.64.{}.0/24 -d 198.51.100.{host} -p tcp --dport {} -j ACCEPT",
                j % 256,
                1 + j % 65000
            ),
            2 => format!(
                "POSTROUTING_CUST -o eth0 -s 10.{}.{}.0/24 -j MASQUERADE",
                (j / 256) % 256,
                j % 256
            ),
            _ => format!(
                "FORWARD_CUST -i eth0 -s 203.{}.{}.{} -p udp --dport {} -j DROP",
                (j / 65536) % 256,
                (j / 256) % 256,
                j % 256,
                1 + j % 65000
            ),
        });
        i += 1;
    }
    out.join("\n") + "\n"
}

fn inventory() -> Inventory {
    inventory::default_inventory(&mut Sources::new())
}

fn resolved(text: &str, inv: &Inventory) -> Resolved {
    let inputs = [Input { name: "p.rules", file: FileId(1), text, stream: None }];
    let r = overlayfw::pipeline::drive::resolve_all(
        &inputs,
        inv,
        &Options { table: "overlayfw", input_hash: String::new() },
    );
    assert!(r.diagnostics.is_empty(), "the policy compiles cleanly");
    r
}

#[divan::bench(args = SIZES)]
fn parse(bencher: Bencher, n: usize) {
    let text = policy(n);
    bencher.bench(|| syntax::parse(FileId(1), black_box(&text)));
}

#[divan::bench(args = SIZES)]
fn resolve(bencher: Bencher, n: usize) {
    let (text, inv) = (policy(n), inventory());
    bencher.bench(|| resolved(black_box(&text), &inv));
}

#[divan::bench(args = SIZES)]
fn lint(bencher: Bencher, n: usize) {
    let inv = inventory();
    let r = resolved(&policy(n), &inv);
    let opts = lint::Options { inventory_given: false };
    bencher.bench(|| lint::lint(black_box(&r), &inv, &opts));
}

#[divan::bench(args = SIZES)]
fn layout(bencher: Bencher, n: usize) {
    let (text, inv) = (policy(n), inventory());
    bencher.with_inputs(|| resolved(&text, &inv)).bench_values(overlayfw::layout::layout);
}

#[divan::bench(args = SIZES)]
fn emit(bencher: Bencher, n: usize) {
    let inv = inventory();
    let rs = overlayfw::layout::layout(resolved(&policy(n), &inv)).expect("a ruleset");
    bencher.bench(|| emit::nft_script(black_box(&rs)));
}

#[divan::bench(args = SIZES)]
fn optimize(bencher: Bencher, n: usize) {
    let inv = inventory();
    let rs = overlayfw::layout::layout(resolved(&policy(n), &inv)).expect("a ruleset");
    bencher.with_inputs(|| rs.clone()).bench_local_values(|mut rs| {
        optimize::optimize(&mut rs);
        rs
    });
}

#[divan::bench(args = SIZES)]
fn diff(bencher: Bencher, n: usize) {
    let inv = inventory();
    let rs = overlayfw::layout::layout(resolved(&policy(n), &inv)).expect("a ruleset");
    let listing = serde_json::json!({ "nftables": emit::json::listing(&rs) });
    let bytes = serde_json::to_vec(&listing).expect("JSON");
    bencher.bench(|| {
        let live = diff::from_listing_bytes(black_box(&bytes), "overlayfw").expect("reads");
        diff::plan("overlayfw", &diff::from_ruleset(&rs), live.as_ref()).is_same()
    });
}

/// Loading an inventory with one FWset of N addresses (the size of the set, not of the policy).
#[divan::bench(args = [10_000, 100_000])]
fn inventory_fwset(bencher: Bencher, n: u32) {
    let mut text = String::from("fwsets:\n  big: [");
    for i in 0..n {
        text += &format!("{}, ", std::net::Ipv4Addr::from(0x0a00_0000 + i * 7));
    }
    text += "10.0.0.0]\n";
    bencher.bench(|| inventory::load(black_box(&text), FileId(2)).expect("loads"));
}
