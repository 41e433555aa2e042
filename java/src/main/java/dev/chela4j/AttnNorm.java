package dev.chela4j;

/** How linear attention's output rows are normalised ({@code chela_attn_norm}). */
public enum AttnNorm {
    /** RMSNorm over the whole f row, times a weight [f]. */
    RMSNORM(0),
    NONE(1),
    /** Each head divided by s·Σ(decayed q·k) + eps; needs a non-negative feature map. */
    DENOMINATOR(2);

    private final int code;

    AttnNorm(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }
}
