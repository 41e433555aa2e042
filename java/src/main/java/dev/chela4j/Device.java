package dev.chela4j;

/** Where a backend computes and where a tensor's memory lives ({@code chela_device}). */
public enum Device {
    CPU(0),
    CUDA(1);

    private final int code;

    Device(int code) {
        this.code = code;
    }

    /** The native value. */
    public int code() {
        return code;
    }
}
