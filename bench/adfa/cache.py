"""Prototype, not part of kestrel: a cache language model (Kuhn and De Mori 1990) for each scored trace.

A novel but ordinary program repeats itself: once its loop has been read, its next turns are predictable from the
trace's own past, while a hijack keeps doing new things. Each call's probability is a mixture of the order-5
Witten-Bell LM learned on Training and an order-K model of the trace read so far (the same smoothing, starting
empty): p = lam * p_train + (1 - lam) * p_cache. lam = 1 is the plain LM. Unlike subtracting the trace's own
complexity (0.789, BENCHMARKS), the mixture only ever *adds* probability where the trace repeats itself.

    ~/.cache/kestrel/venv/bin/pip install numpy scipy
    ~/.cache/kestrel/venv/bin/python bench/adfa/cache.py   # a few minutes
"""
from collections import defaultdict
import numpy as np
from load import train, val, att, auc, dr_at, counts

N, V = 5, 400


def prob(c, tot, hist, x, n):
    p = 1.0 / V
    for k in range(n):
        ctx = tuple(hist[len(hist) - k:]) if k else ()
        d = c.get(ctx)
        if not d:
            break
        m, u = tot[ctx]
        p = (d.get(x, 0) + u * p) / (m + u)
    return p


C, TOT = counts(train, N)


def per_call(t, lams, K):
    """Surprise per call for each lam, the cache model of order K built as the trace is read."""
    cache = defaultdict(lambda: defaultdict(int))
    ctot = {}
    hist = [-1] * (max(N, K) - 1)
    out = np.zeros((len(lams), len(t)))
    for i, x in enumerate(t):
        pt = prob(C, TOT, hist, x, N)
        if i == 0:
            pc = 1.0 / V
        else:
            pc = prob(cache, ctot, hist, x, K)
        for j, lam in enumerate(lams):
            out[j, i] = -np.log(lam * pt + (1 - lam) * pc)
        for k in range(K):
            ctx = tuple(hist[len(hist) - k:]) if k else ()
            cache[ctx][x] += 1
            m, u = ctot.get(ctx, (0, 0))
            ctot[ctx] = (m + 1, len(cache[ctx]))
        hist.append(x)
    return out


lams = (1.0, 0.9, 0.7, 0.5, 0.3)
for K in (2, 4):
    sv = np.array([per_call(t, lams, K).mean(axis=1) for t in val])
    sa = np.array([per_call(t, lams, K).mean(axis=1) for t in att])
    for j, lam in enumerate(lams):
        v, a = sv[:, j], sa[:, j]
        print(f"K={K} lam={lam}: AUC {auc(v, a):.3f}, DR at 5 % FAR {dr_at(v, a, .05):.3f}, "
              f"at 1 % {dr_at(v, a, .01):.3f}", flush=True)
