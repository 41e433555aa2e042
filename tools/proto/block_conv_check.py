"""Float64 check of the block (uniformly partitioned) FFT convolution of conv_fft_blocks.cu, before
any GPU time: the index algebra, the kernel windows, the real-signal packing and the scale factors.

The column is cut into blocks of b samples; each block's activations a_j (zero-padded to 2b) and each
kernel window g_q (lags qb - b .. qb + b - 1, rotated so lag qb sits at 0: g_q[n] = h[qb + n] for
n < b, h[qb + n - 2b] for n >= b) go through a 2b-sample real transform (b packed complex points);
output block i is the first half of the inverse of sum_j A_j G_(i-j). The spectra are the unpacked
half spectra (real_spectrum_pair: 2X[k], 2X[N-k]); the sum is packed back once (real_pack_pair).
Checked against the direct convolution for causal and bidirectional kernels, K < L, K = L, partial
last blocks; also that each window's spectrum is H_q + (-1)^k H_(q-1) from the partitions' half-zero
transforms (how window_spectra forms it). Scale convention of the fp32 passes: the windows' spectra carry 1/(8N), the inverse is
unnormalised (N ifft).
Run: python3 tools/proto/block_conv_check.py
"""
import numpy as np


def spectrum_pairs(Z):
    """real_spectrum_pair over all k: returns S with S[k] = 2 X[k], k = 0..N."""
    N = len(Z)
    k = np.arange(N + 1)
    zk = Z[k % N]
    zk2 = Z[(N - k) % N]
    w = np.exp(-1j * np.pi * k / N)
    u = zk + np.conj(zk2)
    v = zk - np.conj(zk2)
    p = 1j * (w * v)
    return u - p  # 2 X[k]; the kernel also forms conj(u + p) = 2 X[N - k] from the same pair


def pack(Y):
    """real_pack_pair: half spectrum Y[0..N] -> packed Zy[0..N-1] (times 2)."""
    N = len(Y) - 1
    k = np.arange(N)
    yk, yk2 = Y[k], Y[N - k]
    w = np.exp(-1j * np.pi * k / N)
    u = yk + np.conj(yk2)
    v = yk - np.conj(yk2)
    return u + 1j * (np.conj(w) * v)


def packed_fft(r):
    z = r[0::2] + 1j * r[1::2]
    return np.fft.fft(z)


def unpack_samples(z):
    r = np.empty(2 * len(z))
    r[0::2], r[1::2] = z.real, z.imag
    return r


def block_conv(a, h_causal, h_anti, b):
    """a: activations [L]; h_causal[s] lag s >= 0 (K taps), h_anti[s] lag -s (s >= 1) or None."""
    L, K = len(a), len(h_causal)
    N = b  # packed points of a 2b-sample transform
    nb = -(-L // b)
    reach = min(nb - 1, (K - 1) // b + 1)
    qlo, qhi = (0 if h_anti is None else -reach), reach

    def h(s):
        if 0 <= s < K:
            return h_causal[s]
        if s < 0 and h_anti is not None and -s < K:
            return h_anti[-s]
        return 0.0

    G = {}
    for q in range(qlo, qhi + 1):
        g = np.array([h(q * b + n) if n < b else h(q * b + n - 2 * b) for n in range(2 * b)])
        G[q] = spectrum_pairs(packed_fft(g)) / (8 * N)
        # window_spectra's way: G_q = H_q + (-1)^k H_(q-1), H_p the half-zero transform of partition p
        H = [spectrum_pairs(packed_fft(np.concatenate([[h(p * b + n) for n in range(b)], np.zeros(b)])))
             for p in (q, q - 1)]
        sign = (-1.0) ** np.arange(N + 1)
        assert np.allclose(G[q], (H[0] + sign * H[1]) / (8 * N), rtol=0, atol=1e-12), q
    A = []
    for j in range(nb):
        blk = np.zeros(2 * b)
        seg = a[j * b:(j + 1) * b]
        blk[:len(seg)] = seg
        A.append(spectrum_pairs(packed_fft(blk)))
    out = np.zeros(nb * b)
    for i in range(nb):
        Y = np.zeros(N + 1, complex)
        for j in range(max(0, i - qhi), min(nb - 1, i - qlo) + 1):
            Y += A[j] * G[i - j]
        y = unpack_samples(N * np.fft.ifft(pack(Y)))
        out[i * b:(i + 1) * b] = y[:b]
    return out[:L]


def direct(a, h_causal, h_anti):
    L, K = len(a), len(h_causal)
    y = np.zeros(L)
    for t in range(L):
        for s in range(min(K, t + 1)):
            y[t] += h_causal[s] * a[t - s]
        if h_anti is not None:
            for s in range(1, min(K, L - t)):
                y[t] += h_anti[s] * a[t + s]
    return y


def main():
    rng = np.random.default_rng(7)
    b = 16
    worst = 0.0
    for L, Lk, bidir in [(64, 64, False), (64, 64, True), (50, 50, False), (50, 37, True), (40, 9, False),
                         (16, 16, False), (16, 16, True), (100, 3, True), (72, 20, False), (33, 33, True)]:
        a = rng.standard_normal(L)
        K = min(Lk, L)
        hc = rng.standard_normal(K)
        ha = rng.standard_normal(K) if bidir else None
        got, want = block_conv(a, hc, ha, b), direct(a, hc, ha)
        err = np.linalg.norm(got - want) / np.linalg.norm(want)
        worst = max(worst, err)
        print(f"L{L} K{K} {'bidir' if bidir else 'causal'}: rel-L2 {err:.1e}")
    assert worst < 1e-12, worst
    print(f"ok: worst {worst:.1e}")


if __name__ == "__main__":
    main()
