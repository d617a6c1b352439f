"""Prototype, not part of kestrel: a recurrent language model of whole ADFA-LD traces (GRU or LSTM, JAX on the
CPU), to check whether full-trace context beats kestrel's fixed-context models. Learns on Training only, scores
each Validation and Attack trace by its mean surprise per call, prints AUC and detection at 5 % / 1 % false alarms.

    ~/.cache/kestrel/venv/bin/pip install jax scipy
    EP=20 ~/.cache/kestrel/venv/bin/python bench/adfa/rnn.py          # GRU, 128 units
    CELL=lstm H=200 EP=20 ~/.cache/kestrel/venv/bin/python bench/adfa/rnn.py
"""
import sys, time, numpy as np, jax, jax.numpy as jnp
from load import *
H=int(os.environ.get('H',128)); E=int(os.environ.get('E',32)); EPOCHS=int(os.environ.get('EP',10)); CELL=os.environ.get('CELL','gru')
OUT=os.environ.get('OUT','/tmp'); LR=float(os.environ.get('LR',3e-3)); SEED=int(os.environ.get('SEED',0))
vocab={s:i+2 for i,s in enumerate(sorted(set(x for t in train for x in t)))}  # 0 pad/start, 1 unseen
V=len(vocab)+2
def enc(t): return np.array([vocab.get(x,1) for x in t],dtype=np.int32)
k=jax.random.PRNGKey(SEED); ks=jax.random.split(k,8)
G=3 if CELL=='gru' else 4
p={'emb':jax.random.normal(ks[0],(V,E))*0.1,
   'Wx':jax.random.normal(ks[1],(E,G*H))/np.sqrt(E),'Wh':jax.random.normal(ks[2],(H,G*H))/np.sqrt(H),'b':jnp.zeros(G*H),
   'Wo':jax.random.normal(ks[3],(H,V))/np.sqrt(H),'bo':jnp.zeros(V)}
def cell(p,h,x):
    if CELL=='gru':
        gx=x@p['Wx']+p['b']; gh=h@p['Wh']
        r=jax.nn.sigmoid(gx[:,:H]+gh[:,:H]); z=jax.nn.sigmoid(gx[:,H:2*H]+gh[:,H:2*H])
        n=jnp.tanh(gx[:,2*H:]+r*gh[:,2*H:]); return (1-z)*n+z*h
    else:
        hh,c=h[:,:H],h[:,H:]
        g=x@p['Wx']+hh@p['Wh']+p['b']
        i,f,o,u=jax.nn.sigmoid(g[:,:H]),jax.nn.sigmoid(g[:,H:2*H]+1),jax.nn.sigmoid(g[:,2*H:3*H]),jnp.tanh(g[:,3*H:])
        c=f*c+i*u; hh=o*jnp.tanh(c); return jnp.concatenate([hh,c],1)
HS=H if CELL=='gru' else 2*H
def nll(p,X):  # X [B,T] tokens, 0 = pad ; predict X[:,t] from X[:,:t]
    B,T=X.shape
    inp=jnp.concatenate([jnp.zeros((B,1),jnp.int32),X[:,:-1]],1)
    xe=p['emb'][inp]  # B T E
    def step(h,x):
        h=cell(p,h,x); return h,h[:,:H]
    _,hs=jax.lax.scan(step,jnp.zeros((B,HS)),jnp.swapaxes(xe,0,1))
    logits=jnp.swapaxes(hs,0,1)@p['Wo']+p['bo']
    lp=jax.nn.log_softmax(logits)
    l=-jnp.take_along_axis(lp,X[...,None],-1)[...,0]
    return l*(X>0)
@jax.jit
def loss(p,X):
    l=nll(p,X); return l.sum()/(X>0).sum()
sc=jax.jit(nll)
g=jax.jit(jax.value_and_grad(loss))
def batches(seqs,bs,shuffle,rng):
    idx=np.argsort([len(s) for s in seqs]); bl=[idx[i:i+bs] for i in range(0,len(idx),bs)]
    if shuffle: rng.shuffle(bl)
    for b in bl:
        T=max(len(seqs[i]) for i in b); T=((T+127)//128)*128
        X=np.zeros((len(b),T),np.int32)
        for j,i in enumerate(b): X[j,:len(seqs[i])]=seqs[i]
        yield b,X
tr=[enc(t) for t in train]
m={k:jnp.zeros_like(v) for k,v in p.items()}; v2={k:jnp.zeros_like(v) for k,v in p.items()}; step=0
rng=np.random.default_rng(SEED)
def score(seqs):
    out=np.zeros(len(seqs))
    for b,X in batches(seqs,64,False,None):
        l=np.asarray(sc(p,jnp.asarray(X)))
        for j,i in enumerate(b): n=len(seqs[i]); out[i]=l[j,:n].mean()
    return out
va=[enc(t) for t in val]; at=[enc(t) for t in att]
t0=time.time()
for ep in range(EPOCHS):
    tot=0;n=0
    for b,X in batches(tr,32,True,rng):
        L,gr=g(p,jnp.asarray(X)); step+=1
        gn=jnp.sqrt(sum((x**2).sum() for x in jax.tree_util.tree_leaves(gr))); sc_=jnp.minimum(1,5/gn)
        for k in p:
            gk=gr[k]*sc_; m[k]=0.9*m[k]+0.1*gk; v2[k]=0.999*v2[k]+0.001*gk**2
            p[k]=p[k]-LR*(m[k]/(1-0.9**step))/(jnp.sqrt(v2[k]/(1-0.999**step))+1e-8)
        tot+=float(L);n+=1
    if ep%2==1 or ep==EPOCHS-1:
        sv=score(va); sa=score(at)
        print(f'ep {ep} loss {tot/n:.3f} auc {auc(sv,sa):.3f} dr5 {dr_at(sv,sa,.05):.3f} dr1 {dr_at(sv,sa,.01):.3f} t {time.time()-t0:.0f}s',flush=True)
np.save(f'{OUT}/sv_{CELL}_{H}_{SEED}.npy',sv); np.save(f'{OUT}/sa_{CELL}_{H}_{SEED}.npy',sa)
