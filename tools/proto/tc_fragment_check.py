"""Fragment-level check of the tensor-core radix-16 pass (native/cuda/fft_smem_tc.cuh).

Rebuilds, lane by lane, the A (DFT-16 matrix) and B (8 groups of 16 elements) fragments of
mma.sync m16n8k16 exactly as smem_pass_tc16 loads them, multiplies what the MMA would see, and
writes the D fragments back to the positions the kernel stores them at, in float64; compares with
the reference DIF pass (and its adjoint) at the strides of N = 16384. Max error ~1e-15 = the
mapping is right.

Run: python3 tools/proto/tc_fragment_check.py
"""
import numpy as np
N=16384; R=16
def pad(e): return e + (e>>4)
def ref_pass(z, S, inverse):
    M=R*S; out=z.copy()
    sign = 1 if inverse else -1
    F=np.exp(sign*2j*np.pi*np.outer(np.arange(R),np.arange(R))/R)*0.25
    for gi in range(N//R):
        lo=gi&(S-1); base=(gi//S)*M+lo
        idx=base+np.arange(R)*S
        v=z[idx]
        tw=np.exp(sign*2j*np.pi*lo*np.arange(R)/M)
        if not inverse: y=(F@v)*tw
        else: y=F@(v*tw)
        out[idx]=y
    return out
def tc_pass(sm, S, inverse):
    M=R*S; G=N//R
    Fr=np.cos(2*np.pi*np.outer(np.arange(R),np.arange(R))/R)*0.25
    Fi=-np.sin(2*np.pi*np.outer(np.arange(R),np.arange(R))/R)*0.25   # forward W = exp(-2 pi i/16)
    out=sm.copy()
    for tile in range(G//8):
        # per-lane fragments
        A_r=np.zeros((32,4,2)); A_i=np.zeros((32,4,2)); Bre=np.zeros((32,2,2)); Bim=np.zeros((32,2,2))
        for lane in range(32):
            g=lane>>2; t=lane&3
            rows=[g,g+8,g,g+8]; cols=[2*t,2*t,2*t+8,2*t+8]
            for q in range(4):
                A_r[lane,q]=[Fr[rows[q],cols[q]],Fr[rows[q],cols[q]+1]]
                A_i[lane,q]=[Fi[rows[q],cols[q]],Fi[rows[q],cols[q]+1]]
            gi=tile*8+g; lo=gi&(S-1); base=(gi//S)*M+lo
            js=[2*t,2*t+1,2*t+8,2*t+9]
            x=np.array([sm[pad(base+j*S)] for j in js])
            if inverse:
                x=x*np.exp(2j*np.pi*lo*np.array(js)/M)
            Bre[lane]=[[x[0].real,x[1].real],[x[2].real,x[3].real]]
            Bim[lane]=[[x[0].imag,x[1].imag],[x[2].imag,x[3].imag]]
        # reassemble matrices from fragments (what mma sees) and multiply
        def Amat(Af):
            A=np.zeros((16,16))
            for lane in range(32):
                g=lane>>2; t=lane&3
                A[g,2*t:2*t+2]=Af[lane,0]; A[g+8,2*t:2*t+2]=Af[lane,1]
                A[g,2*t+8:2*t+10]=Af[lane,2]; A[g+8,2*t+8:2*t+10]=Af[lane,3]
            return A
        def Bmat(Bf):
            B=np.zeros((16,8))
            for lane in range(32):
                g=lane>>2; t=lane&3
                B[2*t:2*t+2,g]=Bf[lane,0]; B[2*t+8:2*t+10,g]=Bf[lane,1]
            return B
        Ar,Ai=Amat(A_r),Amat(A_i); Xr,Xi=Bmat(Bre),Bmat(Bim)
        if not inverse:
            Cr=Ar@Xr+(-Ai)@Xi; Ci=Ar@Xi+Ai@Xr
        else:
            Cr=Ar@Xr+Ai@Xi; Ci=Ar@Xi+(-Ai)@Xr
        for lane in range(32):
            g=lane>>2; t=lane&3
            for (k,n) in [(g,2*t),(g,2*t+1),(g+8,2*t),(g+8,2*t+1)]:
                gi=tile*8+n; lo=gi&(S-1); base=(gi//S)*M+lo
                y=Cr[k,n]+1j*Ci[k,n]
                if not inverse: y*=np.exp(-2j*np.pi*lo*k/M)
                out[pad(base+k*S)]=y
    return out
rng=np.random.default_rng(1)
z=rng.standard_normal(N)+1j*rng.standard_normal(N)
sm=np.zeros(N+N//16,complex); 
for e in range(N): sm[pad(e)]=z[e]
for S in (1024,64,4):
    for inv in (False,True):
        r=ref_pass(z,S,inv); t=tc_pass(sm,S,inv)
        got=np.array([t[pad(e)] for e in range(N)])
        print(f"stride {S} {'inverse' if inv else 'forward'}: max |tc - reference| = {np.abs(got-r).max():.1e}")
