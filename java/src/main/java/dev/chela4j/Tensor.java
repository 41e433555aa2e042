package dev.chela4j;

import dev.chela4j.bindings.chela_h;
import dev.chela4j.bindings.chela_tensor;
import dev.chela4j.internal.Guard;
import dev.chela4j.internal.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * A dense, row-major tensor in off-heap memory: a dtype, a shape and a {@link MemorySegment}.
 *
 * <p>A tensor either owns its memory (the factories: {@link #allocate}, {@link #fromFloats},
 * {@link #fromInts}, {@link #fromBuffer}; freed by {@link #close()}) or borrows it from the caller
 * ({@link #wrap}; {@link #close()} only detaches, the caller's arena keeps the memory). Native calls
 * read and write the segment in place: no copies on the hot path.
 *
 * <p>Thread safety: reading a tensor from many threads is safe; writing it while a call reads it
 * is a data race, as with any array. {@link #close()} waits for native calls using the tensor.
 */
public final class Tensor implements AutoCloseable {
    private final DType dtype;
    private final long[] shape;
    private final long elements;
    private final MemorySegment segment;
    private final Arena arena; // null when borrowed
    private final Device device;
    private final Backend owner; // device tensors: the backend whose allocator owns the memory
    private final Guard guard;

    private Tensor(DType dtype, long[] shape, MemorySegment segment, Arena arena, Device device) {
        this(dtype, shape, segment, arena, device, null);
    }

    private Tensor(DType dtype, long[] shape, MemorySegment segment, Arena arena, Device device, Backend owner) {
        this.dtype = dtype;
        this.shape = shape;
        this.elements = elementCount(shape);
        this.segment = segment;
        this.arena = arena;
        this.device = device;
        this.owner = owner;
        this.guard = new Guard("Tensor" + Arrays.toString(shape));
    }

    // ------------------------------------------------------------------ factories

    /** A new host tensor; its contents are unspecified until written. */
    public static Tensor allocate(DType dtype, long... shape) {
        requireNonNull(dtype, "dtype");
        long n = elementCount(shape);
        Arena arena = Arena.ofShared();
        MemorySegment seg = arena.allocate(Math.max(1, n * dtype.byteSize()), 64);
        return new Tensor(dtype, shape.clone(), seg, arena, Device.CPU);
    }

    /** A new f32 host tensor holding {@code values} (copied once), shaped {@code shape}. */
    public static Tensor fromFloats(float[] values, long... shape) {
        requireNonNull(values, "values");
        checkCount(values.length, shape);
        Tensor t = allocate(DType.F32, shape);
        MemorySegment.copy(values, 0, t.segment, ValueLayout.JAVA_FLOAT, 0, values.length);
        return t;
    }

    /** A new i32 host tensor holding {@code values} (copied once), shaped {@code shape}. */
    public static Tensor fromInts(int[] values, long... shape) {
        requireNonNull(values, "values");
        checkCount(values.length, shape);
        Tensor t = allocate(DType.I32, shape);
        MemorySegment.copy(values, 0, t.segment, ValueLayout.JAVA_INT, 0, values.length);
        return t;
    }

    /** A new f32 host tensor holding the buffer's remaining floats (copied once). */
    public static Tensor fromBuffer(FloatBuffer values, long... shape) {
        requireNonNull(values, "values");
        checkCount(values.remaining(), shape);
        Tensor t = allocate(DType.F32, shape);
        t.segment.asByteBuffer().order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer().put(values.duplicate());
        return t;
    }

    /**
     * Borrows host memory the caller owns: no copy. The segment must hold exactly the bytes of
     * {@code shape} in {@code dtype}, and stay alive while the tensor is used.
     */
    public static Tensor wrap(MemorySegment segment, DType dtype, long... shape) {
        requireNonNull(segment, "segment");
        requireNonNull(dtype, "dtype");
        long n = elementCount(shape);
        if (segment.byteSize() != n * dtype.byteSize()) {
            throw new IllegalArgumentException("segment holds " + segment.byteSize() + " bytes but " + dtype + Arrays.toString(shape)
                    + " needs " + n * dtype.byteSize());
        }
        if (!segment.isNative()) {
            throw new IllegalArgumentException("segment must be off-heap (native) memory");
        }
        return new Tensor(dtype, shape.clone(), segment, null, Device.CPU);
    }

    // ------------------------------------------------------------------ placement

    /**
     * A copy of this tensor in the memory of {@code backend}'s device (a CUDA backend; one copy,
     * then native calls on that backend read and write it in place). Close it before the backend.
     */
    public Tensor toDevice(Backend backend) {
        requireNonNull(backend, "backend");
        if (backend.device() == Device.CPU) {
            throw new IllegalArgumentException("toDevice needs a CUDA backend; on the CPU use the host tensor itself");
        }
        Tensor out = allocate(backend, dtype, shape);
        try (Call call = new Call(backend)) {
            Native.check(chela_h.chela_tensor_copy(backend.handle(), call.tensor(this), call.tensor(out)));
            return out;
        } catch (RuntimeException ex) {
            out.close();
            throw ex;
        }
    }

    /**
     * A new tensor in {@code backend}'s memory (host memory for a CPU backend, device memory for a
     * CUDA one); its contents are unspecified until written. Close a device tensor before its backend.
     */
    public static Tensor allocate(Backend backend, DType dtype, long... shape) {
        requireNonNull(backend, "backend");
        requireNonNull(dtype, "dtype");
        if (backend.device() == Device.CPU) {
            return allocate(dtype, shape);
        }
        elementCount(shape);
        try (Call call = new Call(backend)) {
            MemorySegment t = chela_tensor.allocate(call.arena);
            MemorySegment dims = call.arena.allocate(ValueLayout.JAVA_LONG, Math.max(1, shape.length));
            for (int i = 0; i < shape.length; i++) {
                dims.setAtIndex(ValueLayout.JAVA_LONG, i, shape[i]);
            }
            Native.check(chela_h.chela_tensor_allocate(backend.handle(), dtype.code(), shape.length, dims, t));
            return new Tensor(dtype, shape.clone(), chela_tensor.data(t), null, backend.device(), backend);
        }
    }

    /** A host copy of this tensor (of a device tensor: its values copied back; of a host one: a clone). */
    public Tensor toHost() {
        Tensor out = allocate(dtype, shape);
        try (Guard.Use u = guard.use()) {
            if (owner == null) {
                MemorySegment.copy(segment, 0, out.segment, 0, elements * dtype.byteSize());
                return out;
            }
            try (Call call = new Call(owner)) {
                Native.check(chela_h.chela_tensor_copy(owner.handle(), call.tensor(this), call.tensor(out)));
            }
            return out;
        } catch (RuntimeException ex) {
            out.close();
            throw ex;
        }
    }

    // ------------------------------------------------------------------ accessors

    public DType dtype() {
        return dtype;
    }

    /** A copy of the shape. */
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    public long elementCount() {
        return elements;
    }

    public Device device() {
        return device;
    }

    /** True when this tensor owns its memory (it was not made by {@link #wrap}). */
    public boolean ownsMemory() {
        return arena != null;
    }

    /**
     * The memory, for zero-copy access. Throws once the tensor is closed. For a device tensor this
     * is a zero-length segment holding the device address (for interop, e.g. with CUDA libraries).
     */
    public MemorySegment segment() {
        try (Guard.Use u = guard.use()) {
            return segment;
        }
    }

    /** The values as floats (f32/bf16/f16 converted); a device tensor is copied to the host first. */
    public float[] toFloatArray() {
        if (owner != null) {
            try (Tensor host = toHost()) {
                return host.toFloatArray();
            }
        }
        try (Guard.Use u = guard.use()) {
            if (elements > Integer.MAX_VALUE) {
                throw new IllegalStateException("tensor too large for a Java array: " + elements + " elements");
            }
            float[] out = new float[(int) elements];
            switch (dtype) {
                case F32 -> MemorySegment.copy(segment, ValueLayout.JAVA_FLOAT, 0, out, 0, out.length);
                case BF16 -> {
                    for (int i = 0; i < out.length; i++) {
                        out[i] = Float.intBitsToFloat((segment.getAtIndex(ValueLayout.JAVA_SHORT, i) & 0xffff) << 16);
                    }
                }
                case F16 -> {
                    for (int i = 0; i < out.length; i++) {
                        out[i] = Float.float16ToFloat(segment.getAtIndex(ValueLayout.JAVA_SHORT, i));
                    }
                }
                default -> throw new IllegalStateException("toFloatArray needs a floating-point tensor, this is " + dtype);
            }
            return out;
        }
    }

    /** The values of an i32 tensor; a device tensor is copied to the host first. */
    public int[] toIntArray() {
        if (owner != null) {
            try (Tensor host = toHost()) {
                return host.toIntArray();
            }
        }
        try (Guard.Use u = guard.use()) {
            if (dtype != DType.I32) {
                throw new IllegalStateException("toIntArray needs an I32 tensor, this is " + dtype);
            }
            int[] out = new int[Math.toIntExact(elements)];
            MemorySegment.copy(segment, ValueLayout.JAVA_INT, 0, out, 0, out.length);
            return out;
        }
    }

    /** Fills every element with NaN (float types): what tests do before a kernel writes. */
    public Tensor fillNaN() {
        try (Guard.Use u = guard.use()) {
            if (owner != null) {
                throw new IllegalStateException("fillNaN writes host memory; this tensor is on " + device);
            }
            switch (dtype) {
                case F32 -> segment.fill((byte) 0xff); // 0xffffffff is a NaN
                case BF16, F16 -> segment.fill((byte) 0xff); // 0xffff is a NaN in both
                default -> throw new IllegalStateException("fillNaN needs a floating-point tensor, this is " + dtype);
            }
            return this;
        }
    }

    // ------------------------------------------------------------------ native glue

    /** Enters a native call that reads or writes this tensor. */
    Guard.Use use() {
        return guard.use();
    }

    /** A chela_tensor struct viewing this tensor, allocated in {@code arena}. */
    MemorySegment struct(Arena arena) {
        MemorySegment s = chela_tensor.allocate(arena);
        chela_tensor.data(s, segment);
        chela_tensor.dtype(s, dtype.code());
        chela_tensor.device(s, device.code());
        chela_tensor.rank(s, shape.length);
        chela_tensor.reserved(s, 0);
        // Through the field's slice: the indexed accessor of this jextract version addresses the
        // array relative to the struct's start (see bindings/README.md).
        MemorySegment dims = chela_tensor.shape(s);
        for (int i = 0; i < shape.length; i++) {
            dims.setAtIndex(ValueLayout.JAVA_LONG, i, shape[i]);
        }
        return s;
    }

    /** True after {@link #close()}. */
    public boolean isClosed() {
        return guard.isClosed();
    }

    /**
     * Frees owned memory (waiting for native calls using it); detaches a borrowed one. Idempotent.
     * A device tensor must be closed before its backend (else this throws and keeps it).
     */
    @Override
    public void close() {
        guard.close(() -> {
            if (arena != null) {
                arena.close();
            }
            if (owner != null) {
                try (Call call = new Call(owner)) {
                    Native.check(chela_h.chela_tensor_release(owner.handle(), struct(call.arena)));
                }
            }
        });
    }

    @Override
    public String toString() {
        return "Tensor(" + dtype + Arrays.toString(shape) + ", " + device + (isClosed() ? ", closed" : "") + ")";
    }

    // ------------------------------------------------------------------ checks

    static final int MAX_RANK = 8;

    static long elementCount(long[] shape) {
        requireNonNull(shape, "shape");
        if (shape.length > MAX_RANK) {
            throw new IllegalArgumentException("rank " + shape.length + " exceeds the maximum of " + MAX_RANK);
        }
        long n = 1;
        for (long s : shape) {
            if (s < 0) {
                throw new IllegalArgumentException("negative extent in shape " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, s);
        }
        return n;
    }

    private static void checkCount(long count, long[] shape) {
        long n = elementCount(shape);
        if (n != count) {
            throw new IllegalArgumentException(count + " values do not fill shape " + Arrays.toString(shape) + " (" + n + " elements)");
        }
    }

    static <T> T requireNonNull(T value, String name) {
        if (value == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
        return value;
    }
}
