"""ADFA-LD traces and the two figures of the protocol (AUC; detection at a false-alarm rate set on normals)."""
import os, numpy as np
D=os.environ.get('ADFA', os.path.join(os.path.dirname(__file__), '../../../shared/data/adfa-ld'))
def read(p): return [int(x) for x in open(p).read().split()]
def folder(sub):
    out=[]
    for root,_,files in os.walk(os.path.join(D,sub)):
        for f in sorted(files):
            if f.endswith('.txt') or True:
                t=read(os.path.join(root,f))
                if t: out.append(t)
    return out
train=folder('Training_Data_Master'); val=folder('Validation_Data_Master'); att=folder('Attack_Data_Master')
def auc(neg,pos):
    from scipy.stats import rankdata
    s=np.concatenate([neg,pos]); r=rankdata(s)
    return (r[len(neg):].sum()-len(pos)*(len(pos)+1)/2)/(len(neg)*len(pos))
def dr_at(neg,pos,far):
    th=np.quantile(neg,1-far); return (np.asarray(pos)>th).mean()

def counts(traces, N):
    """How often each call follows each context of 0..N-1 calls (traces padded with -1 at the start), and each
    context's (total, distinct calls) — what a Witten-Bell model of order N needs."""
    from collections import defaultdict
    c = defaultdict(lambda: defaultdict(int))
    for t in traces:
        t = [-1] * (N - 1) + t
        for i in range(N - 1, len(t)):
            for k in range(N): c[tuple(t[i - k:i])][t[i]] += 1
    return c, {k: (sum(d.values()), len(d)) for k, d in c.items()}

def lm_per_call(traces, N=5, V=400):
    """Each call's surprise (nats) under an interpolated (Witten-Bell-like) order-N model of the traces."""
    c, tot = counts(traces, N)
    def per_call(t):
        t, out = [-1] * (N - 1) + t, []
        for i in range(N - 1, len(t)):
            p = 1.0 / V
            for k in range(N):
                ctx = tuple(t[i - k:i])
                d = c.get(ctx)
                if not d: break
                n, u = tot[ctx]
                p = (d.get(t[i], 0) + u * p) / (n + u)
            out.append(-np.log(p))
        return np.array(out)
    return per_call

def lm(traces, N=5, V=400):
    """Mean surprise per call (nats) under an interpolated (Witten-Bell-like) order-N model of the traces."""
    per_call = lm_per_call(traces, N, V)
    return lambda t: per_call(t).mean()
