"""End-to-end NumPy emulation of conv_columns<T, LOG_N, TC> (native/cuda/conv_fft_chip.cu).

Mirrors the kernel's formulas step by step - the kernel spectra (scaled 1/(8N), H[N] packed into
H[0].y), the column's range scaling (amax), the passes of fft_smem.cuh (fp32) or fft_smem_tc.cuh
(radix-16 on fp16 operands, each scaled by 1/4), the pair pass with tc_gain, the inverse, and the
unscaling - against a float64 linear convolution with causal and anti-causal taps. It checks the
scaling bookkeeping of the tensor-core variant without a GPU; the fragment mapping of its MMAs
is checked by tools/proto/tc_fragment_check.py.

Run: python3 tools/proto/tc_conv_kernel_emulation.py  (fp32 passes ~1e-15, tensor-core ~5e-4)
"""
import numpy as np
def plan(LOG):
    L0=4; L1=min(4,LOG-4); L2=min(4,LOG-L0-L1); L3=LOG-L0-L1-L2
    Ls=[L0,L1,L2,L3]; Rs=[1<<l for l in Ls]
    S=[Rs[1]*Rs[2]*Rs[3], Rs[2]*Rs[3], Rs[3], 1]
    return Ls,Rs,S
def pos(k,LOG):
    Ls,Rs,S=plan(LOG); L0,L1,L2,L3=Ls
    d0=k&(Rs[0]-1); d1=(k>>L0)&(Rs[1]-1); d2=(k>>(L0+L1))&(Rs[2]-1); d3=k>>(L0+L1+L2)
    return (d0<<(L1+L2+L3))|(d1<<(L2+L3))|(d2<<L3)|d3
def f16(x): return x.real.astype(np.float16).astype(np.float64)+1j*x.imag.astype(np.float16).astype(np.float64)
def run_pass(z,R,S,inv,tc):
    if R==1: return z
    N=z.size; M=R*S; out=z.copy(); sign=1 if inv else -1
    F=np.exp(sign*2j*np.pi*np.outer(np.arange(R),np.arange(R))/R)
    if tc: F=f16(F*0.25)
    v=z.reshape(N//M,R,S)
    tw=np.exp(sign*2j*np.pi*np.outer(np.arange(R),np.arange(S))/M)
    if not inv:
        x=f16(v) if tc else v
        y=np.einsum('kj,hjl->hkl',F,x)*tw
    else:
        x=v*tw; x=f16(x) if tc else x
        y=np.einsum('kj,hjl->hkl',F,x)
    return y.reshape(N)
def is_tc(R,N): return R==16 and (N//16)%8==0
def forward(z,LOG,TC):
    Ls,Rs,S=plan(LOG)
    for p in range(4): z=run_pass(z,Rs[p],S[p],False,TC and is_tc(Rs[p],z.size))
    return z
def inverse(z,LOG,TC):
    Ls,Rs,S=plan(LOG)
    for p in (3,2,1,0): z=run_pass(z,Rs[p],S[p],True,TC and is_tc(Rs[p],z.size))
    return z
def rs2(zk,zk2,w):
    u=zk+np.conj(zk2); v=zk-np.conj(zk2); wv=w*v
    return u-1j*wv
def rp2(yk,yk2,w):
    u=yk+np.conj(yk2); v=yk-np.conj(yk2); wv=np.conj(w)*v
    return u+1j*wv
def emulate(a,hfull,LOG,TC):
    N=1<<LOG
    # kernel_spectra (fp32 path)
    zh=hfull[0::2]+1j*hfull[1::2]
    Z=forward(zh,LOG,False); P=np.array([pos(k,LOG) for k in range(N)])
    scale=1/(8*N); h=np.zeros(N,complex)
    z0=Z[0]; h[0]=2*(z0.real+z0.imag)*scale+1j*2*(z0.real-z0.imag)*scale
    for k in range(1,N//2+1):
        k2=N-k; w=np.exp(-1j*np.pi*k/N); w2=-np.conj(w)
        h[k]=rs2(Z[P[k]],Z[P[k2]],w)*scale; h[k2]=rs2(Z[P[k2]],Z[P[k]],w2)*scale
    # conv_columns
    amax=np.abs(a).max() if TC else 1.0
    z=(a[0::2]+1j*a[1::2])/amax
    Z=forward(z,LOG,TC)
    ntc=sum(1 for R in plan(LOG)[1] if TC and is_tc(R,N)); gain=4.0**(2*ntc)
    out=Z.copy()
    z0=Z[0]; hh=h[0]
    y0=2*gain*(z0.real+z0.imag)*hh.real; yn=2*gain*(z0.real-z0.imag)*hh.imag
    out[0]=(y0+yn)+1j*(y0-yn)
    for k in range(1,N//2+1):
        k2=N-k; w=np.exp(-1j*np.pi*k/N); w2=-np.conj(w)
        yk=rs2(Z[P[k]],Z[P[k2]],w)*(gain*h[k]); yk2=rs2(Z[P[k2]],Z[P[k]],w2)*(gain*h[k2])
        out[P[k]]=rp2(yk,yk2,w); out[P[k2]]=rp2(yk2,yk,w2)
    g=inverse(out,LOG,TC)
    y=np.empty(2*N); y[0::2]=g.real; y[1::2]=g.imag
    return y*amax
rng=np.random.default_rng(3)
for LOG,L in ((7,100),(10,1000),(12,4000)):
    N=1<<LOG; K=L
    a=np.zeros(2*N); a[:L]=rng.standard_normal(L)*3+1
    hk=rng.standard_normal(K)/np.sqrt(K); hr=rng.standard_normal(K)/np.sqrt(K)
    hfull=np.zeros(2*N); hfull[:K]=hk; hfull[2*N-K+1:]=hr[1:K][::-1]
    ref=np.fft.irfft(np.fft.rfft(a)*np.fft.rfft(hfull))[:L]
    for TC in (False,True):
        got=emulate(a,hfull,LOG,TC)[:L]
        print(f"LOG_N={LOG} tensor_cores={TC}: rel-L2 vs float64 = {np.linalg.norm(got-ref)/np.linalg.norm(ref):.2e}")
