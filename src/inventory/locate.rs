//! Where keys and values sit in the inventory's YAML text. serde_yaml 0.9 reports positions only
//! for errors, so this small scanner rebuilds the document's outline (block mappings, block
//! sequences, flow collections, scalars) with byte ranges. It is tolerant, not a YAML parser: it
//! runs on text serde_yaml already accepted, and whatever it does not understand becomes
//! `Kind::Unknown`, so callers fall back to the enclosing entry's span. It runs in linear time
//! (one pass over the lines, no backtracking across lines).

use std::ops::Range;

/// Nesting beyond this is left as `Kind::Unknown` (serde_yaml stops at 128 anyway).
const MAX_DEPTH: usize = 160;

/// A value and where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Node {
    /// A scalar's text (quotes included), or the first character of a collection; an empty
    /// range where a value is absent (`key:` with nothing after it).
    pub span: Range<usize>,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Kind {
    Scalar,
    Seq(Vec<Node>),
    Map(Vec<Entry>),
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    /// The key as written, quotes removed.
    pub key: String,
    pub key_span: Range<usize>,
    pub value: Node,
}

impl Node {
    /// The `i`-th entry of a mapping if its key is `key` (the usual case: the outline has the
    /// same entries in the same order as the parsed value), else the first entry named `key`.
    pub fn entry(&self, key: &str, i: usize) -> Option<&Entry> {
        match &self.kind {
            Kind::Map(entries) => match entries.get(i) {
                Some(e) if e.key == key => Some(e),
                _ => entries.iter().find(|e| e.key == key),
            },
            _ => None,
        }
    }

    /// Every entry of a mapping named `key`, in order (to point at duplicates).
    pub fn entries_named<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        let entries: &[Entry] = match &self.kind {
            Kind::Map(entries) => entries,
            _ => &[],
        };
        entries.iter().filter(move |e| e.key == key)
    }

    pub fn item(&self, i: usize) -> Option<&Node> {
        match &self.kind {
            Kind::Seq(items) => items.get(i),
            _ => None,
        }
    }
}

/// The outline of the (single) document in `text`.
pub(super) fn outline(text: &str) -> Node {
    let mut s = Scanner::new(text);
    s.node_below(-1, false, 0, 0)
}

/// One line holding something other than blanks or a comment.
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    /// End of the line's content, before `\r\n` / `\n`.
    end: usize,
    indent: usize,
}

struct Scanner<'a> {
    b: &'a [u8],
    lines: Vec<Line>,
    /// Index in `lines` of the next line not yet consumed.
    cur: usize,
}

fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Scanner<'a> {
        let b = text.as_bytes();
        let mut lines = Vec::new();
        let mut start = 0;
        while start <= b.len() {
            let nl = b[start..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| start + p);
            let mut end = nl;
            if end > start && b[end - 1] == b'\r' {
                end -= 1;
            }
            let indent = b[start..end].iter().take_while(|&&c| c == b' ').count();
            let content = &b[start + indent..end];
            let first = content.first().copied();
            let marker = indent == 0
                && (content.starts_with(b"---") || content.starts_with(b"..."))
                && content.get(3).is_none_or(|&c| is_ws(c));
            let directive = indent == 0 && first == Some(b'%');
            let blank = content.iter().all(|&c| is_ws(c)) || first == Some(b'#');
            if !(blank || marker || directive) {
                lines.push(Line { start, end, indent });
            }
            if nl == b.len() {
                break;
            }
            start = nl + 1;
        }
        Scanner { b, lines, cur: 0 }
    }

    fn line(&self) -> Option<Line> {
        self.lines.get(self.cur).copied()
    }

    /// Skips blanks on the current line from `pos`.
    fn skip_ws(&self, mut pos: usize, end: usize) -> usize {
        while pos < end && is_ws(self.b[pos]) {
            pos += 1;
        }
        pos
    }

    /// `-` followed by a blank or the end of the line: a block sequence entry.
    fn is_dash(&self, pos: usize, end: usize) -> bool {
        pos < end && self.b[pos] == b'-' && (pos + 1 == end || is_ws(self.b[pos + 1]))
    }

    /// Skips the lines more indented than `indent` (the rest of a scalar or unknown node).
    fn skip_deeper(&mut self, indent: isize) {
        while let Some(l) = self.line() {
            if l.indent as isize > indent {
                self.cur += 1;
            } else {
                break;
            }
        }
    }

    /// The value after `key:` or `- ` at `pos` on the current line, or on the following lines.
    /// `seq_ok`: a block sequence may start at `parent` indent (a mapping value).
    fn node_after(&mut self, parent: isize, pos: usize, seq_ok: bool, depth: usize) -> Node {
        let Some(l) = self.line() else { return empty(pos) };
        let p = self.skip_ws(pos, l.end);
        if p >= l.end || self.b[p] == b'#' {
            self.cur += 1;
            return self.node_below(parent, seq_ok, pos, depth);
        }
        self.node_here(parent, p, seq_ok, depth)
    }

    /// A node starting on the next unconsumed line, if that line belongs to it.
    fn node_below(&mut self, parent: isize, seq_ok: bool, at: usize, depth: usize) -> Node {
        let Some(l) = self.line() else { return empty(at) };
        let p = l.start + l.indent;
        let deeper = l.indent as isize > parent;
        let same_seq = seq_ok && l.indent as isize == parent && self.is_dash(p, l.end);
        if deeper || same_seq { self.node_here(parent, p, seq_ok, depth) } else { empty(at) }
    }

    /// A node whose first character is at `p` (not blank, not a comment) on the current line.
    fn node_here(&mut self, parent: isize, p: usize, seq_ok: bool, depth: usize) -> Node {
        let Some(l) = self.line() else { return empty(p) };
        if depth > MAX_DEPTH {
            self.cur += 1;
            self.skip_deeper(parent);
            return Node { span: p..p, kind: Kind::Unknown };
        }
        let col = p - l.start;
        match self.b[p] {
            b'&' | b'!' => {
                // Anchor or tag: the node follows, on this line or below.
                let mut q = p;
                while q < l.end && !is_ws(self.b[q]) {
                    q += 1;
                }
                self.node_after(parent, q, seq_ok, depth + 1)
            }
            b'-' if self.is_dash(p, l.end) => self.block_seq(col, p, depth + 1),
            b'[' | b'{' => {
                let (node, end) = self.flow(p, depth + 1);
                // Continue after the line holding the closing bracket.
                self.cur = self.lines.partition_point(|x| x.start <= end.saturating_sub(1));
                self.cur = self.cur.max(self.lines_before(p) + 1);
                node
            }
            b'|' | b'>' => {
                self.cur += 1;
                self.skip_deeper(parent);
                Node { span: p..l.end, kind: Kind::Scalar }
            }
            _ => {
                if self.key_at(p, l.end).is_some() {
                    return self.block_map(col, p, depth + 1);
                }
                let span = self.block_scalar(p, l.end);
                self.cur = self.lines.partition_point(|x| x.start < span.end).max(self.cur + 1);
                self.skip_deeper(parent);
                Node { span, kind: Kind::Scalar }
            }
        }
    }

    /// Number of significant lines starting at or before `pos`.
    fn lines_before(&self, pos: usize) -> usize {
        self.lines.partition_point(|x| x.start <= pos).saturating_sub(1)
    }

    /// A scalar in block context at `p`: quoted (possibly over several lines) or plain (up to a
    /// comment or the end of the line).
    fn block_scalar(&self, p: usize, end: usize) -> Range<usize> {
        match self.b[p] {
            b'"' | b'\'' => p..self.quoted_end(p),
            _ => p..self.plain_end(p, end, false),
        }
    }

    /// The end (after the closing quote) of a quoted scalar at `p`; the text end if unclosed.
    fn quoted_end(&self, p: usize) -> usize {
        let q = self.b[p];
        let mut i = p + 1;
        while i < self.b.len() {
            let c = self.b[i];
            if q == b'"' && c == b'\\' {
                i += 2;
                continue;
            }
            if c == q {
                if q == b'\'' && self.b.get(i + 1) == Some(&b'\'') {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            i += 1;
        }
        self.b.len()
    }

    /// The end of a plain scalar at `p`, trailing blanks excluded. In flow context it also stops
    /// at `,[]{}` and at `:` followed by a blank or flow indicator.
    fn plain_end(&self, p: usize, end: usize, flow: bool) -> usize {
        let mut i = p;
        let mut last = p;
        while i < end {
            let c = self.b[i];
            if c == b'\n' || c == b'\r' || (c == b'#' && i > p && is_ws(self.b[i - 1])) {
                break;
            }
            if flow {
                if matches!(c, b',' | b'[' | b']' | b'{' | b'}') {
                    break;
                }
                if c == b':' {
                    let n = self.b.get(i + 1).copied();
                    if n.is_none_or(|n| {
                        is_ws(n) || n == b'\n' || n == b'\r' || b",[]{}".contains(&n)
                    }) {
                        break;
                    }
                }
            }
            if !is_ws(c) {
                last = i + 1;
            }
            i += 1;
        }
        last
    }

    /// If a block mapping key starts at `p` (`key:` then a blank or the line end), returns the
    /// key text, its span and the position after the colon.
    fn key_at(&self, p: usize, end: usize) -> Option<(String, Range<usize>, usize)> {
        let c = self.b[p];
        let (key_end, text) = if c == b'"' || c == b'\'' {
            let e = self.quoted_end(p);
            if e > end {
                return None;
            }
            (e, unquote(&self.b[p..e]))
        } else {
            if b"[]{}#&*!|>%@`,?".contains(&c) || self.is_dash(p, end) {
                return None;
            }
            let mut i = p;
            loop {
                if i >= end || (self.b[i] == b'#' && i > p && is_ws(self.b[i - 1])) {
                    return None;
                }
                if self.b[i] == b':' && (i + 1 == end || is_ws(self.b[i + 1])) {
                    break;
                }
                i += 1;
            }
            let mut e = i;
            while e > p && is_ws(self.b[e - 1]) {
                e -= 1;
            }
            (e, String::from_utf8_lossy(&self.b[p..e]).into_owned())
        };
        let colon = self.skip_ws(key_end, end);
        if colon < end && self.b[colon] == b':' && (colon + 1 == end || is_ws(self.b[colon + 1])) {
            Some((text, p..key_end, colon + 1))
        } else {
            None
        }
    }

    /// A block mapping whose first key is at `p`, column `col`.
    fn block_map(&mut self, col: usize, p: usize, depth: usize) -> Node {
        let mut entries = Vec::new();
        let mut pos = p;
        while let Some(l) = self.line() {
            let Some((key, key_span, after)) = self.key_at(pos, l.end) else { break };
            let before = self.cur;
            let value = self.node_after(col as isize, after, true, depth);
            if self.cur == before {
                self.cur += 1;
            }
            entries.push(Entry { key, key_span, value });
            match self.line() {
                Some(n) if n.indent == col => pos = n.start + n.indent,
                _ => break,
            }
        }
        Node { span: p..p + 1, kind: Kind::Map(entries) }
    }

    /// A block sequence whose first `-` is at `p`, column `col`.
    fn block_seq(&mut self, col: usize, p: usize, depth: usize) -> Node {
        let mut items = Vec::new();
        let mut pos = p;
        while let Some(l) = self.line() {
            if !self.is_dash(pos, l.end) {
                break;
            }
            let before = self.cur;
            let item = self.node_after(col as isize, pos + 1, false, depth);
            if self.cur == before {
                self.cur += 1;
            }
            items.push(item);
            match self.line() {
                Some(n) if n.indent == col => pos = n.start + n.indent,
                _ => break,
            }
        }
        Node { span: p..p + 1, kind: Kind::Seq(items) }
    }

    /// Skips blanks, line breaks and comments in flow context.
    fn flow_ws(&self, mut i: usize) -> usize {
        while i < self.b.len() {
            match self.b[i] {
                b' ' | b'\t' | b'\r' | b'\n' => i += 1,
                b'#' => {
                    while i < self.b.len() && self.b[i] != b'\n' {
                        i += 1;
                    }
                }
                _ => break,
            }
        }
        i
    }

    /// A flow node at `p`; returns it and the position after it.
    fn flow(&self, p: usize, depth: usize) -> (Node, usize) {
        let len = self.b.len();
        if p >= len {
            return (empty(p), p);
        }
        if depth > MAX_DEPTH {
            return (Node { span: p..p, kind: Kind::Unknown }, len);
        }
        match self.b[p] {
            open @ (b'[' | b'{') => {
                let close = if open == b'[' { b']' } else { b'}' };
                let mut items = Vec::new();
                let mut entries = Vec::new();
                let mut i = p + 1;
                loop {
                    i = self.flow_ws(i);
                    if i >= len {
                        break;
                    }
                    if self.b[i] == close {
                        i += 1;
                        break;
                    }
                    if self.b[i] == b',' {
                        i += 1;
                        continue;
                    }
                    let start = i;
                    let (node, after) = self.flow(i, depth + 1);
                    i = self.flow_ws(after);
                    let is_pair = i < len && self.b[i] == b':';
                    let value = if is_pair {
                        let (v, after) = self.flow(self.flow_ws(i + 1), depth + 1);
                        i = after;
                        Some(v)
                    } else {
                        None
                    };
                    if open == b'[' {
                        items.push(node);
                    } else {
                        let key = unquote(&self.b[node.span.clone()]);
                        let value = value.unwrap_or_else(|| empty(node.span.end));
                        entries.push(Entry { key, key_span: node.span, value });
                    }
                    if i == start {
                        i += 1; // no progress: skip a character we do not understand
                    }
                }
                let kind = if open == b'[' { Kind::Seq(items) } else { Kind::Map(entries) };
                (Node { span: p..p + 1, kind }, i)
            }
            b'"' | b'\'' => {
                let e = self.quoted_end(p);
                (Node { span: p..e, kind: Kind::Scalar }, e)
            }
            b',' | b']' | b'}' | b':' => (empty(p), p),
            _ => {
                // `plain_end` stops at the line break: no scan to the line's end per element,
                // which would be quadratic on a one-line list of a million elements.
                let e = self.plain_end(p, len, true).max(p + 1).min(len);
                (Node { span: p..e, kind: Kind::Scalar }, e)
            }
        }
    }
}

fn empty(at: usize) -> Node {
    Node { span: at..at, kind: Kind::Scalar }
}

/// A key's text: quotes removed, the common escapes undone.
fn unquote(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    if s.len() >= 2 && s.starts_with('\'') && s.ends_with('\'') {
        return s[1..s.len() - 1].replace("''", "'");
    }
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        return s[1..s.len() - 1].replace("\\\"", "\"").replace("\\\\", "\\");
    }
    s.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of<'t>(t: &'t str, r: &Range<usize>) -> &'t str {
        &t[r.clone()]
    }

    #[test]
    fn block_map_seq_and_flow() {
        let t = "a: 1\nb:\n  c: x # note\n  d: [p, 'q r', {k: v}]\nl:\n- one\n-   two\n- n: 1\n  m: 2\n";
        let root = outline(t);
        assert_eq!(text_of(t, &root.entry("a", 0).unwrap().value.span), "1");
        let b = &root.entry("b", 1).unwrap().value;
        assert_eq!(text_of(t, &b.entry("c", 0).unwrap().value.span), "x");
        let d = &b.entry("d", 1).unwrap().value;
        assert_eq!(text_of(t, &d.item(1).unwrap().span), "'q r'");
        assert_eq!(text_of(t, &d.item(2).unwrap().entry("k", 0).unwrap().value.span), "v");
        let l = &root.entry("l", 2).unwrap().value;
        assert_eq!(text_of(t, &l.item(1).unwrap().span), "two");
        let m = l.item(2).unwrap().entry("m", 1).unwrap();
        assert_eq!(text_of(t, &m.key_span), "m");
        assert_eq!(text_of(t, &m.value.span), "2");
        assert!(root.entry("zz", 0).is_none());
    }

    #[test]
    fn multiline_flow_and_block_scalars_keep_the_outline() {
        let t = "s: [a,\n  b, # c\n  c]\nt: |\n  text: no\nu: \"q\"\n";
        let root = outline(t);
        let s = &root.entry("s", 0).unwrap().value;
        assert_eq!(text_of(t, &s.item(2).unwrap().span), "c");
        assert_eq!(text_of(t, &root.entry("u", 2).unwrap().value.span), "\"q\"");
    }

    #[test]
    fn garbage_does_not_panic() {
        for t in
            ["", "-", ": :", "[", "{a: [", "\"", "a:\n  - - - [x", "- a: b\n c", "\u{e9}: \u{e9}"]
        {
            let _ = outline(t);
        }
    }
}
