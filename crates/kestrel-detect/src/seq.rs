//! Models of system-call sequences. Each learns from normal traces only and scores a trace (or a window of
//! a live stream) by how unusual it is: the higher, the more unusual.
//!
//! - [`NgramSet`]: STIDE (Forrest et al., 1996): the set of n-grams seen while learning; a trace scores the
//!   share of its n-grams never seen.
//! - [`NgramLm`]: an n-gram language model with interpolated absolute discounting (Kneser–Ney's
//!   smoothing without continuation counts): each call's surprise `-ln p(call | previous n-1 calls)`; a
//!   trace scores the highest mean surprise over a sliding window, so that a short burst of strange calls in
//!   a long trace is not averaged away.
//! - [`NearestTrace`]: the n-gram sets of the individual training traces; a trace scores the share of its
//!   n-grams missing from the most similar training trace. Unlike STIDE, an n-gram normal for one program
//!   but foreign to the program at hand counts.
//!
//! System-call numbers at or above [`OTHER`] share one symbol; n-grams are packed into a `u64` (9 bits a
//! call, never 0, so that grams of different lengths never share a key), so n is at most [`MAX_N`].

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

/// System-call numbers at or above this share one symbol (x86_64 and i386 have fewer than 470 calls).
pub const OTHER: u16 = 509;
/// The longest n-gram.
pub const MAX_N: usize = 7;
/// The symbol before a trace's first call (in the language model's contexts).
const START: u64 = 511;

/// A call's symbol: 1 ..= 510.
fn sym(call: u16) -> u64 {
    u64::from(call.min(OTHER)) + 1
}

/// The n-grams of a trace, packed; a trace shorter than `n` gives its whole self as one gram.
pub fn ngrams(calls: &[u16], n: usize) -> impl Iterator<Item = u64> + '_ {
    let n = n.clamp(1, MAX_N);
    let width = n.min(calls.len().max(1));
    calls.windows(width).map(pack)
}

fn pack(calls: &[u16]) -> u64 {
    calls.iter().fold(0, |k, &c| (k << 9) | sym(c))
}

/// STIDE: the n-grams seen while learning.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NgramSet {
    n: usize,
    seen: FxHashSet<u64>,
}

impl NgramSet {
    /// Learns the n-grams of `traces`.
    pub fn learn<'a>(n: usize, traces: impl IntoIterator<Item = &'a [u16]>) -> NgramSet {
        let mut seen = FxHashSet::default();
        for t in traces {
            seen.extend(ngrams(t, n));
        }
        NgramSet { n: n.clamp(1, MAX_N), seen }
    }

    /// Distinct n-grams learned.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether nothing was learned.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// The share of the trace's n-grams never seen (0 for an empty trace).
    pub fn score(&self, calls: &[u16]) -> f64 {
        let (mut total, mut unseen) = (0usize, 0usize);
        for g in ngrams(calls, self.n) {
            total += 1;
            unseen += usize::from(!self.seen.contains(&g));
        }
        if total == 0 {
            0.0
        } else {
            unseen as f64 / total as f64
        }
    }
}

/// Counts of one order of the language model: per context, its total, its distinct followers, and per
/// (context, call) the count.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Order {
    grams: FxHashMap<u64, u32>,
    contexts: FxHashMap<u64, (u32, u32)>,
}

/// An n-gram language model over system calls, interpolated absolute discounting.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NgramLm {
    n: usize,
    discount: f64,
    vocabulary: usize,
    orders: Vec<Order>, // orders[k-1]: k-grams (context of k-1 calls)
}

impl NgramLm {
    /// The discount subtracted from every seen count (0 < d < 1; 0.75 is the usual choice).
    pub const DISCOUNT: f64 = 0.75;

    /// Learns an order-`n` model from `traces`.
    pub fn learn<'a>(n: usize, traces: impl IntoIterator<Item = &'a [u16]>) -> NgramLm {
        let n = n.clamp(1, MAX_N);
        let mut orders = vec![Order::default(); n];
        let mut vocabulary = FxHashSet::default();
        let mut history = Vec::new();
        for t in traces {
            history.clear();
            history.extend(std::iter::repeat_n(START, n - 1));
            for &c in t {
                let s = sym(c);
                vocabulary.insert(s);
                history.push(s);
                let h = &history[history.len() - n..];
                for k in 1..=n {
                    let ctx = context_key(&h[n - k..n - 1]);
                    let gram = gram_key(ctx, s);
                    let order = &mut orders[k - 1];
                    let count = order.grams.entry(gram).or_insert(0);
                    *count += 1;
                    let first = *count == 1;
                    let entry = order.contexts.entry(ctx).or_insert((0, 0));
                    entry.0 += 1;
                    entry.1 += u32::from(first);
                }
            }
        }
        NgramLm { n, discount: Self::DISCOUNT, vocabulary: vocabulary.len() + 1, orders }
    }

    /// The order.
    pub fn order(&self) -> usize {
        self.n
    }

    /// `p(call | history)`: `history` holds the previous `n-1` symbols (oldest first).
    fn prob(&self, history: &[u64], s: u64) -> f64 {
        let mut p = 1.0 / (self.vocabulary as f64 + 1.0);
        for k in 1..=self.n {
            let ctx = context_key(&history[history.len() + 1 - k..]);
            let Some(&(total, types)) = self.orders[k - 1].contexts.get(&ctx) else {
                continue; // an unseen context: the lower order stands
            };
            let count = self.orders[k - 1].grams.get(&gram_key(ctx, s)).copied().unwrap_or(0);
            let total = f64::from(total);
            p = (f64::from(count) - self.discount).max(0.0) / total + self.discount * f64::from(types) / total * p;
        }
        p
    }

    /// The surprise of each call of the trace, `-ln p(call | the n-1 before it)`.
    pub fn surprises(&self, calls: &[u16]) -> Vec<f64> {
        let mut history: Vec<u64> = std::iter::repeat_n(START, self.n - 1).collect();
        let mut out = Vec::with_capacity(calls.len());
        for &c in calls {
            let s = sym(c);
            out.push(-self.prob(&history[history.len() + 1 - self.n..], s).ln());
            history.push(s);
        }
        out
    }
}

fn context_key(ctx: &[u64]) -> u64 {
    ctx.iter().fold(0, |k, &s| (k << 9) | s)
}

fn gram_key(ctx: u64, s: u64) -> u64 {
    (ctx << 9) | s
}

/// The highest mean over any `width` consecutive values (the mean of all when there are fewer).
pub fn max_window_mean(xs: &[f64], width: usize) -> f64 {
    let width = width.max(1);
    if xs.is_empty() {
        return 0.0;
    }
    if xs.len() <= width {
        return xs.iter().sum::<f64>() / xs.len() as f64;
    }
    let mut sum: f64 = xs[..width].iter().sum();
    let mut best = sum;
    for i in width..xs.len() {
        sum += xs[i] - xs[i - width];
        best = best.max(sum);
    }
    best / width as f64
}

/// The n-gram sets of each training trace, for nearest-trace scoring.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NearestTrace {
    n: usize,
    traces: Vec<Vec<u64>>, // sorted, distinct
}

impl NearestTrace {
    /// Keeps the n-gram sets of `traces`.
    pub fn learn<'a>(n: usize, traces: impl IntoIterator<Item = &'a [u16]>) -> NearestTrace {
        let traces = traces.into_iter().map(|t| distinct(ngrams(t, n))).filter(|g| !g.is_empty()).collect();
        NearestTrace { n: n.clamp(1, MAX_N), traces }
    }

    /// The share of the trace's distinct n-grams missing from the training trace that has the most of them
    /// (1 when nothing was learned, 0 for an empty trace).
    pub fn score(&self, calls: &[u16]) -> f64 {
        let g = distinct(ngrams(calls, self.n));
        if g.is_empty() {
            return 0.0;
        }
        let best = self.traces.iter().map(|r| common(&g, r)).max().unwrap_or(0);
        1.0 - best as f64 / g.len() as f64
    }
}

fn distinct(it: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut v: Vec<u64> = it.collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// How many elements two sorted, distinct lists share.
fn common(a: &[u64], b: &[u64]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stide_counts_unseen_grams() {
        let normal: Vec<u16> = [1, 2, 3, 4].repeat(10);
        let set = NgramSet::learn(3, [normal.as_slice()]);
        assert_eq!(set.len(), 4); // 123 234 341 412
        assert_eq!(set.score(&[1, 2, 3, 4, 1]), 0.0);
        assert_eq!(set.score(&[1, 2, 3, 3, 1]), 2.0 / 3.0); // 233, 331 unseen
                                                            // Short traces are one gram of their own length, unseen unless a trace that short was learned.
        assert_eq!(set.score(&[1, 2]), 1.0);
        assert_eq!(set.score(&[]), 0.0);
    }

    #[test]
    fn language_model_probabilities_sum_to_one() {
        let normal: Vec<u16> = [5, 6, 7, 5, 6, 8].repeat(20);
        let lm = NgramLm::learn(3, [normal.as_slice()]);
        let history = [sym(5), sym(6)];
        // Over the vocabulary plus one unseen symbol's share: the unseen mass is spread over the rest.
        let seen: f64 = [5u16, 6, 7, 8].iter().map(|&c| lm.prob(&history, sym(c))).sum();
        let unseen = lm.prob(&history, sym(100));
        assert!(seen < 1.0 && seen > 0.9, "{seen}");
        assert!(unseen > 0.0 && unseen < 0.05, "{unseen}");
        // After 5 6, both 7 and 8 are normal; after 6 7 only 5 is.
        let s = lm.surprises(&[5, 6, 7, 5, 6, 8, 6]);
        assert!(s[6] > 3.0 && s[2] < 1.0 && s[5] < 1.0, "{s:?}");
    }

    #[test]
    fn window_mean_finds_a_burst() {
        let mut xs = vec![0.1; 100];
        xs[50..55].fill(5.0);
        assert!((max_window_mean(&xs, 5) - 5.0).abs() < 1e-9);
        assert!((max_window_mean(&xs, 1000) - (0.1 * 95.0 + 25.0) / 100.0).abs() < 1e-9);
        assert_eq!(max_window_mean(&[], 3), 0.0);
    }

    #[test]
    fn nearest_trace_keeps_programs_apart() {
        let a: Vec<u16> = [1, 2, 3].repeat(5);
        let b: Vec<u16> = [4, 5, 6].repeat(5);
        let knn = NearestTrace::learn(2, [a.as_slice(), b.as_slice()]);
        assert_eq!(knn.score(&[1, 2, 3, 1]), 0.0);
        // Every gram of this trace is known globally, but never together in one program.
        let mixed = [1, 2, 3, 1, 4, 5, 6, 4];
        assert!(knn.score(&mixed) > 0.4, "{}", knn.score(&mixed));
        assert!(NgramSet::learn(2, [a.as_slice(), b.as_slice()]).score(&mixed) < 0.2);
    }
}
