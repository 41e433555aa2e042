package dev.chela4j.internal;

import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Protects a native handle against use after close and close during use, without serialising
 * users: every call holds the read lock for its duration; {@link #close} takes the write lock, so
 * it waits for calls in flight, runs the release action once, and later calls fail cleanly.
 */
public final class Guard {
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final String what;
    private boolean closed;

    public Guard(String what) {
        this.what = what;
    }

    /** A held read lock; release with {@link Use#close()} (try-with-resources). */
    public final class Use implements AutoCloseable {
        private Use() {}

        @Override
        public void close() {
            lock.readLock().unlock();
        }
    }

    /** Enters a call. Throws IllegalStateException when the handle is closed. */
    public Use use() {
        lock.readLock().lock();
        if (closed) {
            lock.readLock().unlock();
            throw new IllegalStateException(what + " is closed");
        }
        return new Use();
    }

    /** True once {@link #close} ran. */
    public boolean isClosed() {
        lock.readLock().lock();
        try {
            return closed;
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Waits for calls in flight, then runs {@code release}; once it returns normally the handle is
     * closed and later closes do nothing. Calling
     * close from inside a call on the same handle is an error (it would wait for itself).
     */
    public void close(Runnable release) {
        if (lock.getReadHoldCount() > 0) {
            throw new IllegalStateException(what + " cannot be closed from inside a call that uses it");
        }
        lock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            release.run();  // may throw: the handle then stays open
            closed = true;
        } finally {
            lock.writeLock().unlock();
        }
    }
}
