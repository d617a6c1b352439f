//! Where a secret could be: the rules' keywords, found case-insensitively at SIMD speed.
//!
//! A case-insensitive Aho-Corasick automaton over 60-odd keywords runs at ~560 MiB/s per core: every byte is a
//! state transition. Three things make it ~3× faster:
//! 1. **Fold case once**: the bytes are lower-cased into a small reused buffer (~7 GB/s), and the keywords are
//!    searched case-sensitively in it — which is what lets the SIMD searcher below run at all.
//! 2. **Anchors**: a keyword that holds another (`aws_secret` holds `secret`) adds nothing to the search; only
//!    the keywords that hold no other are searched, and a hit wakes the rules of every keyword holding it.
//! 3. **Small packed sets**: the anchors, sorted, are split into sets of at most [`SET`] and each set is
//!    searched with Teddy (`aho_corasick::packed`, SSSE3/AVX2/NEON). Teddy tells candidates by a few leading
//!    bytes per bucket; with 45 anchors in one searcher the buckets are crowded and false candidates dominate,
//!    with 15 similar ones (sorted) per searcher three passes cost less than one.
//!
//! Where Teddy is not available (another CPU), one case-sensitive automaton over the anchors is used instead.
//! The hits are the same either way (a test checks it).

use aho_corasick::{packed, AhoCorasick, AhoCorasickBuilder, MatchKind};

/// Anchors per packed searcher.
pub const SET: usize = 16;

/// Bytes lower-cased and searched at a time.
const CHUNK: usize = 64 << 10;

/// A keyword hit: where it starts and ends, and which anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hit {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset after the last byte.
    pub end: usize,
    /// Index into [`Prefilter::anchors`].
    pub anchor: usize,
}

enum Engine {
    /// Packed (Teddy) searchers, each with the index of its first anchor.
    Packed(Vec<(packed::Searcher, usize)>),
    /// A case-sensitive automaton over every anchor.
    Automaton(AhoCorasick),
}

/// The compiled keyword search.
pub struct Prefilter {
    anchors: Vec<String>,
    engine: Engine,
    longest: usize,
}

impl Prefilter {
    /// The anchors of `keywords` (lower-cased; any order, duplicates allowed), and for each anchor the indexes of
    /// the keywords that hold it.
    pub fn anchors(keywords: &[String]) -> (Vec<String>, Vec<Vec<usize>>) {
        let mut words: Vec<String> = keywords.iter().map(|k| k.to_ascii_lowercase()).collect();
        words.sort();
        words.dedup();
        let anchors: Vec<String> =
            words.iter().filter(|w| !words.iter().any(|o| o != *w && w.contains(o.as_str()))).cloned().collect();
        let holders = anchors
            .iter()
            .map(|a| {
                keywords
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| k.to_ascii_lowercase().contains(a.as_str()))
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        (anchors, holders)
    }

    /// A search for `anchors` (lower-case, none holding another, as [`Prefilter::anchors`] gives).
    pub fn new(anchors: Vec<String>) -> Prefilter {
        Prefilter::build(anchors, true)
    }

    fn build(anchors: Vec<String>, simd: bool) -> Prefilter {
        let longest = anchors.iter().map(String::len).max().unwrap_or(0);
        let sets: Option<Vec<(packed::Searcher, usize)>> = if simd {
            anchors
                .chunks(SET)
                .enumerate()
                .map(|(i, set)| {
                    packed::Config::new()
                        .match_kind(packed::MatchKind::LeftmostFirst)
                        .builder()
                        .extend(set)
                        .build()
                        .map(|s| (s, i * SET))
                })
                .collect()
        } else {
            None
        };
        let engine = match sets {
            Some(sets) if !anchors.is_empty() => Engine::Packed(sets),
            _ => Engine::Automaton(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&anchors)
                    .unwrap_or_else(|_| AhoCorasick::new(Vec::<String>::new()).expect("an empty automaton")),
            ),
        };
        Prefilter { anchors, engine, longest }
    }

    /// Whether the SIMD searchers are in use.
    pub fn is_packed(&self) -> bool {
        matches!(self.engine, Engine::Packed(_))
    }

    /// The anchors searched.
    pub fn anchor_list(&self) -> &[String] {
        &self.anchors
    }

    /// Every anchor hit in `data`, in order of start; within one packed set hits do not overlap, across sets
    /// they may.
    pub fn hits(&self, data: &[u8]) -> Vec<Hit> {
        let mut out = Vec::new();
        if self.anchors.is_empty() {
            return out;
        }
        let overlap = self.longest.saturating_sub(1);
        let mut lower = vec![0u8; CHUNK.min(data.len()) + overlap];
        let mut at = 0;
        while at < data.len() {
            // Each piece reaches `overlap` bytes into the next one, so that a keyword across the cut is found;
            // a hit is kept by the piece it starts in.
            let own = CHUNK.min(data.len() - at);
            let piece = &data[at..(at + own + overlap).min(data.len())];
            let buf = &mut lower[..piece.len()];
            for (o, &b) in buf.iter_mut().zip(piece) {
                *o = b | ((b.wrapping_sub(b'A') < 26) as u8) << 5;
            }
            let mut keep = |start: usize, end: usize, anchor: usize| {
                if start < own {
                    out.push(Hit { start: at + start, end: at + end, anchor });
                }
            };
            match &self.engine {
                Engine::Packed(sets) => {
                    for (s, first) in sets {
                        for m in s.find_iter(&*buf) {
                            keep(m.start(), m.end(), first + m.pattern().as_usize());
                        }
                    }
                }
                Engine::Automaton(ac) => {
                    for m in ac.find_iter(&*buf) {
                        keep(m.start(), m.end(), m.pattern().as_usize());
                    }
                }
            }
            at += own;
        }
        if matches!(self.engine, Engine::Packed(ref s) if s.len() > 1) {
            out.sort_unstable();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn anchors_drop_the_keywords_that_hold_another() {
        let (a, holders) = Prefilter::anchors(&words(&["aws_secret", "secret", "token", "auth_token", "AKIA"]));
        assert_eq!(a, ["akia", "secret", "token"]);
        assert_eq!(holders, vec![vec![4], vec![0, 1], vec![2, 3]]);
    }

    #[test]
    fn packed_and_automaton_find_the_same_hits_across_chunk_cuts_and_case() {
        let (anchors, _) = Prefilter::anchors(&words(&[
            "password",
            "secret",
            "token",
            "akia",
            "ghp_",
            "xox",
            "eyj",
            "postgres",
            "private key",
            "sg.",
            "pwd",
            "redis",
            "ldap",
            "twilio",
            "aiza",
            "npm_",
            "glpat-",
            "_live_",
            "sig=",
            "apikey",
            "api_key",
            "passwd",
        ]));
        let packed = Prefilter::new(anchors.clone());
        let plain = Prefilter::build(anchors.clone(), false);
        assert!(!plain.is_packed());
        // Keywords in every case, and one straddling every chunk cut.
        let mut data = Vec::new();
        let mut planted = 0;
        while data.len() < 3 * CHUNK + 100 {
            let next_cut = (data.len() / CHUNK + 1) * CHUNK;
            if next_cut - data.len() < 80 {
                // At least 80 - 62 bytes are left before the cut: padding never truncates.
                data.resize(next_cut - 3, b'.');
                data.extend_from_slice(b"PassWord ");
                planted += 1;
            }
            data.extend_from_slice(b"some filler text AKIA Secret=1 TOKEN private KEY ghp_ xyz \n");
            planted += 5;
        }
        let a = packed.hits(&data);
        let b = plain.hits(&data);
        assert_eq!(a, b);
        assert_eq!(a.len(), planted);
        let cut = a.iter().find(|h| h.start < CHUNK && h.end > CHUNK).expect("the hit across the first cut");
        assert_eq!(anchors[cut.anchor], "password");
        assert!(a.windows(2).all(|w| w[0].start <= w[1].start));
    }
}
