"""Accuracy of a tensor-core FFT convolution, emulated in NumPy (no GPU needed).

Question for the next conv generation (docs/gpu.md, "On-chip FFT path"): if every radix-16 DFT of
the 16384-point column FFT is a matrix product with fp16 (or bf16) operands and fp32
accumulation, as mma.sync / wgmma would do it, does the whole short-long convolution still meet
the 3e-3 rel-L2 bound for bf16 inputs? The emulation follows the kernel's data flow: real signal
packed into N = L complex points, radix-16 DIF passes (operands rounded to the matrix dtype
before each product, unitary 1/sqrt(R) scaling so values keep unit RMS, fp32 twiddles), the
real-signal unpacking, the product with the kernel spectrum (fp32), and the adjoint inverse.

Run: python3 tools/proto/tc_fft_accuracy.py   (prints rel-L2 vs float64 per matrix dtype)
"""
import numpy as np

try:
    from numpy import float16 as F16
except ImportError:  # pragma: no cover
    F16 = None


def to_bf16(x):
    """Round float32 to bfloat16 (round to nearest even), returned as float32."""
    b = np.asarray(x, np.float32).view(np.uint32)
    r = ((b + 0x7FFF + ((b >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    return r.view(np.float32)


def rnd(x, kind):
    if kind == "fp32":
        return x.astype(np.complex64)
    if kind == "fp16":
        return (x.real.astype(np.float16).astype(np.float32) + 1j * x.imag.astype(np.float16).astype(np.float32))
    return to_bf16(x.real) + 1j * to_bf16(x.imag)


# How the twiddle after (forward) or before (inverse) pass p is applied: None = the fp32 product.
# tc_twiddle16_check.py installs the kernel's fp16 arithmetic here: f(p, inverse, x, tw, lo, N, sign).
TWIDDLE = None


def twiddled(p, inverse, x, tw, lo, N, sign):
    if TWIDDLE is not None:
        return TWIDDLE(p, inverse, x, tw, lo, N, sign)
    return (x * (tw.astype(np.complex64) if not inverse else tw)).astype(np.complex64)


def passes_fft(z, radices, kind, inverse=False):
    """In-place mixed-radix DIF (forward) or its adjoint (inverse), natural <-> digit-reversed."""
    N = z.size
    z = z.astype(np.complex128)
    strides = []
    s = N
    for r in radices:
        s //= r
        strides.append(s)
    order = range(len(radices)) if not inverse else reversed(range(len(radices)))
    sign = -1 if not inverse else 1
    for p in order:
        R, S = radices[p], strides[p]
        M = R * S
        F = np.exp(sign * 2j * np.pi * np.outer(np.arange(R), np.arange(R)) / R) / np.sqrt(R)
        v = z.reshape(N // M, R, S)  # [hi, j, lo]
        lo = np.arange(S)
        tw = np.exp(sign * 2j * np.pi * np.outer(np.arange(R), lo) / M)  # [j, lo]
        if not inverse:
            y = np.einsum("kj,hjl->hkl", rnd(F, kind), rnd(v, kind)).astype(np.complex64)
            y = twiddled(p, inverse, y, tw, lo, N, sign)
        else:
            v = twiddled(p, inverse, v, tw, lo, N, sign)
            y = np.einsum("kj,hjl->hkl", rnd(F, kind), rnd(v, kind)).astype(np.complex64)
        z = y.reshape(N)
    return z


def digit_reverse(N, radices):
    idx = np.arange(N)
    k = np.zeros(N, dtype=np.int64)
    mult = 1
    rem = idx.copy()
    # position digits (most significant first) -> frequency digits reversed
    digits = []
    for r in reversed(radices):
        digits.append(rem % r)
        rem //= r
    digits = digits[::-1]  # d0 (radix R0) .. d_last
    for d, r in zip(digits, radices):
        k += d * mult
        mult *= r
    return k  # frequency held at each position


def conv_tc(a, h, N, kind):
    radices = [16, 16, 16, 4] if N == 16384 else [16] * int(round(np.log(N) / np.log(16)))
    pos_freq = digit_reverse(N, radices)
    inv_pos = np.empty(N, dtype=np.int64)
    inv_pos[pos_freq] = np.arange(N)

    def real_spectrum(x):  # length 2N real -> X[0..N] via the packed N-point FFT
        z = x[0::2] + 1j * x[1::2]
        Zp = passes_fft(z, radices, kind)
        Z = Zp[inv_pos]  # natural order (the kernel indexes pos(k) directly)
        k = np.arange(N + 1)
        Zk = Z[k % N]
        Zc = np.conj(Z[(N - k) % N])
        W = np.exp(-1j * np.pi * k / N)
        return 0.5 * (Zk + Zc) - 0.5j * W * (Zk - Zc)

    X = real_spectrum(a) * np.sqrt(N)  # undo the unitary scaling
    H = np.fft.rfft(h)  # kernel spectrum in fp32 accuracy
    Y = (X * H.astype(np.complex64)).astype(np.complex64)
    k = np.arange(N)
    W = np.exp(-1j * np.pi * k / N)
    Yk, Yc = Y[k], np.conj(Y[N - k])
    Zy = 0.5 * (Yk + Yc) + 0.5j * np.conj(W) * (Yk - Yc)
    zp = Zy[pos_freq]  # into digit-reversed positions
    y = passes_fft(zp, radices, kind, inverse=True) / np.sqrt(N)
    out = np.empty(2 * N)
    out[0::2], out[1::2] = y.real, y.imag
    return out


def bench_case(L=16384, seed=0):
    """A bf16-rounded SiLU-like column and a random causal kernel of L taps, zero-padded to 2N = 2L,
    with the float64 long conv: (ap, h, N, ref)."""
    rng = np.random.default_rng(seed)
    N = L  # 2N = 2L >= L + K - 1
    x = rng.standard_normal(L)
    a = x / (1 + np.exp(-x))  # SiLU-like activations
    a = to_bf16(a.astype(np.float32)).astype(np.float64)
    h = np.zeros(2 * N)
    h[:L] = rng.standard_normal(L) / np.sqrt(L)
    ap = np.zeros(2 * N)
    ap[:L] = a
    ref = np.fft.irfft(np.fft.rfft(ap) * np.fft.rfft(h), n=2 * N)[:L]
    return ap, h, N, ref


def main():
    ap, h, N, ref = bench_case()
    L = ref.size
    for kind in ("fp32", "fp16", "bf16"):
        got = conv_tc(ap, h, N, kind)[:L]
        err = np.linalg.norm(got - ref) / np.linalg.norm(ref)
        print(f"{kind:5s} operands: rel-L2 of the long conv vs float64 = {err:.2e}")


if __name__ == "__main__":
    main()
