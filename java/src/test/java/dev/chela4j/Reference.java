package dev.chela4j;

import java.util.Random;

/** Plain-Java float64 references of the spec's formulas (O(L^2) attention, direct convolutions). */
final class Reference {
    private Reference() {}

    static float[] randn(int n, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    /** n token ids uniform in [0, vocab), fixed seed. */
    static int[] randomIds(int n, int vocab, long seed) {
        java.util.Random r = new java.util.Random(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = r.nextInt(vocab);
        }
        return ids;
    }

    static float[] uniform(int n, long seed, float lo, float hi) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = lo + (hi - lo) * r.nextFloat();
        }
        return v;
    }

    /** A host bf16 tensor of {@code values} (each truncated to bf16: its high 16 bits). */
    static Tensor bf16(float[] values, long... shape) {
        Tensor t = Tensor.allocate(DType.BF16, shape);
        for (int i = 0; i < values.length; i++) {
            t.segment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, i, (short) (Float.floatToIntBits(values[i]) >>> 16));
        }
        return t;
    }

    static double[] toDouble(float[] v) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i];
        }
        return out;
    }

    static double relL2(float[] got, double[] want) {
        if (got.length != want.length) {
            throw new AssertionError("length " + got.length + " != " + want.length);
        }
        double num = 0, den = 0;
        for (int i = 0; i < got.length; i++) {
            if (!Float.isFinite(got[i])) {
                return Double.POSITIVE_INFINITY;
            }
            double d = got[i] - want[i];
            num += d * d;
            den += want[i] * want[i];
        }
        return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-300);
    }

    static double phi(FeatureMap m, double x) {
        return switch (m) {
            case IDENTITY -> x;
            case ELU1 -> x > 0 ? x + 1 : Math.exp(x);
            case RELU -> Math.max(0, x);
            case SILU -> x / (1 + Math.exp(-x));
        };
    }

    static double silu(double x) {
        return x / (1 + Math.exp(-x));
    }

    /** O[t] = s Σ_j λ^{|t-j|} (φ(q_t)·φ(k_j)) v_j (j ≤ t when causal), then the normalisation. */
    static double[] linearAttention(int B, int L, int e, int f, int H, boolean causal, FeatureMap fm, AttnNorm norm,
                                    double scale, double eps, float[] decay, float[] normW, float[] q, float[] k,
                                    float[] v) {
        int dk = e / H, dv = f / H;
        double[] out = new double[B * L * f];
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                double lam = decay == null ? 1 : decay[h];
                for (int t = 0; t < L; t++) {
                    double den = 0;
                    for (int j = 0; j < L; j++) {
                        if (causal && j > t) {
                            break;
                        }
                        double dot = 0;
                        for (int c = 0; c < dk; c++) {
                            dot += phi(fm, q[(b * L + t) * e + h * dk + c]) * phi(fm, k[(b * L + j) * e + h * dk + c]);
                        }
                        double w = scale * Math.pow(lam, Math.abs(t - j)) * dot;
                        den += w;
                        for (int c = 0; c < dv; c++) {
                            out[(b * L + t) * f + h * dv + c] += w * v[(b * L + j) * f + h * dv + c];
                        }
                    }
                    if (norm == AttnNorm.DENOMINATOR) {
                        for (int c = 0; c < dv; c++) {
                            out[(b * L + t) * f + h * dv + c] /= den + eps;
                        }
                    }
                }
            }
        }
        if (norm == AttnNorm.RMSNORM) {
            for (int row = 0; row < B * L; row++) {
                double ms = 0;
                for (int c = 0; c < f; c++) {
                    ms += out[row * f + c] * out[row * f + c];
                }
                double inv = 1 / Math.sqrt(ms / f + eps);
                for (int c = 0; c < f; c++) {
                    out[row * f + c] *= inv * normW[c];
                }
            }
        }
        return out;
    }

    /** The spec's short-long convolution, direct sums. */
    static double[] shortLongConv(int B, int L, int d, int ks, int lk, boolean causal, float[] x, float[] ws, float[] bs,
                                  float[] wl, float[] wr, float[] omega) {
        int centre = causal ? 0 : (ks - 1) / 2;
        double[] a = new double[B * L * d];
        double[] m = new double[B * L * d];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < L; t++) {
                for (int c = 0; c < d; c++) {
                    double s = bs[c];
                    for (int j = 0; j < ks; j++) {
                        int src = t - (j - centre);
                        if (src >= 0 && src < L) {
                            s += ws[c * ks + j] * x[(b * L + src) * d + c];
                        }
                    }
                    a[(b * L + t) * d + c] = silu(s);
                }
            }
        }
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < L; t++) {
                for (int c = 0; c < d; c++) {
                    double g = 0;
                    for (int j = 0; j <= Math.min(t, lk - 1); j++) {
                        g += wl[c * lk + j] * a[(b * L + t - j) * d + c];
                    }
                    if (!causal) {
                        for (int j = 1; j < lk && t + j < L; j++) {
                            g += wr[c * lk + j] * a[(b * L + t + j) * d + c];
                        }
                    }
                    m[(b * L + t) * d + c] = silu(g + omega[c] * x[(b * L + t) * d + c]);
                }
            }
        }
        return m;
    }
}
