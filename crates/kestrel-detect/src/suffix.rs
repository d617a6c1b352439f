//! Matching statistics against everything learned: a suffix automaton of the training traces (generalised to
//! many traces, Blumer et al. 1985) tells, for each call of a new trace, the length of the longest run of
//! calls ending there that occurs anywhere in the training data. A normal trace is long stretches seen
//! before; an attack's foreign calls cut them short. Unlike STIDE there is no fixed n: a call in a 40-call
//! stretch seen whole is more normal than one whose 6-gram happens to be known.
//!
//! A trace scores the mean of `1 / match length` over its calls (1 for a call never seen, ½ for one seen
//! only after a different predecessor, ...), in the spirit of sequence covering (Marteau, 2019). The
//! automaton has at most two states per learned call; building and matching are linear.

use serde::{Deserialize, Serialize};

const NONE: u32 = u32::MAX;

/// The suffix automaton of the training traces.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SuffixModel {
    /// Per state, its transitions (call, state), few per state, kept small and searched linearly.
    next: Vec<Vec<(u16, u32)>>,
    /// Per state, its suffix link.
    link: Vec<u32>,
    /// Per state, the length of its longest string.
    len: Vec<u32>,
}

impl SuffixModel {
    /// Builds the automaton of `traces`.
    pub fn learn<'a>(traces: impl IntoIterator<Item = &'a [u16]>) -> SuffixModel {
        let mut m = SuffixModel { next: vec![Vec::new()], link: vec![NONE], len: vec![0] };
        for t in traces {
            let mut last = 0u32;
            for &c in t {
                last = m.extend(last, c);
            }
        }
        m
    }

    /// States of the automaton (at most twice the calls learned, plus one).
    pub fn states(&self) -> usize {
        self.len.len()
    }

    fn go(&self, state: u32, c: u16) -> Option<u32> {
        self.next[state as usize].iter().find(|(k, _)| *k == c).map(|&(_, s)| s)
    }

    fn set(&mut self, state: u32, c: u16, to: u32) {
        let row = &mut self.next[state as usize];
        match row.iter_mut().find(|(k, _)| *k == c) {
            Some(e) => e.1 = to,
            None => row.push((c, to)),
        }
    }

    fn add_state(&mut self, len: u32, link: u32, next: Vec<(u16, u32)>) -> u32 {
        self.next.push(next);
        self.link.push(link);
        self.len.push(len);
        (self.len.len() - 1) as u32
    }

    /// Splits `q` (reached from `p` by `c`) so that a state of length `len(p) + 1` exists; returns it.
    fn clone_state(&mut self, p: u32, c: u16, q: u32) -> u32 {
        let clone = self.add_state(self.len[p as usize] + 1, self.link[q as usize], self.next[q as usize].clone());
        let mut p = p;
        while p != NONE && self.go(p, c) == Some(q) {
            self.set(p, c, clone);
            p = self.link[p as usize];
        }
        self.link[q as usize] = clone;
        clone
    }

    /// Appends `c` after the state `last` (the whole trace so far); returns the new `last`.
    fn extend(&mut self, last: u32, c: u16) -> u32 {
        if let Some(q) = self.go(last, c) {
            // Seen after this very prefix in an earlier trace (the generalised automaton's special case).
            if self.len[q as usize] == self.len[last as usize] + 1 {
                return q;
            }
            return self.clone_state(last, c, q);
        }
        let cur = self.add_state(self.len[last as usize] + 1, NONE, Vec::new());
        let mut p = last;
        while p != NONE && self.go(p, c).is_none() {
            self.set(p, c, cur);
            p = self.link[p as usize];
        }
        self.link[cur as usize] = if p == NONE {
            0
        } else {
            let q = self.go(p, c).expect("p has a transition on c");
            if self.len[p as usize] + 1 == self.len[q as usize] {
                q
            } else {
                self.clone_state(p, c, q)
            }
        };
        cur
    }

    /// For each call, the length of the longest run of calls ending there that occurs in the training
    /// traces (0 for a call never seen).
    pub fn match_lengths(&self, calls: &[u16]) -> Vec<u32> {
        let (mut state, mut len) = (0u32, 0u32);
        calls
            .iter()
            .map(|&c| {
                loop {
                    if let Some(s) = self.go(state, c) {
                        state = s;
                        len += 1;
                        break;
                    }
                    if state == 0 {
                        len = 0;
                        break;
                    }
                    state = self.link[state as usize];
                    len = self.len[state as usize];
                }
                len
            })
            .collect()
    }

    /// A trace's score: the mean over its calls of `1 / match length` (1 for a call never seen; 0 for an
    /// empty trace).
    pub fn score(&self, calls: &[u16]) -> f64 {
        if calls.is_empty() {
            return 0.0;
        }
        let m = self.match_lengths(calls);
        m.iter().map(|&l| 1.0 / f64::from(l.max(1))).sum::<f64>() / m.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The longest run ending at each position that occurs in `corpus`, by brute force.
    fn brute(corpus: &[&[u16]], calls: &[u16]) -> Vec<u32> {
        (0..calls.len())
            .map(|i| {
                (1..=i + 1)
                    .rev()
                    .find(|&l| corpus.iter().any(|t| t.windows(l).any(|w| w == &calls[i + 1 - l..=i])))
                    .unwrap_or(0) as u32
            })
            .collect()
    }

    #[test]
    fn match_lengths_agree_with_brute_force() {
        let mut x = 12345u64;
        let mut rnd = |m: u64| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((x >> 33) % m) as u16
        };
        for round in 0..40 {
            let alphabet = 2 + round % 5;
            let corpus: Vec<Vec<u16>> =
                (0..1 + round % 4).map(|_| (0..rnd(30) + 1).map(|_| rnd(alphabet)).collect()).collect();
            let refs: Vec<&[u16]> = corpus.iter().map(|t| t.as_slice()).collect();
            let m = SuffixModel::learn(refs.iter().copied());
            let total: usize = corpus.iter().map(Vec::len).sum();
            assert!(m.states() <= 2 * total + 1);
            let probe: Vec<u16> = (0..rnd(40)).map(|_| rnd(alphabet + 1)).collect();
            assert_eq!(m.match_lengths(&probe), brute(&refs, &probe), "corpus {corpus:?} probe {probe:?}");
        }
    }

    #[test]
    fn scores_foreign_calls_higher() {
        let normal: Vec<u16> = [1, 2, 3, 4, 5].repeat(20);
        let m = SuffixModel::learn([normal.as_slice()]);
        assert!(m.score(&normal[..50]) < 0.1);
        let mut odd = normal[..50].to_vec();
        odd[25] = 9;
        odd[26] = 3;
        assert!(m.score(&odd) > m.score(&normal[..50]) + 0.02);
        assert_eq!(m.score(&[9, 9]), 1.0);
        assert_eq!(m.score(&[]), 0.0);
        assert_eq!(SuffixModel::learn(std::iter::empty()).score(&[1, 2]), 1.0);
    }
}
