//! Reading and changing the kernel's ruleset: `nft` runs the nft backend and reads listings,
//! `netlink` sends the same change as one netlink batch (cargo feature `netlink`), `apply`
//! replaces overlayfw's table (and restores it), `confirm` is the handshake of
//! `apply --confirm`, `persist` keeps the applied table for the next boot; `flags` reads a
//! table's flags, which nft 1.0.6's JSON gets wrong.

pub mod apply;
pub mod clock;
pub mod confirm;
pub mod flags;
pub mod monitor;
#[cfg(feature = "netlink")]
pub mod netlink;
pub mod nft;
pub mod persist;
pub mod record;
pub mod refill;
pub mod stats;
