"""Sequence covering (Marteau 2019, SC4ID) on ADFA-LD: each trace covered greedily by the longest substrings of
the Training traces (a suffix automaton over them); score = covering segments per call. Run from anywhere:
  ~/.cache/kestrel/venv/bin/python bench/adfa/cover.py   (numpy, scipy; ADFA=DIR overrides the data directory)"""
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load import train,val,att,auc,dr_at
import numpy as np
class SAM:
    def __init__(s):
        s.next=[{}]; s.link=[-1]; s.len=[0]; s.last=0
    def reset(s): s.last=0
    def extend(s,c):
        cur=len(s.len); s.next.append({}); s.len.append(s.len[s.last]+1); s.link.append(0)
        p=s.last
        while p!=-1 and c not in s.next[p]:
            s.next[p][c]=cur; p=s.link[p]
        if p==-1: s.link[cur]=0
        else:
            q=s.next[p][c]
            if s.len[p]+1==s.len[q]: s.link[cur]=q
            else:
                cl=len(s.len); s.next.append(dict(s.next[q])); s.len.append(s.len[p]+1); s.link.append(s.link[q])
                while p!=-1 and s.next[p].get(c)==q:
                    s.next[p][c]=cl; p=s.link[p]
                s.link[q]=cl; s.link[cur]=cl
        s.last=cur
sam=SAM()
SEP=10**6
for i,t in enumerate(train):
    for c in t: sam.extend(c)
    sam.extend(SEP+i)   # unique separator
def segments(t):
    """Segments of the greedy cover of t by the longest substrings of the training traces."""
    i=0; segs=0; n=len(t)
    while i<n:
        st=0; j=i
        while j<n and t[j] in sam.next[st]:
            st=sam.next[st][t[j]]; j+=1
        if j==i: j=i+1   # a call never seen: a segment of its own
        segs+=1; i=j
    return segs
v2=np.array([segments(t) for t in val]); a2=np.array([segments(t) for t in att])
lv=np.array([len(t) for t in val]); la=np.array([len(t) for t in att])
v=v2/lv; a=a2/la
print('cover segs/call: AUC %.3f DR@5%% %.3f DR@1%% %.3f'%(auc(v,a),dr_at(v,a,.05),dr_at(v,a,.01)))
print('cover segs (raw): AUC %.3f DR@5%% %.3f'%(auc(v2,a2),dr_at(v2,a2,.05)))
for p in (0.5,0.75):
    print('segs/len^%.2f: AUC %.3f DR@5%% %.3f'%(p,auc(v2/lv**p,a2/la**p),dr_at(v2/lv**p,a2/la**p,.05)))
