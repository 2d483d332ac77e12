//! [`Expr`] → a libnftnl expression object, for every expression overlayfw uses, including
//! those nftnl-rs lacks (dup, log, limit, range, redir, NAT registers and flags, a lookup with
//! the invert flag, reject with an explicit ICMP code).

#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_void};
use std::ptr::NonNull;

use nftnl::nftnl_sys::{self as sys, libc};

use super::lower::{Base, CT_PROTOCOL, CmpOp, Expr, MetaKey, NatKind, NatRegs, REG_1};

/// `NF_NAT_RANGE_MAP_IPS`, `NF_NAT_RANGE_PROTO_SPECIFIED` (linux/netfilter/nf_nat.h).
const NAT_MAP_IPS: u32 = 0x1;
const NAT_PROTO_SPECIFIED: u32 = 0x2;

/// An expression object owned by us until handed to a rule.
pub(crate) struct RawExpr(NonNull<sys::nftnl_expr>);

impl RawExpr {
    fn alloc(name: &CStr) -> RawExpr {
        // SAFETY: `name` is a valid NUL-terminated string; libnftnl copies what it needs.
        let ptr = unsafe { sys::nftnl_expr_alloc(name.as_ptr()) };
        // NULL only for an unknown name (a bug here) or out of memory: abort like std's OOM.
        RawExpr(NonNull::new(ptr).unwrap_or_else(|| std::process::abort()))
    }

    fn u32(&self, attr: u32, value: u32) {
        // SAFETY: `self.0` is a live expression; libnftnl checks `attr` against the
        // expression's type and ignores attributes it does not know.
        unsafe { sys::nftnl_expr_set_u32(self.0.as_ptr(), attr as u16, value) }
    }

    fn u64(&self, attr: u32, value: u64) {
        // SAFETY: as in `u32`.
        unsafe { sys::nftnl_expr_set_u64(self.0.as_ptr(), attr as u16, value) }
    }

    fn u16(&self, attr: u32, value: u16) {
        // SAFETY: as in `u32`.
        unsafe { sys::nftnl_expr_set_u16(self.0.as_ptr(), attr as u16, value) }
    }

    fn u8(&self, attr: u32, value: u8) {
        // SAFETY: as in `u32`.
        unsafe { sys::nftnl_expr_set_u8(self.0.as_ptr(), attr as u16, value) }
    }

    fn bytes(&self, attr: u32, data: &[u8]) {
        // SAFETY: `data` is valid for `data.len()` bytes for the duration of the call, and
        // libnftnl copies it (the data attributes are fixed-size buffers in the object; every
        // caller passes at most 16 bytes, a register's size).
        unsafe {
            sys::nftnl_expr_set(
                self.0.as_ptr(),
                attr as u16,
                data.as_ptr().cast::<c_void>(),
                data.len() as u32,
            );
        }
    }

    /// Hands `inner` to this expression (a dynset's per-element statement), which frees it.
    fn expr(&self, attr: u32, inner: RawExpr) {
        let ptr = inner.into_raw();
        // SAFETY: `self.0` is a live expression; for `NFTNL_EXPR_DYNSET_EXPR` libnftnl takes
        // the pointer itself (not a copy) into its expression list and frees it with `self`.
        unsafe {
            sys::nftnl_expr_set(self.0.as_ptr(), attr as u16, ptr.as_ptr().cast::<c_void>(), 0);
        }
    }

    fn str(&self, attr: u32, text: &str) {
        // The IR holds no NUL in names or texts; were one there, the text would be cut there.
        let text = CString::new(text).unwrap_or_else(|e| {
            let end = e.nul_position();
            CString::new(&text.as_bytes()[..end]).expect("no NUL before the first NUL")
        });
        // SAFETY: `text` is NUL-terminated and outlives the call; libnftnl copies it.
        unsafe { sys::nftnl_expr_set_str(self.0.as_ptr(), attr as u16, text.as_ptr()) };
    }

    /// The expression, still owned here (for reading it: see `read::planned_fingerprint`).
    pub(crate) fn as_ptr(&self) -> *mut sys::nftnl_expr {
        self.0.as_ptr()
    }

    /// Gives up ownership (to `nftnl_rule_add_expr`, which frees it with the rule).
    pub(crate) fn into_raw(self) -> NonNull<sys::nftnl_expr> {
        let ptr = self.0;
        std::mem::forget(self);
        ptr
    }
}

impl Drop for RawExpr {
    fn drop(&mut self) {
        // SAFETY: we own the expression (not yet handed to a rule).
        unsafe { sys::nftnl_expr_free(self.0.as_ptr()) }
    }
}

fn nat_regs(e: &RawExpr, regs: &NatRegs, [min, max, pmin, pmax]: [Option<u32>; 4], flags: u32) {
    for (attr, reg) in
        [(min, regs.addr_min), (max, regs.addr_max), (pmin, regs.proto_min), (pmax, regs.proto_max)]
    {
        if let (Some(attr), Some(reg)) = (attr, reg) {
            e.u32(attr, reg);
        }
    }
    if regs.flags != 0 {
        e.u32(flags, regs.flags);
    }
}

fn verdict(code: i32, chain: Option<&str>) -> RawExpr {
    let e = RawExpr::alloc(c"immediate");
    e.u32(sys::NFTNL_EXPR_IMM_DREG, libc::NFT_REG_VERDICT as u32);
    if let Some(chain) = chain {
        e.str(sys::NFTNL_EXPR_IMM_CHAIN, chain);
    }
    e.u32(sys::NFTNL_EXPR_IMM_VERDICT, code as u32);
    e
}

impl Expr {
    /// The expression as the kernel lists it back, with what the kernel fills in itself: a
    /// lookup's flags (0), a log's level (4, `warn`), a NAT's range maxima (the minima) and
    /// range flags (`NF_NAT_RANGE_MAP_IPS`, `_PROTO_SPECIFIED`), a masquerade's or redirect's port
    /// range maximum. A planned rule printed from
    /// these reads as its loaded self does (`read::planned_fingerprint`); never sent.
    pub(crate) fn build_as_listed(&self) -> RawExpr {
        match self {
            Expr::Lookup { inverted: false, .. } => {
                let e = self.build();
                e.u32(sys::NFTNL_EXPR_LOOKUP_FLAGS, 0);
                e
            }
            Expr::Log { prefix, level: None, flags } => {
                Expr::Log { prefix: prefix.clone(), level: Some(4), flags: *flags }.build()
            }
            Expr::Nat { kind, regs } => {
                let mut r = *regs;
                if r.addr_min.is_some() {
                    r.addr_max = r.addr_max.or(r.addr_min);
                    r.flags |= NAT_MAP_IPS;
                }
                if r.proto_min.is_some() {
                    r.proto_max = r.proto_max.or(r.proto_min);
                    r.flags |= NAT_PROTO_SPECIFIED;
                }
                Expr::Nat { kind: *kind, regs: r }.build()
            }
            Expr::Masq(regs) | Expr::Redir(regs) if regs.proto_max.is_none() => {
                let r = NatRegs { proto_max: regs.proto_min, ..*regs };
                match self {
                    Expr::Masq(_) => Expr::Masq(r),
                    _ => Expr::Redir(r),
                }
                .build()
            }
            // The kernel lists a dynset's timeout, 0 when none was sent.
            Expr::Dynset { set, update, timeout_ms: None, expr } => Expr::Dynset {
                set: set.clone(),
                update: *update,
                timeout_ms: Some(0),
                expr: expr.clone(),
            }
            .build(),
            // The kernel lists `ct protocol` without the direction nft sends with it.
            Expr::Ct { key, dir: Some(_) } if *key == CT_PROTOCOL => {
                Expr::Ct { key: *key, dir: None }.build()
            }
            _ => self.build(),
        }
    }

    pub(crate) fn build(&self) -> RawExpr {
        match self {
            Expr::Payload { base, offset, len, dreg } => {
                let e = RawExpr::alloc(c"payload");
                e.u32(sys::NFTNL_EXPR_PAYLOAD_DREG, *dreg);
                let base = match base {
                    Base::Link => libc::NFT_PAYLOAD_LL_HEADER,
                    Base::Network => libc::NFT_PAYLOAD_NETWORK_HEADER,
                    Base::Transport => libc::NFT_PAYLOAD_TRANSPORT_HEADER,
                };
                e.u32(sys::NFTNL_EXPR_PAYLOAD_BASE, base as u32);
                e.u32(sys::NFTNL_EXPR_PAYLOAD_OFFSET, *offset);
                e.u32(sys::NFTNL_EXPR_PAYLOAD_LEN, *len);
                e
            }
            Expr::Meta { key, dreg } => {
                let e = RawExpr::alloc(c"meta");
                let key = match key {
                    MetaKey::Iif => libc::NFT_META_IIF,
                    MetaKey::IifName => libc::NFT_META_IIFNAME,
                    MetaKey::OifName => libc::NFT_META_OIFNAME,
                    MetaKey::L4Proto => libc::NFT_META_L4PROTO,
                    MetaKey::Mark => libc::NFT_META_MARK,
                    MetaKey::PktType => libc::NFT_META_PKTTYPE,
                    MetaKey::IifType => libc::NFT_META_IIFTYPE,
                    MetaKey::PRandom => libc::NFT_META_PRANDOM,
                    MetaKey::SkUid => libc::NFT_META_SKUID,
                    MetaKey::SkGid => libc::NFT_META_SKGID,
                    MetaKey::TimeNs => 30,
                    MetaKey::TimeDay => 31,
                    MetaKey::TimeHour => 32,
                    MetaKey::Secpath => NFT_META_SECPATH,
                    MetaKey::IifGroup => libc::NFT_META_IIFGROUP,
                    MetaKey::OifGroup => libc::NFT_META_OIFGROUP,
                    MetaKey::RtClassid => libc::NFT_META_RTCLASSID,
                    MetaKey::Cpu => libc::NFT_META_CPU,
                    MetaKey::Cgroup => libc::NFT_META_CGROUP,
                };
                e.u32(sys::NFTNL_EXPR_META_KEY, key as u32);
                e.u32(sys::NFTNL_EXPR_META_DREG, *dreg);
                e
            }
            Expr::CtState => {
                let e = RawExpr::alloc(c"ct");
                e.u32(sys::NFTNL_EXPR_CT_KEY, libc::NFT_CT_STATE as u32);
                e.u32(sys::NFTNL_EXPR_CT_DREG, REG_1);
                e
            }
            Expr::Cmp(op, data) => {
                let e = RawExpr::alloc(c"cmp");
                e.u32(sys::NFTNL_EXPR_CMP_SREG, REG_1);
                let op = match op {
                    CmpOp::Eq => libc::NFT_CMP_EQ,
                    CmpOp::Neq => libc::NFT_CMP_NEQ,
                    CmpOp::Gte => libc::NFT_CMP_GTE,
                    CmpOp::Lte => libc::NFT_CMP_LTE,
                    CmpOp::Gt => libc::NFT_CMP_GT,
                    CmpOp::Lt => libc::NFT_CMP_LT,
                };
                e.u32(sys::NFTNL_EXPR_CMP_OP, op as u32);
                e.bytes(sys::NFTNL_EXPR_CMP_DATA, data);
                e
            }
            Expr::Bitwise { mask, xor } => {
                let e = RawExpr::alloc(c"bitwise");
                e.u32(sys::NFTNL_EXPR_BITWISE_SREG, REG_1);
                e.u32(sys::NFTNL_EXPR_BITWISE_DREG, REG_1);
                e.u32(sys::NFTNL_EXPR_BITWISE_LEN, mask.len() as u32);
                e.bytes(sys::NFTNL_EXPR_BITWISE_MASK, mask);
                e.bytes(sys::NFTNL_EXPR_BITWISE_XOR, xor);
                e
            }
            Expr::RangeNeq(from, to) => {
                let e = RawExpr::alloc(c"range");
                e.u32(sys::NFTNL_EXPR_RANGE_SREG, REG_1);
                e.u32(sys::NFTNL_EXPR_RANGE_OP, libc::NFT_RANGE_NEQ as u32);
                e.bytes(sys::NFTNL_EXPR_RANGE_FROM_DATA, from);
                e.bytes(sys::NFTNL_EXPR_RANGE_TO_DATA, to);
                e
            }
            Expr::Lookup { set, inverted, dreg } => {
                let e = RawExpr::alloc(c"lookup");
                e.u32(sys::NFTNL_EXPR_LOOKUP_SREG, REG_1);
                if let Some(dreg) = dreg {
                    e.u32(sys::NFTNL_EXPR_LOOKUP_DREG, *dreg);
                }
                e.str(sys::NFTNL_EXPR_LOOKUP_SET, &set.name);
                e.u32(sys::NFTNL_EXPR_LOOKUP_SET_ID, set.id);
                if *inverted {
                    e.u32(sys::NFTNL_EXPR_LOOKUP_FLAGS, libc::NFT_LOOKUP_F_INV as u32);
                }
                e
            }
            Expr::Counter => RawExpr::alloc(c"counter"),
            Expr::Limit { rate, unit, burst, over } => {
                let e = RawExpr::alloc(c"limit");
                e.u64(sys::NFTNL_EXPR_LIMIT_RATE, *rate);
                e.u64(sys::NFTNL_EXPR_LIMIT_UNIT, *unit);
                e.u32(sys::NFTNL_EXPR_LIMIT_BURST, *burst);
                e.u32(sys::NFTNL_EXPR_LIMIT_TYPE, libc::NFT_LIMIT_PKTS as u32);
                e.u32(sys::NFTNL_EXPR_LIMIT_FLAGS, u32::from(*over));
                e
            }
            Expr::BitwiseAt { reg, mask, xor } => {
                let e = RawExpr::alloc(c"bitwise");
                e.u32(sys::NFTNL_EXPR_BITWISE_SREG, *reg);
                e.u32(sys::NFTNL_EXPR_BITWISE_DREG, *reg);
                e.u32(sys::NFTNL_EXPR_BITWISE_LEN, mask.len() as u32);
                e.bytes(sys::NFTNL_EXPR_BITWISE_MASK, mask);
                e.bytes(sys::NFTNL_EXPR_BITWISE_XOR, xor);
                e
            }
            Expr::Connlimit { count, over } => {
                let e = RawExpr::alloc(c"connlimit");
                e.u32(sys::NFTNL_EXPR_CONNLIMIT_COUNT, *count);
                e.u32(sys::NFTNL_EXPR_CONNLIMIT_FLAGS, u32::from(*over));
                e
            }
            Expr::Dynset { set, update, timeout_ms, expr } => {
                let e = RawExpr::alloc(c"dynset");
                e.u32(sys::NFTNL_EXPR_DYNSET_SREG_KEY, REG_1);
                e.u32(sys::NFTNL_EXPR_DYNSET_OP, u32::from(*update));
                e.str(sys::NFTNL_EXPR_DYNSET_SET_NAME, &set.name);
                e.u32(sys::NFTNL_EXPR_DYNSET_SET_ID, set.id);
                if let Some(t) = timeout_ms {
                    e.u64(sys::NFTNL_EXPR_DYNSET_TIMEOUT, *t);
                }
                e.expr(sys::NFTNL_EXPR_DYNSET_EXPR, expr.build());
                e
            }
            Expr::Log { prefix, level, flags } => {
                let e = RawExpr::alloc(c"log");
                if let Some(prefix) = prefix {
                    e.str(sys::NFTNL_EXPR_LOG_PREFIX, prefix);
                }
                if let Some(level) = level {
                    e.u32(sys::NFTNL_EXPR_LOG_LEVEL, *level);
                }
                if *flags != 0 {
                    e.u32(sys::NFTNL_EXPR_LOG_FLAGS, *flags);
                }
                e
            }
            Expr::NfLog { prefix, group, snaplen, threshold } => {
                let e = RawExpr::alloc(c"log");
                if let Some(prefix) = prefix {
                    e.str(sys::NFTNL_EXPR_LOG_PREFIX, prefix);
                }
                e.u16(sys::NFTNL_EXPR_LOG_GROUP, *group);
                if let Some(s) = snaplen {
                    e.u32(sys::NFTNL_EXPR_LOG_SNAPLEN, *s);
                }
                if let Some(t) = threshold {
                    e.u16(sys::NFTNL_EXPR_LOG_QTHRESHOLD, *t);
                }
                e
            }
            Expr::Immediate { dreg, data } => {
                let e = RawExpr::alloc(c"immediate");
                e.u32(sys::NFTNL_EXPR_IMM_DREG, *dreg);
                e.bytes(sys::NFTNL_EXPR_IMM_DATA, data);
                e
            }
            Expr::Accept => verdict(libc::NF_ACCEPT, None),
            Expr::Drop => verdict(libc::NF_DROP, None),
            Expr::Return => verdict(libc::NFT_RETURN, None),
            Expr::Jump(chain) => verdict(libc::NFT_JUMP, Some(chain)),
            // nftnl-rs's `Verdict::Reject(Icmp(..))` sends an ICMPX code, which an `ip` table
            // reads as a plain ICMP code (ICMPX port-unreachable = 1 = host-unreachable).
            Expr::RejectIcmp(code) => {
                let e = RawExpr::alloc(c"reject");
                e.u32(sys::NFTNL_EXPR_REJECT_TYPE, libc::NFT_REJECT_ICMP_UNREACH as u32);
                e.u8(sys::NFTNL_EXPR_REJECT_CODE, *code);
                e
            }
            Expr::RejectTcpReset => {
                let e = RawExpr::alloc(c"reject");
                e.u32(sys::NFTNL_EXPR_REJECT_TYPE, libc::NFT_REJECT_TCP_RST as u32);
                e.u8(sys::NFTNL_EXPR_REJECT_CODE, 0);
                e
            }
            Expr::Nat { kind, regs } => {
                let e = RawExpr::alloc(c"nat");
                let kind = match kind {
                    NatKind::Snat => libc::NFT_NAT_SNAT,
                    NatKind::Dnat => libc::NFT_NAT_DNAT,
                };
                e.u32(sys::NFTNL_EXPR_NAT_TYPE, kind as u32);
                e.u32(sys::NFTNL_EXPR_NAT_FAMILY, libc::NFPROTO_IPV4 as u32);
                let attrs = [
                    Some(sys::NFTNL_EXPR_NAT_REG_ADDR_MIN),
                    Some(sys::NFTNL_EXPR_NAT_REG_ADDR_MAX),
                    Some(sys::NFTNL_EXPR_NAT_REG_PROTO_MIN),
                    Some(sys::NFTNL_EXPR_NAT_REG_PROTO_MAX),
                ];
                nat_regs(&e, regs, attrs, sys::NFTNL_EXPR_NAT_FLAGS);
                e
            }
            Expr::Masq(regs) => {
                let e = RawExpr::alloc(c"masq");
                let attrs = [
                    None,
                    None,
                    Some(sys::NFTNL_EXPR_MASQ_REG_PROTO_MIN),
                    Some(sys::NFTNL_EXPR_MASQ_REG_PROTO_MAX),
                ];
                nat_regs(&e, regs, attrs, sys::NFTNL_EXPR_MASQ_FLAGS);
                e
            }
            Expr::Redir(regs) => {
                let e = RawExpr::alloc(c"redir");
                let attrs = [
                    None,
                    None,
                    Some(sys::NFTNL_EXPR_REDIR_REG_PROTO_MIN),
                    Some(sys::NFTNL_EXPR_REDIR_REG_PROTO_MAX),
                ];
                nat_regs(&e, regs, attrs, sys::NFTNL_EXPR_REDIR_FLAGS);
                e
            }
            Expr::Dup { sreg_addr } => {
                let e = RawExpr::alloc(c"dup");
                e.u32(sys::NFTNL_EXPR_DUP_SREG_ADDR, *sreg_addr);
                e
            }
            Expr::NumgenInc(modulus) => {
                let e = RawExpr::alloc(c"numgen");
                e.u32(sys::NFTNL_EXPR_NG_DREG, REG_1);
                e.u32(sys::NFTNL_EXPR_NG_MODULUS, *modulus);
                e.u32(sys::NFTNL_EXPR_NG_TYPE, NFT_NG_INCREMENTAL);
                e.u32(sys::NFTNL_EXPR_NG_OFFSET, 0);
                e
            }
            Expr::FibType(flags) => {
                let e = RawExpr::alloc(c"fib");
                e.u32(sys::NFTNL_EXPR_FIB_DREG, REG_1);
                e.u32(sys::NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
                e.u32(sys::NFTNL_EXPR_FIB_FLAGS, *flags);
                e
            }
            Expr::Hton32 => {
                let e = RawExpr::alloc(c"byteorder");
                e.u32(sys::NFTNL_EXPR_BYTEORDER_SREG, REG_1);
                e.u32(sys::NFTNL_EXPR_BYTEORDER_DREG, REG_1);
                e.u32(sys::NFTNL_EXPR_BYTEORDER_OP, libc::NFT_BYTEORDER_HTON as u32);
                e.u32(sys::NFTNL_EXPR_BYTEORDER_LEN, 4);
                e.u32(sys::NFTNL_EXPR_BYTEORDER_SIZE, 4);
                e
            }
            Expr::TcpOptPresent(kind) => {
                let e = RawExpr::alloc(c"exthdr");
                e.u32(sys::NFTNL_EXPR_EXTHDR_DREG, REG_1);
                e.u8(sys::NFTNL_EXPR_EXTHDR_TYPE, *kind);
                e.u32(sys::NFTNL_EXPR_EXTHDR_OFFSET, 0);
                e.u32(sys::NFTNL_EXPR_EXTHDR_LEN, 1);
                e.u32(sys::NFTNL_EXPR_EXTHDR_FLAGS, 1);
                e.u32(sys::NFTNL_EXPR_EXTHDR_OP, NFT_EXTHDR_OP_TCPOPT);
                e
            }
            Expr::Quota { bytes, inv } => {
                let e = RawExpr::alloc(c"quota");
                e.u64(sys::NFTNL_EXPR_QUOTA_BYTES, *bytes);
                if *inv {
                    e.u32(sys::NFTNL_EXPR_QUOTA_FLAGS, 1);
                }
                e
            }
            Expr::Hton64 => {
                let e = RawExpr::alloc(c"byteorder");
                e.u32(sys::NFTNL_EXPR_BYTEORDER_SREG, REG_1);
                e.u32(sys::NFTNL_EXPR_BYTEORDER_DREG, REG_1);
                e.u32(sys::NFTNL_EXPR_BYTEORDER_OP, libc::NFT_BYTEORDER_HTON as u32);
                e.u32(sys::NFTNL_EXPR_BYTEORDER_LEN, 8);
                e.u32(sys::NFTNL_EXPR_BYTEORDER_SIZE, 8);
                e
            }
            Expr::ReadMss => {
                let e = RawExpr::alloc(c"exthdr");
                e.u32(sys::NFTNL_EXPR_EXTHDR_DREG, REG_1);
                e.u8(sys::NFTNL_EXPR_EXTHDR_TYPE, TCPOPT_MAXSEG);
                e.u32(sys::NFTNL_EXPR_EXTHDR_OFFSET, 2);
                e.u32(sys::NFTNL_EXPR_EXTHDR_LEN, 2);
                e.u32(sys::NFTNL_EXPR_EXTHDR_OP, NFT_EXTHDR_OP_TCPOPT);
                e
            }
            Expr::Ct { key, dir } => {
                let e = RawExpr::alloc(c"ct");
                e.u32(sys::NFTNL_EXPR_CT_KEY, *key);
                e.u32(sys::NFTNL_EXPR_CT_DREG, REG_1);
                if let Some(d) = dir {
                    e.u8(sys::NFTNL_EXPR_CT_DIR, *d);
                }
                e
            }
            Expr::CtMark => {
                let e = RawExpr::alloc(c"ct");
                e.u32(sys::NFTNL_EXPR_CT_KEY, libc::NFT_CT_MARK as u32);
                e.u32(sys::NFTNL_EXPR_CT_DREG, REG_1);
                e
            }
            Expr::SetMark { ct: false } => {
                let e = RawExpr::alloc(c"meta");
                e.u32(sys::NFTNL_EXPR_META_KEY, libc::NFT_META_MARK as u32);
                e.u32(sys::NFTNL_EXPR_META_SREG, REG_1);
                e
            }
            Expr::SetMark { ct: true } => {
                let e = RawExpr::alloc(c"ct");
                e.u32(sys::NFTNL_EXPR_CT_KEY, libc::NFT_CT_MARK as u32);
                e.u32(sys::NFTNL_EXPR_CT_SREG, REG_1);
                e
            }
            Expr::RtTcpmss => {
                let e = RawExpr::alloc(c"rt");
                e.u32(sys::NFTNL_EXPR_RT_KEY, NFT_RT_TCPMSS);
                e.u32(sys::NFTNL_EXPR_RT_DREG, REG_1);
                e
            }
            Expr::RtIpsec => {
                let e = RawExpr::alloc(c"rt");
                e.u32(sys::NFTNL_EXPR_RT_KEY, NFT_RT_XFRM);
                e.u32(sys::NFTNL_EXPR_RT_DREG, REG_1);
                e
            }
            Expr::Hton16 => {
                let e = RawExpr::alloc(c"byteorder");
                e.u32(sys::NFTNL_EXPR_BYTEORDER_SREG, REG_1);
                e.u32(sys::NFTNL_EXPR_BYTEORDER_DREG, REG_1);
                e.u32(sys::NFTNL_EXPR_BYTEORDER_OP, libc::NFT_BYTEORDER_HTON as u32);
                e.u32(sys::NFTNL_EXPR_BYTEORDER_LEN, 2);
                e.u32(sys::NFTNL_EXPR_BYTEORDER_SIZE, 2);
                e
            }
            Expr::WriteIpHead16 => {
                let e = RawExpr::alloc(c"payload");
                e.u32(sys::NFTNL_EXPR_PAYLOAD_SREG, REG_1);
                e.u32(sys::NFTNL_EXPR_PAYLOAD_BASE, libc::NFT_PAYLOAD_NETWORK_HEADER as u32);
                e.u32(sys::NFTNL_EXPR_PAYLOAD_OFFSET, 0);
                e.u32(sys::NFTNL_EXPR_PAYLOAD_LEN, 2);
                e.u32(sys::NFTNL_EXPR_PAYLOAD_CSUM_TYPE, libc::NFT_PAYLOAD_CSUM_INET as u32);
                e.u32(sys::NFTNL_EXPR_PAYLOAD_CSUM_OFFSET, 10);
                e.u32(sys::NFTNL_EXPR_PAYLOAD_FLAGS, 0);
                e
            }
            Expr::SetPriority => {
                let e = RawExpr::alloc(c"meta");
                e.u32(sys::NFTNL_EXPR_META_KEY, libc::NFT_META_PRIORITY as u32);
                e.u32(sys::NFTNL_EXPR_META_SREG, REG_1);
                e
            }
            // Flags always (0 too): the kernel lists them so.
            Expr::Queue { num, total, flags } => {
                let e = RawExpr::alloc(c"queue");
                e.u16(sys::NFTNL_EXPR_QUEUE_NUM, *num);
                e.u16(sys::NFTNL_EXPR_QUEUE_TOTAL, *total);
                e.u16(sys::NFTNL_EXPR_QUEUE_FLAGS, *flags);
                e
            }
            Expr::WriteMss => {
                let e = RawExpr::alloc(c"exthdr");
                e.u32(sys::NFTNL_EXPR_EXTHDR_SREG, REG_1);
                e.u8(sys::NFTNL_EXPR_EXTHDR_TYPE, TCPOPT_MAXSEG);
                e.u32(sys::NFTNL_EXPR_EXTHDR_OFFSET, 2);
                e.u32(sys::NFTNL_EXPR_EXTHDR_LEN, 2);
                e.u32(sys::NFTNL_EXPR_EXTHDR_OP, NFT_EXTHDR_OP_TCPOPT);
                e
            }
        }
    }
}

/// `NFT_NG_INCREMENTAL` of `enum nft_ng_types`.
const NFT_NG_INCREMENTAL: u32 = 0;
/// `NFT_FIB_RESULT_ADDRTYPE` of `enum nft_fib_result`.
const NFT_FIB_RESULT_ADDRTYPE: u32 = 3;
/// `NFT_RT_TCPMSS` of `enum nft_rt_keys` (linux/netfilter/nf_tables.h).
const NFT_RT_TCPMSS: u32 = 3;
/// `NFT_META_SECPATH` of `enum nft_meta_keys` (the libc crate stops at `PRANDOM`, 24).
const NFT_META_SECPATH: libc::c_int = 25;
/// `NFT_RT_XFRM` of `enum nft_rt_keys`.
const NFT_RT_XFRM: u32 = 4;
/// `NFT_EXTHDR_OP_TCPOPT` of `enum nft_exthdr_op`.
const NFT_EXTHDR_OP_TCPOPT: u32 = 1;
/// The kind of the TCP MSS option.
const TCPOPT_MAXSEG: u8 = 2;

/// Usable with nftnl-rs's own `Rule::add_expr` too.
impl nftnl::expr::Expression for Expr {
    fn to_expr(&self, _rule: &nftnl::Rule) -> NonNull<sys::nftnl_expr> {
        self.build().into_raw()
    }
}
