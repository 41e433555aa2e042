package dev.chela4j;

import dev.chela4j.bindings.chela_h;
import dev.chela4j.bindings.chela_sampling_options;
import dev.chela4j.internal.Guard;
import dev.chela4j.internal.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.IntConsumer;

/**
 * A stream of tokens through a causal language model (libchela's {@code chela_state}): {@link
 * #prefill} a prompt, then {@link #decode} one token at a time; each returns the next-token logits.
 * Prefill of t tokens then n decode steps gives the logits of one forward pass over the t+n tokens.
 * A decode step costs the same whatever the context length (the state is the spec's short-conv
 * window, long-conv history and attention state). Prefill on a session that already holds tokens
 * continues it (multi-turn prompts).
 *
 * <p>Thread safety: a session is used by one thread at a time (give each thread its own); the model
 * may serve many sessions at once. Close sessions before their model.
 */
public final class Session implements AutoCloseable {
    private final ChelaModel model;
    private final MemorySegment handle;
    private final int batch;
    private final Guard guard;
    private final int vocab;

    private Session(ChelaModel model, MemorySegment handle, int batch) {
        this.model = model;
        this.handle = handle;
        this.batch = batch;
        this.vocab = model.config().vocabSize();
        this.guard = new Guard("Session");
    }

    static Session open(ChelaModel model, int batch) {
        if (batch < 1) {
            throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        }
        try (Guard.Use m = model.use(); Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            Native.check(chela_h.chela_state_create(model.handle(), batch, out));
            return new Session(model, out.get(ValueLayout.ADDRESS, 0), batch);
        }
    }

    /** Number of parallel streams. */
    public int batch() {
        return batch;
    }

    /** Tokens consumed per stream so far. */
    public long position() {
        try (Guard.Use u = guard.use(); Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(ValueLayout.JAVA_LONG);
            Native.check(chela_h.chela_state_position(handle, n));
            return n.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    /**
     * Feeds a prompt to a single-stream session; returns the logits [vocab] after its last token.
     */
    public float[] prefill(int[] tokens) {
        Tensor.requireNonNull(tokens, "tokens");
        requireSingle();
        try (Tensor in = Tensor.fromInts(tokens, 1, tokens.length); Tensor out = Tensor.allocate(DType.F32, 1, vocab)) {
            prefill(in, out);
            return out.toFloatArray();
        }
    }

    /**
     * Feeds prompts of equal length: {@code tokens} i32 [batch, t] (or features [batch, t, input_dim]);
     * {@code logits} f32 [batch, vocab] (last position) or [batch, t, vocab] (every position).
     */
    public void prefill(Tensor tokens, Tensor logits) {
        Tensor.requireNonNull(tokens, "tokens");
        Tensor.requireNonNull(logits, "logits");
        try (Call call = new Call(guard.use()); Guard.Use m = model.use()) {
            Native.check(chela_h.chela_state_prefill(handle, call.tensor(tokens), call.tensor(logits)));
        }
    }

    /** One step of a single-stream session: feeds {@code token}, returns the next logits [vocab]. */
    public float[] decode(int token) {
        requireSingle();
        try (Tensor in = Tensor.fromInts(new int[] {token}, 1); Tensor out = Tensor.allocate(DType.F32, 1, vocab)) {
            decode(in, out);
            return out.toFloatArray();
        }
    }

    /** One step for every stream: {@code tokens} i32 [batch]; {@code logits} f32 [batch, vocab]. */
    public void decode(Tensor tokens, Tensor logits) {
        Tensor.requireNonNull(tokens, "tokens");
        Tensor.requireNonNull(logits, "logits");
        try (Call call = new Call(guard.use()); Guard.Use m = model.use()) {
            Native.check(chela_h.chela_state_decode(handle, call.tensor(tokens), call.tensor(logits)));
        }
    }

    /**
     * Prefills {@code prompt} (at least one token) and generates up to {@code maxNewTokens} tokens
     * with {@code options}, handing each to {@code onToken} as soon as it exists (may be null).
     * Returns the generated tokens. Single-stream sessions only.
     */
    public int[] generate(int[] prompt, int maxNewTokens, SamplingOptions options, IntConsumer onToken) {
        Tensor.requireNonNull(prompt, "prompt");
        Tensor.requireNonNull(options, "options");
        if (prompt.length == 0) {
            throw new IllegalArgumentException("prompt must hold at least one token");
        }
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("maxNewTokens must be >= 0, got " + maxNewTokens);
        }
        requireSingle();
        int[] out = new int[maxNewTokens];
        try (Tensor logits = Tensor.allocate(DType.F32, 1, vocab); Tensor ids = Tensor.allocate(DType.I32, 1);
             Tensor step = Tensor.allocate(DType.I32, 1); Tensor in = Tensor.fromInts(prompt, 1, prompt.length);
             Arena a = Arena.ofConfined()) {
            MemorySegment opts = chela_sampling_options.allocate(a);
            chela_sampling_options.temperature(opts, options.temperature());
            chela_sampling_options.top_k(opts, options.topK());
            chela_sampling_options.top_p(opts, options.topP());
            MemorySegment rng = a.allocate(ValueLayout.JAVA_LONG);
            rng.set(ValueLayout.JAVA_LONG, 0, options.seed());
            prefill(in, logits);
            for (int i = 0; i < maxNewTokens; i++) {
                try (Call call = new Call(guard.use())) {
                    Native.check(chela_h.chela_sample(call.tensor(logits), opts, rng, call.tensor(ids)));
                }
                out[i] = ids.toIntArray()[0];
                if (onToken != null) {
                    onToken.accept(out[i]);
                }
                if (i + 1 < maxNewTokens) {
                    step.segment().set(ValueLayout.JAVA_INT, 0, out[i]);
                    decode(step, logits);
                }
            }
        }
        return out;
    }

    /** Back to an empty stream. */
    public void reset() {
        try (Guard.Use u = guard.use()) {
            Native.check(chela_h.chela_state_reset(handle));
        }
    }

    private void requireSingle() {
        if (batch != 1) {
            throw new IllegalStateException("this call needs a single-stream session; this one has " + batch + " streams");
        }
    }

    public boolean isClosed() {
        return guard.isClosed();
    }

    /** Frees the native state (waits for a call in flight). Idempotent. */
    @Override
    public void close() {
        guard.close(() -> Native.check(chela_h.chela_state_destroy(handle)));
    }
}
