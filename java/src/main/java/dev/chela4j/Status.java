package dev.chela4j;

/** The status codes of libchela's C ABI ({@code chela_status}). */
public enum Status {
    OK(0),
    INVALID_ARGUMENT(1),
    SHAPE(2),
    DTYPE(3),
    IO(4),
    FORMAT(5),
    UNSUPPORTED(6),
    OUT_OF_MEMORY(7),
    DEVICE(8),
    INTERNAL(9),
    /** A code this version of the Java API does not know. */
    UNKNOWN(-1);

    private final int code;

    Status(int code) {
        this.code = code;
    }

    /** The native value. */
    public int code() {
        return code;
    }

    /** The status for a native code; {@link #UNKNOWN} for codes outside the table. */
    public static Status of(int code) {
        for (Status s : values()) {
            if (s.code == code) {
                return s;
            }
        }
        return UNKNOWN;
    }
}
