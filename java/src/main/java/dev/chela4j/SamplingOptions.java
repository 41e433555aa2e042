package dev.chela4j;

/**
 * How {@link Session#generate} picks the next token: greedy at temperature 0, else the logits are
 * divided by the temperature, cut to the {@code topK} most likely (0 = no cut), softmaxed, cut to
 * the smallest most-likely set reaching {@code topP} (1 = no cut), and one token is drawn from a
 * generator seeded with {@code seed}. Sampling runs in libchela, so a seed gives the same tokens
 * from Java and C on every machine.
 */
public record SamplingOptions(float temperature, int topK, float topP, long seed) {
    public SamplingOptions {
        if (!Float.isFinite(temperature) || temperature < 0) {
            throw new IllegalArgumentException("temperature must be finite and >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be >= 0 (0 = no cut), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
        }
    }

    /** Always the most likely token (ties: the lowest id). */
    public static SamplingOptions greedy() {
        return new SamplingOptions(0f, 0, 1f, 0L);
    }

    /** Plain sampling at {@code temperature} with the given seed. */
    public static SamplingOptions sample(float temperature, long seed) {
        return new SamplingOptions(temperature, 0, 1f, seed);
    }

    public SamplingOptions withTopK(int k) {
        return new SamplingOptions(temperature, k, topP, seed);
    }

    public SamplingOptions withTopP(float p) {
        return new SamplingOptions(temperature, topK, p, seed);
    }
}
