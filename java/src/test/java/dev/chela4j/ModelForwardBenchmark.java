package dev.chela4j;

import dev.chela4j.bindings.chela_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
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
 * A whole-model forward from Java — {@code ChelaModel.forward(inputs, null, out)} then
 * {@code Backend.synchronize()} — the same work as the native {@code chela-bench --op forward}
 * (same model, random tokens, inputs and logits in the backend's memory), so that the two figures
 * side by side show what the Java call adds. {@code forwardNative} is the same call through the raw
 * generated bindings (tensor structs built once, the status checked once in setUp), measured in the same JMH
 * run and JVM: the overhead figure without the noise of two processes or medians against averages.
 * On the GPU machine (tools/device/java_gpu.sh):
 *
 * <pre>java --enable-native-access=ALL-UNNAMED -cp ... org.openjdk.jmh.Main ModelForwardBenchmark \
 *     -p model=models/bytelm -p device=cuda -p length=4096,16384</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
public class ModelForwardBenchmark {
    @Param("../models/bytelm")
    public String model;

    /** "cpu" or "cuda". */
    @Param("cpu")
    public String device;

    @Param({"4096"})
    public int length;

    @Param("1")
    public int batch;

    private Backend backend;
    private ChelaModel chela;
    private Tensor inputs;
    private Tensor out;
    private Arena arena;
    private MemorySegment modelHandle, contextHandle, inputsStruct, outStruct;

    @Setup(Level.Trial)
    public void setUp() {
        backend = device.equals("cuda") ? Chela.cuda(0) : Chela.cpu();
        chela = ChelaModel.load(Path.of(model), backend);
        int vocab = chela.config().vocabSize();
        Tensor host = Tensor.fromInts(Reference.randomIds(batch * length, vocab, 7), batch, length);
        if (backend.device() == Device.CPU) {
            inputs = host;
        } else {
            try (host) {
                inputs = host.toDevice(backend);
            }
        }
        out = Tensor.allocate(backend, DType.F32, batch, length, vocab);
        arena = Arena.ofConfined();
        modelHandle = chela.handle();
        contextHandle = backend.handle();
        inputsStruct = inputs.struct(arena);
        outStruct = out.struct(arena);
        // A failing raw call would time as fast as nothing: check it once here.
        if (forwardNative() != 0) {
            throw new IllegalStateException("chela_model_forward failed: " + chela_h.chela_last_error().getString(0));
        }
    }

    @Benchmark
    public void forward() {
        chela.forward(inputs, null, out);
        backend.synchronize();
    }

    @Benchmark
    public int forwardNative() {
        int status = chela_h.chela_model_forward(modelHandle, inputsStruct, MemorySegment.NULL, outStruct);
        return status | chela_h.chela_context_synchronize(contextHandle);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
        out.close();
        inputs.close();
        chela.close();
        backend.close();
    }
}
