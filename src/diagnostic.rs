//! Diagnostics as data: spans into loaded sources, the `Diagnostic` type every stage returns,
//! the table of stable codes, and the one renderer (human, short, JSON).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Index of a source in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start: start as u32, end: end as u32 }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    /// Whether `other` starts inside this span (same file, `start..=end`).
    pub fn contains(self, other: Span) -> bool {
        self.file == other.file && self.start <= other.start && other.start <= self.end
    }
}

/// A value with the span it was written at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned<T> {
    pub node: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(node: T, span: Span) -> Self {
        Spanned { node, span }
    }
}

/// One loaded input (rules file or inventory), with its line index.
#[derive(Debug)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
    /// Where each line starts: made when a diagnostic is first placed, not for every load (a
    /// 7 MiB rules file's index took 1 ms and 0.4 MiB, for nothing when it compiles cleanly).
    line_starts: std::sync::OnceLock<Vec<u32>>,
}

impl SourceFile {
    fn line_starts(&self) -> &[u32] {
        self.line_starts.get_or_init(|| {
            let mut starts = vec![0u32];
            starts.extend(self.text.match_indices('\n').map(|(i, _)| i as u32 + 1));
            starts
        })
    }

    /// 1-based line and 1-based column (in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let line_starts = self.line_starts();
        let line = match line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = line_starts[line] as usize;
        let offset = (offset as usize).min(self.text.len());
        let col = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }

    /// The text of a 1-based line, without its line end.
    pub fn line_text(&self, line: usize) -> &str {
        let line_starts = self.line_starts();
        let start = line_starts[line - 1] as usize;
        let end = line_starts.get(line).map_or(self.text.len(), |&e| e as usize);
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }
}

/// Every source the run has loaded; spans point into these.
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn new() -> Sources {
        Sources::default()
    }

    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let text = text.into();
        self.files.push(SourceFile { name: name.into(), text, line_starts: Default::default() });
        FileId(self.files.len() as u32 - 1)
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// Replaces a file's text, returning the one it had: a streamed file's text is taken out
    /// (replaced by an empty one) while the file is compiled, and put back for diagnostics.
    pub fn replace_text(&mut self, id: FileId, text: String) -> String {
        let file = &mut self.files[id.0 as usize];
        file.line_starts = Default::default();
        std::mem::replace(&mut file.text, text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// A finding about the input. `labels[0]` is the primary location; there is always one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            labels: vec![Label { span, message: String::new() }],
            help: None,
        }
    }

    pub fn warning(code: Code, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, message, span) }
    }

    /// Text under the primary caret.
    pub fn with_label(mut self, text: impl Into<String>) -> Diagnostic {
        self.labels[0].message = text.into();
        self
    }

    /// A further location (e.g. the inventory entry a name was checked against).
    pub fn with_secondary(mut self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.labels.push(Label { span, message: text.into() });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn span(&self) -> Span {
        self.labels[0].span
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Declares [`Code`] and [`CODES`] from one list: each code with its one-line summary
/// (`explain` without a code, SARIF's rule list) and its document, `docs/codes/CODE.md`
/// (`explain CODE`, SARIF's rule help), included from the file named after the code, so that a
/// code cannot be listed without one (the build fails) nor paired with another code's.
macro_rules! codes {
    ($($code:ident: $summary:literal,)*) => {
        /// A diagnostic code. Only the listed codes exist, so a misspelt one does not compile.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $(
                #[doc = $summary]
                $code,
            )*
        }

        /// Every diagnostic code, in order (`Code`'s order, which is also the text's order).
        /// Codes are stable: never renumber one.
        pub const CODES: &[Code] = &[$(Code::$code,)*];

        impl Code {
            /// The code as printed: `E015`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$code => stringify!($code),)*
                }
            }

            /// The one-line summary.
            pub const fn summary(self) -> &'static str {
                match self {
                    $(Code::$code => $summary,)*
                }
            }

            /// The document, `docs/codes/CODE.md`.
            pub const fn doc(self) -> &'static str {
                match self {
                    $(Code::$code => {
                        include_str!(concat!("../docs/codes/", stringify!($code), ".md"))
                    })*
                }
            }
        }
    };
}

codes! {
    E001: "syntax error: the line is not in the rule language",
    E002: "unknown or unsupported option",
    E003: "unknown chain",
    E004: "unknown or unsupported match module (-m)",
    E005: "unknown or unsupported target (-j)",
    E006: "option given twice in one rule",
    E007: "option needs a match module or protocol that the rule does not load",
    E008: "value out of range or malformed",
    E009: "option belongs to another target",
    E010: "target lacks a required option",
    E011: "option not allowed in this chain",
    E012: "target not allowed in this chain",
    E013: "line without a chain whose target does not fix one",
    E014: "jump to an unknown subgroup, or to one of another chain",
    E015: "undefined variable",
    E016: "unknown interface",
    E017: "unknown name (not a plugin, FWset or variable)",
    E018: "a variable or set holds a value of the wrong kind here",
    E019: "text that nft cannot carry (quote, control character, too long)",
    E020: "input is not text (invalid UTF-8 or NUL bytes)",
    E021: "line too long",
    E022: "negation not allowed here",
    E101: "inventory is not valid YAML or has the wrong shape",
    E102: "inventory value is invalid",
    E103: "inventory entries conflict (duplicate name or address)",
    E104: "address outside the plugin network, or no free address left",
    W001: "network written with host bits set; they are masked",
    W002: "comment longer than nft keeps (128 bytes); it is cut",
    W003: "`# overlayfw: allow` comment without a reason, or naming no warning code",
    W004: "`# overlayfw: allow` comment that silences nothing",
    W005: "UTC weekdays: exact only where the kernel's timezone is UTC",
    W101: "rule shadowed by an earlier rule that matches all its packets",
    W102: "rule is an exact duplicate of an earlier one",
    W103: "DNAT that never fires: an earlier DNAT takes the same traffic",
    W104: "DNAT or COPY to an address on no network the inventory declares",
    W105: "verdict with no match: the lines after it are never reached",
    W106: "mirror that can loop: the COPY target sits behind the mirrored interface",
    W107: "DNAT to a plugin that FORWARD drops (drop-all, no earlier accept)",
    W108: "inventory entry no rule uses",
    W109: "rule that never matches: its matches contradict each other",
}

impl Code {
    /// The code written as text (case-insensitive), as a user names it to `explain`.
    pub fn parse(text: &str) -> Option<Code> {
        CODES.iter().copied().find(|c| c.as_str().eq_ignore_ascii_case(text))
    }

    /// Where the code stands in [`CODES`] (SARIF's `ruleIndex`).
    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How diagnostics are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// rustc-style, with the source line and a caret.
    Human,
    /// `FILE:LINE:COL: error[CODE]: message (help: …)`, one per line.
    Short,
    /// A JSON array of objects.
    Json,
    /// SARIF 2.1.0: one run, rules from [`CODES`], one result per diagnostic.
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…,line=…::message`), one per line.
    Github,
}

/// Renders diagnostics in the given format. `color` adds ANSI colours to the human format.
pub fn render(diags: &[Diagnostic], sources: &Sources, format: Format, color: bool) -> String {
    let mut out = String::new();
    match format {
        Format::Short => {
            for d in diags {
                let (file, line, col) = position(sources, d.span().file, d.span().start);
                let _ = write!(
                    out,
                    "{file}:{line}:{col}: {}[{}]: {}",
                    d.severity.as_str(),
                    d.code,
                    d.message
                );
                // The help (a did-you-mean, the fix) on the same line: one line a diagnostic.
                match &d.help {
                    Some(help) => {
                        let _ = writeln!(out, " (help: {})", help.replace(['\r', '\n'], " "));
                    }
                    None => out.push('\n'),
                }
            }
        }
        Format::Human => {
            for d in diags {
                render_human(&mut out, d, sources, color);
            }
            let errors = diags.iter().filter(|d| d.is_error()).count();
            let warnings = diags.len() - errors;
            if !diags.is_empty() {
                let _ = writeln!(out, "{}", summary(errors, warnings));
            }
        }
        Format::Json => {
            let items: Vec<serde_json::Value> = diags.iter().map(|d| json(d, sources)).collect();
            out = serde_json::to_string_pretty(&items).expect("diagnostics serialize");
            out.push('\n');
        }
        Format::Sarif => {
            out = serde_json::to_string_pretty(&sarif(diags, sources)).expect("SARIF serializes");
            out.push('\n');
        }
        Format::Github => {
            for d in diags {
                github(&mut out, d, sources);
            }
        }
    }
    out
}

/// The SARIF 2.1.0 log of one run. Columns count Unicode code points (declared with
/// `columnKind`), end columns are exclusive, as SARIF defines them.
fn sarif(diags: &[Diagnostic], sources: &Sources) -> serde_json::Value {
    let rules: Vec<serde_json::Value> = CODES
        .iter()
        .map(|c| {
            serde_json::json!({
                "id": c.as_str(),
                "shortDescription": { "text": c.summary() },
                "help": { "text": c.doc(), "markdown": c.doc() },
            })
        })
        .collect();
    let location = |l: &Label| {
        let f = sources.get(l.span.file);
        let (line, column) = f.line_col(l.span.start);
        let (end_line, end_column) = f.line_col(l.span.end);
        let mut artifact = serde_json::json!({ "uri": sarif_uri(&f.name) });
        if !f.name.starts_with('/') {
            artifact["uriBaseId"] = serde_json::json!("%SRCROOT%");
        }
        let mut loc = serde_json::json!({
            "physicalLocation": {
                "artifactLocation": artifact,
                "region": {
                    "startLine": line, "startColumn": column,
                    "endLine": end_line, "endColumn": end_column,
                },
            },
        });
        if !l.message.is_empty() {
            loc["message"] = serde_json::json!({ "text": l.message });
        }
        loc
    };
    let results: Vec<serde_json::Value> = diags
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            if let Some(help) = &d.help {
                text.push_str("\nhelp: ");
                text.push_str(help);
            }
            let mut r = serde_json::json!({
                "ruleId": d.code.as_str(),
                "ruleIndex": d.code.index(),
                "level": d.severity.as_str(),
                "message": { "text": text },
                "locations": [location(&d.labels[0])],
            });
            if d.labels.len() > 1 {
                r["relatedLocations"] = d.labels[1..]
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        let mut loc = location(l);
                        loc["id"] = serde_json::json!(i + 1);
                        loc
                    })
                    .collect();
            }
            r
        })
        .collect();
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "overlayfw",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

/// A file name as a SARIF URI: relative paths stay relative (to `%SRCROOT%`), absolute ones
/// become `file://` URIs; bytes outside RFC 3986's unreserved set and `/` are percent-encoded.
fn sarif_uri(name: &str) -> String {
    let mut out = String::new();
    if name.starts_with('/') {
        out.push_str("file://");
    }
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// One GitHub Actions workflow command. Columns only when the span is on one line (GitHub
/// ignores them otherwise); `endColumn` is the column of the last character.
fn github(out: &mut String, d: &Diagnostic, sources: &Sources) {
    let span = d.span();
    let f = sources.get(span.file);
    let (line, col) = f.line_col(span.start);
    let (end_line, end_col) = f.line_col(span.end);
    let command = if d.is_error() { "error" } else { "warning" };
    // The runner decodes the property's escapes: a plain name stays the real path (so that
    // the annotation finds the file); one with a control or hidden character is shown safe.
    let file = match crate::text::first_unsafe(&f.name) {
        None => Cow::Borrowed(f.name.as_str()),
        Some(_) => shown_name(&f.name),
    };
    let _ = write!(out, "::{command} file={},line={line}", github_property(&file));
    if end_line == line {
        let last = end_col.saturating_sub(1).max(col);
        let _ = write!(out, ",col={col},endLine={end_line},endColumn={last}");
    } else {
        let _ = write!(out, ",endLine={end_line}");
    }
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let _ = writeln!(out, ",title={}::{}", github_property(d.code.as_str()), github_data(&message));
}

/// Escapes a workflow command's message as the runner expects (`%`, CR, LF).
pub fn github_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a workflow command's property value: the message escapes plus `:` and `,`.
pub fn github_property(s: &str) -> String {
    github_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn summary(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, w: &str| if n == 1 { format!("1 {w}") } else { format!("{n} {w}s") };
    match (errors, warnings) {
        (e, 0) => plural(e, "error"),
        (0, w) => plural(w, "warning"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    }
}

fn position(sources: &Sources, file: FileId, offset: u32) -> (Cow<'_, str>, usize, usize) {
    let f = sources.get(file);
    let (line, col) = f.line_col(offset);
    (shown_name(&f.name), line, col)
}

/// A file's name as every format shows it: the one safe form ([`crate::text::safe_name`]), so
/// that a name cannot start a line of its own (a forged `::error` in a CI log) or garble a
/// terminal. SARIF percent-encodes the raw name as a URI instead.
fn shown_name(name: &str) -> Cow<'_, str> {
    crate::text::safe_name(name)
}

fn json(d: &Diagnostic, sources: &Sources) -> serde_json::Value {
    let label = |l: &Label| {
        let (file, line, column) = position(sources, l.span.file, l.span.start);
        let (_, end_line, end_column) = position(sources, l.span.file, l.span.end);
        serde_json::json!({
            "file": file, "line": line, "column": column,
            "end_line": end_line, "end_column": end_column, "message": l.message,
        })
    };
    let primary = label(&d.labels[0]);
    serde_json::json!({
        "severity": d.severity.as_str(),
        "code": d.code.as_str(),
        "message": d.message,
        "file": primary["file"], "line": primary["line"], "column": primary["column"],
        "labels": d.labels.iter().map(label).collect::<Vec<_>>(),
        "help": d.help,
    })
}

fn render_human(out: &mut String, d: &Diagnostic, sources: &Sources, color: bool) {
    let (bold, red, yellow, blue, reset) = if color {
        ("\x1b[1m", "\x1b[1;31m", "\x1b[1;33m", "\x1b[1;34m", "\x1b[0m")
    } else {
        ("", "", "", "", "")
    };
    let sev = if d.is_error() { red } else { yellow };
    let _ = writeln!(
        out,
        "{sev}{}[{}]{reset}{bold}: {}{reset}",
        d.severity.as_str(),
        d.code,
        d.message
    );
    let width = d
        .labels
        .iter()
        .map(|l| sources.get(l.span.file).line_col(l.span.start).0.to_string().len())
        .max()
        .unwrap_or(1);
    let pad = " ".repeat(width);
    for (i, l) in d.labels.iter().enumerate() {
        let file = sources.get(l.span.file);
        let (line, col) = file.line_col(l.span.start);
        let arrow = if i == 0 { "-->" } else { ":::" };
        let _ = writeln!(out, "{pad}{blue}{arrow}{reset} {}:{line}:{col}", shown_name(&file.name));
        let text = file.line_text(line);
        // Long lines are cut around the caret so a 1 MB line does not flood the terminal.
        let (shown, skipped) = window(text, col - 1);
        let _ = writeln!(out, "{pad} {blue}|{reset}");
        let _ = writeln!(out, "{blue}{line:>width$} |{reset} {shown}");
        let (end_line, end_col) = file.line_col(l.span.end);
        let span_chars = if end_line == line { end_col.saturating_sub(col).max(1) } else { 1 };
        let span_chars =
            span_chars.min(shown.chars().count().saturating_sub(col - 1 - skipped).max(1));
        let marker = if i == 0 { "^" } else { "-" };
        let mcolor = if i == 0 { sev } else { blue };
        let lead: String = shown
            .chars()
            .take(col - 1 - skipped)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let sep = if l.message.is_empty() { "" } else { " " };
        let _ = writeln!(
            out,
            "{pad} {blue}|{reset} {lead}{mcolor}{}{sep}{}{reset}",
            marker.repeat(span_chars),
            l.message
        );
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "{pad} {blue}={reset} {bold}help{reset}: {help}");
    }
    out.push('\n');
}

/// At most 120 characters of `text` around character column `col`; returns the window and how
/// many characters were skipped before it.
fn window(text: &str, col: usize) -> (String, usize) {
    const MAX: usize = 120;
    let count = text.chars().count();
    if count <= MAX {
        return (text.chars().map(printable).collect(), 0);
    }
    let start = col.saturating_sub(MAX / 2).min(count - MAX);
    (text.chars().skip(start).take(MAX).map(printable).collect(), start)
}

/// Control characters would garble the terminal, and text-direction and invisible ones make
/// the line read other than it is: show them as U+FFFD (one character for one, so the caret
/// stays under its column).
fn printable(c: char) -> char {
    if (c.is_control() && c != '\t') || crate::text::is_hidden(c) { '\u{fffd}' } else { c }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `short` and `github` carry the help (the did-you-mean); short keeps one line each, a
    /// help's line break becoming a space.
    #[test]
    fn short_and_github_carry_the_help() {
        let mut s = Sources::new();
        let id = s.add("r.rules", "INPUT_CUST -i eht0 -j ACCEPT\n");
        let d = Diagnostic::error(Code::E016, "unknown interface `eht0`", Span::new(id, 14, 18))
            .with_help("did you mean `eth0`?\nor declare it");
        let plain = Diagnostic::warning(Code::W102, "duplicate", Span::new(id, 0, 5));
        assert_eq!(
            render(&[d.clone(), plain], &s, Format::Short, false),
            "r.rules:1:15: error[E016]: unknown interface `eht0` (help: did you mean `eth0`? or declare it)\n\
             r.rules:1:1: warning[W102]: duplicate\n"
        );
        let gh = render(&[d], &s, Format::Github, false);
        assert!(gh.ends_with("%0Ahelp: did you mean `eth0`?%0Aor declare it\n"), "{gh}");
    }

    #[test]
    fn line_col_counts_chars_from_one() {
        let mut s = Sources::new();
        let id = s.add("f", "ab\nxé y\n");
        let f = s.get(id);
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        assert_eq!(f.line_col(7), (2, 4)); // 'y' after a 2-byte é
        assert_eq!(f.line_text(2), "xé y");
    }

    /// `Code`'s order is the text's (diagnostics sorted by code read the same as before codes
    /// were typed), each code's text parses back to it, and its index is its place in `CODES`.
    #[test]
    fn codes_are_in_text_order_and_parse_back() {
        for pair in CODES.windows(2) {
            assert!(pair[0] < pair[1] && pair[0].as_str() < pair[1].as_str(), "{pair:?}");
        }
        for (i, &c) in CODES.iter().enumerate() {
            assert_eq!(Code::parse(c.as_str()), Some(c));
            assert_eq!(Code::parse(&c.as_str().to_ascii_lowercase()), Some(c));
            assert_eq!(c.index(), i);
            assert_eq!(c.to_string(), c.as_str());
            assert!(c.doc().starts_with(&format!("# {c}: ")), "{c}: its own document");
        }
        assert_eq!(Code::parse("E999"), None);
        assert_eq!(Code::E015.as_str(), "E015");
    }

    #[test]
    fn sarif_rule_index_points_at_the_code() {
        let mut s = Sources::new();
        let id = s.add("r.rules", "INPUT -j DROP\n");
        let d = Diagnostic::warning(Code::W105, "catch-all", Span::new(id, 0, 5));
        let log = sarif(&[d], &s);
        let index = log["runs"][0]["results"][0]["ruleIndex"].as_u64().expect("index") as usize;
        assert_eq!(log["runs"][0]["tool"]["driver"]["rules"][index]["id"], "W105");
    }

    #[test]
    fn short_format_is_file_line_col() {
        let mut s = Sources::new();
        let id = s.add("r.rules", "INPUT -j DROP\nINPUT -i eht0 -j DROP\n");
        let d = Diagnostic::error(Code::E016, "unknown interface `eht0`", Span::new(id, 23, 27));
        assert_eq!(
            render(&[d], &s, Format::Short, false),
            "r.rules:2:10: error[E016]: unknown interface `eht0`\n"
        );
    }

    #[test]
    fn human_format_shows_hidden_characters_of_a_line_as_replacement_characters() {
        let mut s = Sources::new();
        let id = s.add("r.rules", "INPUT -i e\u{202e}th0 -j DROP # \u{200b}x\u{7}\n");
        let d = Diagnostic::error(Code::E016, "unknown interface", Span::new(id, 9, 17));
        let out = render(&[d], &s, Format::Human, false);
        assert!(out.contains("INPUT -i e\u{fffd}th0 -j DROP # \u{fffd}x\u{fffd}\n"), "{out}");
        assert!(!out.contains(['\u{202e}', '\u{200b}', '\u{7}']), "{out}");
    }

    #[test]
    fn github_format_escapes_data_and_properties() {
        let mut s = Sources::new();
        let id = s.add("a,b:c%.rules", "INPUT -i eht0 -j DROP\n");
        let d = Diagnostic::warning(Code::E016, "50% bad\r\nnext: line", Span::new(id, 9, 13))
            .with_help("did you mean `eth0`?");
        assert_eq!(
            render(&[d], &s, Format::Github, false),
            "::warning file=a%2Cb%3Ac%25.rules,line=1,col=10,endLine=1,endColumn=13,title=E016\
             ::50%25 bad%0D%0Anext: line%0Ahelp: did you mean `eth0`?\n"
        );
    }

    #[test]
    fn sarif_uris_are_relative_or_file_urls_and_encoded() {
        assert_eq!(sarif_uri("rules/a b.rules"), "rules/a%20b.rules");
        assert_eq!(sarif_uri("/etc/fw#1.rules"), "file:///etc/fw%231.rules");
    }
}
