package dev.chela4j;

/**
 * A call into libchela failed. Carries the native {@link Status} and the message libchela wrote
 * for it, which names the argument (or checkpoint key / tensor) and the problem.
 */
public final class ChelaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final Status status;

    public ChelaException(Status status, String message) {
        super(status + ": " + message);
        this.status = status;
    }

    /** The native status of the failed call. */
    public Status status() {
        return status;
    }
}
