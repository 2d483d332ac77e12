//! The one integration-test binary.

mod apply;
mod cases;
mod cli;
mod conformance;
mod emit_load;
mod fmt;
mod injection;
mod irgen;
mod lint;
mod load;
#[cfg(feature = "netlink")]
mod netlink;
mod netns;
mod optimize;
mod precommit;
mod probes;
mod properties;
mod scene;
