"""Prototype, not part of kestrel: a one-class density over a trace's novelty *profile* instead of one score.

Each trace becomes a vector of what the per-call models say of it — mean surprise under order-1, -3 and -5
Witten-Bell LMs, the median and 90th percentile of the order-5 surprise, the share of its 2-, 4- and 6-grams never
seen, its log length — computed for the Training traces by 5-fold cross-fitting (a trace never scores itself) and
for Validation and Attack traces by models of all of Training. A density of the Training vectors then scores the
others: the robust Mahalanobis distance (minimum covariance determinant), an isolation forest, and the mean distance
to the 10 nearest Training vectors (standardised). The idea: an attack might be odd in a *combination* (novel
pairs in a short trace, say) that no single score ranks. Thresholds from the Validation normals only.

    ~/.cache/kestrel/venv/bin/python bench/adfa/features.py
"""
import numpy as np
from load import train, val, att, auc, dr_at, lm_per_call

ORDERS = (1, 3, 5)
GRAMS = (2, 4, 6)


def grams(t, n):
    return {tuple(t[i:i + n]) for i in range(len(t) - n + 1)}


def fit(traces):
    lms = {n: lm_per_call(traces, N=n) for n in ORDERS}
    seen = {n: set().union(*(grams(t, n) for t in traces)) for n in GRAMS}

    def features(t):
        s = {n: lms[n](t) for n in ORDERS}
        f = [s[n].mean() for n in ORDERS] + [np.median(s[5]), np.quantile(s[5], 0.9)]
        for n in GRAMS:
            g = grams(t, n)
            f.append(len(g - seen[n]) / len(g) if g else 0.0)
        f.append(np.log(len(t)))
        return f

    return features


rng = np.random.default_rng(0)
fold = rng.integers(0, 5, len(train))
X_train = np.zeros((len(train), len(ORDERS) + 2 + len(GRAMS) + 1))
for k in range(5):
    f = fit([t for t, j in zip(train, fold) if j != k])
    for i, (t, j) in enumerate(zip(train, fold)):
        if j == k:
            X_train[i] = f(t)
f = fit(train)
X_val = np.array([f(t) for t in val])
X_att = np.array([f(t) for t in att])
print('features done', flush=True)

mu, sd = X_train.mean(0), X_train.std(0) + 1e-9
Z = lambda X: (X - mu) / sd


def report(label, score):
    neg, pos = score(X_val), score(X_att)
    print('%-44s AUC %.3f  DR@5%% %.3f  DR@1%% %.3f' % (label, auc(neg, pos), dr_at(neg, pos, .05), dr_at(neg, pos, .01)),
          flush=True)


report('order-5 mean surprise alone (reference)', lambda X: X[:, 2])
from sklearn.covariance import MinCovDet
mcd = MinCovDet(random_state=0).fit(Z(X_train))
report('robust Mahalanobis (MCD)', lambda X: mcd.mahalanobis(Z(X)))
from sklearn.ensemble import IsolationForest
iso = IsolationForest(n_estimators=300, random_state=0).fit(Z(X_train))
report('isolation forest', lambda X: -iso.score_samples(Z(X)))
from sklearn.neighbors import NearestNeighbors
nn = NearestNeighbors(n_neighbors=10).fit(Z(X_train))
report('10-NN mean distance', lambda X: nn.kneighbors(Z(X))[0].mean(1))
# Only the direction "more novel than Training" counts: a trace less surprising than every Training one is not odd.
up = lambda X: np.clip(Z(X), 0, None)
nn_up = NearestNeighbors(n_neighbors=10).fit(up(X_train))
report('10-NN, excess novelty only', lambda X: nn_up.kneighbors(up(X))[0].mean(1))
report('sum of excess novelty (z)', lambda X: up(X)[:, :-1].sum(1))
