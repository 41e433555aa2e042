package dev.chela4j;

/**
 * What {@link Ops#linearAttention} returns: the output [B, L, f] and, when asked for, the final
 * running state [B, H, e/H, f/H] and key sum [B, H, e/H] (null otherwise). Closing the result
 * closes all three.
 */
public record AttentionResult(Tensor output, Tensor state, Tensor ksum) implements AutoCloseable {
    @Override
    public void close() {
        output.close();
        if (state != null) {
            state.close();
        }
        if (ksum != null) {
            ksum.close();
        }
    }
}
