//! The parser on arbitrary bytes: never a panic, and every diagnostic span inside the text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use overlayfw::diagnostic::Sources;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut sources = Sources::new();
    let id = sources.add("fuzz.rules", text.as_ref());
    let (_, diags) = overlayfw::syntax::parse(id, &sources.get(id).text);
    for d in &diags {
        for l in &d.labels {
            assert!(l.span.start <= l.span.end && l.span.end as usize <= text.len());
        }
    }
    let _ = overlayfw::diagnostic::render(&diags, &sources, overlayfw::diagnostic::Format::Human, false);
});
