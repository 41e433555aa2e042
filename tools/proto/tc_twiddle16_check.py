"""Accuracy of the tensor-core FFT convolution when the twiddles between a stage's two products are
applied in fp16 arithmetic (fft_smem_tc.cuh, cmul_half2), emulated in NumPy (no GPU needed).

The kernel applies T1 (stage 1: W_256^(kc) W_N^(k lo), each factor rounded to fp16 and their
product formed with HMUL2/HFMA2; stage 2: W_64 from a per-lane fp16 table) to the first product's
accumulators after packing them to fp16, in both directions, and the inverse's conj T2 to the
loaded tile after packing it; the forward's T2 (before an fp32 store) stays fp32. This
script replays tc_fft_accuracy.py's data flow with that change (fp16 roundings at the pack, at each
factor and at each HMUL2/HFMA2) and prints the long conv's rel-L2 vs float64 with fp32 and with
fp16 twiddles, before and after rounding the output to bf16 (the 3e-3 bound of the tests).

Run: python3 tools/proto/tc_twiddle16_check.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tc_fft_accuracy as A  # noqa: E402

def r16(x):
    return np.asarray(x, np.float64).astype(np.float16).astype(np.float64)

def c16(z):
    return r16(z.real) + 1j * r16(z.imag)

def cmul16(a, b):  # HMUL2 + HFMA2 per component, one rounding each
    re = r16(r16(a.real * b.real) - a.imag * b.imag)
    im = r16(r16(a.real * b.imag) + a.imag * b.real)
    return re + 1j * im

MODE = {"tw16": False}  # fp16 twiddles between the chained products (passes 0 and 2)

def passes_fft(z, radices, kind, inverse=False):
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
        v = z.reshape(N // M, R, S)
        lo = np.arange(S)
        tw = np.exp(sign * 2j * np.pi * np.outer(np.arange(R), lo) / M)
        # fp16 twiddles: between the two products of a stage, and the inverse's conj T2 on loaded data
        chained = p in (0, 2) or (inverse and p == 1)
        if MODE["tw16"] and chained:
            if p == 0:  # T1 = W_256^(k c) * W_N^(k lo'), lo = 64 c + lo', each factor half2, product half2
                k = np.arange(R)[:, None]
                c, lop = lo[None, :] // 64, lo[None, :] % 64
                t = cmul16(c16(np.exp(sign * 2j * np.pi * k * c / 256)), c16(np.exp(sign * 2j * np.pi * k * lop / N)))
            else:
                t = c16(tw)
        if not inverse:
            y = np.einsum("kj,hjl->hkl", A.rnd(F, kind), A.rnd(v, kind)).astype(np.complex64)
            if MODE["tw16"] and chained:
                y = cmul16(c16(y.astype(np.complex128)), t)
            else:
                y = (y * tw.astype(np.complex64)).astype(np.complex64)
        else:
            if MODE["tw16"] and chained:
                v = cmul16(c16(v), t)
            else:
                v = (v * tw).astype(np.complex64)
            y = np.einsum("kj,hjl->hkl", A.rnd(F, kind), A.rnd(v, kind)).astype(np.complex64)
        z = y.reshape(N)
    return z

A.passes_fft = passes_fft  # conv_tc calls it through the module


def main():
    rng = np.random.default_rng(0)
    L = N = 16384
    x = rng.standard_normal(L)
    a = x / (1 + np.exp(-x))
    a = A.to_bf16(a.astype(np.float32)).astype(np.float64)
    hk = rng.standard_normal(L) / np.sqrt(L)
    h = np.zeros(2 * N)
    h[:L] = hk
    ap = np.zeros(2 * N)
    ap[:L] = a
    ref = np.fft.irfft(np.fft.rfft(ap) * np.fft.rfft(h), n=2 * N)[:L]
    for tw16 in (False, True):
        MODE["tw16"] = tw16
        got = A.conv_tc(ap, h, N, "fp16")[:L]
        err = np.linalg.norm(got - ref) / np.linalg.norm(ref)
        out = A.to_bf16(got.astype(np.float32)).astype(np.float64)
        err_out = np.linalg.norm(out - ref) / np.linalg.norm(ref)
        print(f"tw16={tw16}: long conv rel-L2 {err:.2e}; with bf16 output rounding {err_out:.2e}")
        assert err_out <= 3e-3, "outside the bf16 bound of the tests"


if __name__ == "__main__":
    main()
