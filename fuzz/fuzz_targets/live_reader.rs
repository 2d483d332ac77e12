//! The reader of `nft -j` listings on arbitrary JSON: never a panic, and a plan against any
//! proposed table renders.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(live) = overlayfw::diff::from_listing(&doc, "overlayfw") {
        let plan = overlayfw::diff::plan("overlayfw", &overlayfw::diff::Model::default(), live.as_ref());
        let _ = plan.human();
        let _ = plan.json();
    }
});
