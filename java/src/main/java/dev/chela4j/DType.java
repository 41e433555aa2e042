package dev.chela4j;

/** Element types of tensors ({@code chela_dtype}). */
public enum DType {
    F32(0, 4),
    BF16(1, 2),
    F16(2, 2),
    I32(3, 4),
    I64(4, 8);

    private final int code;
    private final int byteSize;

    DType(int code, int byteSize) {
        this.code = code;
        this.byteSize = byteSize;
    }

    /** The native value. */
    public int code() {
        return code;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** True for the floating-point types. */
    public boolean isFloatingPoint() {
        return this == F32 || this == BF16 || this == F16;
    }

    static DType of(int code) {
        for (DType d : values()) {
            if (d.code == code) {
                return d;
            }
        }
        throw new IllegalArgumentException("unknown dtype code " + code);
    }
}
