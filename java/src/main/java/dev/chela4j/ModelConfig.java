package dev.chela4j;

import dev.chela4j.bindings.chela_model_config;

import java.lang.foreign.MemorySegment;

/**
 * A model's config.json after parsing and defaults (mirrors {@code chela_model_config}).
 * {@code vocabSize}, {@code inputDim} and {@code numClasses} are 0 when not set.
 */
public record ModelConfig(int dModel, int zDim, int vDim, int nHeads, int nLayers, int shortKernel, int longKernel,
                          int maxLen, boolean causal, boolean prenorm, String norm, FeatureMap featureMap,
                          AttnNorm attnNorm, float attnScale, boolean decay, int ffnDim, String task, int vocabSize,
                          int inputDim, int numClasses, String pooling, boolean tieEmbeddings, float eps) {

    /** True for language models (logits per position), false for classifiers. */
    public boolean isLanguageModel() {
        return task.equals("lm");
    }

    /** True when inputs are token ids (vocab_size set), false for continuous features. */
    public boolean takesTokens() {
        return vocabSize > 0;
    }

    static ModelConfig from(MemorySegment c) {
        return new ModelConfig(chela_model_config.d_model(c), chela_model_config.z_dim(c), chela_model_config.v_dim(c),
                chela_model_config.n_heads(c), chela_model_config.n_layers(c), chela_model_config.short_kernel(c),
                chela_model_config.long_kernel(c), chela_model_config.max_len(c), chela_model_config.causal(c) != 0,
                chela_model_config.prenorm(c) != 0, chela_model_config.norm(c) == 0 ? "layernorm" : "rmsnorm",
                FeatureMap.values()[chela_model_config.feature_map(c)], AttnNorm.values()[chela_model_config.attn_norm(c)],
                chela_model_config.attn_scale(c), chela_model_config.decay(c) != 0, chela_model_config.ffn_dim(c),
                chela_model_config.task(c) == 0 ? "lm" : "classify", chela_model_config.vocab_size(c),
                chela_model_config.input_dim(c), chela_model_config.num_classes(c),
                chela_model_config.pooling(c) == 0 ? "mean" : "last", chela_model_config.tie_embeddings(c) != 0,
                chela_model_config.eps(c));
    }
}
