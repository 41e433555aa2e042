"""Lane-level emulation of the chained tensor-core FFT (native/cuda/fft_smem_tc.cuh), no GPU needed.

Mirrors the kernel lane by lane: the constant fragments (const_a / const_b), the tile loads at
Stage1/Stage2 addresses through PlanTc::pad, the twiddles tw1 / tw2, the C -> A repacking and the
stores. The products are formed from the PTX fragment layouts of mma.sync m16n8k16 (the
independent truth: fragments -> matrices -> product -> C fragments). Checks, in float64 and with
fp16-rounded operands:
  1. forward_tc(x) = fft(x)[k] / 128 at position pos(k) (the digit-reversed order of Plan<14>);
  2. inverse_tc is the adjoint: inverse_tc(forward_tc(x)) = x;
  3. the swizzle is a bijection and every warp access of the stages takes 2 wavefronts.
Run: python3 tools/proto/tc_chained_check.py   (about a minute)
"""
import sys
from collections import Counter

import numpy as np

N = 16384
LANES = [(lane >> 2, lane & 3) for lane in range(32)]


def pad(e):
    h = ((e >> 10) & 15) ^ ((e >> 6) & 1) ^ (((e >> 7) & 1) << 3) ^ (((e >> 8) & 1) << 2) ^ (((e >> 4) & 1) << 2)
    return e ^ h


def pos(k):
    return ((k & 15) << 10) | (((k >> 4) & 15) << 6) | (((k >> 8) & 15) << 2) | (k >> 12)


def W(e, M):
    return np.exp(-2j * np.pi * (e % M) / M)


def c_row(g, q):
    return g + 8 * (q >> 1)


def c_col(t, h, q):
    return 8 * h + 2 * t + (q & 1)


def dft16(r, c):
    return W(r * c, 16) / 4


def dft4_blocks(r, c):
    return W((r & 3) * (c & 3), 4) / 2 if (r >> 2) == (c >> 2) else 0.0


class Ops:
    def __init__(self, fp16):
        self.fp16 = fp16

    def rnd(self, z):  # operand rounding of pack_half2
        if not self.fp16:
            return complex(z)
        return complex(np.float16(z.real), np.float16(z.imag))

    # Matrices the MMA sees, rebuilt from per-lane fragments (PTX layouts).
    def a_matrix(self, lane_vals):  # lane_vals[lane][r] = (v0, v1) complex
        A = np.zeros((16, 16), complex)
        for lane, (g, t) in enumerate(LANES):
            for r in range(4):
                row, col = g + 8 * (r & 1), 2 * t + 8 * (r >> 1)
                A[row, col], A[row, col + 1] = lane_vals[lane][r]
        return A

    def b_matrix(self, lane_vals):  # lane_vals[lane][r] = (v0, v1): rows 2t + 8r (+1), col g
        B = np.zeros((16, 8), complex)
        for lane, (g, t) in enumerate(LANES):
            for r in range(2):
                B[2 * t + 8 * r, g], B[2 * t + 8 * r + 1, g] = lane_vals[lane][r]
        return B

    def c_frags(self, C):  # C 16x8 -> per lane [q]
        return [[C[g + 8 * (q >> 1), 2 * t + (q & 1)] for q in range(4)] for (g, t) in LANES]

    def const_a(self, m):
        return self.a_matrix([[(self.rnd(m(g + 8 * (r & 1), 2 * t + 8 * (r >> 1))),
                                self.rnd(m(g + 8 * (r & 1), 2 * t + 8 * (r >> 1) + 1))) for r in range(4)]
                              for (g, t) in LANES])

    def const_b(self, m):  # both n-tiles: 16 x 16
        B = np.zeros((16, 16), complex)
        for h in range(2):
            B[:, 8 * h:8 * h + 8] = self.b_matrix([[(self.rnd(m(2 * t + 8 * r, 8 * h + g)),
                                                     self.rnd(m(2 * t + 8 * r + 1, 8 * h + g))) for r in range(2)]
                                                   for (g, t) in LANES])
        return B


def cmma_const_a(M, X, conj):
    """fft_smem_tc.cuh cmma_const_a: real products with the code's sign choices."""
    Mr, Mi, Xr, Xi = M.real, M.imag, X.real, X.imag
    yr = Mr @ Xr + Mi @ (Xi if conj else -Xi)
    yi = Mr @ Xi + Mi @ (-Xr if conj else Xr)
    return yr + 1j * yi


def cmma_const_b(Y, M, conj):
    """fft_smem_tc.cuh cmma_const_b."""
    Yr, Yi, Mr, Mi = Y.real, Y.imag, M.real, M.imag
    yn = -(Yr if conj else Yi)
    zr = Yr @ Mr + (Yi if conj else yn) @ Mi
    zi = (yn if conj else Yr) @ Mi + Yi @ Mr
    return zr + 1j * zi


def stage1_geo(tile, inv):
    lo = tile
    addr = lambda r, c: pad(1024 * r + 64 * c + lo)  # noqa: E731

    def tw1(g, t, h, q):
        k = c_col(t, h, q) if inv else c_row(g, q)
        return W(c_row(g, q) * c_col(t, h, q), 256) * W(lo * k, N)
    tw2 = lambda g, t, h, s: W(lo * c_col(t, h, s), 1024)  # noqa: E731
    return addr, tw1, tw2


def stage2_geo(tile, inv):
    addr = lambda r, c: pad(256 * tile + 64 * (c >> 2) + 4 * r + (c & 3))  # noqa: E731

    def tw1(g, t, h, q):
        row, col = c_row(g, q), c_col(t, h, q)
        return W((row & 3) * col if inv else (col & 3) * row, 64)
    return addr, tw1, None


def twiddled_as_a(ops, C, tw1, inv):
    """The C fragments of both n-tiles times T1 (conjugated for the inverse), re-packed as A (c_to_a)."""
    vals = []
    for lane, (g, t) in enumerate(LANES):
        y = [[C[h][lane][q] * (np.conj(tw1(g, t, h, q)) if inv else tw1(g, t, h, q)) for q in range(4)]
             for h in range(2)]
        vals.append([(ops.rnd(y[h][2 * p]), ops.rnd(y[h][2 * p + 1])) for h in range(2) for p in range(2)])
    return ops.a_matrix(vals)


def tile_forward(ops, sm, geo, FA, GB, log):
    addr, tw1, tw2 = geo
    Y = []
    for h in range(2):
        lanes = []
        for (g, t) in LANES:
            regs = []
            for r in range(2):
                a0, a1 = addr(2 * t + 8 * r, 8 * h + g), addr(2 * t + 8 * r + 1, 8 * h + g)
                log.append(("fwd-load", h, r, [addr(2 * tt + 8 * r, 8 * h + gg) for (gg, tt) in LANES]))
                regs.append((ops.rnd(sm[a0]), ops.rnd(sm[a1])))
            lanes.append(regs)
        Y.append(ops.c_frags(cmma_const_a(FA, ops.b_matrix(lanes), False)))
    # twiddle, C -> A
    A = twiddled_as_a(ops, Y, tw1, False)
    for h in range(2):
        Z = ops.c_frags(cmma_const_b(A, GB[:, 8 * h:8 * h + 8], False))
        for q in range(4):
            log.append(("fwd-store", h, q, [addr(c_row(gg, q), c_col(tt, h, q)) for (gg, tt) in LANES]))
        for lane, (g, t) in enumerate(LANES):
            for q in range(4):
                z = Z[lane][q]
                if tw2 is not None:
                    z *= tw2(g, t, h, q & 1)
                sm[addr(c_row(g, q), c_col(t, h, q))] = z


def tile_inverse(ops, sm, geo, GA, FB, log):
    addr, tw1, tw2 = geo
    V = []
    for h in range(2):
        lanes = []
        for (g, t) in LANES:
            regs = []
            for r in range(2):
                v = []
                for s in range(2):
                    x = sm[addr(8 * h + g, 2 * t + 8 * r + s)]
                    if tw2 is not None:
                        x *= np.conj(tw2(g, t, r, s))
                    v.append(ops.rnd(x))
                log.append(("inv-load", h, r, [addr(8 * h + gg, 2 * tt + 8 * r) for (gg, tt) in LANES]))
                regs.append(tuple(v))
            lanes.append(regs)
        V.append(ops.c_frags(cmma_const_a(GA, ops.b_matrix(lanes), True)))
    A = twiddled_as_a(ops, V, tw1, True)
    for h in range(2):
        X = ops.c_frags(cmma_const_b(A, FB[:, 8 * h:8 * h + 8], True))
        for q in range(4):
            log.append(("inv-store", h, q, [addr(c_col(tt, h, q), c_row(gg, q)) for (gg, tt) in LANES]))
        for lane, (g, t) in enumerate(LANES):
            for q in range(4):
                sm[addr(c_col(t, h, q), c_row(g, q))] = X[lane][q]


def forward_tc(ops, sm, K, log):
    for tile in range(64):
        tile_forward(ops, sm, stage1_geo(tile, False), K["f16a"], K["f16b"], log)
    for tile in range(64):
        tile_forward(ops, sm, stage2_geo(tile, False), K["f16a"], K["f4b"], log)


def inverse_tc(ops, sm, K, log):
    for tile in range(64):
        tile_inverse(ops, sm, stage2_geo(tile, True), K["f4a"], K["f16b"], log)
    for tile in range(64):
        tile_inverse(ops, sm, stage1_geo(tile, True), K["f16a"], K["f16b"], log)


def wavefronts(addrs):  # 8-byte accesses: per half warp, the most lanes on one 16-slot bank group
    return sum(max(Counter(a % 16 for a in set(half)).values()) for half in (addrs[:16], addrs[16:]))


def check_xor_addressing():
    """The kernel forms each swizzled address as pad(lane part) ^ pad(constant part) ^ pad(tile part)."""
    idx1 = lambda r, c: 1024 * r + 64 * c  # noqa: E731
    idx2 = lambda r, c: 64 * (c >> 2) + 4 * r + (c & 3)  # noqa: E731
    for idx, tiles in ((idx1, [(lo, lo) for lo in range(64)]), (idx2, [(256 * q, 256 * q) for q in range(64)])):
        for tile_part, _ in tiles:
            for (g, t) in LANES:
                # the four access patterns of load_tile / finish_forward / finish_inverse: (lane r, lane c, const r, const c)
                pats = [((2 * t, g), (8 * r + s, 8 * h)) for h in range(2) for r in range(2) for s in range(2)]
                pats += [((g, 2 * t), (8 * (q >> 1), 8 * h + (q & 1))) for h in range(2) for q in range(4)]
                pats += [((g, 2 * t), (8 * h, 8 * r + s)) for h in range(2) for r in range(2) for s in range(2)]
                pats += [((2 * t, g), (8 * h + (q & 1), 8 * (q >> 1))) for h in range(2) for q in range(4)]
                for (lr, lc), (kr, kc) in pats:
                    direct = pad(idx(lr + kr, lc + kc) + tile_part)
                    xored = pad(idx(lr, lc)) ^ pad(idx(kr, kc)) ^ pad(tile_part)
                    assert direct == xored, (lr, lc, kr, kc, tile_part)
    print("XOR addressing: every access equals pad(index)")


def main():
    assert sorted(pad(e) for e in range(N)) == list(range(N)), "swizzle is not a bijection"
    check_xor_addressing()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    x /= np.abs(x).max()
    ref = np.fft.fft(x) / 128
    ok = True
    for fp16 in (False, True):
        ops = Ops(fp16)
        K = dict(f16a=ops.const_a(dft16), f4a=ops.const_a(dft4_blocks), f16b=ops.const_b(dft16),
                 f4b=ops.const_b(dft4_blocks))
        sm = np.zeros(N, complex)
        for n in range(N):
            sm[pad(n)] = x[n]
        log = []
        forward_tc(ops, sm, K, log)
        got = np.array([sm[pad(pos(k))] for k in range(N)])
        e_fwd = np.linalg.norm(got - ref) / np.linalg.norm(ref)
        inverse_tc(ops, sm, K, log)
        back = np.array([sm[pad(n)] for n in range(N)])
        e_inv = np.linalg.norm(back - x) / np.linalg.norm(x)
        worst = max(wavefronts(a) for (_, _, _, a) in log)
        bound = 2e-3 if fp16 else 1e-12
        print(f"{'fp16' if fp16 else 'f64 '} operands: forward rel-L2 {e_fwd:.2e}, inverse(forward) {e_inv:.2e}, "
              f"worst wavefronts per warp access {worst}")
        ok &= e_fwd < bound and e_inv < bound and worst == 2
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
