//! A large rules file that is not held whole while its lines are parsed and resolved (the
//! placed rules would otherwise share the memory peak with the text). Its text, read once,
//! is cut into pieces and scanned ([`Stream::scan`]: each piece's first words and a hash),
//! then dropped; each piece is read again a window at a time as its lines are parsed
//! ([`Stream::read_piece`]), and the whole text once more only when a diagnostic shows it
//! ([`Stream::read_all`]). Every read after the first is checked against the first one's
//! hashes: a file changed meanwhile is an error, never a mix of two versions.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::diagnostic::FileId;
use crate::fasthash::StreamHasher;
use crate::syntax::{self, FirstWords, Piece};

/// Files at least this large are streamed; smaller ones are held (streaming saves less than
/// the binary's own memory).
pub const MIN_BYTES: usize = 1 << 20;

/// How much of a piece is read at a time (or a whole line, if longer).
const WINDOW: usize = 256 * 1024;

/// A piece of the file and what the first read found in it.
#[derive(Debug)]
pub struct Scanned {
    pub piece: Piece,
    pub words: FirstWords,
    hash: u64,
}

/// A file whose text is not held: its pieces, as first read.
#[derive(Debug)]
pub struct Stream {
    file: File,
    name: String,
    len: usize,
    pub pieces: Vec<Scanned>,
}

impl Stream {
    /// Cuts `text`, the file's whole text as first read, into pieces for `threads` threads
    /// and scans them (on as many threads).
    pub fn scan(file: File, name: &str, id: FileId, text: &str, threads: usize) -> Stream {
        let pieces = crate::parallel::map(syntax::pieces(text, threads), |piece| Scanned {
            piece,
            words: syntax::first_words_in(id, text, piece),
            hash: hash(&text.as_bytes()[piece.from..piece.to]),
        });
        Stream { file, name: name.to_string(), len: text.len(), pieces }
    }

    /// Reads piece `k` again, handing `each` its windows in order: whole lines, with the
    /// window's byte offset in the file and its first line's number.
    pub fn read_piece(&self, k: usize, mut each: impl FnMut(&str, usize, u32)) -> io::Result<()> {
        let Scanned { piece, hash: want, .. } = self.pieces[k];
        let mut buf: Vec<u8> = Vec::with_capacity(WINDOW.min(piece.to - piece.from));
        let mut hasher = StreamHasher::default();
        // `buf` holds the file's bytes `base..pos`; `line` is the number of the line at `base`.
        let (mut base, mut pos, mut line) = (piece.from, piece.from, piece.first_line);
        while base < piece.to {
            if buf.len() == buf.capacity() {
                // A line longer than the window: read on until its end.
                buf.reserve(buf.capacity().max(WINDOW));
            }
            let old = buf.len();
            let more = (piece.to - pos).min(buf.capacity() - old);
            buf.resize(old + more, 0);
            self.read_at(&mut buf[old..], pos)?;
            pos += more;
            let end = if pos == piece.to {
                buf.len()
            } else {
                match buf.iter().rposition(|&b| b == b'\n') {
                    Some(i) => i + 1,
                    None => continue,
                }
            };
            let window = std::str::from_utf8(&buf[..end]).map_err(|_| self.changed())?;
            hasher.write(window.as_bytes());
            each(window, base, line);
            let lines = window.bytes().filter(|&b| b == b'\n').count();
            line = line.saturating_add(u32::try_from(lines).unwrap_or(u32::MAX));
            base += end;
            buf.drain(..end);
        }
        if hasher.finish() != want {
            return Err(self.changed());
        }
        Ok(())
    }

    /// The whole text again, checked against the first read (for diagnostics).
    pub fn read_all(&self) -> io::Result<String> {
        let mut bytes = vec![0; self.len];
        self.read_at(&mut bytes, 0)?;
        let start = self.pieces.first().map_or(self.len, |s| s.piece.from);
        let same = bytes[..start] == "\u{feff}".as_bytes()[..start]
            && self.pieces.iter().all(|s| hash(&bytes[s.piece.from..s.piece.to]) == s.hash);
        if !same {
            return Err(self.changed());
        }
        String::from_utf8(bytes).map_err(|_| self.changed())
    }

    fn read_at(&self, buf: &mut [u8], offset: usize) -> io::Result<()> {
        self.file.read_exact_at(buf, offset as u64).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => self.changed(),
            _ => io::Error::new(e.kind(), format!("{}: {e}", self.name)),
        })
    }

    fn changed(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: the file changed while it was being compiled; run again", self.name),
        )
    }
}

/// How `resolve` reads the file's pieces without doing IO itself.
impl crate::resolve::Streamed for Stream {
    fn text_len(&self) -> usize {
        self.len
    }

    fn pieces(&self) -> Vec<Piece> {
        self.pieces.iter().map(|p| p.piece).collect()
    }

    fn first_words(&self, k: usize) -> FirstWords {
        self.pieces[k].words.clone()
    }

    fn read_piece(&self, k: usize, each: &mut dyn FnMut(&str, usize, u32)) -> io::Result<()> {
        Stream::read_piece(self, k, each)
    }
}

fn hash(bytes: &[u8]) -> u64 {
    let mut h = StreamHasher::default();
    h.write(bytes);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::{Stream, WINDOW};
    use crate::diagnostic::FileId;

    /// A file in the temporary directory, removed on drop.
    struct Temp(std::path::PathBuf);

    impl Temp {
        fn new(tag: &str, bytes: &[u8]) -> Temp {
            let name = format!("overlayfw-stream-{tag}-{}", std::process::id());
            let path = std::env::temp_dir().join(name);
            std::fs::write(&path, bytes).expect("write");
            Temp(path)
        }

        fn open(&self) -> std::fs::File {
            std::fs::File::open(&self.0).expect("open")
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// Over a megabyte: a BOM, CRLF and LF lines, a line longer than a window, no final
    /// line end.
    fn text() -> String {
        let mut text = String::from("\u{feff}");
        for i in 0..40_000 {
            let end = if i % 3 == 0 { "\r\n" } else { "\n" };
            text +=
                &format!("FORWARD_CUST -s 10.{}.{}.0/24 -j ACCEPT{end}", i / 256 % 256, i % 256);
            if i == 20_000 {
                text += &format!("# {}\n", "é".repeat(WINDOW));
            }
        }
        text + "FORWARD_CUST -j DROP"
    }

    #[test]
    fn pieces_read_again_are_the_text_in_whole_lines_at_their_places() {
        let text = text();
        let file = Temp::new("pieces", text.as_bytes());
        let stream = Stream::scan(file.open(), "p.rules", FileId(4), &text, 3);
        assert_eq!(stream.pieces.len(), 3);
        let mut next = "\u{feff}".len();
        for k in 0..3 {
            let piece = stream.pieces[k].piece;
            assert_eq!(piece.from, next);
            let mut windows = 0;
            stream
                .read_piece(k, |window, base, first_line| {
                    assert_eq!(base, next, "windows follow each other");
                    assert_eq!(&text[base..base + window.len()], window);
                    assert!(window.ends_with('\n') || base + window.len() == text.len());
                    let line = text[..base].matches('\n').count() + 1;
                    assert_eq!(first_line as usize, line);
                    next += window.len();
                    windows += 1;
                })
                .expect("read");
            assert_eq!(next, piece.to);
            assert!(windows > 1, "piece {k} in windows");
        }
        assert_eq!(next, text.len());
        assert_eq!(stream.read_all().expect("read all"), text);
        // What the first read found, as for a held text.
        let held: Vec<_> = crate::syntax::pieces(&text, 3);
        assert_eq!(stream.pieces.iter().map(|p| p.piece).collect::<Vec<_>>(), held);
    }

    #[test]
    fn a_file_changed_after_its_first_read_is_an_error() {
        let text = text();
        let file = Temp::new("changed", text.as_bytes());
        let stream = Stream::scan(file.open(), "c.rules", FileId(4), &text, 2);
        let changed = |e: std::io::Error| {
            assert!(e.to_string().starts_with("c.rules: the file changed while"), "{e}");
        };
        // One byte changed in the second piece, the same length (ACCEPT -> ACCEPt).
        let mut edited = text.clone().into_bytes();
        let at =
            stream.pieces[1].piece.from + text[stream.pieces[1].piece.from..].find("T").unwrap();
        edited[at] = b't';
        std::fs::write(&file.0, &edited).expect("edit");
        stream.read_piece(0, |_, _, _| {}).expect("the first piece is as it was");
        changed(stream.read_piece(1, |_, _, _| {}).expect_err("edited"));
        changed(stream.read_all().expect_err("edited"));
        // Shorter.
        std::fs::write(&file.0, &text.as_bytes()[..text.len() - 10]).expect("truncate");
        changed(stream.read_piece(1, |_, _, _| {}).expect_err("truncated"));
        changed(stream.read_all().expect_err("truncated"));
        // Not UTF-8 where the text was.
        let mut bad = text.clone().into_bytes();
        bad[at] = 0xff;
        std::fs::write(&file.0, &bad).expect("edit");
        changed(stream.read_piece(1, |_, _, _| {}).expect_err("not UTF-8"));
        // The same text again: no error.
        std::fs::write(&file.0, &text).expect("restore");
        stream.read_piece(1, |_, _, _| {}).expect("restored");
        assert_eq!(stream.read_all().expect("restored"), text);
    }
}
