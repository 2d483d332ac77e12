//! The ruleset's commits, watched while the incremental apply through nft runs: nft sends no
//! ruleset generation with its batch, so the kernel cannot refuse a plan made from a read that
//! another process's change has overtaken (netlink can: `NFNL_BATCH_GENID`). Every nf_tables
//! commit sends `NFT_MSG_NEWGEN` (with the committing process's id) to the `NFNLGRP_NFTABLES`
//! multicast group, which `nft monitor` prints as `# new generation N by process PID`; this
//! module joins the group itself (a netlink socket, no libnftnl, no `nft` process printing every
//! rule event) and keeps the generations in order. A generation by anyone but the apply's own
//! `nft -f`, after the read began, means the plan may be stale (`live::refill`).

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SocketFlags, SocketType};

use super::nft::{self, NftError};

/// What the ruleset's events said, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A transaction was committed by this process id (`None`: the message did not say).
    Generation(Option<u32>),
    /// Events were lost (the socket's buffer overflowed): anything may have happened.
    Unknown,
    /// The watch stopped: nothing more will be seen.
    Ended,
}

/// `NFNLGRP_NFTABLES`, the netlink multicast group of nf_tables' events.
const NFNLGRP_NFTABLES: u32 = 7;
/// `NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWGEN`: the message a commit sends.
const NEWGEN: u16 = (10 << 8) | 15;
/// `NFTA_GEN_PROC_PID`: the committing process.
const NFTA_GEN_PROC_PID: u16 = 2;
/// `struct nlmsghdr` and `struct nfgenmsg`.
const NLMSG_HDRLEN: usize = 16;
const NFGENMSG_LEN: usize = 4;

/// The generations in one datagram of netlink messages (other events are skipped).
pub fn events(mut buf: &[u8]) -> Vec<Event> {
    let mut out = Vec::new();
    while buf.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes(buf[0..4].try_into().expect("4 bytes")) as usize;
        let kind = u16::from_ne_bytes(buf[4..6].try_into().expect("2 bytes"));
        if len < NLMSG_HDRLEN || len > buf.len() {
            break;
        }
        if kind == NEWGEN {
            out.push(Event::Generation(gen_pid(&buf[NLMSG_HDRLEN..len])));
        }
        // Messages are 4-byte aligned.
        let next = (len + 3) & !3;
        buf = buf.get(next..).unwrap_or(&[]);
    }
    out
}

/// The committing process in a NEWGEN message's payload (after its header).
fn gen_pid(payload: &[u8]) -> Option<u32> {
    let mut attrs = payload.get(NFGENMSG_LEN..)?;
    while attrs.len() >= 4 {
        let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]) & 0x3fff;
        if len < 4 || len > attrs.len() {
            return None;
        }
        if kind == NFTA_GEN_PROC_PID && len == 8 {
            return Some(u32::from_be_bytes(attrs[4..8].try_into().ok()?));
        }
        attrs = attrs.get((len + 3) & !3..).unwrap_or(&[]);
    }
    None
}

type Shared = Arc<(Mutex<Vec<Event>>, Condvar)>;

/// Subscribed to the ruleset's events of this thread's network namespace from
/// [`Monitor::start`] on; stops when dropped.
pub struct Monitor {
    events: Shared,
    stop: Arc<AtomicBool>,
}

impl Monitor {
    /// Joins the nf_tables events group: no commit after this call goes unseen.
    pub fn start() -> Result<Monitor, NftError> {
        let failed = |e: rustix::io::Errno| NftError::Monitor(format!("cannot be watched: {e}"));
        let socket = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            Some(netlink::NETFILTER),
        )
        .map_err(failed)?;
        rustix::net::bind(&socket, &SocketAddrNetlink::new(0, 1 << (NFNLGRP_NFTABLES - 1)))
            .map_err(failed)?;
        // Every rule event of a large refill comes here too: room for them, as nft monitor
        // makes (root may exceed rmem_max; otherwise the default stays, and an overflow is
        // seen as lost events, which only costs another read).
        let _ = rustix::net::sockopt::set_socket_recv_buffer_size_force(&socket, 16 << 20);
        // The reader wakes this often to see whether it should stop.
        rustix::net::sockopt::set_socket_timeout(
            &socket,
            rustix::net::sockopt::Timeout::Recv,
            Some(Duration::from_millis(50)),
        )
        .map_err(failed)?;
        let events: Shared = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, stopping) = (Arc::clone(&events), Arc::clone(&stop));
        std::thread::spawn(move || read(&socket, &shared, &stopping));
        Ok(Monitor { events, stop })
    }

    /// A position in the events: what came after it is asked with [`Self::changed_since`].
    pub fn mark(&self) -> usize {
        self.events.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether anything was committed (or may have been) since `mark`. `Err`: the watch
    /// stopped, so that can no longer be told.
    pub fn changed_since(&self, mark: usize) -> Result<bool, NftError> {
        let events = self.events.0.lock().unwrap_or_else(|p| p.into_inner());
        if events.contains(&Event::Ended) {
            return Err(NftError::Monitor("stopped".to_string()));
        }
        Ok(events.len() > mark)
    }

    /// Waits for the generation committed by process `ours`, then says whether anything else
    /// was committed (or may have been) between `mark` and it. `Err`: it never came.
    pub fn others_before(&self, mark: usize, ours: u32) -> Result<bool, NftError> {
        let deadline = Instant::now() + nft::timeout().unwrap_or(nft::DEFAULT_TIMEOUT);
        let (list, changed) = &*self.events;
        let mut events = list.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let after = events.get(mark..).unwrap_or(&[]);
            if let Some(i) = after.iter().position(|e| *e == Event::Generation(Some(ours))) {
                return Ok(i > 0);
            }
            if after.contains(&Event::Unknown) {
                return Ok(true);
            }
            if after.contains(&Event::Ended) {
                return Err(NftError::Monitor("stopped".to_string()));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(NftError::Monitor(
                    "did not report the apply's own transaction".to_string(),
                ));
            }
            events =
                changed.wait_timeout(events, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The reader: every datagram's generations, in order, until told to stop.
fn read(socket: &OwnedFd, shared: &Shared, stop: &AtomicBool) {
    let push = |new: &[Event]| {
        if new.is_empty() {
            return;
        }
        let (list, changed) = &**shared;
        list.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(new);
        changed.notify_all();
    };
    let mut buf = vec![0u8; 256 * 1024];
    while !stop.load(Ordering::Relaxed) {
        match rustix::net::recv(socket, &mut buf[..], RecvFlags::empty()) {
            Ok((n, _)) => push(&events(&buf[..n.min(buf.len())])),
            Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::NOBUFS) => push(&[Event::Unknown]),
            Err(_) => break,
        }
    }
    push(&[Event::Ended]);
}

#[cfg(test)]
mod tests {
    use super::{Event, NEWGEN, events};

    /// A netlink message: header (length, type, flags, seq, port) and payload.
    fn message(kind: u16, payload: &[u8]) -> Vec<u8> {
        let len = 16 + payload.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(payload);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(value);
        while a.len() % 4 != 0 {
            a.push(0);
        }
        a
    }

    #[test]
    fn generations_are_read_with_their_process_and_other_events_skipped() {
        // nfgenmsg, then NFTA_GEN_ID (1), NFTA_GEN_PROC_PID (2), NFTA_GEN_PROC_NAME (3).
        let mut newgen = vec![0u8; 4];
        newgen.extend(attr(1, &7u32.to_be_bytes()));
        newgen.extend(attr(2, &24917u32.to_be_bytes()));
        newgen.extend(attr(3, b"nft\0"));
        let mut datagram = message((10 << 8) | 6, &[0; 40]); // NFT_MSG_NEWRULE
        datagram.extend(message(NEWGEN, &newgen));
        datagram.extend(message(NEWGEN, &[0u8; 4]));
        assert_eq!(events(&datagram), [Event::Generation(Some(24917)), Event::Generation(None)]);
        // A truncated message ends the datagram's reading.
        assert_eq!(events(&datagram[..datagram.len() - 3]), [Event::Generation(Some(24917))]);
        assert_eq!(events(&[]), []);
    }
}
