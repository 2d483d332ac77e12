//! The one integration-test binary.

mod emit_load;
mod netns;
