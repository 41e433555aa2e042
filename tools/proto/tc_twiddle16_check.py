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

def twiddle16(p, inverse, x, tw, lo, N, sign):
    """The kernel's twiddles: fp16 between the two products of a stage (passes 0 and 2) and for the
    inverse's conj T2 on the loaded tile (pass 1); fp32 elsewhere (the forward's T2)."""
    if not (p in (0, 2) or (inverse and p == 1)):
        return (x * (tw.astype(np.complex64) if not inverse else tw)).astype(np.complex64)
    if p == 0:  # T1 = W_256^(k c) * W_N^(k lo'), lo = 64 c + lo', each factor half2, product half2
        k = np.arange(tw.shape[0])[:, None]
        c, lop = lo[None, :] // 64, lo[None, :] % 64
        t = cmul16(c16(np.exp(sign * 2j * np.pi * k * c / 256)), c16(np.exp(sign * 2j * np.pi * k * lop / N)))
    else:
        t = c16(tw)
    return cmul16(c16(np.asarray(x, np.complex128)), t)


def main():
    ap, h, N, ref = A.bench_case()
    L = ref.size
    for tw16 in (False, True):
        A.TWIDDLE = twiddle16 if tw16 else None
        got = A.conv_tc(ap, h, N, "fp16")[:L]
        err = np.linalg.norm(got - ref) / np.linalg.norm(ref)
        out = A.to_bf16(got.astype(np.float32)).astype(np.float64)
        err_out = np.linalg.norm(out - ref) / np.linalg.norm(ref)
        print(f"tw16={tw16}: long conv rel-L2 {err:.2e}; with bf16 output rounding {err_out:.2e}")
        assert err_out <= 3e-3, "outside the bf16 bound of the tests"


if __name__ == "__main__":
    main()
