//! overlayfw: compile VNS3 overlay firewall rules into an nftables ruleset.
//!
//! The pipeline: `syntax` (rules text → AST), `inventory` (topology YAML), `resolve` (AST +
//! inventory → IR of concrete values), `emit` (IR → nft script). `cli` drives it.

// The pest parser is generated without pest's `std` feature (see Cargo.toml), so its code names
// `::alloc`.
extern crate alloc;

pub mod cli;
pub mod diagnostic;
pub mod diff;
pub mod emit;
pub mod explain;
pub mod fasthash;
pub mod fmt;
pub mod inventory;
pub mod ir;
pub mod layout;
pub mod lint;
pub mod live;
pub mod nft;
pub mod optimize;
pub mod parallel;
pub mod pipeline;
pub mod resolve;
pub mod suggest;
pub mod syntax;
pub mod text;
