//! Resolving the rules files on the machine's cores: each file cut into pieces of whole lines
//! (a streamed file's pieces are the ones it was read in), every piece resolved by a resolver
//! of its own on a thread of its own, and the resolvers joined in order. The capacity hints
//! (how many rules each builtin chain will hold) are made here from the lines' first words.

use crate::inventory::Inventory;
use crate::resolve::{Input, Options, Resolved, Resolver};
use crate::syntax::{self, FirstWords, Piece};

/// [`resolve`] on as many threads as the machine offers.
pub fn resolve_all(inputs: &[Input], inv: &Inventory, opts: &Options) -> Resolved {
    resolve(inputs, inv, opts, crate::parallel::threads())
}

/// Parses and resolves `inputs` against `inv` on up to `threads` threads. The diagnostics
/// include the parse errors; the result does not depend on `threads`.
pub fn resolve(inputs: &[Input], inv: &Inventory, opts: &Options, threads: usize) -> Resolved {
    let pieces: Vec<Vec<Piece>> = inputs
        .iter()
        .map(|input| match input.stream {
            Some(s) => s.pieces(),
            None => syntax::pieces(input.text, threads),
        })
        .collect();
    // Each piece's first words on a thread of its own (a 100,000-line file's took 3.1 ms on
    // one thread); a streamed file's were found when it was first read.
    let words: Vec<FirstWords> = inputs
        .iter()
        .zip(&pieces)
        .flat_map(|(input, pieces)| match input.stream {
            Some(s) => (0..pieces.len()).map(|k| s.first_words(k)).collect(),
            None => crate::parallel::map(pieces.clone(), |piece| {
                syntax::first_words_in(input.file, input.text, piece)
            }),
        })
        .collect();
    // How many lines start with each builtin chain's word: a builtin chain is made with room
    // for them, not grown by doubling (a 25,000-rule chain was copied 15 times over).
    let mut lines = [0; 5];
    for w in &words {
        for (n, add) in lines.iter_mut().zip(w.builtin_lines) {
            *n += add;
        }
    }
    let mut main = Resolver::new(inv).with_room(lines);
    let subgroups = main.subgroups(words);
    let bytes: usize = inputs.iter().map(Input::text_len).sum();
    let share = |n: usize, piece_bytes: usize| {
        let n = n as u128 * piece_bytes as u128 / bytes.max(1) as u128;
        usize::try_from(n + n / 4).unwrap_or(usize::MAX)
    };
    for (input, pieces) in inputs.iter().zip(pieces) {
        if let [piece] = pieces[..] {
            main.piece(input, 0, piece, &subgroups);
            continue;
        }
        let pieces: Vec<(usize, Piece)> = pieces.into_iter().enumerate().collect();
        let parts = crate::parallel::map(pieces, |(k, piece)| {
            // Room for the piece's share of the lines and a quarter more (its lines need not be
            // spread like the file's); in the first piece, for every line of the file and an
            // eighth more: its chains take the others' rules when the pieces are joined, without
            // being copied to a larger vector (room not filled is address space, not memory).
            let room = if k == 0 {
                lines.map(|n| n + n / 8)
            } else {
                lines.map(|n| share(n, piece.to - piece.from))
            };
            let mut part = Resolver::new(inv).with_room(room);
            part.piece(input, k, piece, &subgroups);
            part
        });
        for part in parts {
            main.append(part);
        }
    }
    main.finish(inputs, inv, opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{Code, FileId, Sources};
    use crate::resolve::Streamed;

    #[test]
    fn resolving_on_several_threads_equals_one() {
        // Subgroups defined late and jumped to early, a loop, mirror lines, lines without a
        // chain, address lists, errors and warnings, spread over more lines than one run.
        let mut text = String::new();
        for i in 0..12_000 {
            text += &match i % 9 {
                0 => format!(
                    "FORWARD_CUST -s 10.0.{}.0/24,10.1.0.0/16 -p tcp --dport {} -j ACCEPT\n",
                    i % 256,
                    i % 60000
                ),
                1 => "FORWARD_CUST -j FWD_C_late\n".to_string(),
                2 => format!(
                    "PREROUTING_CUST -i eth0 -p tcp --dport {} -j DNAT --to 198.51.100.2:22\n",
                    i % 60000
                ),
                3 => {
                    "MACRO_CUST -j COPY --from tun0 --to 198.51.100.3 --bidirectional\n".to_string()
                }
                4 => format!("-o eth0 -s 10.{}.0.0/16 -j MASQUERADE\n", i % 256),
                5 => "FORWARD_CUST -i eht0 -j DROP\n".to_string(),
                6 => format!("FWD_C_late -p udp --dport {} -j RETURN\n", i % 60000),
                7 => "FORWARD_CUST -j FWD_C_nowhere\n".to_string(),
                _ => format!(
                    "INPUT_CUST -p tcp --dport {} -m comment --comment \"{}\" -j ACCEPT\n",
                    i % 60000,
                    "x".repeat(120)
                ),
            };
        }
        text += "FWD_C_late -j FWD_C_back\nFWD_C_back -j FWD_C_late\n";
        let mut sources = Sources::new();
        let inv = crate::inventory::default_inventory(&mut sources);
        let inputs = [Input { name: "big.rules", file: FileId(9), text: &text, stream: None }];
        let opts = Options { table: "overlayfw", input_hash: "h".into() };
        let one = resolve(&inputs, &inv, &opts, 1);
        let three = resolve(&inputs, &inv, &opts, 3);
        assert_eq!(syntax::pieces(&text, 3).len(), 3);
        assert!(one.diagnostics.iter().any(|d| d.code == Code::E014), "a loop is found");
        assert!(one.diagnostics.iter().any(|d| d.code == Code::W002), "warnings are kept");
        assert!(one.chains.iter().map(|c| c.rules.len()).sum::<usize>() > 8_000);
        assert_eq!(format!("{:?}", one.chains), format!("{:?}", three.chains));
        assert_eq!(one.diagnostics, three.diagnostics);
        assert_eq!(one.used, three.used);
    }

    /// A text held in memory, handed out as a streamed file's pieces (a window a line): the
    /// resolver needs no file to resolve a streamed input, and says when reading fails.
    struct InMemory {
        text: String,
        pieces: Vec<Piece>,
        fail: bool,
    }

    impl Streamed for InMemory {
        fn text_len(&self) -> usize {
            self.text.len()
        }

        fn pieces(&self) -> Vec<Piece> {
            self.pieces.clone()
        }

        fn first_words(&self, k: usize) -> FirstWords {
            syntax::first_words_in(FileId(3), &self.text, self.pieces[k])
        }

        fn read_piece(
            &self,
            k: usize,
            each: &mut dyn FnMut(&str, usize, u32),
        ) -> std::io::Result<()> {
            if self.fail && k == 1 {
                return Err(std::io::Error::other("s.rules: gone"));
            }
            let Piece { from, to, first_line } = self.pieces[k];
            let mut base = from;
            for (line, window) in (first_line..).zip(self.text[from..to].split_inclusive('\n')) {
                each(window, base, line);
                base += window.len();
            }
            Ok(())
        }
    }

    #[test]
    fn a_streamed_input_resolves_as_its_held_text() {
        let mut text = String::new();
        for i in 0..30_000 {
            text += &format!("FORWARD_CUST -s 10.0.{}.0/24 -j FWD_C_late\n", i % 256);
            text += &format!("FWD_C_late -p tcp --dport {} -j ACCEPT\n", i % 60000 + 1);
        }
        text += "FORWARD_CUST -i eht0 -j DROP\n";
        let mut sources = Sources::new();
        let inv = crate::inventory::default_inventory(&mut sources);
        let opts = Options { table: "overlayfw", input_hash: "h".into() };
        let held = [Input { name: "s.rules", file: FileId(3), text: &text, stream: None }];
        let held = resolve(&held, &inv, &opts, 3);
        let pieces = syntax::pieces(&text, 3);
        assert_eq!(pieces.len(), 3);
        for fail in [false, true] {
            let mem = InMemory { text: text.clone(), pieces: pieces.clone(), fail };
            let input = Input { name: "s.rules", file: FileId(3), text: "", stream: Some(&mem) };
            let streamed = resolve(&[input], &inv, &opts, 3);
            if fail {
                let e = streamed.io.expect("the failed read is reported");
                assert_eq!(e.to_string(), "s.rules: gone");
                continue;
            }
            assert!(streamed.io.is_none());
            assert_eq!(format!("{:?}", streamed.chains), format!("{:?}", held.chains));
            assert_eq!(streamed.diagnostics, held.diagnostics);
            let codes: Vec<_> = streamed.diagnostics.iter().take(3).map(|d| d.code).collect();
            assert_eq!(codes, [Code::E016], "the one unknown interface");
        }
    }
}
