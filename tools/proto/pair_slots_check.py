"""Index algebra of conv_fft_chip.cu, checked without a GPU (a second).

for_each_pair gives thread tid the frequencies k = tid + S i and forms the buffer slots of k and
N - k as one join (XOR for PlanTc, + for Plan<LOG_N>) of a per-thread and a compile-time term;
the chunked staging and output write points 4m + j at join(pad(4m), j), and the padding is zeroed
as one slot range. All are checked here
against pad(pos(.)) computed directly, for every Plan size and the tensor-core layout, and the
pairs are checked to cover k = 0 .. N/2 exactly once.
Run: python3 tools/proto/pair_slots_check.py
"""
def plan(LOG_N, tc):
    L0=4; L1=4 if LOG_N-4>=4 else LOG_N-4; L2=4 if LOG_N-L0-L1>=4 else LOG_N-L0-L1; L3=LOG_N-L0-L1-L2
    R0,R1,R2=1<<L0,1<<L1,1<<L2
    N=1<<LOG_N
    T=min(512,max(64,N//16))
    def pos(k):
        d0=k&(R0-1); d1=(k>>L0)&(R1-1); d2=(k>>(L0+L1))&(R2-1); d3=k>>(L0+L1+L2)
        return (d0<<(L1+L2+L3))|(d1<<(L2+L3))|(d2<<L3)|d3
    if tc:
        def pad(e):
            h=((e>>10)&15)^((e>>6)&1)^(((e>>7)&1)<<3)^(((e>>8)&1)<<2)^(((e>>4)&1)<<2)
            return e^h
        join=lambda a,b:a^b; T=512
    else:
        pad=lambda e:e+(e>>4); join=lambda a,b:a+b
    return N,T,pos,pad,join
for LOG_N,tc in [(l,False) for l in range(6,15)]+[(14,True)]:
    N,T,pos,pad,join=plan(LOG_N,tc)
    slot=lambda k:pad(pos(k))
    S=min(T,N//2); I=N//2//S
    seen=[]
    for tid in range(T):
        if tid>=S: continue
        own=slot(tid); mirror=slot(S-tid)
        for i in range(I):
            sk=join(own,slot(S*i))
            sk2=join(mirror,slot(N-S*(i+1))) if tid!=0 else slot((N-S*i)&(N-1))
            k=tid+S*i
            assert sk==slot(k),(LOG_N,tid,i)
            assert sk2==slot((N-k)%N),(LOG_N,tid,i,sk2,slot(N-k))
            seen.append(k)
        if tid==0: seen.append(N//2)
    assert sorted(seen)==list(range(N//2+1)),LOG_N
    # staging / output slots: pad(4m | j) = join(pad(4m), j)
    for m in range(N//4):
        for j in range(4): assert pad(4*m+j)==join(pad(4*m),j)
    # zero fill of the padding (stage_activations, L/2 a multiple of 16): the slot range covers the
    # points L/2 .. N-1 and none below
    for half in range(0, N, 16):
        first, last = (half, N - 1) if tc else (pad(half), pad(N - 1))
        rng = set(range(first, last + 1))
        assert {pad(n) for n in range(half, N)} <= rng and not ({pad(n) for n in range(half)} & rng), (LOG_N, half)
print("pair, chunk and zero-fill slots: all sizes ok")
