#!/usr/bin/env python3
"""Float64 emulation of conv_fft_cluster.cu's index algebra (run before any GPU time).

The cluster transform of a column: M = C * Nl points over C CTAs (n = n1 + Nl n2, k = k2 + C k1),
the exchange brackets, each CTA's unitary local transform (natural order here: the kernel's
digit-reversed slots are a permutation both sides of the product share), the real-signal pairs
(k, M - k) split between CTA r and CTA C - r with the partner at 16383 - j (here Nl - 1 - j), the
sliced spectra [C][Nl + 1], the gather with W_M^(-n1 k2) and the radix-C sum, and the scale
factors of the kernel (1/(8M) times the transforms' gains). Compared with the direct convolution.
Then the slot identities the kernel's addressing relies on, for PlanTc's pad and pos (N = 16384):
a chunk's four points fill one aligned group of slots, the partner slot is one XOR, j and j + 4096
share a slot pair, and the CTAs' pair visits cover every slot exactly once.
Usage: python3 tools/proto/cluster_fft_check.py
"""
import numpy as np


def w(e, m):
    return np.exp(-2j * np.pi * e / m)


def real_spectrum_pair(zk, zk2, wk):
    u, v = zk + np.conj(zk2), zk - np.conj(zk2)
    p = 1j * (wk * v)
    return u - p, np.conj(u + p)


def real_pair_product(zk, zk2, hk, hk2, wk):
    xk, xk2 = real_spectrum_pair(zk, zk2, wk)
    yk, yk2 = xk * hk, xk2 * hk2
    u, v = yk + np.conj(yk2), yk - np.conj(yk2)
    p = 1j * (np.conj(wk) * v)
    return u + p, np.conj(u - p)


def forward(z, C, Nl, n_in):
    """Exchange + local unitary forward: spectra[k2][k1] = Z[k2 + C k1] / sqrt(Nl)."""
    M = C * Nl
    n1 = np.arange(Nl)
    out = []
    for k2 in range(C):
        y = sum(z[n1 + Nl * n2] * w(n2 * k2, C) for n2 in range(n_in)) * w(n1 * k2, M)
        out.append(np.fft.fft(y) / np.sqrt(Nl))
    return out


def pairs(C, Nl, r):
    """(own k1, partner k1, global k) of CTA r."""
    if r == 0:
        k1 = np.arange(Nl // 2 + 1)
        return k1, (Nl - k1) % Nl, C * k1
    j = np.arange(Nl // 2)
    return j, Nl - 1 - j, r + C * j


def conv(C, Nl, L, K, causal, rng):
    M = C * Nl
    a = rng.standard_normal(L)
    hc = rng.standard_normal(K) / np.sqrt(K)
    hr = rng.standard_normal(K) / np.sqrt(K)
    # kernel: causal taps at 0..K-1, anti-causal at 2M-1 .. 2M-K+1 (hr[1..K-1])
    h = np.zeros(2 * M)
    h[:K] = hc
    if not causal:
        h[2 * M - K + 1:] = hr[1:K][::-1]
    zh = h[0::2] + 1j * h[1::2]
    Zh = forward(zh, C, Nl, C)
    scale = np.sqrt(Nl) * Nl / (8.0 * M)  # kOneWayGain * gain() / (8M)
    H = np.zeros((C, Nl + 1), complex)
    for r in range(C):
        own, part, k = pairs(C, Nl, r)
        a_, b_ = real_spectrum_pair(Zh[r][own], Zh[(C - r) % C][part], np.exp(-1j * np.pi * k / M))
        H[r, own] = a_ * scale
        H[(C - r) % C, (Nl - own) if r == 0 else part] = b_ * scale
    # column
    pad = np.zeros(2 * M)
    pad[:L] = a
    z = pad[0::2] + 1j * pad[1::2]
    Z = forward(z, C, Nl, C // 2)
    Y = [x.copy() for x in Z]
    for r in range(C):
        own, part, k = pairs(C, Nl, r)
        p = (C - r) % C
        hk2 = H[0, Nl - own] if r == 0 else H[p, part]
        zk, zk2 = real_pair_product(Z[r][own], Z[p][part], H[r, own], hk2, np.exp(-1j * np.pi * k / M))
        Y[r][own] = zk
        Y[p][part] = zk2
    v = [np.fft.ifft(y) * np.sqrt(Nl) for y in Y]  # the local unitary inverse
    n1 = np.arange(Nl)
    g = np.zeros(M, complex)
    for n2 in range(C // 2):
        g[n1 + Nl * n2] = sum(v[k2] * np.conj(w(n1 * k2, M)) * w(-n2 * k2, C) for k2 in range(C))
    got = np.empty(2 * M)
    got[0::2], got[1::2] = g.real, g.imag
    got = got[:L]
    want = np.zeros(L)
    for t in range(L):
        for j in range(min(t + 1, K)):
            want[t] += hc[j] * a[t - j]
        if not causal:
            for j in range(1, min(K, L - t)):
                want[t] += hr[j] * a[t + j]
    return np.linalg.norm(got - want) / np.linalg.norm(want)


def pad(e):  # PlanTc::pad
    h = ((e >> 10) & 15) ^ ((e >> 6) & 1) ^ (((e >> 7) & 1) << 3) ^ (((e >> 8) & 1) << 2) ^ (((e >> 4) & 1) << 2)
    return e ^ h


def pos(k):  # Plan<14>::pos: radix digits 16, 16, 16, 4 reversed
    return (k & 15) << 10 | ((k >> 4) & 15) << 6 | ((k >> 8) & 15) << 2 | (k >> 12)


def slot(k):
    return pad(pos(k))


def slot_identities():
    n, threads = 16384, 512
    assert sorted(slot(k) for k in range(n)) == list(range(n)), "slot is a bijection"
    for m in range(n // 4):  # staging / output groups
        assert all(pad(4 * m + j) == pad(4 * m) ^ j for j in range(4))
    flip = slot(n - 1)
    for j in range(n):
        assert slot(n - 1 - j) == slot(j) ^ flip  # the partner member
    for j in range(n // 4):
        assert slot(j + n // 4) == slot(j) ^ 1  # j and j + 4096: one slot pair
    for tid in range(threads):
        for i in range(n // threads):
            assert slot(tid + threads * i) == slot(tid) ^ slot(threads * i)  # join of disjoint bits
    # CTA r > 0 visits own j < 8192 and the partner's 16383 - j: with the partner's own visit,
    # every slot of both CTAs once (CTA 2 is its own partner).
    own = [slot(j) for j in range(n // 2)]
    other = [slot(j) ^ flip for j in range(n // 2)]
    assert sorted(own + other) == list(range(n))
    print("slot identities: OK")


if __name__ == "__main__":
    rng = np.random.default_rng(7)
    worst = 0.0
    for C in (2, 4):
        for Nl in (16, 64):
            M = C * Nl
            for L, K in ((M, M), (M - 8, M // 2 + 3), (M // 2 + 8, M // 2 + 8)):
                if (L + K) // 2 <= M // 2 or L > M or L + K - 1 > 2 * M:
                    continue
                for causal in (True, False):
                    e = conv(C, Nl, L, K, causal, rng)
                    worst = max(worst, e)
                    print(f"C={C} Nl={Nl} L={L} K={K} {'causal' if causal else 'bidir'}: rel-L2 {e:.1e}")
    print("worst", f"{worst:.1e}", "OK" if worst < 1e-12 else "FAILED")
    slot_identities()
