//! Reading and changing the kernel's ruleset.

#[cfg(feature = "netlink")]
pub mod netlink;
