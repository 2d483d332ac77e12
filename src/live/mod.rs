//! Reading and changing the kernel's ruleset: `nft` runs the nft backend and reads listings,
//! `apply` replaces overlayfw's table (and restores it), `confirm` is the handshake of
//! `apply --confirm`.

pub mod apply;
pub mod confirm;
pub mod nft;
