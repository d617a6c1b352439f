"""Prototype, not part of kestrel: hidden Markov models on ADFA-LD (Warrender, Forrest and Pearlmutter 1999 found
the HMM the best of their one-class system-call models, at a much higher training cost).

A categorical HMM (hmmlearn, Baum-Welch) learned on the Training traces whole, K hidden states; a trace's score is
its negative log-likelihood per call (forward algorithm); emissions smoothed so that a call never seen in training
costs log(eps) instead of -inf. Also rank-fused with the order-5 LM. Thresholds on validation normals as always.

    ~/.cache/kestrel/venv/bin/pip install scikit-learn scipy hmmlearn
    ~/.cache/kestrel/venv/bin/python bench/adfa/hmm.py [K ...]
"""
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load import *
from hmmlearn.hmm import CategoricalHMM
from scipy.stats import rankdata

vocab = sorted({c for t in train for c in t})
idx = {c: i for i, c in enumerate(vocab)}
UNK = len(vocab)
enc = lambda t: np.array([idx.get(c, UNK) for c in t]).reshape(-1, 1)
X = np.concatenate([enc(t) for t in train]); lengths = [len(t) for t in train]
sc = lm(train)
L_v = np.array([sc(t) for t in val]); L_a = np.array([sc(t) for t in att])
def rep(name, v, a):
    print('%-34s AUC %.3f DR5 %.3f DR1 %.3f' % (name, auc(v, a), dr_at(v, a, .05), dr_at(v, a, .01)), flush=True)
rep('LM5', L_v, L_a)
for K in [int(k) for k in sys.argv[1:]] or [10, 30, 60]:
    for seed in [int(s) for s in os.environ.get("SEEDS", "0 1").split()]:
        t0 = time.time()
        m = CategoricalHMM(n_components=K, n_iter=40, tol=1e-3, random_state=seed, n_features=UNK + 1,
                           init_params='ste')
        m.fit(X, lengths)
        e = m.emissionprob_ + 1e-6; m.emissionprob_ = e / e.sum(1, keepdims=True)
        nll = lambda t: -m.score(enc(t)) / len(t)
        H_v = np.array([nll(t) for t in val]); H_a = np.array([nll(t) for t in att])
        rep('HMM K=%d seed %d (%.0f s)' % (K, seed, time.time() - t0), H_v, H_a)
        for w in [0.3, 0.5]:
            f = (1 - w) * rankdata(np.concatenate([L_v, L_a])) + w * rankdata(np.concatenate([H_v, H_a]))
            rep('  fused with LM5, w=%.1f' % w, f[:len(val)], f[len(val):])
