"""Prototype, not part of kestrel: how separable ADFA-LD's attack traces are at all, and one more one-class idea.

1. A *supervised oracle* — logistic regression on tf-idf 1–3-grams trained on labelled Validation normals and
   attacks (5 folds; an attack run is never split between folds) — an upper bound no one-class detector may use.
   Also leave-one-attack-family-out. Cheats by design: it learns from attacks.
2. *Outlier exposure with synthetic hijacks* built from Training only (a trace spliced into another, or a window
   of one inserted into another) and a discriminator normal-vs-synthetic, scored on Validation vs Attack.
3. *Are the two normal sets one distribution?* The same kind of classifier, Training normals against Validation
   normals (5-fold CV), and each set's random halves against each other as the control.
4. *Does that shift cap the one-class score?* An order-5 language model (interpolated, Witten-Bell-like) learned on
   four fifths of Training, its negatives once the held-out fifth of Training, once the Validation normals.

    ~/.cache/kestrel/venv/bin/pip install scikit-learn scipy
    ~/.cache/kestrel/venv/bin/python bench/adfa/ceiling.py
"""
import os, sys, numpy as np
from load import *
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

A = os.path.join(D, 'Attack_Data_Master')
runs, attr = [], []
for d in sorted(os.listdir(A)):
    for f in sorted(os.listdir(os.path.join(A, d))):
        t = read(os.path.join(A, d, f))
        if t: attr.append(t); runs.append(d)
doc = lambda t: ' '.join('s%d' % c for c in t)
tv = {tuple(t) for t in val}; tt = {tuple(t) for t in train}
print(len(train), len(val), len(attr), 'attack traces identical to a validation normal:',
      sum(tuple(a) in tv for a in attr), 'to a training trace:', sum(tuple(a) in tt for a in attr))

y = np.array([0] * len(val) + [1] * len(attr))
vec = TfidfVectorizer(ngram_range=(1, 3), token_pattern=r'\S+', min_df=2, sublinear_tf=True)
X = vec.fit_transform([doc(t) for t in val + attr])
rng = np.random.default_rng(0)
order = sorted(set(runs)); rng.shuffle(order); runfold = {r: i % 5 for i, r in enumerate(order)}
fold = np.concatenate([rng.integers(0, 5, len(val)), [runfold[r] for r in runs]])
s = np.zeros(len(y))
for k in range(5):
    m = LogisticRegression(C=10, max_iter=3000).fit(X[fold != k], y[fold != k])
    s[fold == k] = m.decision_function(X[fold == k])
n, p = s[y == 0], s[y == 1]
print('supervised oracle (runs grouped): AUC %.3f DR@5%% %.3f DR@1%% %.3f' % (auc(n, p), dr_at(n, p, .05), dr_at(n, p, .01)))
fams = np.array([r.rsplit('_', 1)[0] for r in runs])
for f in sorted(set(fams)):
    held = rng.integers(0, 5, len(val)) == 0
    te = np.r_[held, fams == f]
    m = LogisticRegression(C=10, max_iter=3000).fit(X[~te], y[~te])
    sc, yy = m.decision_function(X[te]), y[te]
    print('  leave-family-out %-11s AUC %.3f' % (f, auc(sc[yy == 0], sc[yy == 1])))

rng = np.random.default_rng(1)
def splice(a, b): return a[:rng.integers(1, max(2, len(a)))] + b[rng.integers(0, max(1, len(b) - 1)):]
def insert(a, b):
    i, j, L = rng.integers(0, len(a)), rng.integers(0, len(b)), rng.integers(5, 60); return a[:i] + b[j:j + L] + a[i:]
syn = []
for _ in range(3 * len(train)):
    a, b = train[rng.integers(len(train))], train[rng.integers(len(train))]
    syn.append(splice(a, b) if rng.random() < .5 else insert(a, b))
for ng in [(1, 2), (1, 3), (2, 4)]:
    v = TfidfVectorizer(ngram_range=ng, token_pattern=r'\S+', sublinear_tf=True)
    Xt = v.fit_transform([doc(t) for t in train + syn])
    m = LogisticRegression(C=10, max_iter=3000, class_weight='balanced').fit(Xt, np.r_[np.zeros(len(train)), np.ones(len(syn))])
    sv, sa = m.decision_function(v.transform([doc(t) for t in val])), m.decision_function(v.transform([doc(t) for t in att]))
    print('outlier exposure, %d-%d-grams: AUC %.3f DR@5%% %.3f' % (ng + (auc(sv, sa), dr_at(sv, sa, .05))))

from sklearn.model_selection import cross_val_predict, StratifiedKFold
for name, a, b in [('Training vs Validation normals', train, val), ('Training half vs half', train[::2], train[1::2]),
                   ('Validation half vs half', val[::2], val[1::2])]:
    Xs = TfidfVectorizer(ngram_range=(1, 3), token_pattern=r'\S+', min_df=2, sublinear_tf=True).fit_transform(
        [doc(t) for t in a + b])
    ys = np.r_[np.zeros(len(a)), np.ones(len(b))]
    s = cross_val_predict(LogisticRegression(C=10, max_iter=3000, class_weight='balanced'), Xs, ys,
                          cv=StratifiedKFold(5, shuffle=True, random_state=0), method='decision_function')
    print('shift: %-31s AUC %.3f' % (name, auc(s[ys == 0], s[ys == 1])))

fold, res = np.random.default_rng(0).integers(0, 5, len(train)), []
for k in range(5):
    sc = lm([t for t, i in zip(train, fold) if i != k])
    h, v, a = ([sc(t) for t in ts] for ts in ([t for t, i in zip(train, fold) if i == k], val, att))
    res.append((auc(h, a), dr_at(h, a, .05), auc(v, a), dr_at(v, a, .05), auc(h, v)))
r = np.mean(res, 0)
print('order-5 LM, 5 folds of Training: held-out Training normals vs attacks AUC %.3f DR@5%% %.3f; Validation normals '
      'vs attacks AUC %.3f DR@5%% %.3f; held-out Training vs Validation normals AUC %.3f' % tuple(r))
