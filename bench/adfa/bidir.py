"""Prototype, not part of kestrel: a call explained by what follows it as well as by what precedes it.

An order-5 Witten-Bell LM learned forwards and one learned on the reversed Training traces; each call's surprise
under both, combined per call (sum, min, max; quantiles of the min) into a trace's score. A novel normal program made
of familiar pieces in a new order should be surprising at a piece's start only in one direction.

    ~/.cache/kestrel/venv/bin/python bench/adfa/bidir.py
"""
import numpy as np
from load import train, val, att, auc, dr_at, lm_per_call
fw = lm_per_call(train); bw = lm_per_call([t[::-1] for t in train])
def parts(t):
    f = fw(t); b = bw(t[::-1])[::-1]
    return f, b
res = {}
for name, data in (('val', val), ('att', att)):
    res[name] = [parts(t) for t in data]
def report(label, fn):
    neg = np.array([fn(f, b) for f, b in res['val']]); pos = np.array([fn(f, b) for f, b in res['att']])
    print('%-28s AUC %.3f  DR@5%% %.3f  DR@1%% %.3f' % (label, auc(neg, pos), dr_at(neg, pos, .05), dr_at(neg, pos, .01)), flush=True)
report('forward mean', lambda f, b: f.mean())
report('backward mean', lambda f, b: b.mean())
report('sum of both', lambda f, b: (f + b).mean())
report('min per call', lambda f, b: np.minimum(f, b).mean())
report('max per call', lambda f, b: np.maximum(f, b).mean())
for q in (0.5, 0.75, 0.9):
    report('min per call, q%.2f' % q, lambda f, b, q=q: np.quantile(np.minimum(f, b), q))
report('share min>3 nats', lambda f, b: (np.minimum(f, b) > 3).mean())
report('share min>5 nats', lambda f, b: (np.minimum(f, b) > 5).mean())
