"""Prototype, not part of kestrel: trace-level density models on ADFA-LD, alone and fused with the order-5 LM.

A whole trace as a tf-idf vector of its 1-, 1–2- or 1–3-grams (fitted on Training only), scored by
- the mean cosine distance to its k nearest Training traces (k = 1, 5, 20),
- an isolation forest on a 50-d truncated SVD of the vectors,
- a one-class SVM (RBF, nu 0.05 or 0.2),
and the kNN scores rank-fused with the order-5 language model's mean surprise per call (weights 0.3, 0.5).
The question: does "how rare is this kind of trace" add what the per-call LM misses? (It does not: 0.74–0.81
alone, 0.82–0.85 fused, against the LM's 0.836.)

    ~/.cache/kestrel/venv/bin/pip install scikit-learn scipy
    ~/.cache/kestrel/venv/bin/python bench/adfa/density.py
"""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load import *
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import NearestNeighbors
from sklearn.svm import OneClassSVM
from sklearn.decomposition import TruncatedSVD
from scipy.stats import rankdata
doc=lambda t:' '.join('s%d'%c for c in t)
sc=lm(train)
L_v=np.array([sc(t) for t in val]); L_a=np.array([sc(t) for t in att])
print('LM5 %.3f %.3f'%(auc(L_v,L_a),dr_at(L_v,L_a,.05)))
def rep(name,v,a):
    print('%-40s AUC %.3f DR5 %.3f DR1 %.3f'%(name,auc(v,a),dr_at(v,a,.05),dr_at(v,a,.01)))
for ng in [(1,1),(1,2),(1,3)]:
  for sub in [True]:
    vec=TfidfVectorizer(ngram_range=ng,token_pattern=r'\S+',sublinear_tf=sub)
    Xt=vec.fit_transform([doc(t) for t in train]); Xv=vec.transform([doc(t) for t in val]); Xa=vec.transform([doc(t) for t in att])
    for k in [1,5,20]:
        nn=NearestNeighbors(n_neighbors=k,metric='cosine').fit(Xt)
        dv=nn.kneighbors(Xv)[0].mean(1); da=nn.kneighbors(Xa)[0].mean(1)
        rep('knn%d tfidf%s'%(k,ng),dv,da)
        for w in [0.3,0.5]:
            allL=np.concatenate([L_v,L_a]); allD=np.concatenate([dv,da])
            fz=(1-w)*rankdata(allL)+w*rankdata(allD)
            rep('  fused w=%.1f'%w,fz[:len(val)],fz[len(val):])
    svd=TruncatedSVD(50,random_state=0).fit(Xt)
    Zt,Zv,Za=svd.transform(Xt),svd.transform(Xv),svd.transform(Xa)
    iso=IsolationForest(n_estimators=500,random_state=0).fit(Zt)
    rep('iso svd50 tfidf%s'%(ng,),-iso.score_samples(Zv),-iso.score_samples(Za))
    for nu in [0.05,0.2]:
        oc=OneClassSVM(nu=nu,gamma='scale').fit(Xt)
        rep('ocsvm nu%.2f tfidf%s'%(nu,ng),-oc.score_samples(Xv),-oc.score_samples(Xa))
