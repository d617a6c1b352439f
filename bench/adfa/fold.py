"""Prototype, not part of kestrel: loops folded before the language model reads a trace.

Unseen normal programs often spend their length in loops (poll / clock_gettime, read / write) that each add a
surprising call per turn, while an attack's oddness might sit in a few calls. Every immediate repeat of a block of
1..P calls is dropped (`a b a b a b c` -> `a b c` for P >= 2) in Training and in every scored trace, and an order-5
Witten-Bell LM's mean surprise per call scores the folded trace. P = 0 is the plain trace.

    ~/.cache/kestrel/venv/bin/pip install numpy scipy
    ~/.cache/kestrel/venv/bin/python bench/adfa/fold.py   # about 3 minutes
"""
import numpy as np
from load import train, val, att, auc, dr_at, lm_per_call


def fold(t, P):
    o = []
    for c in t:
        o.append(c)
        changed = True
        while changed:
            changed = False
            for p in range(1, P + 1):
                if len(o) >= 2 * p and o[-p:] == o[-2 * p:-p]:
                    del o[-p:]
                    changed = True
                    break
    return o


for P in (0, 1, 2, 4, 8):
    f = (lambda t: fold(t, P)) if P else (lambda t: t)
    pc = lm_per_call([f(t) for t in train], 5)
    sv = np.array([pc(f(t)).mean() for t in val])
    sa = np.array([pc(f(t)).mean() for t in att])
    kept_v = np.mean([len(f(t)) / len(t) for t in val])
    kept_a = np.mean([len(f(t)) / len(t) for t in att])
    print(f"P={P}: AUC {auc(sv, sa):.3f}, DR at 5 % FAR {dr_at(sv, sa, .05):.3f}, at 1 % {dr_at(sv, sa, .01):.3f}; "
          f"calls kept: normals {kept_v:.2f}, attacks {kept_a:.2f}", flush=True)
