//! The netlink batch as one contiguous buffer, the libnftnl objects written into it, and the
//! socket that sends it in ONE `send` and reads the answers.
//!
//! Why not nftnl-rs's `Batch`: it pages the buffer (a batch split over several `sendmsg` calls
//! is aborted by the kernel), asks for an ACK on every message, and its objects lack table
//! userdata, set flags, set userdata and element flags.

#![allow(unsafe_code)]

use std::ffi::{CString, c_char, c_void};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use nftnl::nftnl_sys::{self as sys, libc};

use super::expr::RawExpr;
use super::lower::{Elem, Expr, SetPlan};
use crate::ir::{BaseChain, ChainKind, Hook};

/// Room for the largest message: a set element list is cut below 64 KiB by libnftnl, which may
/// write one element past that before taking it back.
const MSG_MAX: usize = u16::MAX as usize + 2 * 4096;

/// `NFT_SET_CONCAT` (linux/netfilter/nf_tables.h; not in the libc crate): a concatenated
/// interval key, described field by field.
const NFT_SET_CONCAT: i32 = 0x80;

/// Everything but the ACK flag, which only the last message gets (see [`Batch::finish`]).
const CREATE: u16 = libc::NLM_F_CREATE as u16;
const APPEND: u16 = libc::NLM_F_APPEND as u16;

fn cstring(text: &str) -> CString {
    // The IR holds no NUL; were one there, the text is cut at it rather than failing.
    let end = text.bytes().position(|b| b == 0).unwrap_or(text.len());
    CString::new(&text.as_bytes()[..end]).expect("no NUL left")
}

/// One TLV of libnftnl's userdata format: type, length, value.
fn udata_tlv(out: &mut Vec<u8>, ty: u8, value: &[u8]) {
    out.push(ty);
    out.push(value.len() as u8);
    out.extend_from_slice(value);
}

/// A NUL-terminated string TLV (comments), cut to fit the one-byte length.
fn udata_strz(ty: u8, text: &str) -> Vec<u8> {
    let mut value = text.as_bytes()[..text.len().min(254)].to_vec();
    value.push(0);
    let mut out = Vec::with_capacity(value.len() + 2);
    udata_tlv(&mut out, ty, &value);
    out
}

/// Messages of one transaction, back to back, with the sequence number of each.
pub(crate) struct Batch {
    buf: Vec<u8>,
    scratch: Vec<u8>,
    next_seq: u32,
    last_offset: Option<usize>,
    table: CString,
    /// `NFPROTO_IPV4`, or `NFPROTO_IPV6` for the messages of `table ip6` ([`crate::ip6`]).
    family: i32,
}

impl Batch {
    pub(crate) const BEGIN_SEQ: u32 = 1;

    /// A batch the kernel applies only if the ruleset is still at generation `genid`
    /// (`NFNL_BATCH_GENID`): planned against a read of that generation, it is refused
    /// (`ERESTART`) when anything changed the ruleset since.
    pub(crate) fn at_generation(table: &str, capacity: usize, genid: u32) -> Batch {
        let mut b = Batch::new(table, capacity);
        // The begin message is the first in the buffer: a 16-byte header and a 4-byte
        // nfgenmsg; the attribute (length 8, type NFNL_BATCH_GENID = 1, big-endian value)
        // follows, and the header's length grows to cover it.
        let mut attr = Vec::with_capacity(8);
        attr.extend_from_slice(&8u16.to_ne_bytes());
        attr.extend_from_slice(&1u16.to_ne_bytes());
        attr.extend_from_slice(&genid.to_be_bytes());
        let len = u32::from_ne_bytes(b.buf[0..4].try_into().expect("4 bytes")) as usize;
        debug_assert_eq!(len, b.buf.len(), "only the begin message is there");
        b.buf.extend_from_slice(&attr);
        b.buf[0..4].copy_from_slice(&((len + 8) as u32).to_ne_bytes());
        b
    }

    pub(crate) fn new(table: &str, capacity: usize) -> Batch {
        let mut b = Batch {
            buf: Vec::with_capacity(capacity),
            scratch: vec![0; MSG_MAX],
            next_seq: Self::BEGIN_SEQ,
            last_offset: None,
            table: cstring(table),
            family: libc::NFPROTO_IPV4,
        };
        // SAFETY: `scratch` is zeroed and larger than a batch header; libnftnl writes only it.
        let nlh = unsafe { sys::nftnl_batch_begin(b.scratch.as_mut_ptr().cast::<c_char>(), 0) };
        b.take(nlh, Self::BEGIN_SEQ);
        b.next_seq += 1;
        b
    }

    /// The messages from here on are for `table ip6` of the same name (`true`) or `table ip`.
    pub(crate) fn ip6(&mut self, ip6: bool) {
        self.family = if ip6 { libc::NFPROTO_IPV6 } else { libc::NFPROTO_IPV4 };
    }

    /// The sequence number the next message gets.
    pub(crate) fn next_seq(&self) -> u32 {
        self.next_seq
    }

    /// Moves the message at the start of `scratch` into the batch.
    fn take(&mut self, nlh: *mut libc::nlmsghdr, seq: u32) {
        // SAFETY: `nlh` points at the start of `scratch`, where libnftnl just wrote a header
        // whose length field covers the whole message.
        let len = unsafe {
            (*nlh).nlmsg_seq = seq;
            (*nlh).nlmsg_len as usize
        };
        assert!(len <= self.scratch.len(), "netlink message overran its buffer");
        self.buf.extend_from_slice(&self.scratch[..len]);
        // libmnl zeroes what it writes, padding included; this is belt and braces (and covers
        // an element libnftnl wrote past the end and then took back).
        let dirty = (len + 4096).min(self.scratch.len());
        self.scratch[..dirty].fill(0);
    }

    /// Writes one message: a header, then `payload` fills it in. Returns its sequence number.
    fn message(&mut self, ty: u16, flags: u16, payload: impl FnOnce(*mut libc::nlmsghdr)) -> u32 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let ty = ((libc::NFNL_SUBSYS_NFTABLES as u16) << 8) | ty;
        // SAFETY: `scratch` is zeroed and MSG_MAX long; the header needs 20 bytes.
        let nlh = unsafe {
            sys::nftnl_nlmsg_build_hdr(
                self.scratch.as_mut_ptr().cast::<c_char>(),
                ty,
                self.family as u16,
                flags,
                seq,
            )
        };
        payload(nlh);
        self.last_offset = Some(self.buf.len());
        self.take(nlh, seq);
        seq
    }

    /// NEWTABLE (with a comment, as nft writes it) or DELTABLE.
    pub(crate) fn table(&mut self, delete: bool, comment: Option<&str>) -> u32 {
        // SAFETY: allocation; NULL only when out of memory.
        let t = unsafe { sys::nftnl_table_alloc() };
        if t.is_null() {
            std::process::abort();
        }
        let udata = comment.map(|c| udata_strz(sys::NFTNL_UDATA_TABLE_COMMENT as u8, c));
        // SAFETY: `t` is a live table; strings and data are copied by libnftnl.
        unsafe {
            sys::nftnl_table_set_str(t, sys::NFTNL_TABLE_NAME as u16, self.table.as_ptr());
            sys::nftnl_table_set_u32(t, sys::NFTNL_TABLE_FAMILY as u16, self.family as u32);
            if !delete {
                sys::nftnl_table_set_u32(t, sys::NFTNL_TABLE_FLAGS as u16, 0);
            }
            if let Some(u) = &udata {
                sys::nftnl_table_set_data(
                    t,
                    sys::NFTNL_TABLE_USERDATA as u16,
                    u.as_ptr().cast::<c_void>(),
                    u.len() as u32,
                );
            }
        }
        let (ty, flags) =
            if delete { (libc::NFT_MSG_DELTABLE, 0) } else { (libc::NFT_MSG_NEWTABLE, CREATE) };
        let seq = self.message(ty as u16, flags, |nlh| {
            // SAFETY: `nlh` heads a message in `scratch` with room for the payload.
            unsafe { sys::nftnl_table_nlmsg_build_payload(nlh, t) }
        });
        // SAFETY: we own `t`; nothing refers to it any more.
        unsafe { sys::nftnl_table_free(t) };
        seq
    }

    pub(crate) fn chain(&mut self, name: &str, base: Option<&BaseChain>) -> u32 {
        self.chain_with_policy(name, base, libc::NF_ACCEPT as u32)
    }

    /// [`Batch::chain`] with a base chain's policy (`NF_ACCEPT`, `NF_DROP`).
    pub(crate) fn chain_with_policy(
        &mut self,
        name: &str,
        base: Option<&BaseChain>,
        policy: u32,
    ) -> u32 {
        // SAFETY: allocation; NULL only when out of memory.
        let c = unsafe { sys::nftnl_chain_alloc() };
        if c.is_null() {
            std::process::abort();
        }
        let name = cstring(name);
        // SAFETY: `c` is a live chain; strings are copied by libnftnl.
        unsafe {
            sys::nftnl_chain_set_str(c, sys::NFTNL_CHAIN_TABLE as u16, self.table.as_ptr());
            sys::nftnl_chain_set_str(c, sys::NFTNL_CHAIN_NAME as u16, name.as_ptr());
            sys::nftnl_chain_set_u32(c, sys::NFTNL_CHAIN_FAMILY as u16, self.family as u32);
            if let Some(base) = base {
                let ty = match base.kind {
                    ChainKind::Filter => c"filter",
                    ChainKind::Nat => c"nat",
                };
                let hook = match base.hook {
                    Hook::Prerouting => libc::NF_INET_PRE_ROUTING,
                    Hook::Input => libc::NF_INET_LOCAL_IN,
                    Hook::Forward => libc::NF_INET_FORWARD,
                    Hook::Output => libc::NF_INET_LOCAL_OUT,
                    Hook::Postrouting => libc::NF_INET_POST_ROUTING,
                };
                sys::nftnl_chain_set_str(c, sys::NFTNL_CHAIN_TYPE as u16, ty.as_ptr());
                sys::nftnl_chain_set_u32(c, sys::NFTNL_CHAIN_HOOKNUM as u16, hook as u32);
                sys::nftnl_chain_set_s32(c, sys::NFTNL_CHAIN_PRIO as u16, base.priority);
                sys::nftnl_chain_set_u32(c, sys::NFTNL_CHAIN_POLICY as u16, policy);
            }
        }
        let seq = self.message(libc::NFT_MSG_NEWCHAIN as u16, CREATE, |nlh| {
            // SAFETY: `nlh` heads a message in `scratch` with room for the payload.
            unsafe { sys::nftnl_chain_nlmsg_build_payload(nlh, c) }
        });
        // SAFETY: we own `c`.
        unsafe { sys::nftnl_chain_free(c) };
        seq
    }

    /// NEWSET, then as many NEWSETELEM messages as the elements need. Returns the sequence
    /// numbers of the set message and of the last element message.
    pub(crate) fn set(&mut self, plan: &SetPlan) -> (u32, u32) {
        // SAFETY: allocation; NULL only when out of memory.
        let s = unsafe { sys::nftnl_set_alloc() };
        if s.is_null() {
            std::process::abort();
        }
        let name = cstring(&plan.name);
        let flags = set_flags(plan);
        // Set userdata as nft writes it: key byte order, a map's value byte order and its
        // "value is not an interval", auto-merge for interval sets.
        let mut udata = Vec::new();
        udata_tlv(
            &mut udata,
            sys::NFTNL_UDATA_SET_KEYBYTEORDER as u8,
            &plan.key.byteorder().to_ne_bytes(),
        );
        if let Some(data) = &plan.data {
            udata_tlv(
                &mut udata,
                sys::NFTNL_UDATA_SET_DATABYTEORDER as u8,
                &data.byteorder().to_ne_bytes(),
            );
            udata_tlv(&mut udata, sys::NFTNL_UDATA_SET_DATA_INTERVAL as u8, &0u32.to_ne_bytes());
        }
        if plan.interval {
            udata_tlv(&mut udata, sys::NFTNL_UDATA_SET_MERGE_ELEMENTS as u8, &1u32.to_ne_bytes());
        }
        let field_lens: Vec<u8> = plan.concat.iter().map(|&l| l as u8).collect();
        // SAFETY: `s` is a live set; strings and data are copied by libnftnl.
        unsafe {
            sys::nftnl_set_set_str(s, sys::NFTNL_SET_TABLE as u16, self.table.as_ptr());
            sys::nftnl_set_set_str(s, sys::NFTNL_SET_NAME as u16, name.as_ptr());
            sys::nftnl_set_set_u32(s, sys::NFTNL_SET_FAMILY as u16, self.family as u32);
            sys::nftnl_set_set_u32(s, sys::NFTNL_SET_FLAGS as u16, flags);
            sys::nftnl_set_set_u32(s, sys::NFTNL_SET_KEY_TYPE as u16, plan.key.type_id());
            sys::nftnl_set_set_u32(s, sys::NFTNL_SET_KEY_LEN as u16, plan.key.len());
            sys::nftnl_set_set_u32(s, sys::NFTNL_SET_ID as u16, plan.id);
            if let Some(data) = &plan.data {
                sys::nftnl_set_set_u32(s, sys::NFTNL_SET_DATA_TYPE as u16, data.type_id());
                sys::nftnl_set_set_u32(s, sys::NFTNL_SET_DATA_LEN as u16, data.len());
            }
            if plan.anonymous {
                sys::nftnl_set_set_u32(s, sys::NFTNL_SET_DESC_SIZE as u16, plan.elems.len() as u32);
            }
            if plan.dynamic.is_some() {
                sys::nftnl_set_set_u32(s, sys::NFTNL_SET_DESC_SIZE as u16, crate::nft::METER_SIZE);
            }
            if !field_lens.is_empty() {
                sys::nftnl_set_set_data(
                    s,
                    sys::NFTNL_SET_DESC_CONCAT as u16,
                    field_lens.as_ptr().cast::<c_void>(),
                    field_lens.len() as u32,
                );
            }
            sys::nftnl_set_set_data(
                s,
                sys::NFTNL_SET_USERDATA as u16,
                udata.as_ptr().cast::<c_void>(),
                udata.len() as u32,
            );
        }
        let set_seq = self.message(libc::NFT_MSG_NEWSET as u16, CREATE, |nlh| {
            // SAFETY: `nlh` heads a message in `scratch` with room for the payload.
            unsafe { sys::nftnl_set_nlmsg_build_payload(nlh, s) }
        });
        // SAFETY: `s` is live until freed below.
        unsafe { add_elems(s, &plan.elems) };
        let last = self.elem_messages(s).unwrap_or(set_seq);
        // SAFETY: we own `s` (and through it the elements).
        unsafe { sys::nftnl_set_free(s) };
        (set_seq, last)
    }

    /// The NEWSETELEM messages of the set object `s`, as many as its elements need. Returns the
    /// last one's sequence number (`None`: no elements).
    fn elem_messages(&mut self, s: *mut sys::nftnl_set) -> Option<u32> {
        let mut last = None;
        // SAFETY: `s` is live and outlives the iterator, destroyed below.
        let iter = unsafe { sys::nftnl_set_elems_iter_create(s) };
        if iter.is_null() {
            std::process::abort();
        }
        // Each message takes elements until its list nears 64 KiB; the iterator then points at
        // the first element left over.
        // SAFETY: `iter` is live until destroyed after the loop.
        while !unsafe { sys::nftnl_set_elems_iter_cur(iter) }.is_null() {
            let mut more = 0;
            last = Some(self.message(libc::NFT_MSG_NEWSETELEM as u16, CREATE, |nlh| {
                // SAFETY: `nlh` heads a message in `scratch` (MSG_MAX bytes, more than the 64
                // KiB libnftnl fills at most).
                more = unsafe { sys::nftnl_set_elems_nlmsg_build_payload_iter(nlh, iter) };
            }));
            if more <= 0 {
                break;
            }
        }
        // SAFETY: `iter` is live and not used after this.
        unsafe { sys::nftnl_set_elems_iter_destroy(iter) };
        last
    }

    /// DELSETELEM naming the set and no element: every element of it removed.
    pub(crate) fn flush_set(&mut self, name: &str) -> u32 {
        // SAFETY: allocation; NULL only when out of memory.
        let s = unsafe { sys::nftnl_set_alloc() };
        if s.is_null() {
            std::process::abort();
        }
        let name = cstring(name);
        // SAFETY: `s` is live; strings are copied. A set's table and name attributes are
        // numbered as an element list's (`NFTA_SET_ELEM_LIST_TABLE` = 1, `_SET` = 2), and
        // without `NFTA_SET_ELEM_LIST_ELEMENTS` the kernel flushes the set.
        unsafe {
            sys::nftnl_set_set_str(s, sys::NFTNL_SET_TABLE as u16, self.table.as_ptr());
            sys::nftnl_set_set_str(s, sys::NFTNL_SET_NAME as u16, name.as_ptr());
        }
        let seq = self.message(libc::NFT_MSG_DELSETELEM as u16, 0, |nlh| {
            // SAFETY: `nlh` heads a message in `scratch` with room for the payload.
            unsafe { sys::nftnl_set_nlmsg_build_payload(nlh, s) }
        });
        // SAFETY: we own `s`.
        unsafe { sys::nftnl_set_free(s) };
        seq
    }

    /// NEWSETELEM of `elems` into the named set `name`.
    pub(crate) fn set_elements(&mut self, name: &str, elems: &[Elem]) -> Option<u32> {
        // SAFETY: allocation; NULL only when out of memory.
        let s = unsafe { sys::nftnl_set_alloc() };
        if s.is_null() {
            std::process::abort();
        }
        let name = cstring(name);
        // SAFETY: `s` is live; strings are copied; it owns the elements until freed.
        unsafe {
            sys::nftnl_set_set_str(s, sys::NFTNL_SET_TABLE as u16, self.table.as_ptr());
            sys::nftnl_set_set_str(s, sys::NFTNL_SET_NAME as u16, name.as_ptr());
            sys::nftnl_set_set_u32(s, sys::NFTNL_SET_FAMILY as u16, self.family as u32);
            add_elems(s, elems);
        }
        let last = self.elem_messages(s);
        // SAFETY: we own `s`.
        unsafe { sys::nftnl_set_free(s) };
        last
    }

    pub(crate) fn rule(&mut self, chain: &str, exprs: &[Expr], comment: Option<&str>) -> u32 {
        self.rule_at(chain, exprs, comment, None, false)
    }

    /// A rule appended to its chain, or (`before`: a rule's handle) inserted before that rule;
    /// with `echo`, the kernel sends it back (with its handle) once committed.
    pub(crate) fn rule_at(
        &mut self,
        chain: &str,
        exprs: &[Expr],
        comment: Option<&str>,
        before: Option<u64>,
        echo: bool,
    ) -> u32 {
        // SAFETY: allocation; NULL only when out of memory.
        let r = unsafe { sys::nftnl_rule_alloc() };
        if r.is_null() {
            std::process::abort();
        }
        let chain = cstring(chain);
        let udata = comment.map(|c| udata_strz(sys::NFTNL_UDATA_RULE_COMMENT as u8, c));
        // SAFETY: `r` is a live rule; strings and data are copied; `nftnl_rule_add_expr` takes
        // ownership of each expression (`into_raw` gives it up on our side).
        unsafe {
            sys::nftnl_rule_set_str(r, sys::NFTNL_RULE_TABLE as u16, self.table.as_ptr());
            sys::nftnl_rule_set_str(r, sys::NFTNL_RULE_CHAIN as u16, chain.as_ptr());
            sys::nftnl_rule_set_u32(r, sys::NFTNL_RULE_FAMILY as u16, self.family as u32);
            for e in exprs {
                let raw: RawExpr = e.build();
                sys::nftnl_rule_add_expr(r, raw.into_raw().as_ptr());
            }
            if let Some(handle) = before {
                sys::nftnl_rule_set_u64(r, sys::NFTNL_RULE_POSITION as u16, handle);
            }
            if let Some(u) = &udata {
                sys::nftnl_rule_set_data(
                    r,
                    sys::NFTNL_RULE_USERDATA as u16,
                    u.as_ptr().cast::<c_void>(),
                    u.len() as u32,
                );
            }
        }
        // With a position and without APPEND, the kernel puts the rule before that one.
        let mut flags = if before.is_some() { CREATE } else { CREATE | APPEND };
        if echo {
            flags |= libc::NLM_F_ECHO as u16;
        }
        let seq = self.message(libc::NFT_MSG_NEWRULE as u16, flags, |nlh| {
            // SAFETY: `nlh` heads a message in `scratch`; a rule of the IR is far below 64 KiB.
            unsafe { sys::nftnl_rule_nlmsg_build_payload(nlh, r) }
        });
        // SAFETY: we own `r` and its expressions.
        unsafe { sys::nftnl_rule_free(r) };
        seq
    }

    /// DELRULE of one rule (`handle`), or of every rule of the chain (`None`).
    pub(crate) fn delete_rule(&mut self, chain: &str, handle: Option<u64>) -> u32 {
        // SAFETY: allocation; NULL only when out of memory.
        let r = unsafe { sys::nftnl_rule_alloc() };
        if r.is_null() {
            std::process::abort();
        }
        let chain = cstring(chain);
        // SAFETY: `r` is a live rule; strings are copied.
        unsafe {
            sys::nftnl_rule_set_str(r, sys::NFTNL_RULE_TABLE as u16, self.table.as_ptr());
            sys::nftnl_rule_set_str(r, sys::NFTNL_RULE_CHAIN as u16, chain.as_ptr());
            sys::nftnl_rule_set_u32(r, sys::NFTNL_RULE_FAMILY as u16, self.family as u32);
            if let Some(h) = handle {
                sys::nftnl_rule_set_u64(r, sys::NFTNL_RULE_HANDLE as u16, h);
            }
        }
        let seq = self.message(libc::NFT_MSG_DELRULE as u16, 0, |nlh| {
            // SAFETY: `nlh` heads a message in `scratch` with room for the payload.
            unsafe { sys::nftnl_rule_nlmsg_build_payload(nlh, r) }
        });
        // SAFETY: we own `r`.
        unsafe { sys::nftnl_rule_free(r) };
        seq
    }

    /// DELCHAIN (the chain must be empty and unreferenced by then).
    pub(crate) fn delete_chain(&mut self, name: &str) -> u32 {
        // SAFETY: allocation; NULL only when out of memory.
        let c = unsafe { sys::nftnl_chain_alloc() };
        if c.is_null() {
            std::process::abort();
        }
        let name = cstring(name);
        // SAFETY: `c` is a live chain; strings are copied.
        unsafe {
            sys::nftnl_chain_set_str(c, sys::NFTNL_CHAIN_TABLE as u16, self.table.as_ptr());
            sys::nftnl_chain_set_str(c, sys::NFTNL_CHAIN_NAME as u16, name.as_ptr());
            sys::nftnl_chain_set_u32(c, sys::NFTNL_CHAIN_FAMILY as u16, self.family as u32);
        }
        let seq = self.message(libc::NFT_MSG_DELCHAIN as u16, 0, |nlh| {
            // SAFETY: `nlh` heads a message in `scratch` with room for the payload.
            unsafe { sys::nftnl_chain_nlmsg_build_payload(nlh, c) }
        });
        // SAFETY: we own `c`.
        unsafe { sys::nftnl_chain_free(c) };
        seq
    }

    /// DELSET (no rule may refer to the set by then).
    pub(crate) fn delete_set(&mut self, name: &str) -> u32 {
        // SAFETY: allocation; NULL only when out of memory.
        let s = unsafe { sys::nftnl_set_alloc() };
        if s.is_null() {
            std::process::abort();
        }
        let name = cstring(name);
        // SAFETY: `s` is a live set; strings are copied.
        unsafe {
            sys::nftnl_set_set_str(s, sys::NFTNL_SET_TABLE as u16, self.table.as_ptr());
            sys::nftnl_set_set_str(s, sys::NFTNL_SET_NAME as u16, name.as_ptr());
            sys::nftnl_set_set_u32(s, sys::NFTNL_SET_FAMILY as u16, libc::NFPROTO_IPV4 as u32);
        }
        let seq = self.message(libc::NFT_MSG_DELSET as u16, 0, |nlh| {
            // SAFETY: `nlh` heads a message in `scratch` with room for the payload.
            unsafe { sys::nftnl_set_nlmsg_build_payload(nlh, s) }
        });
        // SAFETY: we own `s`.
        unsafe { sys::nftnl_set_free(s) };
        seq
    }

    /// Asks for an ACK on the last message and closes the batch. Returns the buffer and the
    /// sequence number of the last message (the one whose ACK ends the wait).
    ///
    /// Only the last message asks for an ACK: the kernel reports every failing message anyway,
    /// in order, and one success ACK per message (what nft and nftnl-rs request) costs a
    /// socket buffer of ~1 KiB per message for nothing.
    pub(crate) fn finish(mut self) -> (Vec<u8>, u32) {
        let last_seq = self.next_seq - 1;
        if let Some(off) = self.last_offset {
            // nlmsg_flags: a native-endian u16 at byte 6 of the header.
            let flags =
                u16::from_ne_bytes([self.buf[off + 6], self.buf[off + 7]]) | libc::NLM_F_ACK as u16;
            self.buf[off + 6..off + 8].copy_from_slice(&flags.to_ne_bytes());
        }
        let seq = self.next_seq;
        // SAFETY: `scratch` is zeroed and larger than a batch header.
        let nlh = unsafe { sys::nftnl_batch_end(self.scratch.as_mut_ptr().cast::<c_char>(), 0) };
        self.take(nlh, seq);
        (self.buf, last_seq)
    }
}

/// A planned set's `NFT_SET_*` flags, as sent and as the kernel lists them back.
pub(crate) fn set_flags(plan: &SetPlan) -> u32 {
    let mut flags = 0;
    if plan.anonymous {
        flags |= libc::NFT_SET_ANONYMOUS | libc::NFT_SET_CONSTANT;
    }
    if plan.interval {
        flags |= libc::NFT_SET_INTERVAL;
    }
    if plan.data.is_some() {
        flags |= libc::NFT_SET_MAP;
    }
    if !plan.concat.is_empty() {
        flags |= NFT_SET_CONCAT;
    }
    // A meter's set: `flags dynamic` (and `timeout`).
    if let Some(timeout) = plan.dynamic {
        flags |= libc::NFT_SET_EVAL;
        if timeout {
            flags |= libc::NFT_SET_TIMEOUT;
        }
    }
    flags as u32
}

/// Adds elements to a libnftnl set object.
///
/// # Safety
/// `s` is a live set.
unsafe fn add_elems(s: *mut sys::nftnl_set, elems: &[Elem]) {
    let mut open_udata = Vec::new();
    udata_tlv(
        &mut open_udata,
        sys::NFTNL_UDATA_SET_ELEM_FLAGS as u8,
        &sys::NFTNL_SET_ELEM_F_INTERVAL_OPEN.to_ne_bytes(),
    );
    for elem in elems {
        // SAFETY: allocation, then attributes copied from live buffers; `nftnl_set_elem_add`
        // hands the element to the set, which frees it.
        unsafe {
            let e = sys::nftnl_set_elem_alloc();
            if e.is_null() {
                std::process::abort();
            }
            sys::nftnl_set_elem_set(
                e,
                sys::NFTNL_SET_ELEM_KEY as u16,
                elem.key.as_ptr().cast::<c_void>(),
                elem.key.len() as u32,
            );
            if let Some(end) = &elem.key_end {
                sys::nftnl_set_elem_set(
                    e,
                    sys::NFTNL_SET_ELEM_KEY_END as u16,
                    end.as_ptr().cast::<c_void>(),
                    end.len() as u32,
                );
            }
            if let Some(verdict) = elem.verdict {
                sys::nftnl_set_elem_set_u32(e, sys::NFTNL_SET_ELEM_VERDICT as u16, verdict);
            }
            if let Some(data) = &elem.data {
                sys::nftnl_set_elem_set(
                    e,
                    sys::NFTNL_SET_ELEM_DATA as u16,
                    data.as_ptr().cast::<c_void>(),
                    data.len() as u32,
                );
            }
            if elem.end {
                sys::nftnl_set_elem_set_u32(
                    e,
                    sys::NFTNL_SET_ELEM_FLAGS as u16,
                    libc::NFT_SET_ELEM_INTERVAL_END as u32,
                );
            }
            if elem.open {
                sys::nftnl_set_elem_set(
                    e,
                    sys::NFTNL_SET_ELEM_USERDATA as u16,
                    open_udata.as_ptr().cast::<c_void>(),
                    open_udata.len() as u32,
                );
            }
            sys::nftnl_set_elem_add(s, e);
        }
    }
}

/// A netfilter netlink socket of the calling thread's network namespace.
pub(crate) struct Socket {
    fd: OwnedFd,
}

impl Socket {
    pub(crate) fn open() -> io::Result<Socket> {
        // SAFETY: a plain syscall with constant arguments.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_NETFILTER,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: `sockaddr_nl` is plain data for which all zeroes is valid.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: `addr` is a valid sockaddr_nl of the given size; the kernel picks the port.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const addr).cast::<libc::sockaddr>(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Socket { fd })
    }

    /// The network namespace's cookie (`SO_NETNS_COOKIE`): unique for the machine's uptime,
    /// never reused, unlike a namespace's inode number.
    pub(crate) fn netns_cookie(&self) -> io::Result<u64> {
        const SO_NETNS_COOKIE: i32 = 71;
        let mut cookie = 0u64;
        let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
        // SAFETY: `cookie` is valid for writes of `len` bytes for the duration of the call.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_NETNS_COOKIE,
                (&raw mut cookie).cast::<c_void>(),
                &raw mut len,
            )
        };
        if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(cookie) }
    }

    fn set_int(&self, level: i32, name: i32, value: i32) -> io::Result<()> {
        // SAFETY: `value` is a valid int for the duration of the call.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (&raw const value).cast::<c_void>(),
                std::mem::size_of::<i32>() as u32,
            )
        };
        if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// Raises both buffers: sending needs the whole batch to fit (the kernel refuses a message
    /// longer than the send buffer), receiving must hold every error the batch may cause.
    /// The FORCE variants (root, CAP_NET_ADMIN) pass the sysctl limits.
    pub(crate) fn size_buffers(&self, send: usize, recv: usize) -> io::Result<()> {
        let clamp = |n: usize| i32::try_from(n).unwrap_or(i32::MAX / 2);
        for (force, plain, size) in [
            (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, send),
            (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, recv),
        ] {
            if self.set_int(libc::SOL_SOCKET, force, clamp(size)).is_err() {
                self.set_int(libc::SOL_SOCKET, plain, clamp(size))?;
            }
        }
        // Error ACKs carry only the failing message's header, not the whole message.
        let _ = self.set_int(libc::SOL_NETLINK, libc::NETLINK_CAP_ACK, 1);
        Ok(())
    }

    /// The whole buffer in one `send`: the kernel handles one batch per message it receives.
    pub(crate) fn send(&self, buf: &[u8]) -> io::Result<()> {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n =
            unsafe { libc::send(self.fd.as_raw_fd(), buf.as_ptr().cast::<c_void>(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n as usize != buf.len() {
            return Err(io::Error::other(format!("sent {n} of {} bytes", buf.len())));
        }
        Ok(())
    }

    /// One datagram, or `None` when nothing came within `timeout`.
    pub(crate) fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>> {
        let mut pfd = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        loop {
            // SAFETY: one valid pollfd.
            let rc = unsafe { libc::poll(&raw mut pfd, 1, ms) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if rc == 0 {
                return Ok(None);
            }
            // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast::<c_void>(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock) {
                    continue;
                }
                return Err(e);
            }
            return Ok(Some(n as usize));
        }
    }
}

/// The `(sequence number, handle)` of every rule the kernel echoed in a datagram (NEWRULE
/// messages sent with `NLM_F_ECHO`: the request's sequence number, `NFTA_RULE_HANDLE`).
pub(crate) fn echoed_rules(datagram: &[u8]) -> Vec<(u32, u64)> {
    const NEWRULE: u16 = ((libc::NFNL_SUBSYS_NFTABLES as u16) << 8) | libc::NFT_MSG_NEWRULE as u16;
    let mut out = Vec::new();
    let mut rest = datagram;
    while rest.len() >= 20 {
        let len = u32::from_ne_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        if len < 20 || len > rest.len() {
            break;
        }
        let ty = u16::from_ne_bytes([rest[4], rest[5]]);
        let seq = u32::from_ne_bytes(rest[8..12].try_into().expect("4 bytes"));
        if ty == NEWRULE {
            // Attributes after the header (16) and nfgenmsg (4); NFTA_RULE_HANDLE is type 3.
            let mut attrs = &rest[20..len];
            while attrs.len() >= 4 {
                let alen = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
                let aty = u16::from_ne_bytes([attrs[2], attrs[3]]) & 0x3fff;
                if alen < 4 || alen > attrs.len() {
                    break;
                }
                if aty == 3 && alen == 12 {
                    let h = u64::from_be_bytes(attrs[4..12].try_into().expect("8 bytes"));
                    out.push((seq, h));
                }
                attrs = &attrs[alen.next_multiple_of(4).min(attrs.len())..];
            }
        }
        rest = &rest[len.next_multiple_of(4).min(rest.len())..];
    }
    out
}

/// The `(sequence number, errno)` of every NLMSG_ERROR in a datagram (errno 0: an ACK).
pub(crate) fn acks(datagram: &[u8]) -> Vec<(u32, i32)> {
    let mut out = Vec::new();
    let mut rest = datagram;
    while rest.len() >= 16 {
        let u32_at = |b: &[u8], i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let len = u32_at(rest, 0) as usize;
        let ty = u16::from_ne_bytes([rest[4], rest[5]]);
        if len < 16 || len > rest.len() {
            break;
        }
        // NLMSG_ERROR: i32 error, then the header of the message it answers.
        if i32::from(ty) == libc::NLMSG_ERROR && len >= 16 + 4 + 16 {
            let error = u32_at(rest, 16) as i32;
            let seq = u32_at(rest, 20 + 8);
            out.push((seq, -error));
        }
        let aligned = (len + 3) & !3;
        rest = &rest[aligned.min(rest.len())..];
    }
    out
}
