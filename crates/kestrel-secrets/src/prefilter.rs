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
//!
//! Built with the `vectorscan` feature (Debian's `libvectorscan-dev`), the anchors are searched by
//! Vectorscan instead, case-insensitively over the bytes as they are (no lower-cased copy); the Teddy path
//! stays as the fallback should Vectorscan refuse the set. Measured in docs/BENCHMARKS.md.

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
    /// Vectorscan over every anchor, case-insensitive.
    #[cfg(feature = "vectorscan")]
    Vectorscan(vs::Literals),
}

/// Which search a [`Prefilter`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Teddy over the lower-cased bytes (the automaton where the CPU has no Teddy).
    Packed,
    /// One automaton over the lower-cased bytes.
    Automaton,
    /// Vectorscan (built with the `vectorscan` feature).
    #[cfg(feature = "vectorscan")]
    Vectorscan,
}

impl Kind {
    /// The search used by default: Vectorscan when built in, else Teddy.
    pub const DEFAULT: Kind = {
        #[cfg(feature = "vectorscan")]
        {
            Kind::Vectorscan
        }
        #[cfg(not(feature = "vectorscan"))]
        {
            Kind::Packed
        }
    };
}

#[cfg(feature = "vectorscan")]
mod vs {
    use hyperscan::prelude::*;
    use hyperscan::{Literal, LiteralFlags};
    use std::sync::Mutex;

    /// A compiled literal set and a pool of scratch spaces (one per thread scanning at once).
    pub struct Literals {
        db: BlockDatabase,
        scratch: Mutex<Vec<Scratch>>,
    }

    impl Literals {
        /// `None` when Vectorscan refuses the set (or the CPU lacks what the library was built for).
        pub fn new(anchors: &[String]) -> Option<Literals> {
            let lits: hyperscan::Literals = anchors
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let mut l =
                        Literal::with_flags(a.as_str(), LiteralFlags::CASELESS | LiteralFlags::SOM_LEFTMOST).ok()?;
                    l.id = Some(i);
                    Some(l)
                })
                .collect::<Option<Vec<_>>>()?
                .into();
            let db: BlockDatabase = lits.build().ok()?;
            let first = db.alloc_scratch().ok()?;
            Some(Literals { db, scratch: Mutex::new(vec![first]) })
        }

        /// Calls `hit(start, end, anchor)` for every occurrence of an anchor in `data`.
        pub fn scan(&self, data: &[u8], mut hit: impl FnMut(usize, usize, usize)) {
            let taken = self.scratch.lock().ok().and_then(|mut v| v.pop());
            let Some(scratch) = taken.or_else(|| self.db.alloc_scratch().ok()) else { return };
            // A block is at most 4 GiB to Vectorscan; files are far smaller (MAX_FILE_BYTES), but cut anyway.
            let mut at = 0;
            const BLOCK: usize = 1 << 30;
            let overlap = 64;
            while at < data.len() {
                let own = BLOCK.min(data.len() - at);
                let piece = &data[at..(at + own + overlap).min(data.len())];
                let _ = self.db.scan(piece, &scratch, |id, from, to, _| {
                    if (from as usize) < own {
                        hit(at + from as usize, at + to as usize, id as usize);
                    }
                    Matching::Continue
                });
                at += own;
            }
            if let Ok(mut v) = self.scratch.lock() {
                v.push(scratch);
            }
        }
    }
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

    /// A search for `anchors` (lower-case, none holding another, as [`Prefilter::anchors`] gives), by the
    /// default search ([`Kind::DEFAULT`]).
    pub fn new(anchors: Vec<String>) -> Prefilter {
        Prefilter::with_kind(anchors, Kind::DEFAULT)
    }

    /// A search for `anchors` by this kind of search (Teddy when Vectorscan refuses them).
    pub fn with_kind(anchors: Vec<String>, kind: Kind) -> Prefilter {
        #[cfg(feature = "vectorscan")]
        if kind == Kind::Vectorscan && !anchors.is_empty() {
            if let Some(v) = vs::Literals::new(&anchors) {
                let longest = anchors.iter().map(String::len).max().unwrap_or(0);
                return Prefilter { anchors, engine: Engine::Vectorscan(v), longest };
            }
        }
        Prefilter::build(anchors, kind != Kind::Automaton)
    }

    /// The search in use.
    pub fn kind(&self) -> Kind {
        match self.engine {
            Engine::Packed(_) => Kind::Packed,
            Engine::Automaton(_) => Kind::Automaton,
            #[cfg(feature = "vectorscan")]
            Engine::Vectorscan(_) => Kind::Vectorscan,
        }
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
        #[cfg(feature = "vectorscan")]
        if let Engine::Vectorscan(v) = &self.engine {
            v.scan(data, |start, end, anchor| out.push(Hit { start, end, anchor }));
            // Vectorscan reports a match when it ends: in order of end, not of start.
            out.sort_unstable();
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
                // Searched whole, above.
                #[cfg(feature = "vectorscan")]
                Engine::Vectorscan(_) => {}
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
        #[cfg(feature = "vectorscan")]
        {
            let vs = Prefilter::with_kind(anchors.clone(), Kind::Vectorscan);
            assert_eq!(vs.kind(), Kind::Vectorscan, "Vectorscan took the anchors");
            assert_eq!(vs.hits(&data), a, "Vectorscan finds what Teddy finds");
        }
        assert_eq!(a.len(), planted);
        let cut = a.iter().find(|h| h.start < CHUNK && h.end > CHUNK).expect("the hit across the first cut");
        assert_eq!(anchors[cut.anchor], "password");
        assert!(a.windows(2).all(|w| w[0].start <= w[1].start));
    }
}
