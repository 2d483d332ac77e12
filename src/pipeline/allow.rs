//! Accepted warnings: `# overlayfw: allow W101 (reason)` on the line before a rule silences
//! that code's warnings on that rule (`--allow CODE` silences a code everywhere, in the CLI).
//! Errors are never silenced. The comment's own problems are warnings: W003 (no reason, an
//! unknown code, an error's code, a misspelt directive), W004 (an allow that silences nothing).

use crate::diagnostic::{Code, Diagnostic, FileId, Severity, Span};

/// The word that opens a directive comment: `# overlayfw: …`.
const MARK: &str = "overlayfw:";

/// One code accepted on one rule line.
#[derive(Debug)]
pub(super) struct Allow {
    code: Code,
    /// The code as written in the comment.
    at: Span,
    /// The rule line it covers, from its first to its last byte; `None`: the comment is
    /// followed by no rule (a blank line or the end of the file).
    rule: Option<Span>,
    used: bool,
}

/// The directives of a rules file, and the problems of their comments (W003, W004).
pub(super) fn scan(file: FileId, text: &str, diags: &mut Vec<Diagnostic>) -> Vec<Allow> {
    let mut allows = Vec::new();
    let mut search = 0;
    while let Some(i) = text[search..].find(MARK).map(|i| search + i) {
        let line_start = text[..i].rfind('\n').map_or(0, |j| j + 1);
        let line_end = text[i..].find('\n').map_or(text.len(), |j| i + j);
        search = line_end;
        // Only a comment line that starts `# overlayfw:` (blanks aside) is a directive.
        let before = text[line_start..i].trim_matches([' ', '\t']);
        if before.strip_prefix('#').is_none_or(|rest| !rest.trim_matches([' ', '\t']).is_empty()) {
            continue;
        }
        let rule = rule_after(file, text, line_end);
        let body_start = i + MARK.len();
        let body = text[body_start..line_end].trim_end_matches(['\r', ' ', '\t']);
        directive(file, body_start, body, rule, &mut allows, diags);
    }
    allows
}

/// The first line after `from` (a line's end) that is not a comment: the rule a directive
/// covers, when it is a rule (not blank, not the end). Comment lines in between are skipped, so
/// that several directives can stack above one rule.
fn rule_after(file: FileId, text: &str, mut from: usize) -> Option<Span> {
    while from < text.len() {
        let start = from + 1;
        let end = text[start..].find('\n').map_or(text.len(), |j| start + j);
        let line = text[start..end].trim_matches([' ', '\t', '\r']);
        if line.is_empty() {
            return None;
        }
        if !line.starts_with('#') {
            return Some(Span::new(file, start, end));
        }
        from = end;
    }
    None
}

/// Parses `allow CODE[, CODE…] (reason)` (the text after `overlayfw:`, at byte `base`).
fn directive(
    file: FileId,
    base: usize,
    body: &str,
    rule: Option<Span>,
    allows: &mut Vec<Allow>,
    diags: &mut Vec<Diagnostic>,
) {
    let lead = body.len() - body.trim_start().len();
    let whole = Span::new(file, base + lead, base + body.len());
    let Some(rest) = body
        .trim_start()
        .strip_prefix("allow")
        .filter(|r| r.is_empty() || r.starts_with([' ', '\t']))
    else {
        diags.push(
            Diagnostic::warning(Code::W003, "unknown `overlayfw:` directive", whole)
                .with_label("not `allow CODE (reason)`")
                .with_help("write `# overlayfw: allow W101 (why this warning is accepted)`"),
        );
        return;
    };
    let rest_at = base + lead + "allow".len();
    let (codes, reason) = match rest.find('(') {
        Some(open) => (&rest[..open], Some(&rest[open + 1..])),
        None => (rest, None),
    };
    let reason = reason.and_then(|r| r.strip_suffix(')')).map(str::trim).filter(|r| !r.is_empty());
    let mut found = Vec::new();
    let mut offset = 0;
    for word in codes.split(|c: char| c == ',' || c.is_whitespace()) {
        let at = rest_at + offset;
        offset += word.len() + 1;
        if word.is_empty() {
            continue;
        }
        let span = Span::new(file, at, at + word.len());
        match Code::parse(word) {
            Some(code) if code.as_str().starts_with('W') => found.push((code, span)),
            Some(code) => diags.push(
                Diagnostic::warning(
                    Code::W003,
                    format!("{code} is an error; errors cannot be allowed"),
                    span,
                )
                .with_label("an error's code")
                .with_help("fix the rule: only warnings (W…) can be accepted"),
            ),
            None => {
                let mut d = Diagnostic::warning(
                    Code::W003,
                    format!("no diagnostic code `{}` to allow", word.escape_debug()),
                    span,
                )
                .with_label("unknown code");
                let warnings = crate::diagnostic::CODES.iter().map(|c| c.as_str());
                if let Some(s) = crate::suggest::did_you_mean(word, warnings) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                diags.push(d);
            }
        }
    }
    if found.is_empty() && !diags.iter().any(|d| d.span().file == file && whole.contains(d.span()))
    {
        diags.push(
            Diagnostic::warning(Code::W003, "`allow` names no code", whole)
                .with_help("write `# overlayfw: allow W101 (why this warning is accepted)`"),
        );
        return;
    }
    if reason.is_none() {
        diags.push(
            Diagnostic::warning(Code::W003, "an allowed warning needs a reason", whole)
                .with_label("no `(reason)`")
                .with_help("say why the warning is accepted: `# overlayfw: allow W101 (reason)`"),
        );
    }
    for (code, at) in found {
        if rule.is_none() {
            diags.push(
                Diagnostic::warning(
                    Code::W004,
                    format!("`allow {code}` is followed by no rule"),
                    at,
                )
                .with_help("put the comment on the line right before the rule it accepts"),
            );
            continue;
        }
        allows.push(Allow { code, at, rule, used: false });
    }
}

/// Removes the warnings the directives accept. With `complete` (every lint ran: no error),
/// an allow that silenced nothing is a W004; otherwise that cannot be known, and is not said.
pub(super) fn apply(allows: &mut [Allow], diags: &mut Vec<Diagnostic>, complete: bool) {
    if allows.is_empty() {
        return;
    }
    diags.retain(|d| {
        if d.severity != Severity::Warning {
            return true;
        }
        let at = d.span();
        let mut kept = true;
        for a in allows.iter_mut() {
            if a.code == d.code && a.rule.is_some_and(|r| r.contains(at)) {
                a.used = true;
                kept = false;
            }
        }
        kept
    });
    if complete {
        for a in allows.iter().filter(|a| !a.used) {
            let mut d = Diagnostic::warning(
                Code::W004,
                format!("`allow {}` silences nothing: the rule has no {} warning", a.code, a.code),
                a.at,
            )
            .with_help(
                "remove the allow, or move it to the line before the rule whose warning it accepts",
            );
            if let Some(rule) = a.rule {
                d = d.with_secondary(rule, "the rule it covers");
            }
            diags.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Vec<Allow>, Vec<(Code, String)>) {
        let mut diags = Vec::new();
        let allows = scan(FileId(0), text, &mut diags);
        (allows, diags.into_iter().map(|d| (d.code, d.message)).collect())
    }

    #[test]
    fn a_directive_covers_the_next_rule_line_and_may_stack() {
        let text = "# overlayfw: allow W101 (kept for the audit)\n# overlayfw: allow w102, W109 (x)\nINPUT_CUST -j ACCEPT\n";
        let (allows, diags) = run(text);
        assert!(diags.is_empty(), "{diags:?}");
        let codes: Vec<_> = allows.iter().map(|a| a.code).collect();
        assert_eq!(codes, [Code::W101, Code::W102, Code::W109]);
        let rule = text.find("INPUT_CUST").expect("rule");
        for a in &allows {
            let r = a.rule.expect("covers a rule");
            assert_eq!((r.start as usize, r.end as usize), (rule, text.len() - 1));
        }
    }

    #[test]
    fn problems_of_the_comment_are_warnings() {
        let (allows, diags) = run(concat!(
            "# overlayfw: allow W101\nA -j ACCEPT\n",
            "# overlayfw: allow E016 (no)\nA -j ACCEPT\n",
            "# overlayfw: allow W1O1 (typo)\nA -j ACCEPT\n",
            "# overlayfw: alow W101 (typo)\nA -j ACCEPT\n",
            "# overlayfw: allow W101 ()\nA -j ACCEPT\n",
            "# overlayfw: allow W101 (then nothing)\n\nA -j ACCEPT\n",
            "INPUT_CUST -m comment --comment \"overlayfw: allow W101\" -j ACCEPT\n",
            "# see overlayfw: allow W101 (not at the start)\n",
        ));
        let shown: Vec<_> = diags.iter().map(|(c, m)| format!("{c} {m}")).collect();
        assert_eq!(
            shown,
            [
                "W003 an allowed warning needs a reason",
                "W003 E016 is an error; errors cannot be allowed",
                "W003 no diagnostic code `W1O1` to allow",
                "W003 unknown `overlayfw:` directive",
                "W003 an allowed warning needs a reason",
                "W004 `allow W101` is followed by no rule",
            ]
        );
        // Without a reason the allow still counts (its warning is the reminder).
        assert_eq!(allows.len(), 2);
    }

    #[test]
    fn apply_silences_only_warnings_of_the_code_on_the_rule_and_reports_unused_ones() {
        let text = "# overlayfw: allow W101 (ok)\nINPUT_CUST -j ACCEPT\n# overlayfw: allow W102 (ok)\nINPUT_CUST -j DROP\n";
        let mut scan_diags = Vec::new();
        let mut allows = scan(FileId(0), text, &mut scan_diags);
        let line = |n: &str| {
            let s = text.find(n).expect("line");
            Span::new(FileId(0), s, s + n.len())
        };
        let accept = line("INPUT_CUST -j ACCEPT");
        let mut diags = vec![
            Diagnostic::warning(Code::W101, "shadowed", accept),
            Diagnostic::warning(Code::W109, "other code", accept),
            Diagnostic::error(Code::E016, "an error", accept),
        ];
        let mut incomplete = diags.clone();
        apply(&mut allows, &mut diags, true);
        let left: Vec<_> = diags.iter().map(|d| d.code).collect();
        assert_eq!(left, [Code::W109, Code::E016, Code::W004]);
        assert!(diags[2].message.contains("`allow W102` silences nothing"), "{:?}", diags[2]);
        // When lints did not all run, an unused allow is not reported: it may be used.
        let mut allows = scan(FileId(0), text, &mut scan_diags);
        apply(&mut allows, &mut incomplete, false);
        let left: Vec<_> = incomplete.iter().map(|d| d.code).collect();
        assert_eq!(left, [Code::W109, Code::E016]);
    }
}
