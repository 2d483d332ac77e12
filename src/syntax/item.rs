//! A rule line's options as lowering hands them to the line checks: each option with its
//! spelling, spans and typed value, and the helpers every part of the syntax stage uses to make
//! diagnostics (the line's position in its file, E001/E008, quoting user text).

use std::net::Ipv4Addr;

use super::ast::{AddrItem, CtState, IcmpType, Net, PortSpec, Protocol, RateUnit, SetDir, Value};
use super::ast::{LogLevel, RejectWith};
use pest::iterators::Pair;

use super::grammar::Rule as G;
use super::options::Opt;
use crate::diagnostic::{Code, Diagnostic, FileId, Span, Spanned};

/// `--to` before we know which target reads it.
#[derive(Clone, Debug)]
pub(super) enum ToAddr {
    Addr(Ipv4Addr),
    /// Written with an explicit `/LEN`.
    Net(Net),
    Range(Ipv4Addr, Ipv4Addr),
    Var(String),
    Name(String),
}

#[derive(Clone, Debug)]
pub(super) struct ToVal {
    pub(super) addr: Spanned<ToAddr>,
    pub(super) ports: Option<Spanned<(u16, u16)>>,
}

/// A lowered option value.
#[derive(Clone, Debug)]
pub(super) enum Val {
    Flag,
    Iface(Spanned<Value<String>>),
    Addrs(Vec<Spanned<AddrItem>>),
    Proto(Spanned<Protocol>),
    Port(Spanned<PortSpec>),
    Ports(Vec<Spanned<PortSpec>>),
    States(Vec<Spanned<CtState>>),
    Text(Spanned<String>),
    Range(Spanned<(Ipv4Addr, Ipv4Addr)>),
    Rate(u32, RateUnit),
    Num(u32),
    Set(Spanned<String>, SetDir),
    Icmp(Spanned<IcmpType>),
    Word(Spanned<String>),
    /// `--reject-with`: the type, and the word as written (lower-cased) for messages.
    Reject(Spanned<RejectWith>, String),
    Level(Spanned<LogLevel>),
    To(Spanned<ToVal>),
    PortPair((u16, u16)),
    /// `--tcp-flags MASK COMP` as bits (fin 0x01, syn 0x02, rst 0x04, psh 0x08, ack 0x10,
    /// urg 0x20).
    TcpFlags {
        mask: u8,
        comp: u8,
    },
    /// `VALUE[/MASK]` of a mark option, the mask `None` when not written.
    MarkMask(u32, Option<u32>),
    /// An inclusive range of numbers (`N` is `N:N`).
    NumRange(u32, u32),
    /// `--mac-source`.
    Mac([u8; 6]),
    /// A 64-bit range `from:to` (`--connbytes N` is `N:u64::MAX`).
    Count(u64, u64),
    /// One network (`--ctorigsrc`).
    Net(ipnetwork::Ipv4Network),
}

/// One option of a line, lowered.
#[derive(Clone, Debug)]
pub(super) struct Item<'t> {
    pub(super) opt: Opt,
    pub(super) spelling: &'t str,
    pub(super) name_span: Span,
    /// The `!` before the option.
    pub(super) neg: Option<Span>,
    /// From the `!` (or the name) through the end of the value.
    pub(super) span: Span,
    pub(super) val: Val,
}

/// Where a line sits in its file.
#[derive(Clone, Copy)]
pub(super) struct LineCtx<'t> {
    pub file: FileId,
    /// Byte offset of `text` in the file.
    pub base: usize,
    /// The trimmed rule text.
    pub text: &'t str,
}

/// A value's text and where it starts in [`LineCtx::text`]: what lowering reads of a value
/// word, whether the parser found it or the plain path ([`super::plain`]).
#[derive(Clone, Copy, Debug)]
pub(super) struct Tok<'t> {
    pub(super) text: &'t str,
    pub(super) at: usize,
}

impl<'t> Tok<'t> {
    /// The part `text[from..to]`.
    pub(super) fn sub(self, from: usize, to: usize) -> Tok<'t> {
        Tok { text: &self.text[from..to], at: self.at + from }
    }

    /// The parts between `sep`s, each with its place.
    pub(super) fn split(self, sep: char) -> impl Iterator<Item = Tok<'t>> {
        let mut from = 0;
        self.text.split(sep).map(move |part| {
            let t = Tok { text: part, at: self.at + from };
            from += part.len() + sep.len_utf8();
            t
        })
    }
}

impl<'t> LineCtx<'t> {
    pub(super) fn span(&self, p: &Pair<'_, G>) -> Span {
        let s = p.as_span();
        self.at(s.start(), s.end())
    }

    pub(super) fn tok(&self, p: &Pair<'t, G>) -> Tok<'t> {
        Tok { text: p.as_str(), at: p.as_span().start() }
    }

    pub(super) fn tspan(&self, t: Tok<'_>) -> Span {
        self.at(t.at, t.at + t.text.len())
    }

    pub(super) fn at(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, self.base + start, self.base + end)
    }
}

pub(super) type Res<T> = Result<T, Diagnostic>;

pub(super) fn e001(msg: String, span: Span) -> Diagnostic {
    Diagnostic::error(Code::E001, msg, span)
}

pub(super) fn e008(msg: String, span: Span) -> Diagnostic {
    Diagnostic::error(Code::E008, msg, span)
}

/// At most 40 characters of `s`, for quoting user text in a message.
pub(super) fn shown(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
