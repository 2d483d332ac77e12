//! `nft monitor` in the background, for the incremental apply through nft: nft sends no ruleset
//! generation with its batch, so the kernel cannot refuse a plan made from a read that another
//! process's change has overtaken (netlink can: `NFNL_BATCH_GENID`). The monitor prints every
//! committed transaction's `# new generation N by process PID`; a generation by anyone but the
//! apply's own `nft -f`, after the read began, means the plan may be stale
//! (`live::refill`).

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::nft::{self, NftError};

/// What the monitor reported, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A transaction was committed by this process id (`None`: nft did not say).
    Generation(Option<u32>),
    /// Events were lost (nft's `# ERROR: …`): anything may have happened.
    Unknown,
    /// The monitor stopped: nothing more will be seen.
    Ended,
}

/// Reads one line of `nft monitor`'s output: only generations and errors matter.
pub fn event(line: &str) -> Option<Event> {
    if let Some(rest) = line.strip_prefix("# new generation ") {
        let pid = rest
            .split_once(" by process ")
            .and_then(|(_, p)| p.split_whitespace().next())
            .and_then(|p| p.parse().ok());
        return Some(Event::Generation(pid));
    }
    line.starts_with("# ERROR").then_some(Event::Unknown)
}

type Shared = Arc<(Mutex<Vec<Event>>, Condvar)>;

/// A running `nft monitor`, subscribed to the ruleset's events before [`Monitor::start`]
/// returns; stopped when dropped.
pub struct Monitor {
    child: Child,
    events: Shared,
}

/// `NFNLGRP_NFTABLES`, the netlink multicast group of nf_tables' events.
const NFNLGRP_NFTABLES: u32 = 7;
/// `NETLINK_NETFILTER`.
const NETLINK_NETFILTER: &str = "12";

impl Monitor {
    /// Starts `nft monitor` in this thread's network namespace and waits until its socket has
    /// joined the events group, so that no commit after this call goes unseen.
    pub fn start() -> Result<Monitor, NftError> {
        use std::os::unix::process::CommandExt as _;
        let mut command = Command::new("nft");
        command
            .arg("monitor")
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        // A killed apply runs no `Drop`: the kernel stops the monitor when its parent thread
        // ends.
        let parent = rustix::process::getpid();
        #[allow(unsafe_code)]
        // SAFETY: between fork and exec the closure makes only system calls (prctl, getppid),
        // which are async-signal-safe, and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                rustix::process::set_parent_process_death_signal(Some(
                    rustix::process::Signal::KILL,
                ))?;
                // The apply ended before that took effect: nothing would ever stop us.
                if rustix::process::getppid() != Some(parent) {
                    return Err(rustix::io::Errno::SRCH.into());
                }
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(NftError::Spawn)?;
        let out = child.stdout.take().expect("stdout is piped");
        let events: Shared = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let shared = Arc::clone(&events);
        std::thread::spawn(move || {
            let push = |e: Event| {
                let (list, changed) = &*shared;
                list.lock().unwrap_or_else(|p| p.into_inner()).push(e);
                changed.notify_all();
            };
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(e) = event(&line) {
                    push(e);
                }
            }
            push(Event::Ended);
        });
        let monitor = Monitor { child, events };
        let pid = monitor.child.id();
        let deadline = Instant::now() + nft::timeout().unwrap_or(nft::DEFAULT_TIMEOUT);
        let mut pause = Duration::from_millis(1);
        // No line says the monitor is listening; its socket in the kernel's table does.
        while !subscribed(pid) {
            if Instant::now() >= deadline || monitor.events_now().contains(&Event::Ended) {
                return Err(NftError::Monitor(
                    "did not start listening to the ruleset's changes".to_string(),
                ));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
        Ok(monitor)
    }

    fn events_now(&self) -> Vec<Event> {
        self.events.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A position in the events: what came after it is asked with [`Self::changed_since`].
    pub fn mark(&self) -> usize {
        self.events.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether anything was committed (or may have been) since `mark`. `Err`: the monitor
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
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether process `pid` has a netfilter netlink socket in the nf_tables events group, by
/// `/proc/thread-self/net/netlink` (this thread's namespace: `sk Eth Pid Groups …`, the first
/// 32 groups as a hex mask). A process's first netlink socket gets its process id as port id.
fn subscribed(pid: u32) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/thread-self/net/netlink") else {
        return false;
    };
    table.lines().skip(1).any(|l| in_group(l, pid))
}

fn in_group(line: &str, pid: u32) -> bool {
    let f: Vec<&str> = line.split_whitespace().collect();
    let [_, eth, port, groups, ..] = f[..] else { return false };
    eth == NETLINK_NETFILTER
        && port.parse() == Ok(pid)
        && u32::from_str_radix(groups, 16).is_ok_and(|g| g & (1 << (NFNLGRP_NFTABLES - 1)) != 0)
}

#[cfg(test)]
mod tests {
    use super::{Event, event, in_group};

    #[test]
    fn generations_and_lost_events_are_read_from_the_monitors_lines() {
        assert_eq!(
            event("# new generation 3 by process 24917 (nft)"),
            Some(Event::Generation(Some(24917)))
        );
        assert_eq!(event("# new generation 3"), Some(Event::Generation(None)));
        assert_eq!(event("# ERROR: We lost some netlink events!"), Some(Event::Unknown));
        assert_eq!(event("add rule ip t c counter packets 0 bytes 0"), None);
        assert_eq!(event("add table ip x"), None);
    }

    #[test]
    fn the_monitors_socket_is_found_by_process_and_group() {
        let line = "00000000a2475948 12  1388       00000140 0        0        0     2        0        10240005";
        assert!(in_group(line, 1388));
        assert!(!in_group(line, 1389));
        // Another protocol, or the group not joined.
        assert!(!in_group(&line.replace(" 12 ", " 0 "), 1388));
        assert!(!in_group(&line.replace("00000140", "00000100"), 1388));
        assert!(!in_group("sk Eth Pid Groups", 1388));
    }
}
