package dev.chela4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The golden files of the PyTorch reference (tests/golden, written by tests/reference/make_golden.py
 * in float64): our engine, called from Java on the CPU backend, gives the same logits (rel-L2 1e-5).
 */
class GoldenTest {
    static Backend cpu;

    @BeforeAll
    static void open() {
        cpu = Chela.cpu(2);
    }

    @AfterAll
    static void close() {
        cpu.close();
    }

    static Path root() {
        return Path.of(System.getProperty("chela.repo.root", "..")).resolve("tests/golden");
    }

    static Stream<Path> cases() throws IOException {
        try (Stream<Path> s = Files.list(root())) {
            var list = s.filter(p -> Files.exists(p.resolve("config.json"))).sorted().toList();
            assertTrue(list.size() >= 6, "expected >= 6 golden cases in " + root());
            return list.stream();
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void logitsMatchTheReference(Path dir) throws IOException {
        Map<String, SafetensorsReader.Entry> io = SafetensorsReader.read(dir.resolve("io.safetensors"));
        SafetensorsReader.Entry in = io.get("inputs"), want = io.get("logits"), lens = io.get("lengths");
        try (ChelaModel m = ChelaModel.load(dir, cpu);
             Tensor inputs = in.dtype().equals("I32") ? Tensor.fromInts(in.ints(), in.shape()) : Tensor.fromFloats(in.floats(), in.shape());
             Tensor got = m.forward(inputs, lens == null ? null : lens.ints())) {
            assertEquals(want.floats().length, got.elementCount());
            double err = Reference.relL2(got.toFloatArray(), Reference.toDouble(want.floats()));
            assertTrue(err <= 1e-5, dir.getFileName() + ": rel-L2 " + err);
        }
    }
}
