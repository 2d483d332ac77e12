//! The one integration-test binary.

mod emit_load;
mod netns;
mod cases;
mod cli;
mod load;
