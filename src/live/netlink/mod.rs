//! Applies a [`Ruleset`] straight to the kernel through netlink (libnftnl via the `nftnl`
//! crate), producing the same ruleset `nft -f` of the emitted script produces, in one
//! transaction.
//!
//! The batch, in order: create `table ip T` if absent, delete it, create it with its comment,
//! its named sets with their elements, its chains in IR order, then each rule (preceded by the
//! anonymous sets it uses); then, with `ipv6: drop`, `table ip6 T` the same way (or, without
//! the setting, its deletion when overlayfw made it: `ip6`). The kernel applies all of it or,
//! on any error, none of it. Nothing outside `table ip T` and `table ip6 T` is touched.
//!
//! The netlink socket belongs to the network namespace of the thread that calls [`apply`].
//!
//! libnftnl is GPL-2.0-or-later: a binary built with the `netlink` feature links it.

mod batch;
mod expr;
pub mod incremental;
mod ip6;
mod lower;
pub mod read;

use std::fmt;
use std::io;
use std::time::Duration;

use crate::ir::{Ruleset, SetElements};
use batch::{Batch, Socket};
use lower::{Key, Lowerer, SetPlan};

/// What [`apply`] sent, and how long the kernel took over it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Netlink messages in the batch, batch begin and end included.
    pub messages: usize,
    /// Bytes of the batch (sent in one `send`).
    pub bytes: usize,
    pub chains: usize,
    pub rules: usize,
    /// Named and anonymous sets.
    pub sets: usize,
    /// Set elements as sent (interval starts and ends).
    pub set_elements: usize,
    /// From the `send` of the batch to the kernel's last answer: the kernel's own work on the
    /// transaction (it processes the batch inside `send`), which no backend can avoid.
    pub kernel: Duration,
    /// The ruleset generation the change made (the batch was checked to start from the one
    /// before it).
    pub generation: u32,
}

/// The object a kernel error belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Object {
    /// The batch as a whole (an error the kernel reports against the batch header, e.g. a
    /// failed commit or out of memory).
    Batch,
    /// `table ip NAME`: `step` is "create", "delete" or "recreate".
    Table {
        name: String,
        step: &'static str,
    },
    /// `table ip6 NAME` of `ipv6: drop` (made, replaced or deleted).
    Table6 {
        name: String,
    },
    Chain {
        name: String,
    },
    Set {
        name: String,
    },
    SetElements {
        set: String,
    },
    /// A rule, or an anonymous set of it: its chain, its position there (from 1), its origin's
    /// file name and line.
    Rule {
        chain: String,
        position: usize,
        origin: Option<(String, u32)>,
    },
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Object::Batch => write!(f, "the batch"),
            Object::Table { name, step } => write!(f, "table ip {name} ({step})"),
            Object::Table6 { name } => write!(f, "table ip6 {name}"),
            Object::Chain { name } => write!(f, "chain {name}"),
            Object::Set { name } => write!(f, "set {name}"),
            Object::SetElements { set } => write!(f, "the elements of set {set}"),
            Object::Rule { chain, position, origin: Some((file, line)) } => {
                write!(f, "rule {file}:{line} (chain {chain}, rule {position})")
            }
            Object::Rule { chain, position, origin: None } => {
                write!(f, "overlayfw's rule {position} of chain {chain}")
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("opening the netfilter netlink socket: {0}")]
    Socket(#[source] io::Error),
    #[error("sending the batch ({bytes} bytes): {source}")]
    Send { bytes: usize, source: io::Error },
    #[error("reading the kernel's answer: {0}")]
    Receive(#[source] io::Error),
    #[error("no answer from the kernel within {0:?}; the outcome is unknown")]
    Timeout(Duration),
    /// The kernel refused the batch (and so applied none of it) because of this object.
    #[error("the kernel refused {object}: {source}; nothing was changed")]
    Refused { object: Object, source: io::Error },
    /// The live table is not one to change (see [`incremental::apply`]); nothing was changed.
    #[error("{0}")]
    Foreign(String),
}

/// Which IR object a message came from, by index (resolved to an [`Object`] only on error).
#[derive(Clone, Copy, Debug)]
enum Source {
    Table(&'static str),
    Chain(usize),
    Set(usize),
    SetElements(usize),
    Rule { chain: usize, rule: usize },
}

/// How long to wait for the kernel's answer. The kernel processes the batch inside `send`, so
/// the answer is normally there when `send` returns.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Replaces `table ip <ruleset.table>` in the calling thread's network namespace in one
/// transaction; see the module documentation.
pub fn apply(ruleset: &Ruleset) -> Result<ApplyReport, NetlinkError> {
    let step = if ruleset.ipv6.managed() {
        ip6::Step::Replace
    } else {
        // Delete the `ip6` table only if it is overlayfw's.
        ip6::step(ruleset, false).map_err(NetlinkError::Receive)?.0.unwrap_or(ip6::Step::Keep)
    };
    apply_with(ruleset, &step)
}

/// [`apply`], doing `step` to `table ip6` in the same batch.
fn apply_with(ruleset: &Ruleset, step: &ip6::Step) -> Result<ApplyReport, NetlinkError> {
    // The batch carries the generation it starts from, so that the one it makes is known
    // exactly (what `diff` compares with to say "unchanged since the last apply").
    let mut tries = 0;
    loop {
        let generation = read::generation().map_err(NetlinkError::Receive)?;
        let (buf, last_seq, origins, mut report) = build(ruleset, generation, step);
        report.bytes = buf.len();
        match transact(&buf, last_seq, report.messages) {
            Ok(kernel) => {
                report.kernel = kernel;
                report.generation = next_generation(generation);
                return Ok(report);
            }
            Err(Failure::Refused(_, errno)) if errno == ERESTART && tries < 10 => tries += 1,
            Err(Failure::Refused(seq, errno)) => {
                return Err(NetlinkError::Refused {
                    object: resolve(ruleset, &origins, seq),
                    source: io::Error::from_raw_os_error(errno),
                });
            }
            Err(Failure::Other(e)) => return Err(e),
        }
    }
}

/// `ERESTART` (Linux): the kernel's answer to a batch sent for another ruleset generation.
pub(crate) const ERESTART: i32 = 85;

/// The generation a commit makes from `generation`: one more, skipping 0.
pub(crate) fn next_generation(generation: u32) -> u32 {
    generation.wrapping_add(1).max(1)
}

/// Why a batch did not go through.
pub(crate) enum Failure {
    /// The kernel refused the message with this sequence number (errno), so the whole batch.
    Refused(u32, i32),
    Other(NetlinkError),
}

/// Sends a batch of `messages` messages in one `send` and waits for the kernel's answer to
/// the last one (`last_seq`). Returns how long the kernel took.
pub(crate) fn transact(buf: &[u8], last_seq: u32, messages: usize) -> Result<Duration, Failure> {
    transact_echo(buf, last_seq, messages, &mut |_, _| {})
}

/// [`transact`], handing each rule the kernel echoes (sequence number, handle) to `echoed`.
pub(crate) fn transact_echo(
    buf: &[u8],
    last_seq: u32,
    messages: usize,
    echoed: &mut dyn FnMut(u32, u64),
) -> Result<Duration, Failure> {
    let socket = Socket::open().map_err(|e| Failure::Other(NetlinkError::Socket(e)))?;
    // Every message can fail at worst; an error ACK (header only, with NETLINK_CAP_ACK) costs
    // well under 1 KiB of receive buffer.
    socket
        .size_buffers(buf.len() + 65536, (messages * 1024).max(1 << 20))
        .map_err(|e| Failure::Other(NetlinkError::Socket(e)))?;
    let sent = std::time::Instant::now();
    socket
        .send(buf)
        .map_err(|source| Failure::Other(NetlinkError::Send { bytes: buf.len(), source }))?;

    let mut datagram = vec![0u8; 1 << 17];
    let mut first_error: Option<(u32, i32)> = None;
    loop {
        let n = match socket.recv(&mut datagram, ANSWER_TIMEOUT) {
            Ok(Some(n)) => n,
            Ok(None) => return Err(Failure::Other(NetlinkError::Timeout(ANSWER_TIMEOUT))),
            Err(e) => return Err(Failure::Other(NetlinkError::Receive(e))),
        };
        let mut done = false;
        for (seq, handle) in batch::echoed_rules(&datagram[..n]) {
            echoed(seq, handle);
        }
        for (seq, errno) in batch::acks(&datagram[..n]) {
            if errno != 0 && first_error.is_none_or(|(s, _)| seq < s) {
                first_error = Some((seq, errno));
            }
            // The last message's answer comes after every error of the batch; an error on the
            // batch header (commit failed, out of memory, a changed generation) may be the
            // only answer.
            done |= seq == last_seq || (seq == Batch::BEGIN_SEQ && errno != 0);
        }
        if done {
            break;
        }
    }
    match first_error {
        None => Ok(sent.elapsed()),
        Some((seq, errno)) => Err(Failure::Refused(seq, errno)),
    }
}

fn resolve(ruleset: &Ruleset, origins: &[(u32, Source)], seq: u32) -> Object {
    // `origins` is sorted by the first sequence number of each object.
    let i = origins.partition_point(|(s, _)| *s <= seq);
    let Some((_, origin)) = i.checked_sub(1).map(|i| origins[i]) else {
        return Object::Batch;
    };
    let name = ruleset.table.clone();
    match origin {
        Source::Table("ip6") => Object::Table6 { name },
        Source::Table(step) => Object::Table { name, step },
        Source::Chain(c) => Object::Chain { name: ruleset.chains[c].name.clone() },
        Source::Set(s) => Object::Set { name: ruleset.sets[s].name.clone() },
        Source::SetElements(s) => Object::SetElements { set: ruleset.sets[s].name.clone() },
        Source::Rule { chain, rule } => Object::Rule {
            chain: ruleset.chains[chain].name.clone(),
            position: rule + 1,
            origin: ruleset.chains[chain].rules[rule]
                .origin
                .as_ref()
                .map(|o| (ruleset.files.name(o.file).to_string(), o.line.get())),
        },
    }
}

/// The whole batch: its bytes, the sequence number of its last object message, which object
/// each sequence number belongs to (by first sequence number), and the counts.
fn build(
    ruleset: &Ruleset,
    generation: u32,
    step: &ip6::Step,
) -> (Vec<u8>, u32, Vec<(u32, Source)>, ApplyReport) {
    let rules: usize = ruleset.chains.iter().map(|c| c.rules.len()).sum();
    // About 520 bytes per rule are used; room for 1 KiB each means the buffer is never moved
    // while it grows (pages never written are never resident).
    let mut b = Batch::at_generation(&ruleset.table, 4096 + rules * 1024, generation);
    let mut origins = Vec::new();
    let mut report = ApplyReport::default();

    origins.push((b.next_seq(), Source::Table("create")));
    b.table(false, None);
    origins.push((b.next_seq(), Source::Table("delete")));
    b.table(true, None);
    origins.push((b.next_seq(), Source::Table("recreate")));
    b.table(false, Some(crate::emit::TABLE_COMMENT));

    let named = lower::named_ids(ruleset);
    for (i, (set, &(_, id))) in ruleset.sets.iter().zip(&named).enumerate() {
        let (key, elems) = match &set.elements {
            SetElements::Addrs(nets) => (Key::Ipv4, lower::addr_elems(nets)),
            SetElements::Ports(ports) => (Key::Service, lower::port_elems(ports)),
        };
        let plan = SetPlan {
            name: set.name.clone(),
            id,
            key,
            data: None,
            anonymous: false,
            interval: true,
            concat: Vec::new(),
            elems,
            dynamic: None,
        };
        origins.push((b.next_seq(), Source::Set(i)));
        let set_seq = b.next_seq();
        b.set(&plan);
        // The element messages follow the set message.
        origins.push((set_seq + 1, Source::SetElements(i)));
        report.sets += 1;
        report.set_elements += plan.elems.len();
    }

    // The meters' dynamic sets, empty: their elements are made by the rules.
    for (m, (_, id)) in ruleset.meters().into_iter().zip(&named[ruleset.sets.len()..]) {
        origins.push((b.next_seq(), Source::Table("meter set")));
        b.set(&lower::meter_set_plan(m, *id));
        report.sets += 1;
    }

    for (i, chain) in ruleset.chains.iter().enumerate() {
        origins.push((b.next_seq(), Source::Chain(i)));
        b.chain(&chain.name, chain.base.as_ref());
        report.chains += 1;
    }

    let mut lowerer = Lowerer::new(ruleset, &named);
    for (c, chain) in ruleset.chains.iter().enumerate() {
        for (r, rule) in chain.rules.iter().enumerate() {
            let plan = lowerer.rule(&chain.name, rule);
            origins.push((b.next_seq(), Source::Rule { chain: c, rule: r }));
            for set in &plan.anon_sets {
                b.set(set);
                report.sets += 1;
                report.set_elements += set.elems.len();
            }
            b.rule(&chain.name, &plan.exprs, plan.comment.as_deref());
            report.rules += 1;
        }
    }
    if *step != ip6::Step::Keep {
        origins.push((b.next_seq(), Source::Table("ip6")));
        ip6::push(&mut b, step);
    }
    let (buf, last_seq) = b.finish();
    // Sequence numbers run from the batch begin (1) to the batch end (last + 1).
    report.messages = (last_seq + 1 - Batch::BEGIN_SEQ + 1) as usize;
    (buf, last_seq, origins, report)
}
