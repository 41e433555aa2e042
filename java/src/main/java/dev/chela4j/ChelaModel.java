package dev.chela4j;

import dev.chela4j.bindings.chela_h;
import dev.chela4j.bindings.chela_model_config;
import dev.chela4j.bindings.chela_tensor;
import dev.chela4j.internal.Guard;
import dev.chela4j.internal.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A CHELA model loaded from a directory holding {@code config.json} and {@code model.safetensors}
 * (validated strictly by libchela: every problem names the key or tensor).
 *
 * <p>Thread safety: one model may serve many threads at once ({@link #forward}, {@link #classify}
 * and {@link #layerForward} share nothing mutable). {@link #close()} waits for calls in flight;
 * calls after it throw {@link IllegalStateException}.
 */
public final class ChelaModel implements AutoCloseable {
    private final Backend backend;
    private final MemorySegment handle;
    private final ModelConfig config;
    private final Guard guard;

    private ChelaModel(Backend backend, MemorySegment handle, ModelConfig config, Path dir) {
        this.backend = backend;
        this.handle = handle;
        this.config = config;
        this.guard = new Guard("ChelaModel(" + dir + ")");
    }

    /** Loads {@code dir}/config.json and {@code dir}/model.safetensors into {@code backend}. */
    public static ChelaModel load(Path dir, Backend backend) {
        Tensor.requireNonNull(dir, "dir");
        Tensor.requireNonNull(backend, "backend");
        try (Call call = new Call(backend)) {
            MemorySegment out = call.arena.allocate(ValueLayout.ADDRESS);
            Native.check(chela_h.chela_model_load(backend.handle(), call.arena.allocateFrom(dir.toString()), out));
            MemorySegment handle = out.get(ValueLayout.ADDRESS, 0);
            MemorySegment cfg = chela_model_config.allocate(call.arena);
            int st = chela_h.chela_model_get_config(handle, cfg);
            if (st != 0) {
                chela_h.chela_model_destroy(handle);
                Native.check(st);
            }
            return new ChelaModel(backend, handle, ModelConfig.from(cfg), dir);
        }
    }

    /** The parsed config. */
    public ModelConfig config() {
        return config;
    }

    /** The backend the model lives in. */
    public Backend backend() {
        return backend;
    }

    /**
     * Forward pass over a batch of equal-length sequences: {@code inputs} is i32 token ids [B, L]
     * (models with a vocabulary) or floats [B, L, input_dim]. Returns logits: [B, L, vocab] for
     * language models, [B, num_classes] for classifiers (f32; the caller closes it), in the memory
     * of the model's backend: on a CUDA backend the whole forward runs on the device and the logits
     * stay there ({@link Tensor#toHost()} or {@link Tensor#toFloatArray()} copy them back). Inputs
     * may be host or device tensors; device ones are read in place.
     */
    public Tensor forward(Tensor inputs) {
        return forward(inputs, null);
    }

    /**
     * Forward pass over sequences of unequal lengths padded to L: {@code lengths[b]} valid positions
     * in row b (1..L). Padding never influences valid positions; LM logits of padding are 0.
     */
    public Tensor forward(Tensor inputs, int[] lengths) {
        Tensor.requireNonNull(inputs, "inputs");
        if (inputs.rank() < 2) {
            throw new IllegalArgumentException("inputs must be [B, L] token ids or [B, L, input_dim] features, got shape "
                    + Arrays.toString(inputs.shape()));
        }
        long B = inputs.dim(0), L = inputs.dim(1);
        if (lengths != null && lengths.length != B) {
            throw new IllegalArgumentException("lengths has " + lengths.length + " entries for a batch of " + B);
        }
        Tensor out = config.isLanguageModel() ? Tensor.allocate(backend, DType.F32, B, L, config.vocabSize())
                                              : Tensor.allocate(backend, DType.F32, B, config.numClasses());
        try (Tensor lens = lengths == null ? null : Tensor.fromInts(lengths, lengths.length)) {
            forward(inputs, lens, out);
            return out;
        } catch (RuntimeException ex) {
            out.close();
            throw ex;
        }
    }

    /** Forward pass into a caller-provided output (no allocation on the hot path). */
    public void forward(Tensor inputs, Tensor lengths, Tensor out) {
        Tensor.requireNonNull(inputs, "inputs");
        Tensor.requireNonNull(out, "out");
        try (Call call = new Call(guard.use()); Guard.Use b = backend.use()) {
            Native.check(chela_h.chela_model_forward(handle, call.tensor(inputs), call.tensor(lengths), call.tensor(out)));
        }
    }

    /**
     * Classifies token sequences of any lengths (each at least 1): pads them into one batch with
     * lengths and returns the arg-max class of each.
     */
    public int[] classify(int[][] tokenBatches) {
        Tensor.requireNonNull(tokenBatches, "tokenBatches");
        if (config.isLanguageModel()) {
            throw new IllegalStateException("classify needs a classifier (task \"classify\"); this model is a language model");
        }
        if (!config.takesTokens()) {
            throw new IllegalStateException("classify(int[][]) needs a token model; this one takes " + config.inputDim() + " features per position");
        }
        int B = tokenBatches.length;
        if (B == 0) {
            return new int[0];
        }
        int L = 0;
        int[] lengths = new int[B];
        for (int b = 0; b < B; b++) {
            if (tokenBatches[b] == null || tokenBatches[b].length == 0) {
                throw new IllegalArgumentException("sequence " + b + " is empty or null");
            }
            lengths[b] = tokenBatches[b].length;
            L = Math.max(L, lengths[b]);
        }
        int[] ids = new int[Math.multiplyExact(B, L)];
        for (int b = 0; b < B; b++) {
            System.arraycopy(tokenBatches[b], 0, ids, b * L, lengths[b]);
        }
        try (Tensor in = Tensor.fromInts(ids, B, L); Tensor logits = forward(in, lengths)) {
            float[] v = logits.toFloatArray();
            int n = config.numClasses();
            int[] classes = new int[B];
            for (int b = 0; b < B; b++) {
                int best = 0;
                for (int c = 1; c < n; c++) {
                    if (v[b * n + c] > v[b * n + best]) {
                        best = c;
                    }
                }
                classes[b] = best;
            }
            return classes;
        }
    }

    /**
     * One CHELA layer: x [B, L, d] → y [B, L, d] (in x's dtype on the CPU; on a CUDA backend x must
     * be an f32 device tensor and y is one too).
     */
    public Tensor layerForward(int layer, Tensor x) {
        Tensor.requireNonNull(x, "x");
        if (layer < 0 || layer >= config.nLayers()) {
            throw new IllegalArgumentException("layer " + layer + " is outside [0, " + config.nLayers() + ")");
        }
        Tensor y = backend.device() == Device.CPU
                ? Tensor.allocate(x.dtype().isFloatingPoint() ? x.dtype() : DType.F32, x.shape())
                : Tensor.allocate(backend, DType.F32, x.shape());
        try (Call call = new Call(guard.use()); Guard.Use b = backend.use()) {
            Native.check(chela_h.chela_model_layer_forward(handle, layer, call.tensor(x), call.tensor(y)));
            return y;
        } catch (RuntimeException ex) {
            y.close();
            throw ex;
        }
    }

    /** Names of the model's weight tensors (short-conv branches merged). */
    public List<String> tensorNames() {
        try (Guard.Use u = guard.use(); Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(ValueLayout.JAVA_INT);
            Native.check(chela_h.chela_model_tensor_count(handle, n));
            int count = n.get(ValueLayout.JAVA_INT, 0);
            MemorySegment name = a.allocate(ValueLayout.ADDRESS);
            List<String> names = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                Native.check(chela_h.chela_model_tensor_name(handle, i, name));
                names.add(Native.string(name.get(ValueLayout.ADDRESS, 0)));
            }
            return List.copyOf(names);
        }
    }

    /** A copy of one weight tensor's values (f32) by name. */
    public float[] weights(String name) {
        Tensor.requireNonNull(name, "name");
        try (Guard.Use u = guard.use(); Arena a = Arena.ofConfined()) {
            MemorySegment view = chela_tensor.allocate(a);
            Native.check(chela_h.chela_model_tensor(handle, a.allocateFrom(name), view));
            long n = 1;
            MemorySegment dims = chela_tensor.shape(view);
            for (int i = 0; i < chela_tensor.rank(view); i++) {
                n *= dims.getAtIndex(ValueLayout.JAVA_LONG, i);
            }
            float[] out = new float[Math.toIntExact(n)];
            MemorySegment.copy(chela_tensor.data(view).reinterpret(n * 4), ValueLayout.JAVA_FLOAT, 0, out, 0, out.length);
            return out;
        }
    }

    /**
     * A streaming session (prefill, then decode token by token) over this causal language model for
     * {@code batch} parallel streams. Close it before the model.
     */
    public Session newSession(int batch) {
        return Session.open(this, batch);
    }

    /** {@link #newSession(int)} for one stream. */
    public Session newSession() {
        return newSession(1);
    }

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
     * Frees the model (waiting for calls in flight). Idempotent. Throws {@link ChelaException}, and
     * keeps the model open, while sessions of it are still open.
     */
    @Override
    public void close() {
        guard.close(() -> Native.check(chela_h.chela_model_destroy(handle)));
    }

    @Override
    public String toString() {
        return "ChelaModel(" + config.task() + ", " + config.nLayers() + " layers, d=" + config.dModel() + ", " + backend + ")";
    }
}
