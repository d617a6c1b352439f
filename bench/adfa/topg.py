"""Prototype, not part of kestrel: DeepLog's criterion (Du, Li, Zheng and Srikumar, CCS 2017) on ADFA-LD.

DeepLog calls a log key anomalous when it is not among the model's g most likely next keys: a rank, not a
probability, so a context the model is unsure of (many likely calls) forgives more than a sure one. Here the model
is the order-5 Witten-Bell LM of Training (kestrel's n-gram family; DeepLog's own is an LSTM, whose predictions
the neural rows of BENCHMARKS already cover), each call's rank among the model's predictions in its context, and a
trace scored by the share of its calls outside the top g (g = 1, 2, 3, 5, 9 — DeepLog's default is 9).

    ~/.cache/kestrel/venv/bin/pip install numpy scipy
    ~/.cache/kestrel/venv/bin/python bench/adfa/topg.py   # about a minute
"""
import numpy as np
from load import train, val, att, auc, dr_at, counts

N, V = 5, 400
c, tot = counts(train, N)
vocab = sorted({x for t in train for x in t})
cache = {}


def ranking(ctx):
    """The calls in the order the interpolated model ranks them after `ctx` (longest known suffix first)."""
    if ctx in cache:
        return cache[ctx]
    p = {x: 1.0 / V for x in vocab}
    for k in range(N):
        sub = ctx[len(ctx) - k:] if k else ()
        d = c.get(sub)
        if not d:
            break
        n, u = tot[sub]
        p = {x: (d.get(x, 0) + u * q) / (n + u) for x, q in p.items()}
    order = {x: r for r, x in enumerate(sorted(p, key=lambda x: -p[x]))}
    cache[ctx] = order
    return order


def ranks(t):
    t = [-1] * (N - 1) + t
    return np.array([ranking(tuple(t[i - N + 1:i])).get(t[i], V) for i in range(N - 1, len(t))])


rv = [ranks(t) for t in val]
ra = [ranks(t) for t in att]
for g in (1, 2, 3, 5, 9):
    sv = np.array([(r >= g).mean() for r in rv])
    sa = np.array([(r >= g).mean() for r in ra])
    print(f"g={g}: AUC {auc(sv, sa):.3f}, DR at 5 % FAR {dr_at(sv, sa, .05):.3f}, at 1 % {dr_at(sv, sa, .01):.3f}",
          flush=True)
sv = np.array([np.log1p(r).mean() for r in rv])
sa = np.array([np.log1p(r).mean() for r in ra])
print(f"mean log(1 + rank): AUC {auc(sv, sa):.3f}, DR at 5 % FAR {dr_at(sv, sa, .05):.3f}, at 1 % {dr_at(sv, sa, .01):.3f}")
