//! A fast, non-cryptographic hasher for the compiler's own hash maps (keys come from the
//! rules being compiled, which are trusted input to a local tool; SipHash's DoS resistance buys
//! nothing here and costs a tenth of a 100,000-rule lint).

use std::hash::{BuildHasherDefault, Hasher};

/// FxHash (rustc's hasher): multiply-rotate over 8-byte words.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        // The last 1 to 7 bytes as one little-endian word, zero-padded: read as two
        // overlapping 4-byte words (or single bytes), whose shared bytes agree. The same word
        // as copying them into a zeroed buffer, which cost a call to memcpy for every short
        // name hashed (the shadow lint hashes every rule's interface names).
        let rest = chunks.remainder();
        let n = rest.len();
        if n >= 4 {
            let lo = u64::from(u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")));
            let hi = u64::from(u32::from_le_bytes(rest[n - 4..].try_into().expect("4 bytes")));
            self.add(lo | hi << ((n - 4) * 8));
        } else if n > 0 {
            let byte = |i: usize| u64::from(rest[i]) << (i * 8);
            self.add(byte(0) | byte(n / 2) | byte(n - 1));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// [`FxHasher::write`] of a byte stream fed in parts: the same value however the stream is
/// split (a file read window by window hashes as its whole text does).
#[derive(Default, Clone, Copy)]
pub struct StreamHasher {
    hasher: FxHasher,
    /// The stream's bytes past its last whole word.
    tail: [u8; 8],
    tail_len: usize,
}

impl StreamHasher {
    pub fn write(&mut self, mut bytes: &[u8]) {
        if self.tail_len > 0 {
            let take = (8 - self.tail_len).min(bytes.len());
            self.tail[self.tail_len..self.tail_len + take].copy_from_slice(&bytes[..take]);
            self.tail_len += take;
            bytes = &bytes[take..];
            if self.tail_len < 8 {
                return;
            }
            self.hasher.add(u64::from_le_bytes(self.tail));
            self.tail_len = 0;
        }
        let words = bytes.len() / 8 * 8;
        // Whole words only: `write` pads nothing.
        self.hasher.write(&bytes[..words]);
        let rest = &bytes[words..];
        self.tail[..rest.len()].copy_from_slice(rest);
        self.tail_len = rest.len();
    }

    pub fn finish(&self) -> u64 {
        let mut hasher = self.hasher;
        hasher.write(&self.tail[..self.tail_len]);
        hasher.finish()
    }
}

pub type FxBuildHasher = BuildHasherDefault<FxHasher>;
pub type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuildHasher>;
pub type FxHashSet<K> = std::collections::HashSet<K, FxBuildHasher>;

#[cfg(test)]
mod tests {
    use std::hash::Hasher;

    /// The word a tail of 1 to 7 bytes makes: the bytes little-endian, zero-padded.
    fn padded(bytes: &[u8]) -> u64 {
        let mut buf = [0u8; 8];
        buf[..bytes.len()].copy_from_slice(bytes);
        u64::from_le_bytes(buf)
    }

    #[test]
    fn a_text_hashes_as_its_zero_padded_words() {
        let text: Vec<u8> = (1..=40u8).map(|b| b.wrapping_mul(37)).collect();
        for len in 0..text.len() {
            let bytes = &text[..len];
            let mut want = super::FxHasher::default();
            for word in bytes.chunks(8) {
                want.add(padded(word));
            }
            let mut got = super::FxHasher::default();
            got.write(bytes);
            assert_eq!(got.finish(), want.finish(), "{len} bytes");
        }
    }

    #[test]
    fn a_stream_hashes_as_its_whole_text_however_split() {
        let text: Vec<u8> = (0..100u8).map(|b| b.wrapping_mul(91) ^ 0x5a).collect();
        for len in [0, 1, 7, 8, 9, 63, 100] {
            let bytes = &text[..len];
            let mut whole = super::FxHasher::default();
            whole.write(bytes);
            for a in 0..=len {
                for b in a..=len {
                    let mut parts = super::StreamHasher::default();
                    parts.write(&bytes[..a]);
                    parts.write(&bytes[a..b]);
                    parts.write(&bytes[b..]);
                    assert_eq!(parts.finish(), whole.finish(), "{len} bytes cut at {a}, {b}");
                }
            }
        }
        // A byte changed anywhere changes the hash.
        let mut changed = text.clone();
        changed[50] ^= 1;
        let (mut x, mut y) = (super::StreamHasher::default(), super::StreamHasher::default());
        x.write(&text);
        y.write(&changed);
        assert_ne!(x.finish(), y.finish());
    }
}
