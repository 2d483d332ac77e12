//! Reading overlayfw's table back from the kernel through netlink dumps: the ruleset
//! generation, the table's comment, its chains, each chain's rules (handle, comment, counter,
//! and a fingerprint of what the rule does) and its sets with their elements.
//!
//! A rule's fingerprint is a hash of its comment and of each of its expressions as libnftnl
//! holds it: its kind and its attributes' values (zero counting as unset, as libnftnl prints
//! it; an expression holding expressions by libnftnl's text, `nftnl_expr_snprintf`), counters
//! left out and an anonymous set's kernel name (`__set7`) replaced by a hash of its contents:
//! the same function of the same parts for a rule planned here ([`planned_fingerprint`]), so a
//! live rule and a planned one are equal exactly when they do the same thing and carry the same
//! comment. A chain's rules are parsed while the next chain is dumped.

#![allow(unsafe_code)]

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io;
use std::time::Duration;

use nftnl::nftnl_sys::{self as sys, libc};

use super::batch::Socket;
use super::expr::RawExpr;
use super::lower::{Elem, Key, RulePlan, SetPlan};

/// `NFT_MSG_GETGEN` / `NFT_MSG_NEWGEN`, `NFT_MSG_GETOBJ`, `NFT_MSG_GETFLOWTABLE`
/// (linux/netfilter/nf_tables.h).
const NFT_MSG_GETGEN: u16 = 16;
const NFT_MSG_GETOBJ: u16 = 19;
const NFT_MSG_GETFLOWTABLE: u16 = 23;
/// How long one dump round may wait for the kernel.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Reads of the table are retried while another process changes the ruleset meanwhile.
const READ_TRIES: usize = 20;

/// A rule of the live table.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LiveRule {
    pub handle: u64,
    pub comment: Option<String>,
    /// The first counter's packets and bytes.
    pub counter: Option<(u64, u64)>,
    pub fingerprint: u64,
    /// For a rule of the view the last apply left: a hash of its chain, nft statement and
    /// comment, by which the next apply finds its fingerprint without lowering it again (0:
    /// none).
    #[serde(default)]
    pub key: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LiveChain {
    pub name: String,
    /// `type HOOK PRIORITY POLICY` of a base chain, as numbers (for comparison only).
    pub base: Option<(String, u32, i32, u32)>,
    pub rules: Vec<LiveRule>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LiveSet {
    pub name: String,
    pub anonymous: bool,
    /// Flags, key type and length, data type and length: what the set is.
    pub shape: (u32, u32, u32, u32, u32),
    pub(crate) elems: Vec<Elem>,
}

/// The table as one consistent read: every part from the same ruleset generation.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LiveTable {
    /// The ruleset generation the read saw (the whole namespace's, not only this table's).
    pub genid: u32,
    /// `None`: no such table.
    pub comment: Option<Option<String>>,
    pub flags: u32,
    pub chains: Vec<LiveChain>,
    /// Named sets only, by name order.
    pub sets: Vec<LiveSet>,
    /// Named stateful objects (counters, quotas, limits, ct helpers, …) and flowtables in the
    /// table: overlayfw makes none, so any is a difference.
    pub objects: usize,
}

impl LiveTable {
    pub fn exists(&self) -> bool {
        self.comment.is_some()
    }
}

fn cstring(text: &str) -> CString {
    let end = text.bytes().position(|b| b == 0).unwrap_or(text.len());
    CString::new(&text.as_bytes()[..end]).expect("no NUL left")
}

/// # Safety
/// `p` is NULL or a NUL-terminated string valid for the call.
unsafe fn owned(p: *const c_char) -> Option<String> {
    // SAFETY: the caller's promise.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// The NUL-terminated string TLV of type `ty` in libnftnl userdata (comments).
fn udata_string(udata: &[u8], ty: u8) -> Option<String> {
    let mut rest = udata;
    while rest.len() >= 2 {
        let (t, len) = (rest[0], rest[1] as usize);
        let value = rest.get(2..2 + len)?;
        if t == ty {
            let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
            return Some(String::from_utf8_lossy(&value[..end]).into_owned());
        }
        rest = &rest[2 + len..];
    }
    None
}

/// Whether an nf_tables message of family ip names `table` in its first attribute (type 1:
/// `NFTA_OBJ_TABLE`, `NFTA_FLOWTABLE_TABLE`), read straight from the message.
fn first_string_attr_is(msg: &[u8], family: i32, table: &str) -> bool {
    // nlmsghdr (16 bytes), nfgenmsg (family, version, res_id: 4 bytes), then attributes.
    if msg.len() < 24 || msg[16] != family as u8 {
        return false;
    }
    let mut rest = &msg[20..];
    while rest.len() >= 4 {
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let ty = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            return false;
        }
        if ty == 1 {
            let value = &rest[4..len];
            let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
            return &value[..end] == table.as_bytes();
        }
        rest = &rest[len.next_multiple_of(4).min(rest.len())..];
    }
    false
}

/// One request and its answers: every message of a dump (until NLMSG_DONE), or the one answer
/// of a plain get. `Ok(None)`: the object does not exist (ENOENT).
fn request(
    socket: &Socket,
    family: i32,
    ty: u16,
    flags: u16,
    seq: u32,
    payload: impl FnOnce(*mut libc::nlmsghdr),
) -> io::Result<Option<Vec<Vec<u8>>>> {
    let mut buf = vec![0u8; 8192];
    let ty = ((libc::NFNL_SUBSYS_NFTABLES as u16) << 8) | ty;
    // SAFETY: `buf` is zeroed and large enough for a header and a small payload.
    let nlh = unsafe {
        sys::nftnl_nlmsg_build_hdr(
            buf.as_mut_ptr().cast::<c_char>(),
            ty,
            family as u16,
            flags | libc::NLM_F_ACK as u16,
            seq,
        )
    };
    payload(nlh);
    // SAFETY: libnftnl wrote the header, whose length covers the message.
    let len = unsafe { (*nlh).nlmsg_len } as usize;
    socket.send(&buf[..len])?;
    let dump = flags & libc::NLM_F_DUMP as u16 != 0;
    let mut out = Vec::new();
    let mut datagram = vec![0u8; 1 << 20];
    loop {
        let n = socket
            .recv(&mut datagram, TIMEOUT)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "no answer from the kernel"))?;
        let mut rest = &datagram[..n];
        while rest.len() >= 16 {
            let len = u32::from_ne_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
            let mty = u16::from_ne_bytes([rest[4], rest[5]]);
            let mseq = u32::from_ne_bytes(rest[8..12].try_into().expect("4 bytes"));
            if len < 16 || len > rest.len() {
                return Err(io::Error::other("a truncated netlink message"));
            }
            let msg = &rest[..len];
            rest = &rest[len.next_multiple_of(4).min(rest.len())..];
            if mseq != seq {
                continue;
            }
            match i32::from(mty) {
                libc::NLMSG_DONE => return Ok(Some(out)),
                libc::NLMSG_ERROR => {
                    let errno = -i32::from_ne_bytes(msg[16..20].try_into().expect("4 bytes"));
                    if errno == 0 {
                        // The ACK of a plain get comes after its answer.
                        if !dump {
                            return Ok(Some(out));
                        }
                        continue;
                    }
                    if errno == libc::ENOENT {
                        return Ok(None);
                    }
                    return Err(io::Error::from_raw_os_error(errno));
                }
                _ => out.push(msg.to_vec()),
            }
        }
    }
}

/// Sequence numbers of the reader's requests (the kernel echoes them; only matching answers
/// are read).
struct Seq(u32);

impl Seq {
    fn next(&mut self) -> u32 {
        self.0 += 1;
        self.0
    }
}

/// The ruleset generation of the calling thread's network namespace.
pub fn generation() -> io::Result<u32> {
    let socket = Socket::open()?;
    genid(&socket, &mut Seq(0))
}

/// Whether `table ip NAME` exists: one request, before anything is read of it.
pub fn table_exists(table: &str) -> io::Result<bool> {
    table_exists_in(libc::NFPROTO_IPV4, table)
}

/// Whether `table FAMILY NAME` exists (`NFPROTO_IPV4`, `NFPROTO_IPV6`).
pub(crate) fn table_exists_in(family: i32, table: &str) -> io::Result<bool> {
    let socket = Socket::open()?;
    let name = cstring(table);
    let answer = request(&socket, family, libc::NFT_MSG_GETTABLE as u16, 0, 1, |nlh| {
        // SAFETY: a table object with its name, written into the request, then freed.
        unsafe {
            let t = sys::nftnl_table_alloc();
            sys::nftnl_table_set_str(t, sys::NFTNL_TABLE_NAME as u16, name.as_ptr());
            sys::nftnl_table_nlmsg_build_payload(nlh, t);
            sys::nftnl_table_free(t);
        }
    })?;
    Ok(answer.is_some())
}

/// The calling thread's network namespace (its never-reused cookie) and its ruleset
/// generation.
pub fn namespace_and_generation() -> io::Result<(u64, u32)> {
    let socket = Socket::open()?;
    Ok((socket.netns_cookie()?, genid(&socket, &mut Seq(0))?))
}

fn genid(socket: &Socket, seq: &mut Seq) -> io::Result<u32> {
    let answers = request(socket, libc::NFPROTO_IPV4, NFT_MSG_GETGEN, 0, seq.next(), |_| {})?
        .unwrap_or_default();
    let msg = answers.first().ok_or_else(|| io::Error::other("no generation in the answer"))?;
    // SAFETY: allocation, parse of a complete message we own, read, free.
    unsafe {
        let g = sys::nftnl_gen_alloc();
        if g.is_null() {
            std::process::abort();
        }
        let rc = sys::nftnl_gen_nlmsg_parse(msg.as_ptr().cast::<libc::nlmsghdr>(), g);
        let id = sys::nftnl_gen_get_u32(g, sys::NFTNL_GEN_ID as u16);
        sys::nftnl_gen_free(g);
        if rc < 0 {
            return Err(io::Error::other("an unreadable generation message"));
        }
        Ok(id)
    }
}

/// Reads `table ip NAME` as it is in one generation (retrying while the ruleset changes
/// under the read).
pub fn read_table(table: &str) -> io::Result<LiveTable> {
    read(libc::NFPROTO_IPV4, table, true)
}

/// [`read_table`] of `table ip6 NAME` ([`crate::ip6`]).
pub fn read_table6(table: &str) -> io::Result<LiveTable> {
    read(libc::NFPROTO_IPV6, table, true)
}

/// [`read_table`] without fingerprints (every rule's is 0), for counters only: a tenth of the
/// work per rule.
pub fn read_counters(table: &str) -> io::Result<LiveTable> {
    read(libc::NFPROTO_IPV4, table, false)
}

fn read(family: i32, table: &str, fingerprints: bool) -> io::Result<LiveTable> {
    let socket = Socket::open()?;
    socket.size_buffers(1 << 16, 4 << 20)?;
    let mut seq = Seq(0);
    for _ in 0..READ_TRIES {
        let before = genid(&socket, &mut seq)?;
        let mut live = read_once(&socket, &mut seq, family, table, fingerprints)?;
        if genid(&socket, &mut seq)? == before {
            live.genid = before;
            return Ok(live);
        }
    }
    Err(io::Error::other(format!(
        "the ruleset changed during each of {READ_TRIES} reads of table ip {table}"
    )))
}

fn read_once(
    socket: &Socket,
    seq: &mut Seq,
    family: i32,
    table: &str,
    fingerprints: bool,
) -> io::Result<LiveTable> {
    let name = cstring(table);
    let mut live = LiveTable::default();
    let answer = request(socket, family, libc::NFT_MSG_GETTABLE as u16, 0, seq.next(), |nlh| {
        // SAFETY: a table object with its name, written into the request, then freed.
        unsafe {
            let t = sys::nftnl_table_alloc();
            sys::nftnl_table_set_str(t, sys::NFTNL_TABLE_NAME as u16, name.as_ptr());
            sys::nftnl_table_nlmsg_build_payload(nlh, t);
            sys::nftnl_table_free(t);
        }
    })?;
    let Some(answer) = answer else { return Ok(live) };
    let msg = answer.first().ok_or_else(|| io::Error::other("no table in the answer"))?;
    // SAFETY: parse of a complete message we own into a fresh table, read, free.
    unsafe {
        let t = sys::nftnl_table_alloc();
        if sys::nftnl_table_nlmsg_parse(msg.as_ptr().cast::<libc::nlmsghdr>(), t) < 0 {
            sys::nftnl_table_free(t);
            return Err(io::Error::other("an unreadable table message"));
        }
        live.flags = sys::nftnl_table_get_u32(t, sys::NFTNL_TABLE_FLAGS as u16);
        let mut len = 0u32;
        let u = sys::nftnl_table_get_data(t, sys::NFTNL_TABLE_USERDATA as u16, &raw mut len);
        let comment = (!u.is_null()).then(|| {
            let udata = std::slice::from_raw_parts(u.cast::<u8>(), len as usize);
            udata_string(udata, sys::NFTNL_UDATA_TABLE_COMMENT as u8)
        });
        live.comment = Some(comment.flatten());
        sys::nftnl_table_free(t);
    }

    for ty in [NFT_MSG_GETOBJ, NFT_MSG_GETFLOWTABLE] {
        let dumped = request(socket, family, ty, libc::NLM_F_DUMP as u16, seq.next(), |_| {})?
            .unwrap_or_default();
        live.objects += dumped.iter().filter(|m| first_string_attr_is(m, family, table)).count();
    }

    // Sets first: a rule's fingerprint needs its anonymous sets' contents.
    let mut anon: HashMap<String, u64> = HashMap::new();
    let sets = request(
        socket,
        family,
        libc::NFT_MSG_GETSET as u16,
        libc::NLM_F_DUMP as u16,
        seq.next(),
        |nlh| {
            // SAFETY: a set object naming the table, written into the request, then freed.
            unsafe {
                let s = sys::nftnl_set_alloc();
                sys::nftnl_set_set_str(s, sys::NFTNL_SET_TABLE as u16, name.as_ptr());
                sys::nftnl_set_nlmsg_build_payload(nlh, s);
                sys::nftnl_set_free(s);
            }
        },
    )?
    .unwrap_or_default();
    for msg in &sets {
        let Some(mut set) = parse_set(msg, family, table)? else { continue };
        set.elems = read_elems(socket, seq, family, table, &set.name)?;
        if set.anonymous {
            anon.insert(set.name.clone(), set_fingerprint(set.shape, &set.elems));
        } else {
            live.sets.push(set);
        }
    }
    live.sets.sort_by(|a, b| a.name.cmp(&b.name));

    let chains = request(
        socket,
        family,
        libc::NFT_MSG_GETCHAIN as u16,
        libc::NLM_F_DUMP as u16,
        seq.next(),
        |_| {},
    )?
    .unwrap_or_default();
    for msg in &chains {
        if let Some(chain) = parse_chain(msg, family, table)? {
            live.chains.push(chain);
        }
    }

    // One dump per chain: the kernel walks a dumped chain from its head again for every
    // buffer it fills, and a table-wide dump from the table's first chain (see
    // `layout::chunk`, which keeps chains short for this). A chain is dumped (the kernel's
    // work, on this thread) while the one before it is parsed (libnftnl's, on the others).
    let names: Vec<String> = live.chains.iter().map(|c| c.name.clone()).collect();
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Vec<Vec<u8>>)>(1);
    let anon = &anon;
    let parsed = std::thread::scope(|s| {
        let names = &names;
        let parser = s.spawn(move || {
            let mut out = Vec::new();
            for (i, rules) in rx {
                // Parsed (and fingerprinted) on every
                // core, an equal share of the chain's rules each.
                let per = rules.len().div_ceil(crate::parallel::threads()).max(1);
                let parts = crate::parallel::map(rules.chunks(per).collect(), |part| {
                    let mut text = vec![0u8; 4096];
                    part.iter()
                        .map(|msg| {
                            parse_rule(msg, family, table, anon, fingerprints.then_some(&mut text))
                        })
                        .collect::<io::Result<Vec<_>>>()
                });
                let mut chain = Vec::with_capacity(rules.len());
                for part in parts {
                    chain.extend(
                        part?.into_iter().flatten().filter(|(c, _)| *c == names[i]).map(|(_, r)| r),
                    );
                }
                out.push((i, chain));
            }
            Ok::<_, io::Error>(out)
        });
        let mut dumped = Ok(());
        for (i, chain) in names.iter().enumerate() {
            let chain = cstring(chain);
            let rules = request(
                socket,
                family,
                libc::NFT_MSG_GETRULE as u16,
                libc::NLM_F_DUMP as u16,
                seq.next(),
                |nlh| {
                    // SAFETY: a rule object naming the table and chain, written into the
                    // request.
                    unsafe {
                        let r = sys::nftnl_rule_alloc();
                        sys::nftnl_rule_set_str(r, sys::NFTNL_RULE_TABLE as u16, name.as_ptr());
                        sys::nftnl_rule_set_str(r, sys::NFTNL_RULE_CHAIN as u16, chain.as_ptr());
                        sys::nftnl_rule_nlmsg_build_payload(nlh, r);
                        sys::nftnl_rule_free(r);
                    }
                },
            );
            match rules {
                // The parser stopped (an unreadable rule): its error is the answer.
                Ok(rules) => {
                    if tx.send((i, rules.unwrap_or_default())).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    dumped = Err(e);
                    break;
                }
            }
        }
        drop(tx);
        let parsed = parser.join().expect("rule parser");
        dumped.and(parsed)
    })?;
    for (i, rules) in parsed {
        live.chains[i].rules = rules;
    }
    Ok(live)
}

fn parse_set(msg: &[u8], want: i32, table: &str) -> io::Result<Option<LiveSet>> {
    // SAFETY: parse of a complete message we own into a fresh set; strings copied; freed.
    unsafe {
        let s = sys::nftnl_set_alloc();
        if sys::nftnl_set_nlmsg_parse(msg.as_ptr().cast::<libc::nlmsghdr>(), s) < 0 {
            sys::nftnl_set_free(s);
            return Err(io::Error::other("an unreadable set message"));
        }
        let t = owned(sys::nftnl_set_get_str(s, sys::NFTNL_SET_TABLE as u16));
        let family = sys::nftnl_set_get_u32(s, sys::NFTNL_SET_FAMILY as u16);
        let name = owned(sys::nftnl_set_get_str(s, sys::NFTNL_SET_NAME as u16)).unwrap_or_default();
        let get = |attr: u32| sys::nftnl_set_get_u32(s, attr as u16);
        let flags = get(sys::NFTNL_SET_FLAGS);
        let shape = (
            flags,
            get(sys::NFTNL_SET_KEY_TYPE),
            get(sys::NFTNL_SET_KEY_LEN),
            get(sys::NFTNL_SET_DATA_TYPE),
            get(sys::NFTNL_SET_DATA_LEN),
        );
        sys::nftnl_set_free(s);
        if t.as_deref() != Some(table) || family != want as u32 {
            return Ok(None);
        }
        let anonymous = flags & libc::NFT_SET_ANONYMOUS as u32 != 0;
        Ok(Some(LiveSet { name, anonymous, shape, elems: Vec::new() }))
    }
}

fn read_elems(
    socket: &Socket,
    seq: &mut Seq,
    family: i32,
    table: &str,
    set: &str,
) -> io::Result<Vec<Elem>> {
    let (t, n) = (cstring(table), cstring(set));
    let answers = request(
        socket,
        family,
        libc::NFT_MSG_GETSETELEM as u16,
        libc::NLM_F_DUMP as u16,
        seq.next(),
        |nlh| {
            // SAFETY: a set object naming the table and set, written into the request.
            unsafe {
                let s = sys::nftnl_set_alloc();
                sys::nftnl_set_set_str(s, sys::NFTNL_SET_TABLE as u16, t.as_ptr());
                sys::nftnl_set_set_str(s, sys::NFTNL_SET_NAME as u16, n.as_ptr());
                sys::nftnl_set_elems_nlmsg_build_payload(nlh, s);
                sys::nftnl_set_free(s);
            }
        },
    )?
    .unwrap_or_default();
    let mut elems = Vec::new();
    for msg in &answers {
        // SAFETY: parse of a complete message into a fresh set, elements read through its
        // iterator (valid while the set lives), then freed.
        unsafe {
            let s = sys::nftnl_set_alloc();
            if sys::nftnl_set_elems_nlmsg_parse(msg.as_ptr().cast::<libc::nlmsghdr>(), s) < 0 {
                sys::nftnl_set_free(s);
                return Err(io::Error::other("an unreadable set element message"));
            }
            let iter = sys::nftnl_set_elems_iter_create(s);
            loop {
                let e = sys::nftnl_set_elems_iter_next(iter);
                if e.is_null() {
                    break;
                }
                elems.push(read_elem(e));
            }
            sys::nftnl_set_elems_iter_destroy(iter);
            sys::nftnl_set_free(s);
        }
    }
    elems.sort_by(|a, b| (&a.key, a.end).cmp(&(&b.key, b.end)));
    Ok(elems)
}

/// # Safety
/// `e` is a live element.
unsafe fn read_elem(e: *mut sys::nftnl_set_elem) -> Elem {
    // SAFETY: the caller's promise; data pointers are copied before the element goes.
    unsafe {
        let bytes = |attr: u32| -> Option<Vec<u8>> {
            if !sys::nftnl_set_elem_is_set(e, attr as u16) {
                return None;
            }
            let mut len = 0u32;
            let p = sys::nftnl_set_elem_get(e, attr as u16, &raw mut len);
            (!p.is_null())
                .then(|| std::slice::from_raw_parts(p.cast::<u8>(), len as usize).to_vec())
        };
        let flags = if sys::nftnl_set_elem_is_set(e, sys::NFTNL_SET_ELEM_FLAGS as u16) {
            sys::nftnl_set_elem_get_u32(e, sys::NFTNL_SET_ELEM_FLAGS as u16)
        } else {
            0
        };
        let verdict = sys::nftnl_set_elem_is_set(e, sys::NFTNL_SET_ELEM_VERDICT as u16)
            .then(|| sys::nftnl_set_elem_get_u32(e, sys::NFTNL_SET_ELEM_VERDICT as u16));
        let open = bytes(sys::NFTNL_SET_ELEM_USERDATA).is_some_and(|u| {
            u.len() >= 6
                && u[0] == sys::NFTNL_UDATA_SET_ELEM_FLAGS as u8
                && u32::from_ne_bytes(u[2..6].try_into().expect("4 bytes"))
                    & sys::NFTNL_SET_ELEM_F_INTERVAL_OPEN
                    != 0
        });
        Elem {
            key: bytes(sys::NFTNL_SET_ELEM_KEY).unwrap_or_default(),
            key_end: bytes(sys::NFTNL_SET_ELEM_KEY_END),
            data: if verdict.is_some() { None } else { bytes(sys::NFTNL_SET_ELEM_DATA) },
            verdict,
            end: flags & libc::NFT_SET_ELEM_INTERVAL_END as u32 != 0,
            open,
        }
    }
}

fn parse_chain(msg: &[u8], want: i32, table: &str) -> io::Result<Option<LiveChain>> {
    // SAFETY: parse of a complete message we own into a fresh chain; strings copied; freed.
    unsafe {
        let c = sys::nftnl_chain_alloc();
        if sys::nftnl_chain_nlmsg_parse(msg.as_ptr().cast::<libc::nlmsghdr>(), c) < 0 {
            sys::nftnl_chain_free(c);
            return Err(io::Error::other("an unreadable chain message"));
        }
        let t = owned(sys::nftnl_chain_get_str(c, sys::NFTNL_CHAIN_TABLE as u16));
        let family = sys::nftnl_chain_get_u32(c, sys::NFTNL_CHAIN_FAMILY as u16);
        let name = owned(sys::nftnl_chain_get_str(c, sys::NFTNL_CHAIN_NAME as u16));
        let base = sys::nftnl_chain_is_set(c, sys::NFTNL_CHAIN_HOOKNUM as u16).then(|| {
            (
                owned(sys::nftnl_chain_get_str(c, sys::NFTNL_CHAIN_TYPE as u16))
                    .unwrap_or_default(),
                sys::nftnl_chain_get_u32(c, sys::NFTNL_CHAIN_HOOKNUM as u16),
                sys::nftnl_chain_get_s32(c, sys::NFTNL_CHAIN_PRIO as u16),
                sys::nftnl_chain_get_u32(c, sys::NFTNL_CHAIN_POLICY as u16),
            )
        });
        sys::nftnl_chain_free(c);
        if t.as_deref() != Some(table) || family != want as u32 {
            return Ok(None);
        }
        Ok(Some(LiveChain { name: name.unwrap_or_default(), base, rules: Vec::new() }))
    }
}

/// The attributes of a netlink attribute stream: (type without flags, payload).
fn attrs(mut rest: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let ty = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            return None;
        }
        let value = &rest[4..len];
        rest = &rest[len.next_multiple_of(4).min(rest.len())..];
        Some((ty, value))
    })
}

fn nul_str(value: &[u8]) -> &[u8] {
    &value[..value.iter().position(|&b| b == 0).unwrap_or(value.len())]
}

/// A rule's chain, handle, comment and first counter, read straight from the message's
/// attributes (`NFTA_RULE_*`, `NFTA_LIST_ELEM`, `NFTA_EXPR_*`, `NFTA_COUNTER_*`): what `stats`
/// needs, without libnftnl's parse of every expression.
fn parse_rule_counters(msg: &[u8], family: i32, table: &str) -> Option<(String, LiveRule)> {
    if msg.len() < 20 || msg[16] != family as u8 {
        return None;
    }
    let (mut t, mut chain, mut handle, mut comment, mut counter) = (None, None, 0, None, None);
    for (ty, v) in attrs(&msg[20..]) {
        match ty {
            1 => t = Some(nul_str(v)),
            2 => chain = Some(String::from_utf8_lossy(nul_str(v)).into_owned()),
            3 if v.len() == 8 => handle = u64::from_be_bytes(v.try_into().ok()?),
            4 => {
                for (_, elem) in attrs(v) {
                    let mut name = &[][..];
                    let mut data = &[][..];
                    for (ety, ev) in attrs(elem) {
                        match ety {
                            1 => name = nul_str(ev),
                            2 => data = ev,
                            _ => {}
                        }
                    }
                    if name == b"counter" && counter.is_none() {
                        let (mut bytes, mut packets) = (0, 0);
                        for (cty, cv) in attrs(data) {
                            let n = cv.try_into().map_or(0, u64::from_be_bytes);
                            match cty {
                                1 => bytes = n,
                                2 => packets = n,
                                _ => {}
                            }
                        }
                        counter = Some((packets, bytes));
                    }
                }
            }
            7 => comment = udata_string(v, sys::NFTNL_UDATA_RULE_COMMENT as u8),
            _ => {}
        }
    }
    (t? == table.as_bytes()).then(|| {
        (chain.unwrap_or_default(), LiveRule { handle, comment, counter, fingerprint: 0, key: 0 })
    })
}

fn parse_rule(
    msg: &[u8],
    want: i32,
    table: &str,
    anon: &HashMap<String, u64>,
    mut text: Option<&mut Vec<u8>>,
) -> io::Result<Option<(String, LiveRule)>> {
    if text.is_none() {
        return Ok(parse_rule_counters(msg, want, table));
    }
    // SAFETY: parse of a complete message we own into a fresh rule; its expressions read
    // through an iterator while the rule lives; strings copied; freed.
    unsafe {
        let r = sys::nftnl_rule_alloc();
        if sys::nftnl_rule_nlmsg_parse(msg.as_ptr().cast::<libc::nlmsghdr>(), r) < 0 {
            sys::nftnl_rule_free(r);
            return Err(io::Error::other("an unreadable rule message"));
        }
        let t = owned(sys::nftnl_rule_get_str(r, sys::NFTNL_RULE_TABLE as u16));
        let chain = owned(sys::nftnl_rule_get_str(r, sys::NFTNL_RULE_CHAIN as u16));
        let family = sys::nftnl_rule_get_u32(r, sys::NFTNL_RULE_FAMILY as u16);
        let handle = sys::nftnl_rule_get_u64(r, sys::NFTNL_RULE_HANDLE as u16);
        let mut len = 0u32;
        let u = sys::nftnl_rule_get_data(r, sys::NFTNL_RULE_USERDATA as u16, &raw mut len);
        let comment = if u.is_null() {
            None
        } else {
            let udata = std::slice::from_raw_parts(u.cast::<u8>(), len as usize);
            udata_string(udata, sys::NFTNL_UDATA_RULE_COMMENT as u8)
        };
        let mut h = Fingerprint::new(comment.as_deref());
        let mut counter = None;
        let iter = sys::nftnl_expr_iter_create(r);
        loop {
            let e = sys::nftnl_expr_iter_next(iter);
            if e.is_null() {
                break;
            }
            let kind = owned(sys::nftnl_expr_get_str(e, sys::NFTNL_EXPR_NAME as u16));
            if kind.as_deref() == Some("counter") {
                if counter.is_none() {
                    counter = Some((
                        sys::nftnl_expr_get_u64(e, sys::NFTNL_EXPR_CTR_PACKETS as u16),
                        sys::nftnl_expr_get_u64(e, sys::NFTNL_EXPR_CTR_BYTES as u16),
                    ));
                }
                h.counter();
                continue;
            }
            let Some(text) = text.as_deref_mut() else { continue };
            let set =
                lookup_set(e, kind.as_deref()).map(|name| anon.get(&name).copied().ok_or(name));
            h.expr(e, set, text);
        }
        sys::nftnl_expr_iter_destroy(iter);
        sys::nftnl_rule_free(r);
        if t.as_deref() != Some(table) || family != want as u32 {
            return Ok(None);
        }
        // A fingerprinted rule is compared by its fingerprint, which holds the comment.
        let (fingerprint, comment) = if text.is_some() { (h.finish(), None) } else { (0, comment) };
        let rule = LiveRule { handle, comment, counter, fingerprint, key: 0 };
        Ok(Some((chain.unwrap_or_default(), rule)))
    }
}

/// The set a lookup or dynset expression names.
///
/// # Safety
/// `e` is a live expression.
unsafe fn lookup_set(e: *mut sys::nftnl_expr, kind: Option<&str>) -> Option<String> {
    let attr = match kind? {
        "lookup" => sys::NFTNL_EXPR_LOOKUP_SET,
        "dynset" => sys::NFTNL_EXPR_DYNSET_SET_NAME,
        _ => return None,
    };
    // SAFETY: the caller's promise.
    unsafe { owned(sys::nftnl_expr_get_str(e, attr as u16)) }
}

/// The hash a rule is compared by (see the module documentation).
struct Fingerprint(Collect);

/// What a rule is hashed by, collected and hashed at once: one hash of a rule's bytes costs
/// less than one per attribute.
struct Collect(Vec<u8>);

impl Hasher for Collect {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn finish(&self) -> u64 {
        let mut h = DefaultHasher::new();
        h.write(&self.0);
        h.finish()
    }
}

impl Fingerprint {
    fn new(comment: Option<&str>) -> Fingerprint {
        let mut h = Collect(Vec::with_capacity(256));
        comment.hash(&mut h);
        Fingerprint(h)
    }

    fn counter(&mut self) {
        "counter".hash(&mut self.0);
    }

    /// One expression: its attributes (or, holding expressions, libnftnl's text for it), with a
    /// set lookup's anonymous set (`Ok`: its contents' hash) in place of the set's name, which
    /// the kernel picks.
    ///
    /// # Safety
    /// `e` is a live expression.
    unsafe fn expr(
        &mut self,
        e: *mut sys::nftnl_expr,
        set: Option<Result<u64, String>>,
        text: &mut Vec<u8>,
    ) {
        // SAFETY: the caller's promise.
        let kind = unsafe { sys::nftnl_expr_get_str(e, sys::NFTNL_EXPR_NAME as u16) };
        // SAFETY: libnftnl's name of a live expression: a NUL-terminated string.
        let kind = (!kind.is_null()).then(|| unsafe { CStr::from_ptr(kind) }.to_bytes());
        // Its attributes as libnftnl holds them: the same values printed, without printing them
        // (printing was most of a read's time). An expression holding expressions (dynset,
        // inner) holds pointers, which only its text says the same of.
        if !matches!(kind, Some(b"dynset" | b"inner") | None) {
            // A quota's consumed bytes are its state, not what the rule says: an apply keeps
            // a rule whose quota has been spending (skipped as the set id below).
            let (set_attr, set_id) = match kind {
                Some(b"lookup") => (
                    Some(sys::NFTNL_EXPR_LOOKUP_SET as u16),
                    Some(sys::NFTNL_EXPR_LOOKUP_SET_ID as u16),
                ),
                Some(b"quota") => (None, Some(sys::NFTNL_EXPR_QUOTA_CONSUMED as u16)),
                _ => (None, None),
            };
            kind.hash(&mut self.0);
            // The set's id only names a set made in the same batch: the kernel lists none.
            // libnftnl (1.2) numbers an expression's attributes from 1 to at most 9.
            for attr in (1..16u16).filter(|&a| Some(a) != set_id) {
                // SAFETY: the caller's promise; a set attribute's data lives with `e`.
                unsafe {
                    if !sys::nftnl_expr_is_set(e, attr) {
                        continue;
                    }
                    if let (Some(a), Some(Ok(content))) = (set_attr, &set)
                        && a == attr
                    {
                        attr.hash(&mut self.0);
                        content.hash(&mut self.0);
                        continue;
                    }
                    let mut len = 0u32;
                    let data = sys::nftnl_expr_get(e, attr, &raw mut len);
                    if data.is_null() {
                        continue;
                    }
                    let bytes = std::slice::from_raw_parts(data.cast::<u8>(), len as usize);
                    // The kernel adds NFT_QUOTA_F_DEPLETED (2) to a spent quota's flags.
                    let quota_flags;
                    let bytes = if kind == Some(b"quota")
                        && attr == sys::NFTNL_EXPR_QUOTA_FLAGS as u16
                        && let Ok(b) = <[u8; 4]>::try_from(bytes)
                    {
                        quota_flags = (u32::from_ne_bytes(b) & !2).to_ne_bytes();
                        &quota_flags[..]
                    } else {
                        bytes
                    };
                    // Zero is what an attribute the kernel fills in but a planned expression
                    // leaves unset (a bitwise's `bool` operation) prints as, and counts as.
                    if bytes.iter().any(|&b| b != 0) {
                        attr.hash(&mut self.0);
                        bytes.hash(&mut self.0);
                    }
                }
            }
            return;
        }
        loop {
            // SAFETY: the caller's promise; `text` is writable for its length.
            let n = unsafe {
                sys::nftnl_expr_snprintf(
                    text.as_mut_ptr().cast::<c_char>(),
                    text.len(),
                    e,
                    sys::NFTNL_OUTPUT_DEFAULT,
                    0,
                )
            };
            if n < 0 {
                "unprintable".hash(&mut self.0);
                return;
            }
            if (n as usize) < text.len() {
                let mut printed = &text[..n as usize];
                let replaced;
                if let Some(Ok(content)) = &set {
                    let s = String::from_utf8_lossy(printed);
                    replaced = anon_name_replaced(&s, *content);
                    printed = replaced.as_bytes();
                }
                printed.hash(&mut self.0);
                return;
            }
            text.resize(n as usize + 1, 0);
        }
    }

    fn finish(self) -> u64 {
        self.0.finish()
    }
}

/// `… set __set7 …` with the anonymous set's name (`__set…` or `__map…`) replaced by its
/// contents' hash.
fn anon_name_replaced(printed: &str, content: u64) -> String {
    printed
        .split(' ')
        .map(|w| {
            if (w.starts_with("__set") || w.starts_with("__map")) && w.len() > 5 {
                format!("{{{content:016x}}}")
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The hash of a set's shape and elements (sorted), the same for a planned set and a live one.
fn set_fingerprint(shape: (u32, u32, u32, u32, u32), elems: &[Elem]) -> u64 {
    let mut h = DefaultHasher::new();
    // The anonymous and constant flags and the element count hint are the kernel's business.
    let mask = !(libc::NFT_SET_ANONYMOUS | libc::NFT_SET_CONSTANT) as u32;
    (shape.0 & mask, shape.1, shape.2, shape.3, shape.4).hash(&mut h);
    for e in elems {
        (&e.key, &e.key_end, &e.data, e.verdict, e.end, e.open).hash(&mut h);
    }
    h.finish()
}

/// What a planned set looks like when read back: its flags, key and data as the kernel has
/// them.
pub(crate) fn planned_shape(plan: &SetPlan) -> (u32, u32, u32, u32, u32) {
    let (dt, dl) = plan.data.as_ref().map_or((0, 0), |d: &Key| (d.type_id(), d.len()));
    (super::batch::set_flags(plan), plan.key.type_id(), plan.key.len(), dt, dl)
}

/// Sorted as [`read_elems`] sorts the kernel's.
pub(crate) fn sorted_elems(elems: &[Elem]) -> Vec<Elem> {
    let mut v = elems.to_vec();
    v.sort_by(|a, b| (&a.key, a.end).cmp(&(&b.key, b.end)));
    v
}

/// The fingerprint of a planned rule, equal to [`LiveRule::fingerprint`] of the same rule
/// once loaded.
pub(crate) fn planned_fingerprint(plan: &RulePlan, text: &mut Vec<u8>) -> u64 {
    let mut h = Fingerprint::new(plan.comment.as_deref());
    let mut anon = plan.anon_sets.iter();
    for expr in &plan.exprs {
        if matches!(expr, super::lower::Expr::Counter) {
            h.counter();
            continue;
        }
        let set = match expr {
            super::lower::Expr::Lookup { set, .. } if set.name.starts_with("__") => {
                anon.next().map(|s| Ok(set_fingerprint(planned_shape(s), &sorted_elems(&s.elems))))
            }
            _ => None,
        };
        let raw: RawExpr = expr.build_as_listed();
        // SAFETY: `raw` is a live expression we own until it drops.
        unsafe { h.expr(raw.as_ptr(), set, text) };
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::netlink::lower::{CmpOp, Expr};

    fn fingerprint(exprs: &[Expr]) -> u64 {
        let mut h = Fingerprint::new(Some("f #1"));
        let mut text = vec![0u8; 4096];
        for e in exprs {
            let raw = e.build_as_listed();
            // SAFETY: `raw` lives until the end of the statement.
            unsafe { h.expr(raw.as_ptr(), None, &mut text) };
        }
        h.finish()
    }

    #[test]
    fn a_fingerprint_tells_every_attribute_and_the_expression_kind_apart() {
        let cmp = |op, v: &[u8]| Expr::Cmp(op, v.to_vec());
        let a = fingerprint(&[cmp(CmpOp::Eq, &[0, 80])]);
        assert_eq!(a, fingerprint(&[cmp(CmpOp::Eq, &[0, 80])]));
        assert_ne!(a, fingerprint(&[cmp(CmpOp::Eq, &[0, 81])]));
        assert_ne!(a, fingerprint(&[cmp(CmpOp::Neq, &[0, 80])]));
        assert_ne!(a, fingerprint(&[cmp(CmpOp::Eq, &[0, 80]), Expr::Counter]));
        let masq = fingerprint(&[Expr::Masq(Default::default())]);
        assert_ne!(masq, fingerprint(&[Expr::Redir(Default::default())]));
    }

    #[test]
    fn a_comment_is_read_from_userdata() {
        let mut u = vec![0u8, 4, b'a', b'b', b'c', 0];
        assert_eq!(udata_string(&u, 0).as_deref(), Some("abc"));
        assert_eq!(udata_string(&u, 1), None);
        u.truncate(4);
        assert_eq!(udata_string(&u, 0), None, "a cut TLV is not read");
    }

    #[test]
    fn an_anonymous_set_name_is_replaced_by_its_contents() {
        let s = anon_name_replaced("reg 1 set __set12 dreg 0", 0xab);
        assert_eq!(s, "reg 1 set {00000000000000ab} dreg 0");
        assert_eq!(anon_name_replaced("reg 1 set __set%d", 0xab), s.replace(" dreg 0", ""));
        assert_eq!(anon_name_replaced("reg 1 set blocked", 1), "reg 1 set blocked");
    }
}
