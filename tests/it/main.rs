//! The one integration-test binary.

mod apply;
mod cases;
mod cli;
mod emit_load;
mod lint;
mod load;
#[cfg(feature = "netlink")]
mod netlink;
mod netns;
