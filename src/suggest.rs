//! "Did you mean" for unknown names: the closest candidate by edit distance, found with bounded
//! work.
//!
//! A candidate is plausible when its case-insensitive distance to the name (Levenshtein with
//! adjacent transpositions) is at most a third of the name's length, and at least 1. The
//! closest plausible candidate wins, the alphabetically first among equals. Finding it does not
//! run the distance against every candidate:
//! - a candidate whose length differs from the name's by more than the limit is skipped, and so
//!   is one whose bag of characters does (each edit changes the bags by at most one character
//!   on each side, so the bag difference is a lower bound of the distance);
//! - the rest are compared in order of that lower bound, stopping once it exceeds the best
//!   distance found, each comparison abandoned as soon as it exceeds the bound;
//! - at most [`MAX_COMPARED`] distances are computed per name. Below that cap (every list of
//!   names a user writes by hand) the answer is exactly the closest candidate; above it, the
//!   closest among the candidates with the smallest lower bounds.
//!
//! [`did_you_mean`] reads the candidates once; a [`Suggester`] keeps them (lengths and bags
//! computed once, sorted by length) and its answers per name, for callers that may ask about
//! many names against one large list (undefined variables against the inventory's).

use crate::fasthash::FxHashMap;

/// Names longer than this (in characters, lowercased) are never compared.
const MAX_LEN: usize = 64;
/// Distances computed per name at most.
pub const MAX_COMPARED: usize = 64;

/// Character counts of a lowercased name, by bucket: letters, digits, `_`, `-`, `.` each have
/// their own; other characters share the rest. (Sharing keeps the difference a lower bound.)
type Bag = [u8; 64];

fn bucket(c: char) -> usize {
    match c {
        'a'..='z' => c as usize - 'a' as usize,
        '0'..='9' => 26 + (c as usize - '0' as usize),
        '_' => 36,
        '-' => 37,
        '.' => 38,
        // A word-final sigma lowercases to `ς` in a string, to `σ` alone: count them alike.
        'ς' => bucket('σ'),
        _ => 39 + c as usize % 25,
    }
}

/// What screening needs of a name: its lowercased length, which buckets it uses (a bit each),
/// and its bag.
struct Measure {
    len: usize,
    mask: u64,
    bag: Bag,
}

/// The measure of a name; `None` past [`MAX_LEN`].
fn measure(s: &str) -> Option<Measure> {
    let mut m = Measure { len: 0, mask: 0, bag: [0; 64] };
    for c in s.chars().flat_map(char::to_lowercase) {
        m.len += 1;
        if m.len > MAX_LEN {
            return None;
        }
        let b = bucket(c);
        m.bag[b] += 1;
        m.mask |= 1 << b;
    }
    Some(m)
}

/// A lower bound of the edit distance between two names, if it is at most `limit`: the larger
/// of the characters only the first has and those only the second has (bucketed).
fn bag_distance(a: &Measure, b: &Measure, limit: usize) -> Option<usize> {
    let (mut more, mut fewer) = (0usize, 0usize);
    let mut buckets = a.mask | b.mask;
    while buckets != 0 {
        let i = buckets.trailing_zeros() as usize;
        buckets &= buckets - 1;
        let (x, y) = (a.bag[i], b.bag[i]);
        if x > y {
            more += usize::from(x - y);
        } else {
            fewer += usize::from(y - x);
        }
        if more > limit || fewer > limit {
            return None;
        }
    }
    Some(more.max(fewer))
}

/// Work done, for tests and for callers that want to know: candidates screened (length and
/// bag) and distances computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub screened: usize,
    pub compared: usize,
}

/// The name asked about.
struct Query {
    lower: Vec<char>,
    measure: Measure,
    limit: usize,
}

impl Query {
    fn new(name: &str) -> Option<Query> {
        let limit = (name.chars().count() / 3).max(1);
        let measure = measure(name)?;
        Some(Query { lower: name.to_lowercase().chars().collect(), measure, limit })
    }

    /// Whether a candidate with this measure may be close enough; its lower bound if so. The
    /// length first, then the buckets only one side uses (each bucket one side lacks is at
    /// least one character to insert or delete), then the bags.
    fn screen(&self, m: &Measure) -> Option<usize> {
        let q = &self.measure;
        if m.len.abs_diff(q.len) > self.limit
            || (q.mask & !m.mask).count_ones() as usize > self.limit
            || (m.mask & !q.mask).count_ones() as usize > self.limit
        {
            return None;
        }
        bag_distance(q, m, self.limit)
    }

    /// The closest of the screened candidates (lower bound, name): compared in order of lower
    /// bound, then name, until the bound exceeds the best distance found or [`MAX_COMPARED`]
    /// are compared (only the candidates that may be compared are sorted).
    fn best<'a>(
        &self,
        screened: impl Iterator<Item = (usize, &'a str)>,
        stats: &mut Stats,
    ) -> Option<&'a str> {
        let mut levels: Vec<Vec<&str>> = vec![Vec::new(); self.limit + 1];
        for (lb, c) in screened {
            levels[lb].push(c);
        }
        let mut best: Option<(usize, &str)> = None;
        let mut room = MAX_COMPARED;
        let mut scratch = Scratch::default();
        for (lb, mut level) in levels.into_iter().enumerate() {
            if lb > best.map_or(self.limit, |(d, _)| d) || room == 0 {
                break;
            }
            if level.len() > room {
                level.select_nth_unstable(room - 1);
                level.truncate(room);
            }
            level.sort_unstable();
            room -= level.len();
            for c in level {
                let bound = best.map_or(self.limit, |(d, _)| d);
                if lb > bound {
                    break;
                }
                stats.compared += 1;
                let Some(d) = scratch.distance(&self.lower, c, bound) else { continue };
                if best.is_none_or(|b| (d, c) < b) {
                    best = Some((d, c));
                }
            }
        }
        best.map(|(_, c)| c)
    }
}

/// The candidate closest to `name`, if it is close enough to be a plausible typo (see the module
/// doc). Reads each candidate once; for many names against one large list, use a [`Suggester`].
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    search(name, candidates, &mut Stats::default())
}

fn search<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    stats: &mut Stats,
) -> Option<&'a str> {
    let q = Query::new(name)?;
    let mut screened = 0;
    let found = q.best(
        candidates.into_iter().filter_map(|c| {
            screened += 1;
            Some((q.screen(&measure(c)?)?, c))
        }),
        stats,
    );
    stats.screened += screened;
    found
}

/// Candidates kept for many questions: each measured once, sorted by length (a name only looks
/// at those of a length within its limit), with the answer kept per name asked.
pub struct Suggester<'a> {
    /// Each name with its measure, by length.
    entries: Vec<(Measure, &'a str)>,
    answers: FxHashMap<String, Option<&'a str>>,
    stats: Stats,
}

impl<'a> Suggester<'a> {
    pub fn new(candidates: impl IntoIterator<Item = &'a str>) -> Suggester<'a> {
        let mut entries: Vec<(Measure, &str)> =
            candidates.into_iter().filter_map(|c| Some((measure(c)?, c))).collect();
        entries.sort_unstable_by_key(|e| e.0.len);
        Suggester { entries, answers: FxHashMap::default(), stats: Stats::default() }
    }

    /// [`did_you_mean`] against the kept candidates.
    pub fn suggest(&mut self, name: &str) -> Option<&'a str> {
        if let Some(&answer) = self.answers.get(name) {
            return answer;
        }
        let answer = Query::new(name).and_then(|q| {
            let len = q.measure.len;
            let lo = self.entries.partition_point(|e| e.0.len + q.limit < len);
            let hi = self.entries.partition_point(|e| e.0.len <= len + q.limit);
            let window = &self.entries[lo..hi];
            self.stats.screened += window.len();
            q.best(window.iter().filter_map(|(m, c)| Some((q.screen(m)?, *c))), &mut self.stats)
        });
        self.answers.insert(name.to_owned(), answer);
        answer
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }
}

/// The rows of the distance table, reused from one comparison to the next.
#[derive(Default)]
struct Scratch {
    b: Vec<char>,
    rows: [Vec<usize>; 3],
}

impl Scratch {
    /// Levenshtein distance with adjacent transpositions (a swap counts as one edit) between
    /// `a` and the lowercased `b`, if it is at most `bound`.
    fn distance(&mut self, a: &[char], b: &str, bound: usize) -> Option<usize> {
        self.b.clear();
        self.b.extend(b.to_lowercase().chars());
        let b = &self.b;
        if a.len().abs_diff(b.len()) > bound || b.len() > MAX_LEN {
            return None;
        }
        let [prev2, prev, cur] = &mut self.rows;
        for row in [&mut *prev2, &mut *prev, &mut *cur] {
            row.clear();
            row.resize(b.len() + 1, 0);
        }
        for (j, v) in prev.iter_mut().enumerate() {
            *v = j;
        }
        let mut prev_min = 0;
        for i in 1..=a.len() {
            cur[0] = i;
            let mut cur_min = i;
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    v = v.min(prev2[j - 2] + 1);
                }
                cur[j] = v;
                cur_min = cur_min.min(v);
            }
            // Every later cell grows from the last two rows (or its left neighbour, plus one):
            // once both exceed the bound, so does the distance.
            if cur_min > bound && prev_min > bound {
                return None;
            }
            prev_min = cur_min;
            std::mem::swap(prev2, prev);
            std::mem::swap(prev, cur);
        }
        let d = prev[b.len()];
        (d <= bound).then_some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The search as it was, comparing every candidate in full: the oracle.
    fn exhaustive<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
        fn distance(a: &str, b: &str) -> usize {
            let a: Vec<char> = a.chars().collect();
            let b: Vec<char> = b.chars().collect();
            if a.len() > 64 || b.len() > 64 {
                return usize::MAX;
            }
            let mut prev2 = vec![0usize; b.len() + 1];
            let mut prev: Vec<usize> = (0..=b.len()).collect();
            let mut cur = vec![0usize; b.len() + 1];
            for i in 1..=a.len() {
                cur[0] = i;
                for j in 1..=b.len() {
                    let cost = usize::from(a[i - 1] != b[j - 1]);
                    cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
                    if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                        cur[j] = cur[j].min(prev2[j - 2] + 1);
                    }
                }
                std::mem::swap(&mut prev2, &mut prev);
                std::mem::swap(&mut prev, &mut cur);
            }
            prev[b.len()]
        }
        let limit = (name.chars().count() / 3).max(1);
        let lower = name.to_lowercase();
        candidates
            .iter()
            .map(|c| (distance(&lower, &c.to_lowercase()), *c))
            .filter(|&(d, _)| d <= limit)
            .min_by_key(|&(d, c)| (d, c))
            .map(|(_, c)| c)
    }

    #[test]
    fn finds_typos_and_rejects_strangers() {
        assert_eq!(did_you_mean("eht0", ["eth0", "tun0", "plugin0"]), Some("eth0"));
        assert_eq!(did_you_mean("pubic", ["public", "overlay"]), Some("public"));
        assert_eq!(did_you_mean("wlan7", ["eth0", "tun0"]), None);
        assert_eq!(did_you_mean("DROp", ["ACCEPT", "DROP", "REJECT"]), Some("DROP"));
        assert_eq!(did_you_mean("", ["a", "bb"]), Some("a"));
    }

    /// Lists of names as users write them, and typos of them (every kind of edit, more edits
    /// than the limit allows, case changes, non-ASCII): the same answers as comparing every
    /// candidate in full, from both entry points.
    #[test]
    fn answers_as_the_exhaustive_search_does() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        let alphabet: Vec<char> =
            "abcdefghijklmnopqrstuvwxyz0123456789_-.ABCZéİßΣ".chars().collect();
        let mut lists: Vec<Vec<String>> = vec![
            ["eth0", "eth1", "tun0", "plugin0", "public", "overlay", "plugins"]
                .map(String::from)
                .to_vec(),
            ["INPUT_CUST", "FORWARD_CUST", "OUTPUT_CUST", "PREROUTING_CUST", "POSTROUTING_CUST"]
                .map(String::from)
                .to_vec(),
            ["--dport", "--sport", "--dports", "--sports", "--syn", "--state", "--ctstate"]
                .map(String::from)
                .to_vec(),
        ];
        for _ in 0..40 {
            let n = 1 + next(60);
            lists.push(
                (0..n)
                    .map(|_| (0..1 + next(14)).map(|_| alphabet[next(alphabet.len())]).collect())
                    .collect(),
            );
        }
        let mut checked = 0;
        for list in &lists {
            let names: Vec<&str> = list.iter().map(String::as_str).collect();
            let mut suggester = Suggester::new(names.iter().copied());
            for _ in 0..60 {
                let mut typo: Vec<char> = names[next(names.len())].chars().collect();
                for _ in 0..next(5) {
                    let at = next(typo.len() + 1);
                    let c = alphabet[next(alphabet.len())];
                    match next(5) {
                        0 if at < typo.len() => typo[at] = c,
                        1 if at < typo.len() => drop(typo.remove(at)),
                        2 if at + 1 < typo.len() => typo.swap(at, at + 1),
                        3 if at < typo.len() => typo[at] = typo[at].to_ascii_uppercase(),
                        _ => typo.insert(at, c),
                    }
                }
                let typo: String = typo.into_iter().collect();
                let expected = exhaustive(&typo, &names);
                assert_eq!(
                    did_you_mean(&typo, names.iter().copied()),
                    expected,
                    "{typo} in {names:?}"
                );
                assert_eq!(suggester.suggest(&typo), expected, "{typo} in {names:?}");
                checked += usize::from(expected.is_some());
            }
        }
        assert!(checked > 500, "only {checked} typos had a suggestion");
    }

    /// 1,000 unknown names against 10,000 names of one shape (the slow case: every candidate
    /// has a plausible length): at most MAX_COMPARED distances per unknown name, every name
    /// screened at most once per unknown name, and an unknown name asked again costs nothing.
    #[test]
    fn the_work_per_name_is_bounded() {
        let defined: Vec<String> = (0..10_000).map(|i| format!("net_{i:05}")).collect();
        let mut suggester = Suggester::new(defined.iter().map(String::as_str));
        let unknown: Vec<String> = (0..1_000)
            .map(|i| if i % 2 == 0 { format!("net_{i:05}x") } else { format!("zzzz_{i:05}") })
            .collect();
        for (i, name) in unknown.iter().enumerate() {
            let before = suggester.stats();
            let got = suggester.suggest(name);
            let after = suggester.stats();
            assert!(after.compared - before.compared <= MAX_COMPARED, "{name}");
            assert!(after.screened - before.screened <= defined.len(), "{name}");
            if i % 2 == 0 {
                assert_eq!(got, Some(&name[..9]), "{name}: one insertion away");
            } else {
                assert_eq!(got, None, "{name}");
            }
        }
        let total = suggester.stats();
        assert!(total.compared <= unknown.len() * MAX_COMPARED, "{total:?}");
        // Asked again: answered from what was kept.
        for name in &unknown {
            suggester.suggest(name);
        }
        assert_eq!(suggester.stats(), total);
        // The one-shot search screens each candidate once and compares as few.
        let mut stats = Stats::default();
        let defined_refs: Vec<&str> = defined.iter().map(String::as_str).collect();
        assert_eq!(
            search("net_04242y", defined_refs.iter().copied(), &mut stats),
            Some("net_04242")
        );
        assert_eq!(stats.screened, defined.len());
        assert!(stats.compared <= MAX_COMPARED, "{stats:?}");
    }

    /// Many candidates tie on the lower bound: the cap holds (the answer may then be missed:
    /// here the permutation one edit away sorts last).
    #[test]
    fn the_cap_holds_when_every_candidate_looks_plausible() {
        // All permutations of one multiset of characters: the same bag, the same length.
        let mut perms: Vec<String> = Vec::new();
        let chars = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
        for i in 0..5040usize {
            let mut pool = chars.to_vec();
            let mut k = i;
            let mut s = String::new();
            for n in (1..=7).rev() {
                s.push(pool.remove(k % n));
                k /= n;
            }
            perms.push(s);
        }
        let mut suggester = Suggester::new(perms.iter().map(String::as_str));
        suggester.suggest("gfedcbaa");
        assert_eq!(suggester.stats(), Stats { screened: perms.len(), compared: MAX_COMPARED });
    }
}
