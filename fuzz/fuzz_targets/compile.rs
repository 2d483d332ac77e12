//! The whole compile (rules, then inventory after the first NUL byte): never a panic; a
//! compiled ruleset always renders as a script and as JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use overlayfw::diagnostic::Sources;
use overlayfw::pipeline::{self, Text};

fuzz_target!(|data: &[u8]| {
    let (rules, inventory) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let mut sources = Sources::new();
    let compiled = pipeline::compile(
        &mut sources,
        vec![Text { name: "fuzz.rules".into(), bytes: rules.to_vec() }],
        inventory.map(|i| Text { name: "fuzz.yaml".into(), bytes: i.to_vec() }),
        "overlayfw",
    );
    assert_eq!(compiled.ruleset.is_some(), !compiled.has_errors());
    let _ = overlayfw::diagnostic::render(&compiled.diagnostics, &sources, overlayfw::diagnostic::Format::Json, false);
    if let Some(rs) = &compiled.ruleset {
        let script = overlayfw::emit::nft_script(rs);
        assert!(script.starts_with("#!/usr/sbin/nft -f\n"));
        let _ = overlayfw::emit::json::script(rs);
    }
});
