//! The reader of `nft -j` listings on arbitrary bytes, as `diff --against` reads them: never a
//! panic, and a plan against an empty and a real proposed table renders without raw JSON.
//! Seeds: `fuzz/seeds/live_reader` (real nft 1.0.6 listings of the example tables, plain,
//! optimised and dormant, and one of every object and statement kind):
//! `cargo fuzz run --fuzz-dir fuzz live_reader fuzz/corpus/live_reader fuzz/seeds/live_reader`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use overlayfw::diff;

/// The blog example's table: a plan against it has chains on both sides.
fn proposed() -> &'static diff::Model {
    static MODEL: OnceLock<diff::Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        let text = include_bytes!("../../examples/blog/blog.rules").to_vec();
        let mut sources = overlayfw::diagnostic::Sources::new();
        let files = vec![overlayfw::pipeline::Text { name: "blog.rules".into(), bytes: text }];
        let rs = overlayfw::pipeline::compile(&mut sources, files, None, "overlayfw")
            .ruleset
            .expect("the blog example compiles");
        diff::from_ruleset(&rs)
    })
}

/// Whether `text` holds a JSON object as serde_json writes it (`{"key":`): a quoted word
/// that ends in `{` followed by more words is not one.
fn raw_json(text: &str) -> bool {
    text.match_indices("{\"").any(|(i, _)| {
        let rest = &text[i + 2..];
        rest.find('"')
            .is_some_and(|end| !rest[..end].contains('\\') && rest[end + 1..].starts_with(':'))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(live) = diff::from_listing_bytes(data, "overlayfw") else { return };
    for ours in [&diff::Model::default(), proposed()] {
        let plan = diff::plan("overlayfw", ours, live.as_ref());
        let human = plan.human();
        assert!(!raw_json(&human), "raw JSON in the plan:\n{human}");
        let _ = plan.json().to_string();
    }
});
