package dev.chela4j;

/**
 * Options of {@link Ops#linearAttention}: mirrors {@code chela_linear_attention_options} plus the
 * optional tensors (decay [H], norm weight [f], initial state [B,H,e/H,f/H] and key sum [B,H,e/H]).
 * Build with {@link #defaults(int)} and the {@code with...} methods.
 *
 * @param heads      H, divides e and f
 * @param causal     causal (true) or bidirectional
 * @param featureMap φ for q and k
 * @param norm       output normalisation
 * @param scale      s, finite and > 0; NaN means the spec's default 1/sqrt(e/H)
 * @param eps        for rmsnorm and denominator
 * @param chunkSize  tile length, 0 = the backend's choice
 * @param decay      per-head λ in (0, 1], f32 [H], or null
 * @param normWeight f32 [f] for {@link AttnNorm#RMSNORM}, else null
 * @param stateIn    f32 [B,H,e/H,f/H] running state to start from (causal), or null
 * @param ksumIn     f32 [B,H,e/H] running key sum (denominator, causal), or null
 * @param wantState  return the final state (causal only)
 */
public record LinearAttentionOptions(int heads, boolean causal, FeatureMap featureMap, AttnNorm norm, float scale,
                                     float eps, int chunkSize, Tensor decay, Tensor normWeight, Tensor stateIn,
                                     Tensor ksumIn, boolean wantState) {

    /** Causal, identity feature map, no normalisation, default scale, eps 1e-5, no state. */
    public static LinearAttentionOptions defaults(int heads) {
        return new LinearAttentionOptions(heads, true, FeatureMap.IDENTITY, AttnNorm.NONE, Float.NaN, 1e-5f, 0, null,
                null, null, null, false);
    }

    public LinearAttentionOptions withCausal(boolean v) {
        return new LinearAttentionOptions(heads, v, featureMap, norm, scale, eps, chunkSize, decay, normWeight, stateIn, ksumIn, wantState);
    }

    public LinearAttentionOptions withFeatureMap(FeatureMap v) {
        return new LinearAttentionOptions(heads, causal, v, norm, scale, eps, chunkSize, decay, normWeight, stateIn, ksumIn, wantState);
    }

    /** Sets the normalisation; {@code weight} is the [f] weight for RMSNORM, else null. */
    public LinearAttentionOptions withNorm(AttnNorm v, Tensor weight) {
        return new LinearAttentionOptions(heads, causal, featureMap, v, scale, eps, chunkSize, decay, weight, stateIn, ksumIn, wantState);
    }

    public LinearAttentionOptions withScale(float v) {
        return new LinearAttentionOptions(heads, causal, featureMap, norm, v, eps, chunkSize, decay, normWeight, stateIn, ksumIn, wantState);
    }

    public LinearAttentionOptions withEps(float v) {
        return new LinearAttentionOptions(heads, causal, featureMap, norm, scale, v, chunkSize, decay, normWeight, stateIn, ksumIn, wantState);
    }

    public LinearAttentionOptions withChunkSize(int v) {
        return new LinearAttentionOptions(heads, causal, featureMap, norm, scale, eps, v, decay, normWeight, stateIn, ksumIn, wantState);
    }

    public LinearAttentionOptions withDecay(Tensor v) {
        return new LinearAttentionOptions(heads, causal, featureMap, norm, scale, eps, chunkSize, v, normWeight, stateIn, ksumIn, wantState);
    }

    /** Starts from a running state (and key sum, for DENOMINATOR; may be null otherwise). */
    public LinearAttentionOptions withState(Tensor state, Tensor ksum) {
        return new LinearAttentionOptions(heads, causal, featureMap, norm, scale, eps, chunkSize, decay, normWeight, state, ksum, wantState);
    }

    public LinearAttentionOptions withWantState(boolean v) {
        return new LinearAttentionOptions(heads, causal, featureMap, norm, scale, eps, chunkSize, decay, normWeight, stateIn, ksumIn, v);
    }
}
