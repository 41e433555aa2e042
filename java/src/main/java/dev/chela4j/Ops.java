package dev.chela4j;

import dev.chela4j.bindings.chela_h;
import dev.chela4j.bindings.chela_linear_attention_options;
import dev.chela4j.internal.Native;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The CHELA operators on their own, mirroring the C ABI. Inputs are read in place; outputs are new
 * tensors (f32 unless stated) that the caller closes.
 *
 * <p>Thread safety: every method may be called from many threads at once on one backend.
 */
public final class Ops {
    private Ops() {}

    /**
     * Tiled linear attention (O(L), never the L×L matrix).
     *
     * @param q [B, L, e] (f32, bf16 or f16)
     * @param k [B, L, e]
     * @param v [B, L, f]
     * @return the output [B, L, f] in q's dtype, plus the final state when {@code opts.wantState()},
     *     in the backend's memory (device tensors on a CUDA backend: inputs must be there too)
     */
    public static AttentionResult linearAttention(Backend backend, Tensor q, Tensor k, Tensor v,
                                                  LinearAttentionOptions opts) {
        Tensor.requireNonNull(backend, "backend");
        Tensor.requireNonNull(q, "q");
        Tensor.requireNonNull(k, "k");
        Tensor.requireNonNull(v, "v");
        Tensor.requireNonNull(opts, "opts");
        if (q.rank() != 3) {
            throw new IllegalArgumentException("q must be [B, L, e], got shape " + Arrays.toString(q.shape()));
        }
        if (v.rank() != 3) {
            throw new IllegalArgumentException("v must be [B, L, f], got shape " + Arrays.toString(v.shape()));
        }
        long B = q.dim(0), L = q.dim(1), e = q.dim(2), f = v.dim(2);
        int H = opts.heads();
        if (H < 1 || e % H != 0 || f % H != 0) {
            throw new IllegalArgumentException("heads = " + H + " must divide e = " + e + " and f = " + f);
        }
        if (opts.wantState() && !opts.causal()) {
            throw new IllegalArgumentException("a final state exists only for causal attention");
        }
        DType outType = q.dtype().isFloatingPoint() ? q.dtype() : DType.F32;
        Tensor out = Tensor.allocate(backend, outType, B, L, f);
        Tensor state = null;
        Tensor ksum = null;
        try {
            if (opts.wantState()) {
                state = Tensor.allocate(backend, DType.F32, B, H, e / H, f / H);
                if (opts.norm() == AttnNorm.DENOMINATOR) {
                    ksum = Tensor.allocate(backend, DType.F32, B, H, e / H);
                }
            }
            try (Call call = new Call(backend)) {
                MemorySegment o = chela_linear_attention_options.allocate(call.arena);
                Native.check(chela_h.chela_linear_attention_options_init(o, e, H));
                chela_linear_attention_options.causal(o, opts.causal() ? 1 : 0);
                chela_linear_attention_options.feature_map(o, opts.featureMap().code());
                chela_linear_attention_options.attn_norm(o, opts.norm().code());
                if (!Float.isNaN(opts.scale())) {
                    chela_linear_attention_options.scale(o, opts.scale());
                }
                chela_linear_attention_options.eps(o, opts.eps());
                chela_linear_attention_options.chunk_size(o, opts.chunkSize());
                Native.check(chela_h.chela_linear_attention(backend.handle(), call.tensor(q), call.tensor(k),
                        call.tensor(v), call.tensor(opts.decay()), call.tensor(opts.normWeight()),
                        call.tensor(opts.stateIn()), call.tensor(opts.ksumIn()), call.tensor(out), call.tensor(state),
                        call.tensor(ksum), o));
            }
            return new AttentionResult(out, state, ksum);
        } catch (RuntimeException ex) {
            out.close();
            if (state != null) {
                state.close();
            }
            if (ksum != null) {
                ksum.close();
            }
            throw ex;
        }
    }

    /**
     * Short-long convolution: short depthwise conv (+bias) → SiLU → long depthwise conv (FFT) →
     * + omega ⊙ x → SiLU.
     *
     * @param x             [B, L, d]
     * @param shortWeight   [d, ks] (ks ≤ 15, odd when bidirectional)
     * @param shortBias     [d]
     * @param longWeight    [d, Lk]
     * @param longWeightRev [d, Lk] when bidirectional, else null
     * @param omega         [d]
     * @return [B, L, d] in x's dtype
     */
    public static Tensor shortLongConv(Backend backend, Tensor x, Tensor shortWeight, Tensor shortBias,
                                       Tensor longWeight, Tensor longWeightRev, Tensor omega, boolean causal) {
        return shortLongConv(backend, x, shortWeight, shortBias, longWeight, longWeightRev, omega, causal,
                ConvLayout.TOKENS_MAJOR);
    }

    /**
     * {@link #shortLongConv(Backend, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, boolean)} with x
     * and the result in {@code layout}: [B, L, d] ({@link ConvLayout#TOKENS_MAJOR}) or [B, d, L]
     * ({@link ConvLayout#CHANNELS_MAJOR}, the order the CUDA FFT paths work in: no transposes).
     *
     * @return x's shape and layout, in x's dtype
     */
    public static Tensor shortLongConv(Backend backend, Tensor x, Tensor shortWeight, Tensor shortBias,
                                       Tensor longWeight, Tensor longWeightRev, Tensor omega, boolean causal,
                                       ConvLayout layout) {
        Tensor.requireNonNull(backend, "backend");
        Tensor.requireNonNull(x, "x");
        Tensor.requireNonNull(layout, "layout");
        if (x.rank() != 3) {
            throw new IllegalArgumentException("x must be " + (layout == ConvLayout.TOKENS_MAJOR ? "[B, L, d]" : "[B, d, L]")
                    + ", got shape " + Arrays.toString(x.shape()));
        }
        Tensor out = Tensor.allocate(backend, x.dtype().isFloatingPoint() ? x.dtype() : DType.F32, x.shape());
        try (Call call = new Call(backend)) {
            Native.check(chela_h.chela_short_long_conv_in_layout(backend.handle(), call.tensor(x),
                    call.tensor(shortWeight), call.tensor(shortBias), call.tensor(longWeight),
                    call.tensor(longWeightRev), call.tensor(omega), call.tensor(out), causal ? 1 : 0, layout.code()));
            return out;
        } catch (RuntimeException ex) {
            out.close();
            throw ex;
        }
    }
}
