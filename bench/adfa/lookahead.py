"""Prototype, not part of kestrel: Forrest et al.'s first system-call method (1996), lookahead pairs.

A trace is scored by the share of its (call, call d places later, d) triples, d = 1..K, never seen in Training.
Pairs tolerate insertions that contiguous n-grams do not; the question is whether that helps on ADFA-LD.

    ~/.cache/kestrel/venv/bin/pip install scipy
    ~/.cache/kestrel/venv/bin/python bench/adfa/lookahead.py
"""
import numpy as np
from load import train, val, att, auc, dr_at

for K in (3, 6, 10):
    seen = set()
    for t in train:
        for i in range(len(t)):
            for d in range(1, K + 1):
                if i + d < len(t):
                    seen.add((t[i], t[i + d], d))

    def score(t):
        n = u = 0
        for i in range(len(t)):
            for d in range(1, K + 1):
                if i + d < len(t):
                    n += 1
                    u += (t[i], t[i + d], d) not in seen
        return u / max(n, 1)

    neg = np.array([score(t) for t in val]); pos = np.array([score(t) for t in att])
    print('lookahead pairs K=%d: AUC %.3f, DR at 5%% FAR %.3f, at 1%% %.3f'
          % (K, auc(neg, pos), dr_at(neg, pos, .05), dr_at(neg, pos, .01)))
