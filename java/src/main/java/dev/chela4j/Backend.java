package dev.chela4j;

import dev.chela4j.bindings.chela_h;
import dev.chela4j.internal.Guard;
import dev.chela4j.internal.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * A compute backend: the CPU with its thread pool, or one CUDA device. Create one with
 * {@link Chela#cpu()}, {@link Chela#cpu(int)} or {@link Chela#cuda(int)}; close it after the models
 * loaded in it.
 *
 * <p>Thread safety: a backend may be used by many threads at once; {@link #close()} waits for
 * calls in flight and fails while models loaded in it are still open.
 */
public final class Backend implements AutoCloseable {
    private final MemorySegment handle;
    private final Device device;
    private final int threads;
    private final Guard guard;

    private Backend(MemorySegment handle, Device device) {
        this.handle = handle;
        this.device = device;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(ValueLayout.JAVA_INT);
            Native.check(chela_h.chela_context_threads(handle, n));
            this.threads = n.get(ValueLayout.JAVA_INT, 0);
        }
        this.guard = new Guard("Backend(" + device + ")");
    }

    static Backend cpu(int threads) {
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0 (0 = one per hardware thread), got " + threads);
        }
        Native.init();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            Native.check(chela_h.chela_context_create_cpu(threads, out));
            return new Backend(out.get(ValueLayout.ADDRESS, 0), Device.CPU);
        }
    }

    static Backend cuda(int deviceIndex) {
        if (deviceIndex < 0) {
            throw new IllegalArgumentException("CUDA device index must be >= 0, got " + deviceIndex);
        }
        Native.init();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            Native.check(chela_h.chela_context_create_cuda(deviceIndex, out));
            return new Backend(out.get(ValueLayout.ADDRESS, 0), Device.CUDA);
        }
    }

    /** The device kinds this build of libchela can run on this machine (always includes CPU). */
    public static List<Device> available() {
        Native.init();
        List<Device> devices = new ArrayList<>();
        for (Device d : Device.values()) {
            if (chela_h.chela_backend_available(d.code()) == 1) {
                devices.add(d);
            }
        }
        return List.copyOf(devices);
    }

    /** Where this backend computes. */
    public Device device() {
        return device;
    }

    /** Worker threads of a CPU backend (including the calling thread). */
    public int threads() {
        return threads;
    }

    /**
     * Waits until the work queued on this backend has finished (a CUDA backend queues kernels on its
     * stream and returns; a CPU backend has finished when a call returns, so this returns at once).
     * Device errors of queued work surface here as a {@link ChelaException}.
     */
    public void synchronize() {
        try (Guard.Use u = guard.use()) {
            Native.check(chela_h.chela_context_synchronize(handle));
        }
    }

    /** Enters a native call on this backend; internal. */
    Guard.Use use() {
        return guard.use();
    }

    MemorySegment handle() {
        return handle;
    }

    /** True after {@link #close()}. */
    public boolean isClosed() {
        return guard.isClosed();
    }

    /**
     * Frees the backend. Idempotent. Throws {@link ChelaException} (and stays open) while models
     * loaded in it are still open.
     */
    @Override
    public void close() {
        guard.close(() -> Native.check(chela_h.chela_context_destroy(handle)));
    }

    @Override
    public String toString() {
        return "Backend(" + device + (device == Device.CPU ? ", " + threads + " threads" : "") + ")";
    }
}
