//! Text that is shown to a person or handed to nft: which characters are refused in texts that
//! reach an nft string (the one set, used by the rules language and the inventory), and the
//! safe form of a file name, the one text from outside that is never refused.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters that make text read other than it is: text-direction controls (U+061C, U+200E,
/// U+200F, U+202A..U+202E, U+2066..U+2069), invisible characters (zero-width space, joiners,
/// word joiner and invisible operators, soft hyphen, U+180E, U+FEFF) and the line breaks YAML
/// and Unicode know besides `\n` (U+2028, U+2029; U+0085 is a control character). Refused in
/// rule comments, log prefixes and anywhere in an inventory; escaped in file names.
pub fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{061c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// The first character of `text` that no text reaching nft or a terminal may hold: a control
/// character (Unicode `Cc`, tab included) or a [hidden](is_hidden) one.
pub fn first_unsafe(text: &str) -> Option<char> {
    text.chars().find(|&c| c.is_control() || is_hidden(c))
}

/// Whether a file name's character is kept as is in its safe form.
fn name_char_kept(c: char) -> bool {
    if c.is_ascii() {
        (c.is_ascii_graphic() || c == ' ') && !matches!(c, '"' | '\\' | '$' | '%' | '`')
    } else {
        !c.is_control() && !is_hidden(c)
    }
}

/// A file name as it is shown in diagnostics and written into nft comments: every character
/// that could end a string, start a line, expand, or read as something else (`"`, `\`, `$`,
/// `%`, `` ` ``, control, text-direction and invisible characters) is written as `%XX` for each
/// of its UTF-8 bytes; everything else is kept. Deterministic, and no two names share a form.
pub fn safe_name(name: &str) -> Cow<'_, str> {
    if name.chars().all(name_char_kept) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        if name_char_kept(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    Cow::Owned(out)
}

/// Longest file name, in bytes, kept in a rule's `FILE:LINE` comment: with `:` and a line
/// number of up to ten digits the place stays within nft's 128-byte comment.
pub const COMMENT_NAME_MAX: usize = 96;

/// The [`safe_name`] of a file as rule comments carry it: a name longer than
/// [`COMMENT_NAME_MAX`] bytes keeps its end (the file's own name), after `…`.
pub fn comment_name(name: &str) -> String {
    let safe = safe_name(name);
    if safe.len() <= COMMENT_NAME_MAX {
        return safe.into_owned();
    }
    const MARK: &str = "…";
    let mut start = safe.len() - (COMMENT_NAME_MAX - MARK.len());
    while !safe.is_char_boundary(start) {
        start += 1;
    }
    format!("{MARK}{}", &safe[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_kept() {
        for name in ["rules/main.rules", "a b-c_d.rules", "日本語.rules", "<stdin>", "~/x,y:z"] {
            assert_eq!(safe_name(name), name);
            assert_eq!(comment_name(name), name);
        }
    }

    #[test]
    fn names_that_could_escape_a_string_or_a_line_are_encoded() {
        let name = "x\"\n}\n}\ndelete table ip foreign\n#";
        assert_eq!(safe_name(name), "x%22%0A}%0A}%0Adelete table ip foreign%0A#");
        assert_eq!(safe_name("a\\b$c%d`e\r\t\u{7f}"), "a%5Cb%24c%25d%60e%0D%09%7F");
        // Text direction, invisible characters, Unicode line breaks.
        assert_eq!(safe_name("a\u{202e}b\u{200b}c\u{2028}d\u{85}e\u{61c}"), {
            "a%E2%80%AEb%E2%80%8Bc%E2%80%A8d%C2%85e%D8%9C"
        });
        for c in (0..=0x10ffffu32).filter_map(char::from_u32) {
            let s = safe_name(&c.to_string()).into_owned();
            assert!(first_unsafe(&s).is_none(), "U+{:04X}", c as u32);
            assert!(!s.contains(['"', '\\', '$']), "U+{:04X}", c as u32);
        }
        // No two names share a form: `%` itself is encoded.
        assert_ne!(safe_name("%22"), safe_name("\""));
    }

    #[test]
    fn comment_names_keep_the_end_within_the_limit() {
        let long = format!("{}/policy.rules", "d\u{e9}ep/".repeat(40));
        let shown = comment_name(&long);
        assert!(shown.len() <= COMMENT_NAME_MAX, "{}", shown.len());
        assert!(shown.starts_with('…') && shown.ends_with("/policy.rules"), "{shown}");
        let quotes = "\"".repeat(100);
        let shown = comment_name(&quotes);
        assert!(shown.len() <= COMMENT_NAME_MAX && shown.ends_with("%22"), "{shown}");
    }
}
