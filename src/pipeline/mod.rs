//! The driver: the whole compile as one function over texts and files. It loads the inventory,
//! hands the rules files to `resolve` (a large file as pieces it reads again, `stream`, whose
//! text is not held while it is compiled; the pieces on every core, `drive`), runs the lints
//! and the layout, and collects every diagnostic. The CLI reads the arguments' files and writes; the only IO here is reading a
//! large rules file again.

mod allow;
pub mod drive;
mod stream;

use crate::diagnostic::{Code, Diagnostic, FileId, Sources, Span};
use crate::ir::Ruleset;
use crate::resolve::{self, Input, Options};
use crate::{inventory, lint, syntax};
use stream::Stream;

/// A named input text.
pub struct Text {
    /// How the file is named in diagnostics and rule comments (the path as given).
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A rules file to compile: its text and, when it is a file, the file itself, to read again
/// instead of holding a large text (see `stream`).
pub struct Rules {
    pub text: Text,
    pub file: Option<std::fs::File>,
}

/// What a compile produced: the ruleset when there was no error, and all diagnostics, sorted by
/// file and position.
pub struct Compiled {
    pub ruleset: Option<Ruleset>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Compiled {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Drops the warnings of the given codes (`--allow CODE`); errors always stay.
    pub fn allow(&mut self, codes: &[Code]) {
        self.diagnostics.retain(|d| d.is_error() || !codes.contains(&d.code));
    }
}

/// Adds a text to `sources`; invalid UTF-8 becomes U+FFFD in the stored text and an E020
/// diagnostic at the first bad byte.
pub fn add_source(sources: &mut Sources, text: Text, diags: &mut Vec<Diagnostic>) -> FileId {
    match String::from_utf8(text.bytes) {
        Ok(s) => sources.add(text.name, s),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let id = sources.add(text.name, lossy);
            let end = sources.get(id).text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
            diags.push(
                Diagnostic::error(Code::E020, "the file is not UTF-8 text", Span::new(id, at, end))
                    .with_label("invalid UTF-8 here")
                    .with_help("rules files and inventories must be UTF-8 text"),
            );
            id
        }
    }
}

/// Compiles rules texts against inventories merged in order (none: the built-in default); an
/// `Option<Text>` serves for one or none.
pub fn compile(
    sources: &mut Sources,
    files: Vec<Text>,
    inventories: impl IntoIterator<Item = Text>,
    table: &str,
) -> Compiled {
    let files = files.into_iter().map(|text| Rules { text, file: None }).collect();
    match compile_files(sources, files, inventories, table) {
        Ok(compiled) => compiled,
        Err(e) => unreachable!("only a file is read again: {e}"),
    }
}

/// Compiles rules files against inventories merged in order (none: the built-in default, see
/// [`inventory::load_all`] for the merge). A large file is
/// read again as it is parsed, not held ([`stream::MIN_BYTES`]); `Err` when that fails or finds
/// the file changed since it was read.
pub fn compile_files(
    sources: &mut Sources,
    files: Vec<Rules>,
    inventories: impl IntoIterator<Item = Text>,
    table: &str,
) -> std::io::Result<Compiled> {
    let mut diagnostics = Vec::new();
    let inventories: Vec<Text> = inventories.into_iter().collect();
    let (hash, content) = input_hashes(files.iter().map(|f| &f.text), &inventories, table);
    // The files that are text (the others have their E020 and contribute nothing).
    let mut texts = Vec::with_capacity(files.len());
    let mut allows = Vec::new();
    for f in files {
        let before = diagnostics.len();
        let id = add_source(sources, f.text, &mut diagnostics);
        if diagnostics.len() == before {
            allows.extend(allow::scan(id, &sources.get(id).text, &mut diagnostics));
            texts.push((id, f.file));
        }
    }
    let inventory_given = !inventories.is_empty();
    let inv = if inventories.is_empty() {
        Some(inventory::default_inventory(sources))
    } else {
        let before = diagnostics.len();
        let ids: Vec<FileId> =
            inventories.into_iter().map(|t| add_source(sources, t, &mut diagnostics)).collect();
        if diagnostics.len() > before {
            None
        } else {
            let docs: Vec<(&str, FileId)> =
                ids.iter().map(|&id| (sources.get(id).text.as_str(), id)).collect();
            match inventory::load_all(&docs) {
                Ok(inv) => Some(inv),
                Err(d) => {
                    diagnostics.extend(d);
                    None
                }
            }
        }
    };
    let Some(inv) = inv else {
        // Without an inventory nothing resolves; the files still get their syntax errors.
        for &(id, _) in &texts {
            diagnostics.extend(syntax::parse(id, &sources.get(id).text).1);
        }
        allow::apply(&mut allows, &mut diagnostics, false);
        return Ok(finish(diagnostics, None));
    };
    // A large file's text, scanned, is dropped before its lines are parsed: the placed rules
    // take its memory.
    let (ids, files): (Vec<FileId>, Vec<_>) = texts.into_iter().unzip();
    let threads = crate::parallel::threads();
    let streams: Vec<Option<Stream>> = ids
        .iter()
        .zip(files)
        .map(|(&id, file)| {
            let file = file.filter(|_| sources.get(id).text.len() >= stream::MIN_BYTES)?;
            let text = sources.replace_text(id, String::new());
            Some(Stream::scan(file, &sources.get(id).name, id, &text, threads))
        })
        .collect();
    let inputs: Vec<Input> = ids
        .iter()
        .zip(&streams)
        .map(|(&id, stream)| Input {
            name: &sources.get(id).name,
            file: id,
            text: &sources.get(id).text,
            stream: stream.as_ref().map(|s| s as &dyn resolve::Streamed),
        })
        .collect();
    let opts = Options { table, input_hash: hash };
    let mut resolved = drive::resolve(&inputs, &inv, &opts, threads);
    drop(inputs);
    if let Some(e) = resolved.io.take() {
        return Err(e);
    }
    diagnostics.append(&mut resolved.diagnostics);
    // Lints run before the layout, which frees the placed chains as it goes. A line with an
    // error is not placed: with errors only the lints a missing line cannot make wrong run.
    if diagnostics.iter().any(Diagnostic::is_error) {
        diagnostics.extend(lint::lint_incomplete(&resolved, &inv));
    } else {
        let lint_opts = lint::Options { inventory_given };
        diagnostics.extend(lint::lint(&resolved, &inv, &lint_opts));
    }
    let complete = !diagnostics.iter().any(Diagnostic::is_error);
    allow::apply(&mut allows, &mut diagnostics, complete);
    let mut rs = crate::layout::layout(resolved);
    if let (Some(rs), Some(ipv6)) = (rs.as_mut(), &inv.ipv6) {
        rs.ipv6 = ipv6.value;
    }
    if let Some(rs) = rs.as_mut() {
        rs.label_version(&content);
    }
    // A streamed file's text again, for the diagnostics that show it.
    for (&id, stream) in ids.iter().zip(&streams) {
        let shown = |d: &Diagnostic| d.labels.iter().any(|l| l.span.file == id);
        if let Some(stream) = stream
            && diagnostics.iter().any(shown)
        {
            sources.replace_text(id, stream.read_all()?);
        }
    }
    Ok(finish(diagnostics, rs))
}

/// Sorts the diagnostics by file and position; no ruleset when any is an error.
fn finish(mut diagnostics: Vec<Diagnostic>, mut ruleset: Option<Ruleset>) -> Compiled {
    diagnostics.sort_by_key(|d| (d.span().file, d.span().start));
    if diagnostics.iter().any(Diagnostic::is_error) {
        ruleset = None;
    }
    Compiled { ruleset, diagnostics }
}

/// FxHash (64 bit, eight bytes a step) of the inputs, two ways in one pass: `input` over the
/// table name, the inventory and every file (name and bytes), `content` over the inventory and
/// the files' bytes alone (the version chain's name, [`Ruleset::label_version`]: the same rules
/// read from another path are the same version). Each part is length-prefixed so that
/// different splits cannot collide trivially; every step is a bijection of the state for a
/// given word, so inputs that differ in one word always hash apart. They identify inputs; they
/// are not a security measure. (FNV-1a, a byte a step, took 9 ms of a 0.2 s compile of 7 MiB;
/// this takes ~1 ms.)
fn input_hashes<'t>(
    files: impl IntoIterator<Item = &'t Text>,
    inventories: &[Text],
    table: &str,
) -> (String, String) {
    use std::hash::Hasher;
    let mut input = crate::fasthash::FxHasher::default();
    let mut content = crate::fasthash::FxHasher::default();
    let feed = |h: &mut crate::fasthash::FxHasher, bytes: &[u8]| {
        h.write_u64(bytes.len() as u64);
        h.write(bytes);
    };
    feed(&mut input, table.as_bytes());
    let mut both = |bytes: &[u8]| {
        feed(&mut input, bytes);
        feed(&mut content, bytes);
    };
    match inventories {
        [] => both(inventory::DEFAULT_YAML.as_bytes()),
        // One inventory hashes as it always did, so a live table's hash stays valid.
        [one] => both(&one.bytes),
        // Several: a count no length can equal first, then each in order.
        many => {
            both(&(u64::MAX - many.len() as u64).to_le_bytes());
            for t in many {
                both(&t.bytes);
            }
        }
    }
    for f in files {
        feed(&mut input, f.name.as_bytes());
        feed(&mut input, &f.bytes);
        feed(&mut content, &f.bytes);
    }
    (format!("fx64:{:016x}", input.finish()), format!("{:016x}", content.finish()))
}

#[cfg(test)]
mod tests {
    use super::{Text, input_hashes};

    fn input_hash(files: &[Text], inventories: &[Text], table: &str) -> String {
        input_hashes(files, inventories, table).0
    }

    fn content_hash(files: &[Text], inventories: &[Text]) -> String {
        input_hashes(files, inventories, "overlayfw").1
    }

    #[test]
    fn the_content_hash_ignores_names_and_sees_every_byte() {
        let t = |name: &str, bytes: &[u8]| Text { name: name.into(), bytes: bytes.to_vec() };
        let rules = b"FORWARD_CUST -s 10.0.0.0/24 -j ACCEPT\n";
        let base = content_hash(&[t("a.rules", rules)], &[]);
        assert_eq!(base.len(), 16);
        assert_eq!(base, content_hash(&[t("./rules/../a.rules", rules)], &[]));
        for i in 0..rules.len() {
            let mut changed = rules.to_vec();
            changed[i] ^= 1;
            assert_ne!(base, content_hash(&[t("a.rules", &changed)], &[]), "{i}");
        }
        assert_ne!(base, content_hash(&[t("a.rules", rules)], &[t("inv.yaml", b"{}")]));
        assert_ne!(
            content_hash(&[t("a", b"xy"), t("b", b"")], &[]),
            content_hash(&[t("a", b"x"), t("b", b"y")], &[])
        );
    }

    fn text(name: &str, bytes: &[u8]) -> Text {
        Text { name: name.into(), bytes: bytes.to_vec() }
    }

    #[test]
    fn the_input_hash_tells_inputs_apart() {
        let rules = b"FORWARD_CUST -s 10.0.0.0/24 -j ACCEPT\n";
        let base = input_hash(&[text("a.rules", rules)], &[], "overlayfw");
        assert!(base.starts_with("fx64:") && base.len() == "fx64:".len() + 16, "{base}");
        assert_eq!(base, input_hash(&[text("a.rules", rules)], &[], "overlayfw"));
        // Any one byte changed, anywhere (in and after the first word, in the padded tail).
        for i in 0..rules.len() {
            let mut changed = rules.to_vec();
            changed[i] ^= 1;
            assert_ne!(base, input_hash(&[text("a.rules", &changed)], &[], "overlayfw"), "{i}");
        }
        // A byte more, a byte less, a zero byte more (the tail is padded with zeros).
        let mut longer = rules.to_vec();
        longer.push(0);
        assert_ne!(base, input_hash(&[text("a.rules", &longer)], &[], "overlayfw"));
        assert_ne!(base, input_hash(&[text("a.rules", &rules[1..])], &[], "overlayfw"));
        // The same bytes split differently between name and text, or between files.
        assert_ne!(
            input_hash(&[text("ab", b"c")], &[], "t"),
            input_hash(&[text("a", b"bc")], &[], "t")
        );
        assert_ne!(
            input_hash(&[text("a", b"xy"), text("b", b"")], &[], "t"),
            input_hash(&[text("a", b"x"), text("b", b"y")], &[], "t")
        );
        // The order of the files, the table, the inventory.
        let (p, q) = (|| text("p", b"1"), || text("q", b"2"));
        assert_ne!(input_hash(&[p(), q()], &[], "t"), input_hash(&[q(), p()], &[], "t"));
        assert_ne!(base, input_hash(&[text("a.rules", rules)], &[], "other"));
        let inv = || text("inv.yaml", b"containers: {}\n");
        assert_ne!(base, input_hash(&[text("a.rules", rules)], &[inv()], "overlayfw"));
        // Several inventories: each counts, in order, and apart from a file's bytes.
        let (c, r) = (|| text("common.yaml", b"a: 1\n"), || text("r.yaml", b"b: 2\n"));
        let one = input_hash(&[], &[c()], "t");
        let both = input_hash(&[], &[c(), r()], "t");
        assert_ne!(one, both);
        assert_ne!(both, input_hash(&[], &[r(), c()], "t"));
        assert_ne!(both, input_hash(&[text("b: 2\n", b"")], &[c()], "t"));
    }
}
