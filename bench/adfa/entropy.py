"""Prototype, not part of kestrel: a call judged against how sure its context is, and models that disagree.

(a) Entropy-normalised surprise: an order-5 Witten-Bell LM's surprise at each call minus (or over) the entropy of its
predictive distribution in that context. A call that breaks a context the model is sure of (a hijack inside a known
program) should count more than one in a context where anything follows (a novel but ordinary program).
(b) Disagreement of a bagged ensemble (epistemic uncertainty, as deep-ensemble OOD detection uses it): five order-5 LMs
each learned on half the Training traces; a call's score is the spread of their surprises.

    ~/.cache/kestrel/venv/bin/pip install numpy scipy   # once
    ~/.cache/kestrel/venv/bin/python bench/adfa/entropy.py   # about 7 minutes
"""
import numpy as np
from load import train, val, att, auc, dr_at, counts

N = 5
VOCAB = sorted({c for t in train for c in t})
V = 400


def model(traces):
    c, tot = counts(traces, N)
    cache = {}

    def dist(ctx_full):
        """The interpolated predictive distribution over VOCAB (+ the rest as one mass) after ctx_full."""
        if ctx_full in cache:
            return cache[ctx_full]
        p = {None: 1.0}  # base: uniform over V symbols; keep per-symbol probabilities for VOCAB
        base = 1.0 / V
        probs = {s: base for s in VOCAB}
        for k in range(N):
            ctx = ctx_full[len(ctx_full) - k:] if k else ()
            d = c.get(ctx)
            if not d:
                break
            n, u = tot[ctx]
            probs = {s: (d.get(s, 0) + u * probs[s]) / (n + u) for s in VOCAB}
        rest = max(1e-12, 1.0 - sum(probs.values()))
        cache[ctx_full] = (probs, rest)
        return probs, rest

    def per_call(t):
        t = [-1] * (N - 1) + t
        s, h = [], []
        for i in range(N - 1, len(t)):
            probs, rest = dist(tuple(t[i - N + 1:i]))
            p = probs.get(t[i], rest / max(1, V - len(VOCAB)))
            s.append(-np.log(p))
            pv = np.array(list(probs.values()) + [rest])
            h.append(-(pv * np.log(pv)).sum())
        return np.array(s), np.array(h)

    return per_call


def report(label, neg, pos):
    neg, pos = np.asarray(neg), np.asarray(pos)
    print('%-34s AUC %.3f  DR@5%% %.3f  DR@1%% %.3f' % (label, auc(neg, pos), dr_at(neg, pos, .05), dr_at(neg, pos, .01)), flush=True)


m = model(train)
R = {name: [m(t) for t in data] for name, data in (('val', val), ('att', att))}
for label, fn in (
    ('surprise (mean)', lambda s, h: s.mean()),
    ('entropy (mean)', lambda s, h: h.mean()),
    ('surprise - entropy', lambda s, h: (s - h).mean()),
    ('surprise / entropy', lambda s, h: (s / (h + 0.1)).mean()),
    ('share surprise > entropy + 1', lambda s, h: (s > h + 1).mean()),
    ('share surprise > entropy + 2', lambda s, h: (s > h + 2).mean()),
    ('surprise where entropy < 1', lambda s, h: (s * (h < 1)).sum() / max(1, (h < 1).sum())),
):
    report(label, [fn(*r) for r in R['val']], [fn(*r) for r in R['att']])

rng = np.random.default_rng(7)
bag = []
for b in range(5):
    idx = rng.choice(len(train), len(train) // 2, replace=False)
    bag.append(model([train[i] for i in idx]))
for name, data in (('val', val), ('att', att)):
    R[name + '_bag'] = [np.stack([mm(t)[0] for mm in bag]) for t in data]
report('bag: mean surprise', [r.mean() for r in R['val_bag']], [r.mean() for r in R['att_bag']])
report('bag: spread (std per call, mean)', [r.std(0).mean() for r in R['val_bag']], [r.std(0).mean() for r in R['att_bag']])
report('bag: max - min per call, mean', [np.ptp(r, 0).mean() for r in R['val_bag']], [np.ptp(r, 0).mean() for r in R['att_bag']])
