package dev.chela4j;

import dev.chela4j.bindings.chela_h;
import dev.chela4j.bindings.chela_linear_attention_options;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What the Java API adds over the same native call: {@code javaApi} is Ops.linearAttention (argument
 * checks, handle guards, struct building, output allocation); {@code nativeDirect} is the raw
 * generated binding with every struct and the output prepared once. Run by {@code ./build.sh bench}:
 *
 * <pre>java --enable-native-access=ALL-UNNAMED -cp ... org.openjdk.jmh.Main CallOverheadBenchmark</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
public class CallOverheadBenchmark {
    /** "small": B1 L64 e16 f16; "L4096": B1 L4096 e128 f1024 (CHELA's single wide head). */
    @Param({"small", "L4096"})
    public String shape;

    private Backend cpu;
    private Tensor q, k, v, out;
    private LinearAttentionOptions opts;
    private Arena arena;
    private MemorySegment qs, ks, vs, os, optSeg;

    @Setup(Level.Trial)
    public void setUp() {
        int L = shape.equals("small") ? 64 : 4096, e = shape.equals("small") ? 16 : 128, f = shape.equals("small") ? 16 : 1024;
        cpu = Chela.cpu();
        q = Tensor.fromFloats(Reference.randn(L * e, 1), 1, L, e);
        k = Tensor.fromFloats(Reference.randn(L * e, 2), 1, L, e);
        v = Tensor.fromFloats(Reference.randn(L * f, 3), 1, L, f);
        out = Tensor.allocate(DType.F32, 1, L, f);
        opts = LinearAttentionOptions.defaults(1);
        arena = Arena.ofShared();
        qs = q.struct(arena);
        ks = k.struct(arena);
        vs = v.struct(arena);
        os = out.struct(arena);
        optSeg = chela_linear_attention_options.allocate(arena);
        chela_h.chela_linear_attention_options_init(optSeg, e, 1);
        chela_linear_attention_options.attn_norm(optSeg, AttnNorm.NONE.code());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
        out.close();
        v.close();
        k.close();
        q.close();
        cpu.close();
    }

    @Benchmark
    public Tensor javaApi() {
        try (AttentionResult r = Ops.linearAttention(cpu, q, k, v, opts)) {
            return r.output();
        }
    }

    @Benchmark
    public int nativeDirect() {
        return chela_h.chela_linear_attention(cpu.handle(), qs, ks, vs, MemorySegment.NULL, MemorySegment.NULL,
                MemorySegment.NULL, MemorySegment.NULL, os, MemorySegment.NULL, MemorySegment.NULL, optSeg);
    }
}
