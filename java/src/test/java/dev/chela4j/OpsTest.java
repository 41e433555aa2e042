package dev.chela4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The ops from Java against the plain-Java float64 reference. */
class OpsTest {
    static Backend cpu;

    @BeforeAll
    static void open() {
        cpu = Chela.cpu(2);
    }

    @AfterAll
    static void close() {
        cpu.close();
    }

    static Stream<Arguments> attentionCases() {
        return Stream.of(
                Arguments.of(1, 1, true, FeatureMap.IDENTITY, AttnNorm.NONE, false),
                Arguments.of(2, 65, true, FeatureMap.IDENTITY, AttnNorm.RMSNORM, true),
                Arguments.of(1, 64, true, FeatureMap.ELU1, AttnNorm.DENOMINATOR, true),
                Arguments.of(1, 63, false, FeatureMap.SILU, AttnNorm.NONE, true),
                Arguments.of(2, 130, false, FeatureMap.RELU, AttnNorm.DENOMINATOR, false),
                Arguments.of(1, 257, true, FeatureMap.RELU, AttnNorm.RMSNORM, true),
                Arguments.of(1, 2, false, FeatureMap.ELU1, AttnNorm.RMSNORM, false));
    }

    @ParameterizedTest(name = "B{0} L{1} causal={2} {3} {4} decay={5}")
    @MethodSource("attentionCases")
    void linearAttentionMatchesFloat64(int B, int L, boolean causal, FeatureMap fm, AttnNorm norm, boolean decay) {
        int e = 8, f = 12, H = 2;
        float[] q = Reference.randn(B * L * e, 1), k = Reference.randn(B * L * e, 2), v = Reference.randn(B * L * f, 3);
        float[] lam = Reference.uniform(H, 4, 0.8f, 1f), g = Reference.uniform(f, 5, 0.5f, 1.5f);
        try (Tensor tq = Tensor.fromFloats(q, B, L, e); Tensor tk = Tensor.fromFloats(k, B, L, e);
             Tensor tv = Tensor.fromFloats(v, B, L, f); Tensor td = Tensor.fromFloats(lam, H);
             Tensor tg = Tensor.fromFloats(g, f)) {
            LinearAttentionOptions o = LinearAttentionOptions.defaults(H).withCausal(causal).withFeatureMap(fm)
                    .withNorm(norm, norm == AttnNorm.RMSNORM ? tg : null).withDecay(decay ? td : null);
            try (AttentionResult r = Ops.linearAttention(cpu, tq, tk, tv, o)) {
                double[] want = Reference.linearAttention(B, L, e, f, H, causal, fm, norm, 1 / Math.sqrt(e / H), 1e-5,
                        decay ? lam : null, g, q, k, v);
                assertTrue(Reference.relL2(r.output().toFloatArray(), want) <= 1e-5);
                assertNull(r.state());
            }
        }
    }

    @Test
    void stateCarriesAcrossCalls() {
        int L = 100, first = 37, e = 8, f = 8, H = 1;
        float[] q = Reference.randn(L * e, 11), k = Reference.randn(L * e, 12), v = Reference.randn(L * f, 13);
        double[] want = Reference.linearAttention(1, L, e, f, H, true, FeatureMap.IDENTITY, AttnNorm.NONE,
                1 / Math.sqrt(e), 1e-5, new float[] {0.95f}, null, q, k, v);
        float[] got = new float[L * f];
        try (Tensor decay = Tensor.fromFloats(new float[] {0.95f}, 1)) {
            LinearAttentionOptions o = LinearAttentionOptions.defaults(H).withDecay(decay).withWantState(true);
            try (Tensor q1 = Tensor.fromFloats(java.util.Arrays.copyOfRange(q, 0, first * e), 1, first, e);
                 Tensor k1 = Tensor.fromFloats(java.util.Arrays.copyOfRange(k, 0, first * e), 1, first, e);
                 Tensor v1 = Tensor.fromFloats(java.util.Arrays.copyOfRange(v, 0, first * f), 1, first, f);
                 AttentionResult r1 = Ops.linearAttention(cpu, q1, k1, v1, o)) {
                assertNotNull(r1.state());
                System.arraycopy(r1.output().toFloatArray(), 0, got, 0, first * f);
                try (Tensor q2 = Tensor.fromFloats(java.util.Arrays.copyOfRange(q, first * e, L * e), 1, L - first, e);
                     Tensor k2 = Tensor.fromFloats(java.util.Arrays.copyOfRange(k, first * e, L * e), 1, L - first, e);
                     Tensor v2 = Tensor.fromFloats(java.util.Arrays.copyOfRange(v, first * f, L * f), 1, L - first, f);
                     AttentionResult r2 = Ops.linearAttention(cpu, q2, k2, v2, o.withState(r1.state(), null))) {
                    System.arraycopy(r2.output().toFloatArray(), 0, got, first * f, (L - first) * f);
                }
            }
        }
        assertTrue(Reference.relL2(got, want) <= 1e-5);
    }

    @Test
    void bf16InputsGiveBf16Output() {
        int L = 40, e = 8, f = 8;
        try (Tensor q = Tensor.allocate(DType.BF16, 1, L, e); Tensor v = Tensor.allocate(DType.BF16, 1, L, f)) {
            float[] r = Reference.randn(L * e, 21);
            for (int i = 0; i < r.length; i++) {
                q.segment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, i, (short) (Float.floatToIntBits(r[i]) >>> 16));
                v.segment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, i, (short) (Float.floatToIntBits(-r[i]) >>> 16));
            }
            try (AttentionResult res = Ops.linearAttention(cpu, q, q, v, LinearAttentionOptions.defaults(1))) {
                assertEquals(DType.BF16, res.output().dtype());
                double[] want = Reference.linearAttention(1, L, e, f, 1, true, FeatureMap.IDENTITY, AttnNorm.NONE,
                        1 / Math.sqrt(e), 1e-5, null, null, q.toFloatArray(), q.toFloatArray(), v.toFloatArray());
                assertTrue(Reference.relL2(res.output().toFloatArray(), want) <= 6e-3);
            }
        }
    }

    @Test
    void attentionArgumentErrorsNameTheProblem() {
        try (Tensor q = Tensor.fromFloats(Reference.randn(16, 1), 1, 2, 8); Tensor v = Tensor.fromFloats(Reference.randn(12, 2), 1, 2, 6);
             Tensor bad = Tensor.fromFloats(Reference.randn(8, 3), 1, 8); Tensor k3 = Tensor.fromFloats(Reference.randn(24, 4), 1, 3, 8);
             Tensor decay = Tensor.fromFloats(new float[] {1.5f}, 1)) {
            LinearAttentionOptions o = LinearAttentionOptions.defaults(1);
            assertThrows(IllegalArgumentException.class, () -> Ops.linearAttention(cpu, bad, q, v, o));
            assertThrows(IllegalArgumentException.class, () -> Ops.linearAttention(cpu, q, q, v, LinearAttentionOptions.defaults(5)));
            assertThrows(IllegalArgumentException.class, () -> Ops.linearAttention(cpu, null, q, v, o));
            assertThrows(IllegalArgumentException.class, () -> Ops.linearAttention(cpu, q, q, v, o.withCausal(false).withWantState(true)));
            ChelaException shape = assertThrows(ChelaException.class, () -> Ops.linearAttention(cpu, q, k3, v, o));
            assertEquals(Status.SHAPE, shape.status());
            assertTrue(shape.getMessage().contains("k:"), shape.getMessage());
            ChelaException dec = assertThrows(ChelaException.class, () -> Ops.linearAttention(cpu, q, q, v, o.withDecay(decay)));
            assertTrue(dec.getMessage().contains("decay[0] = 1.5"), dec.getMessage());
            ChelaException rms = assertThrows(ChelaException.class, () -> Ops.linearAttention(cpu, q, q, v, o.withNorm(AttnNorm.RMSNORM, null)));
            assertTrue(rms.getMessage().contains("norm_weight"), rms.getMessage());
            ChelaException den = assertThrows(ChelaException.class, () -> Ops.linearAttention(cpu, q, q, v, o.withNorm(AttnNorm.DENOMINATOR, null)));
            assertTrue(den.getMessage().contains("non-negative"), den.getMessage());
            ChelaException scale = assertThrows(ChelaException.class, () -> Ops.linearAttention(cpu, q, q, v, o.withScale(-1)));
            assertTrue(scale.getMessage().contains("opts.scale"), scale.getMessage());
        }
    }

    /** Random conv inputs from seeds seed .. seed + 5, the long kernels scaled by 1/sqrt(lk). */
    record ConvData(float[] x, float[] ws, float[] bs, float[] wl, float[] wr, float[] om) {
        static ConvData random(int B, int L, int d, int ks, int lk, int seed) {
            float[] wl = Reference.randn(d * lk, seed + 3), wr = Reference.randn(d * lk, seed + 4);
            for (int i = 0; i < wl.length; i++) {
                wl[i] /= (float) Math.sqrt(lk);
                wr[i] /= (float) Math.sqrt(lk);
            }
            return new ConvData(Reference.randn(B * L * d, seed), Reference.randn(d * ks, seed + 1),
                    Reference.randn(d, seed + 2), wl, wr, Reference.randn(d, seed + 5));
        }
    }

    @ParameterizedTest(name = "L{0} causal={1} ks={2}")
    @MethodSource("convCases")
    void shortLongConvMatchesFloat64(int L, boolean causal, int ks, int lk) {
        int B = 2, d = 5;
        ConvData in = ConvData.random(B, L, d, ks, lk, 31);
        float[] x = in.x(), ws = in.ws(), bs = in.bs(), wl = in.wl(), wr = in.wr(), om = in.om();
        try (Tensor tx = Tensor.fromFloats(x, B, L, d); Tensor tws = Tensor.fromFloats(ws, d, ks); Tensor tbs = Tensor.fromFloats(bs, d);
             Tensor twl = Tensor.fromFloats(wl, d, lk); Tensor twr = Tensor.fromFloats(wr, d, lk); Tensor tom = Tensor.fromFloats(om, d);
             Tensor out = Ops.shortLongConv(cpu, tx, tws, tbs, twl, causal ? null : twr, tom, causal)) {
            double[] want = Reference.shortLongConv(B, L, d, ks, lk, causal, x, ws, bs, wl, wr, om);
            assertTrue(Reference.relL2(out.toFloatArray(), want) <= 1e-5);
        }
    }

    @ParameterizedTest(name = "channels-major L{0} causal={1} ks={2}")
    @MethodSource("convCases")
    void channelsMajorConvMatchesFloat64(int L, boolean causal, int ks, int lk) {
        int B = 2, d = 5;
        ConvData in = ConvData.random(B, L, d, ks, lk, 41);
        float[] x = in.x(), ws = in.ws(), bs = in.bs(), wl = in.wl(), wr = in.wr(), om = in.om();
        // x as [B, d, L]: element (b, t, c) of the reference's [B, L, d] at (b, c, t).
        float[] xc = new float[x.length];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < L; t++) {
                for (int c = 0; c < d; c++) {
                    xc[(b * d + c) * L + t] = x[(b * L + t) * d + c];
                }
            }
        }
        try (Tensor tx = Tensor.fromFloats(xc, B, d, L); Tensor tws = Tensor.fromFloats(ws, d, ks); Tensor tbs = Tensor.fromFloats(bs, d);
             Tensor twl = Tensor.fromFloats(wl, d, lk); Tensor twr = Tensor.fromFloats(wr, d, lk); Tensor tom = Tensor.fromFloats(om, d);
             Tensor out = Ops.shortLongConv(cpu, tx, tws, tbs, twl, causal ? null : twr, tom, causal, ConvLayout.CHANNELS_MAJOR)) {
            assertArrayEquals(new long[] {B, d, L}, out.shape());
            double[] want = Reference.shortLongConv(B, L, d, ks, lk, causal, x, ws, bs, wl, wr, om);
            float[] got = out.toFloatArray(), rows = new float[got.length];
            for (int b = 0; b < B; b++) {
                for (int t = 0; t < L; t++) {
                    for (int c = 0; c < d; c++) {
                        rows[(b * L + t) * d + c] = got[(b * d + c) * L + t];
                    }
                }
            }
            assertTrue(Reference.relL2(rows, want) <= 1e-5);
        }
    }

    static Stream<Arguments> convCases() {
        return Stream.of(Arguments.of(1, true, 3, 1), Arguments.of(64, true, 3, 64), Arguments.of(65, false, 5, 65),
                Arguments.of(300, true, 4, 300), Arguments.of(300, false, 3, 40), Arguments.of(513, false, 1, 600));
    }

    @Test
    void convArgumentErrorsNameTheProblem() {
        try (Tensor x = Tensor.fromFloats(Reference.randn(24, 1), 1, 6, 4); Tensor w = Tensor.fromFloats(Reference.randn(12, 2), 4, 3);
             Tensor b = Tensor.fromFloats(Reference.randn(4, 3), 4); Tensor wl = Tensor.fromFloats(Reference.randn(24, 4), 4, 6);
             Tensor om5 = Tensor.fromFloats(Reference.randn(5, 5), 5)) {
            ChelaException e = assertThrows(ChelaException.class, () -> Ops.shortLongConv(cpu, x, w, b, wl, null, om5, true));
            assertEquals(Status.SHAPE, e.status());
            assertTrue(e.getMessage().contains("omega"), e.getMessage());
            ChelaException rev = assertThrows(ChelaException.class, () -> Ops.shortLongConv(cpu, x, w, b, wl, null, b, false));
            assertTrue(rev.getMessage().contains("long_weight_rev"), rev.getMessage());
            ChelaException missing = assertThrows(ChelaException.class, () -> Ops.shortLongConv(cpu, x, null, b, wl, null, b, true));
            assertTrue(missing.getMessage().contains("short_weight"), missing.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Ops.shortLongConv(cpu, w, w, b, wl, null, b, true));
            assertThrows(IllegalArgumentException.class, () -> Ops.shortLongConv(cpu, x, w, b, wl, null, b, true, null));
            // x [1, 6, 4] read as [B, d, L] has 6 channels, which the [4, 3] short weight does not match.
            ChelaException layout = assertThrows(ChelaException.class,
                    () -> Ops.shortLongConv(cpu, x, w, b, wl, null, b, true, ConvLayout.CHANNELS_MAJOR));
            assertEquals(Status.SHAPE, layout.status());
            assertTrue(layout.getMessage().contains("short_weight"), layout.getMessage());
        }
    }

    @Test
    void closedInputTensorFailsCleanly() {
        Tensor q = Tensor.fromFloats(Reference.randn(8, 1), 1, 1, 8);
        q.close();
        try (Tensor v = Tensor.fromFloats(Reference.randn(8, 2), 1, 1, 8)) {
            assertThrows(IllegalStateException.class, () -> Ops.linearAttention(cpu, q, q, v, LinearAttentionOptions.defaults(1)));
        }
    }
}
