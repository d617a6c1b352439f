"""Prototype, not part of kestrel: Hofmeyr, Forrest and Somayaji's Hamming-distance measure (J. Computer Security
6(3), 1998, "Intrusion detection using sequences of system calls").

Each n-gram of a trace gets d_min, the fewest positions in which it differs from any n-gram of Training (0: seen);
their anomaly signal is max d_min / n over the trace. STIDE counts a gram one call away from a known one as new as
one that shares nothing with anything known; d_min tells them apart, and a hijack's payload should be farther from
every known gram than an unseen ordinary program's libc patterns are. Scores: the paper's max d_min / n, the mean
d_min, and the share of grams more than 1 or 2 positions away.

    ~/.cache/kestrel/venv/bin/python bench/adfa/hamming.py
"""
from itertools import combinations

import numpy as np
from load import train, val, att, auc, dr_at

N = 6
# For each set of masked positions, Training's grams with those positions blanked: a gram is within k of a known
# one when, for some k positions, its blanked form is known.
MASKS = {k: list(combinations(range(N), k)) for k in range(1, N)}


def blank(g, m):
    return tuple(-2 if i in m else c for i, c in enumerate(g))


known = set()
for t in train:
    for i in range(len(t) - N + 1):
        known.add(tuple(t[i:i + N]))
blanked = {m: {blank(g, m) for g in known} for k in MASKS for m in MASKS[k]}
print('%d distinct Training %d-grams' % (len(known), N))

memo = {}


def d_min(g):
    d = memo.get(g)
    if d is None:
        d = 0 if g in known else next(
            (k for k in range(1, N) if any(blank(g, m) in blanked[m] for m in MASKS[k])), N)
        memo[g] = d
    return d


def distances(t):
    if len(t) < N:  # a short trace is one gram padded with calls no Training gram has
        t = t + [-1] * (N - len(t))
    return np.array([d_min(tuple(t[i:i + N])) for i in range(len(t) - N + 1)])


dv = [distances(t) for t in val]
da = [distances(t) for t in att]
scores = {
    'max d_min / n (Hofmeyr et al.)': lambda d: d.max() / N,
    'mean d_min': lambda d: d.mean(),
    'share with d_min > 0 (STIDE)': lambda d: (d > 0).mean(),
    'share with d_min > 1': lambda d: (d > 1).mean(),
    'share with d_min > 2': lambda d: (d > 2).mean(),
    'mean d_min^2': lambda d: (d.astype(float) ** 2).mean(),
}
for name, f in scores.items():
    neg = np.array([f(d) for d in dv]); pos = np.array([f(d) for d in da])
    print('%-32s AUC %.3f, DR at 5%% FAR %.3f, at 1%% %.3f'
          % (name, auc(neg, pos), dr_at(neg, pos, .05), dr_at(neg, pos, .01)))
print('d_min histogram, validation normals:', np.bincount(np.concatenate(dv), minlength=N + 1))
print('d_min histogram, attacks:           ', np.bincount(np.concatenate(da), minlength=N + 1))
