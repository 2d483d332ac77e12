//! The topology inventory: interfaces and their aliases, the plugin (container) network and
//! plugins, variables and FWsets. `load` (the only code that touches YAML) turns a YAML source
//! into a validated `Inventory`; `DEFAULT_YAML` describes a stock VNS3 manager.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

use crate::diagnostic::{Diagnostic, FileId, Span};

mod load;
mod locate;
mod raw;
#[cfg(test)]
mod tests;
mod validate;

pub use load::{load, load_all};

/// Name under which the built-in inventory appears in diagnostics.
pub const DEFAULT_NAME: &str = "<built-in inventory>";

/// The built-in inventory used when no `--inventory` is given: a stock VNS3 manager.
pub const DEFAULT_YAML: &str = "\
# A stock VNS3 manager: eth0 public, tun0 overlay, plugin0 the container bridge.
interfaces:
  public: eth0
  overlay: tun0
  plugins: plugin0
plugin_network: 198.51.100.0/28
";

/// A validated inventory. Every span points into the inventory's source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inventory {
    pub file: FileId,
    /// Alias → interface, sorted by alias. Kernel names are declared by appearing as a value.
    pub interfaces: BTreeMap<String, Interface>,
    pub overlay_subnet: Option<Located<Ipv4Network>>,
    pub primary_private_ip: Option<Located<Ipv4Addr>>,
    /// The container network; `.1` (the first host) is the bridge.
    pub plugin_network: Located<Ipv4Network>,
    /// Plugins in id order (id = index + 1), addresses allocated.
    pub plugins: Vec<Plugin>,
    pub variables: BTreeMap<String, Variable>,
    pub fwsets: BTreeMap<String, FwSet>,
    /// `ipv6:`: `None` when not given (IPv6 not managed, as `unmanaged`).
    pub ipv6: Option<Located<crate::ip6::Ipv6>>,
}

/// A value and where the inventory declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Kernel name (≤ 15 bytes, `[A-Za-z0-9_.-]`, not starting with `-`).
    pub kernel: String,
    /// Where `alias: kernel` is written.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plugin {
    /// 1-based, in declaration order: `${plugin_instance_N_ip}`.
    pub id: u32,
    pub name: String,
    pub ip: Ipv4Addr,
    /// Whether `ip` was allocated (first free address) rather than written.
    pub allocated: bool,
    /// Where the plugin's `name:` is written.
    pub span: Span,
}

/// A custom variable: one value or a list, kept as text; the resolver reads it as an address,
/// port or interface depending on where `${name}` stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    pub values: Vec<String>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FwSet {
    pub elements: FwSetElements,
    pub span: Span,
}

/// A FWset holds networks or ports, never both. Sorted ascending, duplicates removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FwSetElements {
    Addrs(Vec<Ipv4Network>),
    Ports(Vec<(u16, u16)>),
}

impl Inventory {
    /// The id of a FWset: its place in name order, which is its place in the IR's sets.
    pub fn fwset_id(&self, name: &str) -> Option<crate::ir::SetId> {
        self.fwsets.contains_key(name).then(|| {
            crate::ir::SetId(self.fwsets.keys().take_while(|k| k.as_str() < name).count() as u32)
        })
    }

    /// The name of the FWset `id` ([`Inventory::fwset_id`]).
    pub fn fwset_name(&self, id: crate::ir::SetId) -> &str {
        self.fwsets.keys().nth(id.0 as usize).map_or("", String::as_str)
    }

    /// The kernel interface names the inventory declares, sorted, without duplicates.
    pub fn kernel_interfaces(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.interfaces.values().map(|i| i.kernel.as_str()).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    pub fn plugin_by_name(&self, name: &str) -> Option<&Plugin> {
        self.plugins.iter().find(|p| p.name == name)
    }
}

/// Loads the built-in default inventory into `sources`.
pub fn default_inventory(sources: &mut crate::diagnostic::Sources) -> Inventory {
    let file = sources.add(DEFAULT_NAME, DEFAULT_YAML);
    load(DEFAULT_YAML, file).expect("the built-in inventory is valid")
}

#[doc(hidden)]
pub type LoadResult = Result<Inventory, Vec<Diagnostic>>;
