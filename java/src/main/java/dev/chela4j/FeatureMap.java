package dev.chela4j;

/** The feature map φ applied to queries and keys ({@code chela_feature_map}). */
public enum FeatureMap {
    IDENTITY(0),
    /** ELU(x) + 1. */
    ELU1(1),
    RELU(2),
    SILU(3);

    private final int code;

    FeatureMap(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** True when φ(x) >= 0 for every x (needed by {@link AttnNorm#DENOMINATOR}). */
    public boolean nonNegative() {
        return this == ELU1 || this == RELU;
    }
}
