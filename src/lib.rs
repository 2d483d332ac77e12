//! overlayfw: compile VNS3 overlay firewall rules into an nftables ruleset.
//!
//! The stages: `syntax` (rules text → AST), `inventory` (topology YAML), `resolve` (rules lines
//! and inventory → placed VNS3 chains of concrete values), `lint` (warnings over them),
//! `layout` (placed chains → the IR's nftables chains), `optimize`, `emit` (IR → nft script).
//! `pipeline` drives them over texts and files; `cli` and `live` do the rest of the IO. `nft`
//! holds what nft and the kernel accept.

// The pest parser is generated without pest's `std` feature (see Cargo.toml), so its code names
// `::alloc`.
extern crate alloc;

pub mod cli;
pub mod diagnostic;
pub mod diff;
pub mod dump;
pub mod emit;
pub mod explain;
pub mod fasthash;
pub mod files;
pub mod fmt;
pub mod inventory;
pub mod ip6;
pub mod ir;
pub mod layout;
pub mod lint;
pub mod live;
mod mem;
pub mod net;
pub mod nft;
pub mod optimize;
pub mod parallel;
pub mod pipeline;
pub mod refused;
pub mod resolve;
pub mod suggest;
pub mod syntax;
pub mod text;
pub mod vocab;
