//! Reading overlayfw's table back from the kernel through netlink dumps: the ruleset
//! generation, the table's comment, its chains, each chain's rules (handle, comment, counter,
//! and a fingerprint of what the rule does) and its sets with their elements.
//!
//! A rule's fingerprint is a hash of its comment and of each of its expressions as netlink
//! carries it: its name and its attributes by type (the kernel lists them in an order of its
//! own), all-zero values counting as unset, a value's or verdict's nested attributes without
//! the nested flag, counters and a quota's spending left out, and an anonymous set's kernel
//! name (`__set7`) replaced by a hash of its contents (see [`Fingerprint::expr`]). A live rule
//! is fingerprinted straight from the dump's attributes, without libnftnl's parse of it; a
//! planned one ([`planned_fingerprint`]) from the attributes libnftnl writes for each of its
//! expressions as the kernel lists it back: the same function of the same parts, so a live
//! rule and a planned one are equal exactly when they do the same thing and carry the same
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
use super::lower::{Elem, Expr, Key, RulePlan, SetPlan};

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
    udata_bytes(udata, ty).map(|b| String::from_utf8_lossy(b).into_owned())
}

/// [`udata_string`]'s bytes, up to its NUL.
fn udata_bytes(udata: &[u8], ty: u8) -> Option<&[u8]> {
    let mut rest = udata;
    while rest.len() >= 2 {
        let (t, len) = (rest[0], rest[1] as usize);
        let value = rest.get(2..2 + len)?;
        if t == ty {
            return Some(nul_str(value));
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
                let chain = &names[i];
                let parts = crate::parallel::map(rules.chunks(per).collect(), |part| {
                    let mut buf = Vec::with_capacity(512);
                    part.iter()
                        .filter_map(|msg| {
                            let fingerprint = fingerprints.then_some(&mut buf);
                            parse_rule(msg, family, table, chain, anon, fingerprint)
                        })
                        .collect::<Vec<_>>()
                });
                let mut chain = Vec::with_capacity(rules.len());
                for part in parts {
                    chain.extend(part);
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

/// A rule of `table`'s chain `chain`, read straight from its message's attributes
/// (`NFTA_RULE_*`; each `NFTA_LIST_ELEM` of its expressions, `NFTA_EXPR_NAME` and
/// `NFTA_EXPR_DATA`; `NFTA_COUNTER_*`): its handle, first counter and, given a buffer to
/// collect in, its fingerprint; without one, its comment (what `stats` needs). `None`: a rule
/// of another family, table or chain.
fn parse_rule(
    msg: &[u8],
    family: i32,
    table: &str,
    chain: &str,
    anon: &HashMap<String, u64>,
    fingerprint: Option<&mut Vec<u8>>,
) -> Option<LiveRule> {
    if msg.len() < 20 || msg[16] != family as u8 {
        return None;
    }
    let (mut t, mut c, mut handle, mut comment, mut exprs) = (None, None, 0, None, &[][..]);
    for (ty, v) in attrs(&msg[20..]) {
        match ty {
            1 => t = Some(nul_str(v)),
            2 => c = Some(nul_str(v)),
            3 if v.len() == 8 => handle = u64::from_be_bytes(v.try_into().ok()?),
            4 => exprs = v,
            7 => comment = udata_bytes(v, sys::NFTNL_UDATA_RULE_COMMENT as u8),
            _ => {}
        }
    }
    if t? != table.as_bytes() || c? != chain.as_bytes() {
        return None;
    }
    let mut counter = None;
    let mut h = fingerprint.map(|buf| Fingerprint::new(comment, buf));
    let anon = |name: &[u8]| std::str::from_utf8(name).ok().and_then(|n| anon.get(n).copied());
    for (_, elem) in attrs(exprs) {
        let (name, data) = expr_parts(elem);
        if name == b"counter" && counter.is_none() {
            let (mut bytes, mut packets) = (0, 0);
            for (ty, v) in attrs(data) {
                let n = v.try_into().map_or(0, u64::from_be_bytes);
                match ty {
                    1 => bytes = n,
                    2 => packets = n,
                    _ => {}
                }
            }
            counter = Some((packets, bytes));
        }
        if let Some(h) = &mut h {
            h.expr(name, data, &anon, false);
        }
    }
    // A fingerprinted rule is compared by its fingerprint, which holds the comment.
    Some(match h {
        Some(h) => LiveRule { handle, comment: None, counter, fingerprint: h.finish(), key: 0 },
        None => {
            let comment = comment.map(|c| String::from_utf8_lossy(c).into_owned());
            LiveRule { handle, comment, counter, fingerprint: 0, key: 0 }
        }
    })
}

/// An expression's name and data (`NFTA_EXPR_NAME`, `NFTA_EXPR_DATA`) in its attributes.
fn expr_parts(attributes: &[u8]) -> (&[u8], &[u8]) {
    let (mut name, mut data) = (&[][..], &[][..]);
    for (ty, v) in attrs(attributes) {
        match ty {
            1 => name = nul_str(v),
            2 => data = v,
            _ => {}
        }
    }
    (name, data)
}

/// `NFTA_LOOKUP_SET`, `NFTA_DYNSET_SET_NAME`: the set a lookup or dynset names.
const SET_NAME: u16 = 1;
/// `NFTA_LOOKUP_SET_ID`, `NFTA_DYNSET_SET_ID`: a set made in the same batch (never listed).
const LOOKUP_SET_ID: u16 = 4;
const DYNSET_SET_ID: u16 = 2;
/// `NFTA_DYNSET_EXPR`, `NFTA_DYNSET_EXPRESSIONS`: a dynset's per-element statements.
const DYNSET_EXPR: u16 = 7;
const DYNSET_EXPRESSIONS: u16 = 10;
/// Attributes holding a value or verdict (`nft_data`): `NFTA_CMP_DATA`,
/// `NFTA_IMMEDIATE_DATA`, `NFTA_BITWISE_MASK`, `_XOR`, `_DATA`, `NFTA_RANGE_FROM_DATA`,
/// `_TO_DATA`; in one, `NFTA_DATA_VERDICT`.
const CMP_DATA: u16 = 3;
const IMMEDIATE_DATA: u16 = 2;
const BITWISE_MASK: u16 = 4;
const BITWISE_XOR: u16 = 5;
const BITWISE_DATA: u16 = 7;
const RANGE_FROM_DATA: u16 = 3;
const RANGE_TO_DATA: u16 = 4;
const DATA_VERDICT: u16 = 2;
/// `NFTA_QUOTA_FLAGS`, `NFTA_QUOTA_CONSUMED`.
const QUOTA_FLAGS: u16 = 2;
const QUOTA_CONSUMED: u16 = 4;
/// Attributes of one expression a fingerprint sorts (the kernel's expressions have at most
/// 12); an expression with more is hashed as it comes.
const MAX_ATTRS: usize = 24;

/// The hash a rule is compared by (see the module documentation).
struct Fingerprint<'b>(Collect<'b>);

/// What a rule is hashed by, collected and hashed at once: one hash of a rule's bytes costs
/// less than one per attribute. The buffer is the caller's, reused from rule to rule.
struct Collect<'b>(&'b mut Vec<u8>);

impl Hasher for Collect<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn finish(&self) -> u64 {
        let mut h = DefaultHasher::new();
        h.write(self.0);
        h.finish()
    }
}

impl<'b> Fingerprint<'b> {
    fn new(comment: Option<&[u8]>, buf: &'b mut Vec<u8>) -> Fingerprint<'b> {
        buf.clear();
        let mut h = Collect(buf);
        comment.hash(&mut h);
        Fingerprint(h)
    }

    /// One expression by its name and its data's attributes, in the order of their types: the
    /// kernel lists them in an order of its own, libnftnl builds them in its. Left out: an
    /// attribute whose value is all zero bytes (what the kernel fills in where a planned
    /// expression leaves it unset, a bitwise's `bool` operation; and the padding before a
    /// 64-bit value), a counter's values, a quota's consumed bytes and the depleted flag the
    /// kernel adds (state, not what the rule says), a set's id (only a set made in the same
    /// batch has one; the kernel lists none). A lookup's or dynset's set that `anon` knows (an
    /// anonymous set, named by the kernel) counts by its contents' hash instead of its name. A
    /// dynset's statements count as expressions, once (`inner`: this is one).
    fn expr(&mut self, name: &[u8], data: &[u8], anon: &dyn Fn(&[u8]) -> Option<u64>, inner: bool) {
        name.hash(&mut self.0);
        if name == b"counter" {
            return;
        }
        let mut sorted = [(0u16, &[][..]); MAX_ATTRS];
        let mut n = 0;
        for attr in attrs(data) {
            let Some(slot) = sorted.get_mut(n) else {
                data.hash(&mut self.0);
                return;
            };
            *slot = attr;
            n += 1;
        }
        let sorted = &mut sorted[..n];
        sorted.sort_unstable();
        for &(ty, v) in sorted.iter() {
            let quota_flags;
            let v = match (name, ty) {
                (b"lookup", LOOKUP_SET_ID) | (b"dynset", DYNSET_SET_ID) => continue,
                (b"quota", QUOTA_CONSUMED) => continue,
                (b"lookup" | b"dynset", SET_NAME) => match anon(nul_str(v)) {
                    Some(content) => {
                        (ty, content).hash(&mut self.0);
                        continue;
                    }
                    None => v,
                },
                (b"quota", QUOTA_FLAGS) => match <[u8; 4]>::try_from(v) {
                    Ok(b) => {
                        quota_flags = (u32::from_be_bytes(b) & !NFT_QUOTA_F_DEPLETED).to_be_bytes();
                        &quota_flags[..]
                    }
                    Err(_) => v,
                },
                (b"cmp", CMP_DATA)
                | (b"immediate", IMMEDIATE_DATA)
                | (b"bitwise", BITWISE_MASK | BITWISE_XOR | BITWISE_DATA)
                | (b"range", RANGE_FROM_DATA | RANGE_TO_DATA) => {
                    ty.hash(&mut self.0);
                    self.data(v);
                    continue;
                }
                (b"dynset", DYNSET_EXPR) if !inner => {
                    ty.hash(&mut self.0);
                    let (name, data) = expr_parts(v);
                    self.expr(name, data, anon, true);
                    continue;
                }
                (b"dynset", DYNSET_EXPRESSIONS) if !inner => {
                    ty.hash(&mut self.0);
                    for (_, elem) in attrs(v) {
                        let (name, data) = expr_parts(elem);
                        self.expr(name, data, anon, true);
                    }
                    continue;
                }
                _ => v,
            };
            if v.iter().any(|&b| b != 0) {
                ty.hash(&mut self.0);
                v.hash(&mut self.0);
            }
        }
    }

    /// A value or verdict (`NFTA_DATA_VALUE`; `NFTA_DATA_VERDICT` with its code and chain) by
    /// its attributes' types and values: the kernel marks the verdict's attribute nested
    /// (`NLA_F_NESTED`), libnftnl does not.
    fn data(&mut self, v: &[u8]) {
        for (ty, v) in attrs(v) {
            ty.hash(&mut self.0);
            if ty == DATA_VERDICT {
                for attr in attrs(v) {
                    attr.hash(&mut self.0);
                }
            } else {
                v.hash(&mut self.0);
            }
        }
    }

    fn finish(self) -> u64 {
        self.0.finish()
    }
}

/// `NFT_QUOTA_F_DEPLETED`: the kernel's mark on a spent quota.
const NFT_QUOTA_F_DEPLETED: u32 = 2;

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

/// Scratch space of [`planned_fingerprint`]: a netlink message for one expression and the
/// bytes a fingerprint collects, reused from rule to rule.
pub(crate) struct Scratch {
    msg: Vec<u8>,
    collect: Vec<u8>,
}

/// Room for one expression's attributes: an attribute's length is 16 bits.
const EXPR_MSG_MAX: usize = u16::MAX as usize + 4096;

impl Scratch {
    pub(crate) fn new() -> Scratch {
        Scratch { msg: vec![0; EXPR_MSG_MAX], collect: Vec::with_capacity(512) }
    }
}

/// The fingerprint of a planned rule, equal to [`LiveRule::fingerprint`] of the same rule
/// once loaded: each expression as the kernel lists it back ([`Expr::build_as_listed`]),
/// written by libnftnl as netlink attributes (as the batch sends it) and hashed as a listed
/// one is.
pub(crate) fn planned_fingerprint(plan: &RulePlan, scratch: &mut Scratch) -> u64 {
    let Scratch { msg, collect } = scratch;
    let mut h = Fingerprint::new(plan.comment.as_deref().map(str::as_bytes), collect);
    let mut anon = plan.anon_sets.iter();
    for expr in &plan.exprs {
        if matches!(expr, Expr::Counter) {
            h.expr(b"counter", &[], &|_| None, false);
            continue;
        }
        let set = match expr {
            Expr::Lookup { set, .. } if set.name.starts_with("__") => {
                anon.next().map(|s| set_fingerprint(planned_shape(s), &sorted_elems(&s.elems)))
            }
            _ => None,
        };
        let raw: RawExpr = expr.build_as_listed();
        let (name, data) = expr_parts(built(&raw, msg));
        h.expr(name, data, &|_| set, false);
    }
    h.finish()
}

/// `NFTA_EXPR_NAME` and `NFTA_EXPR_DATA` of `expr` as libnftnl writes them into a message.
fn built<'m>(expr: &RawExpr, msg: &'m mut [u8]) -> &'m [u8] {
    const HEADER: usize = 16;
    msg[..HEADER].fill(0);
    msg[..4].copy_from_slice(&(HEADER as u32).to_ne_bytes());
    // SAFETY: `msg` starts with a netlink header whose length is its own, and has room for
    // an expression's attributes after it (each at most 64 KiB long, an expression's few far
    // less); `expr` is a live expression.
    unsafe {
        sys::nftnl_expr_build_payload(msg.as_mut_ptr().cast::<libc::nlmsghdr>(), expr.as_ptr())
    };
    let len = u32::from_ne_bytes(msg[..4].try_into().expect("4 bytes")) as usize;
    assert!(len <= msg.len(), "an expression overran its buffer");
    &msg[HEADER..len]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::netlink::lower::{Base, CmpOp, SetRef};

    fn fingerprint(exprs: &[Expr]) -> u64 {
        let plan =
            RulePlan { anon_sets: Vec::new(), exprs: exprs.to_vec(), comment: Some("f #1".into()) };
        planned_fingerprint(&plan, &mut Scratch::new())
    }

    #[test]
    fn a_fingerprint_tells_every_attribute_and_the_expression_kind_apart() {
        let cmp = |op, v: &[u8]| Expr::Cmp(op, v.to_vec());
        let a = fingerprint(&[cmp(CmpOp::Eq, &[0, 80])]);
        assert_eq!(a, fingerprint(&[cmp(CmpOp::Eq, &[0, 80])]));
        assert_ne!(a, fingerprint(&[cmp(CmpOp::Eq, &[0, 81])]));
        assert_ne!(a, fingerprint(&[cmp(CmpOp::Neq, &[0, 80])]));
        assert_ne!(a, fingerprint(&[cmp(CmpOp::Eq, &[0, 80]), Expr::Counter]));
        // A value that reads as an attribute is still a value: no flag bit of it is dropped.
        let v = fingerprint(&[cmp(CmpOp::Eq, &[4, 0, 1, 0])]);
        assert_ne!(v, fingerprint(&[cmp(CmpOp::Eq, &[4, 0, 1, 0x80])]));
        let masq = fingerprint(&[Expr::Masq(Default::default())]);
        assert_ne!(masq, fingerprint(&[Expr::Redir(Default::default())]));
        let limit = |rate| Expr::Limit { rate, unit: 1, burst: 5, over: false };
        let meter = |rate| Expr::Dynset {
            set: SetRef { name: "m".into(), id: 1 },
            update: true,
            timeout_ms: None,
            expr: Box::new(limit(rate)),
        };
        assert_ne!(fingerprint(&[meter(10)]), fingerprint(&[meter(11)]), "a dynset's statement");
    }

    /// A netlink attribute: length, type, value, padding.
    fn attr(out: &mut Vec<u8>, ty: u16, value: &[u8]) {
        out.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        out.extend_from_slice(&ty.to_ne_bytes());
        out.extend_from_slice(value);
        out.resize(out.len().next_multiple_of(4), 0);
    }

    fn strz(text: &str) -> Vec<u8> {
        [text.as_bytes(), b"\0"].concat()
    }

    /// What the kernel does to an expression's attributes when it lists it.
    type Edit<'a> = &'a dyn Fn(u16, &[u8]) -> Option<Vec<u8>>;

    /// `expr` as the kernel may list it: libnftnl's attributes in the reverse order, each
    /// through `edit` (`None`: left out), then `more`, padding and an attribute of zeros.
    fn listed(expr: &Expr, edit: Edit, more: &[(u16, &[u8])]) -> Vec<u8> {
        let mut msg = vec![0; EXPR_MSG_MAX];
        let raw = expr.build_as_listed();
        let (name, data) = expr_parts(built(&raw, &mut msg));
        let mut d = Vec::new();
        let all: Vec<_> = attrs(data).collect();
        for (ty, v) in all.into_iter().rev() {
            if let Some(v) = edit(ty, v) {
                attr(&mut d, ty, &v);
            }
        }
        for (ty, v) in more {
            attr(&mut d, *ty, v);
        }
        attr(&mut d, 15, &[]);
        attr(&mut d, 14, &[0; 8]);
        let mut e = Vec::new();
        attr(&mut e, 1, &[name, b"\0"].concat());
        // The kernel marks nested attributes (`NLA_F_NESTED`); libnftnl does not.
        attr(&mut e, 2 | 0x8000, &d);
        e
    }

    /// A rule message as a dump carries it (`NFTA_RULE_*`).
    fn rule_msg(table: &str, chain: &str, comment: &str, exprs: &[Vec<u8>]) -> Vec<u8> {
        let mut m = vec![0u8; 16];
        m.extend_from_slice(&[libc::NFPROTO_IPV4 as u8, 0, 0, 0]);
        attr(&mut m, 1, &strz(table));
        attr(&mut m, 2, &strz(chain));
        attr(&mut m, 3, &7u64.to_be_bytes());
        let mut list = Vec::new();
        for e in exprs {
            attr(&mut list, 1, e);
        }
        attr(&mut m, 4, &list);
        let mut udata = vec![sys::NFTNL_UDATA_RULE_COMMENT as u8, comment.len() as u8 + 1];
        udata.extend(strz(comment));
        attr(&mut m, 7, &udata);
        let len = m.len() as u32;
        m[..4].copy_from_slice(&len.to_ne_bytes());
        m
    }

    #[test]
    fn a_rule_read_from_its_message_has_the_fingerprint_it_was_planned_with() {
        let exprs = vec![
            Expr::Payload { base: Base::Network, offset: 12, len: 4, dreg: 1 },
            Expr::Cmp(CmpOp::Eq, vec![10, 0, 0, 1]),
            Expr::Lookup {
                set: SetRef { name: "blocked".into(), id: 3 },
                inverted: false,
                dreg: None,
            },
            Expr::Counter,
            Expr::Quota { bytes: 1000, inv: false },
            Expr::Dynset {
                set: SetRef { name: "m".into(), id: 4 },
                update: true,
                timeout_ms: None,
                expr: Box::new(Expr::Limit { rate: 10, unit: 1, burst: 5, over: false }),
            },
            Expr::Log { prefix: Some("p ".into()), level: None, flags: 0 },
            Expr::Accept,
        ];
        let plan =
            RulePlan { anon_sets: Vec::new(), exprs: exprs.clone(), comment: Some("c #1".into()) };
        let want = planned_fingerprint(&plan, &mut Scratch::new());
        // What the kernel does to each: a counter and a quota with their state, a quota's
        // depleted flag, no set ids.
        let same: Edit = &|_, v| Some(v.to_vec());
        let kernel = |e: &Expr| -> Vec<u8> {
            match e {
                Expr::Counter => listed(
                    e,
                    &|_, _| None,
                    &[(1, &3000u64.to_be_bytes()), (2, &4u64.to_be_bytes())],
                ),
                Expr::Quota { .. } => listed(
                    e,
                    &|ty, v| {
                        Some(if ty == QUOTA_FLAGS {
                            2u32.to_be_bytes().to_vec()
                        } else {
                            v.to_vec()
                        })
                    },
                    &[(QUOTA_CONSUMED, &600u64.to_be_bytes())],
                ),
                Expr::Lookup { .. } => {
                    listed(e, &|ty, v| (ty != LOOKUP_SET_ID).then(|| v.to_vec()), &[])
                }
                Expr::Dynset { .. } => {
                    listed(e, &|ty, v| (ty != DYNSET_SET_ID).then(|| v.to_vec()), &[])
                }
                Expr::Accept => listed(
                    e,
                    &|ty, v| {
                        let mut v = v.to_vec();
                        if ty == IMMEDIATE_DATA {
                            // The verdict's own attribute, nested in the value.
                            let t = u16::from_ne_bytes([v[2], v[3]]) | 0x8000;
                            v[2..4].copy_from_slice(&t.to_ne_bytes());
                        }
                        Some(v)
                    },
                    &[],
                ),
                _ => listed(e, same, &[]),
            }
        };
        let mut dumped: Vec<Vec<u8>> = exprs.iter().map(kernel).collect();
        let msg = rule_msg("t", "c", "c #1", &dumped);
        let anon = HashMap::new();
        let mut buf = Vec::new();
        let rule =
            parse_rule(&msg, libc::NFPROTO_IPV4, "t", "c", &anon, Some(&mut buf)).expect("ours");
        assert_eq!(rule.fingerprint, want);
        assert_eq!((rule.handle, rule.counter, rule.comment), (7, Some((4, 3000)), None));
        let counters = parse_rule(&msg, libc::NFPROTO_IPV4, "t", "c", &anon, None).expect("ours");
        assert_eq!(counters.comment.as_deref(), Some("c #1"));
        assert!(parse_rule(&msg, libc::NFPROTO_IPV4, "t", "d", &anon, None).is_none());
        assert!(parse_rule(&msg, libc::NFPROTO_IPV4, "u", "c", &anon, None).is_none());
        assert!(parse_rule(&msg, libc::NFPROTO_IPV6, "t", "c", &anon, None).is_none());

        // Another comment, another value: another fingerprint.
        let other = rule_msg("t", "c", "c #2", &dumped);
        let r = parse_rule(&other, libc::NFPROTO_IPV4, "t", "c", &anon, Some(&mut buf));
        assert_ne!(r.expect("ours").fingerprint, want);
        dumped[1] = listed(&Expr::Cmp(CmpOp::Eq, vec![10, 0, 0, 2]), same, &[]);
        let other = rule_msg("t", "c", "c #1", &dumped);
        let r = parse_rule(&other, libc::NFPROTO_IPV4, "t", "c", &anon, Some(&mut buf));
        assert_ne!(r.expect("ours").fingerprint, want);
    }

    #[test]
    fn an_anonymous_set_counts_by_its_contents_not_its_name() {
        let mut buf = Vec::new();
        let mut h = |name: &[u8], anon: &dyn Fn(&[u8]) -> Option<u64>| {
            let mut data = Vec::new();
            attr(&mut data, SET_NAME, name);
            attr(&mut data, 2, &1u32.to_be_bytes());
            let mut f = Fingerprint::new(None, &mut buf);
            f.expr(b"lookup", &data, anon, false);
            f.finish()
        };
        let live = h(b"__set7\0", &|n| (n == b"__set7").then_some(0xab));
        assert_eq!(live, h(b"__set%d\0", &|_| Some(0xab)));
        assert_ne!(live, h(b"__set%d\0", &|_| Some(0xac)));
        assert_ne!(live, h(b"__set7\0", &|_| None));
    }

    #[test]
    fn a_comment_is_read_from_userdata() {
        let mut u = vec![0u8, 4, b'a', b'b', b'c', 0];
        assert_eq!(udata_string(&u, 0).as_deref(), Some("abc"));
        assert_eq!(udata_string(&u, 1), None);
        u.truncate(4);
        assert_eq!(udata_string(&u, 0), None, "a cut TLV is not read");
    }
}
