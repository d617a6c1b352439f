"""Prototype, not part of kestrel: the PCA residual of Xu, Huang, Fox, Patterson and Jordan (SOSP 2009) on ADFA-LD.

Xu et al. found problems in console logs by projecting each session's vector of message counts on the principal
subspace of normal sessions and scoring the residual (the squared prediction error, SPE): what the normal patterns'
combinations cannot explain. Here a trace is a vector of its 1-gram or 1-2-gram counts (tf-idf weighted or
log-scaled, L2-normalised), the subspace learned on Training only, k = 5, 10, 20, 50 components, a trace scored by
its SPE.

    ~/.cache/kestrel/venv/bin/pip install numpy scipy scikit-learn
    ~/.cache/kestrel/venv/bin/python bench/adfa/pca.py   # under a minute
"""
import numpy as np
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.preprocessing import normalize
from load import train, val, att, auc, dr_at

docs = lambda ts: [" ".join(f"c{x}" for x in t) for t in ts]
for ngrams in ((1, 1), (1, 2)):
    cv = CountVectorizer(ngram_range=ngrams, token_pattern=r"\S+", lowercase=False).fit(docs(train))
    for weight in ("tf-idf", "log"):
        if weight == "tf-idf":
            tf = TfidfTransformer().fit(cv.transform(docs(train)))
            vec = lambda ts: normalize(tf.transform(cv.transform(docs(ts)))).toarray()
        else:
            vec = lambda ts: normalize(np.log1p(cv.transform(docs(ts)).toarray()))
        xt, xv, xa = vec(train), vec(val), vec(att)
        for k in (5, 10, 20, 50):
            p = PCA(n_components=k).fit(xt)
            spe = lambda x: ((x - p.inverse_transform(p.transform(x))) ** 2).sum(axis=1)
            sv, sa = spe(xv), spe(xa)
            print(f"{ngrams[1]}-grams {weight:6} k={k:2}: AUC {auc(sv, sa):.3f}, DR at 5 % FAR {dr_at(sv, sa, .05):.3f}, "
                  f"at 1 % {dr_at(sv, sa, .01):.3f}", flush=True)
