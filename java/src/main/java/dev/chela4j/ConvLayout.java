package dev.chela4j;

/** Memory order of the short-long convolution's input and output ({@code chela_conv_layout}). */
public enum ConvLayout {
    /** [B, L, d]: token rows, channels fastest (the layer's activations). */
    TOKENS_MAJOR(0),
    /**
     * [B, d, L]: each channel's sequence contiguous (PyTorch conv1d's [N, C, L]). The CUDA FFT paths
     * transform along L, so this order saves them a transpose of the input and of the output.
     */
    CHANNELS_MAJOR(1);

    private final int code;

    ConvLayout(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }
}
