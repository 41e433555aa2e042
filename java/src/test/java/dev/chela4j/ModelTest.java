package dev.chela4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Models from the sample checkpoints that chela-checkpoint-samples writes (build.sh passes their
 * folder as -Dchela.samples.dir): good ones load and run, every bad one is a named error.
 */
class ModelTest {
    static Backend cpu;
    static Path samples;

    @BeforeAll
    static void open() {
        cpu = Chela.cpu(2);
        samples = Path.of(System.getProperty("chela.samples.dir", "../build/samples"));
        assertTrue(Files.isDirectory(samples.resolve("bad")), "sample checkpoints missing at " + samples + ": run ./build.sh test");
    }

    @AfterAll
    static void close() {
        cpu.close();
    }

    static Path lm() {
        return samples.resolve("good/lm_decay_ffn");
    }

    static Stream<Path> badSamples() throws IOException {
        try (Stream<Path> s = Files.list(Path.of(System.getProperty("chela.samples.dir", "../build/samples")).resolve("bad"))) {
            return s.sorted().toList().stream();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badSamples")
    void badCheckpointIsANamedError(Path dir) throws IOException {
        List<String> expected = Files.readAllLines(dir.resolve("expected.txt"));
        ChelaException e = assertThrows(ChelaException.class, () -> ChelaModel.load(dir, cpu));
        assertEquals(expected.get(0), "CHELA_ERR_" + e.status().name());
        assertTrue(e.getMessage().contains(expected.get(1)), e.getMessage() + " should contain " + expected.get(1));
    }

    @Test
    void configIsReported() {
        try (ChelaModel m = ChelaModel.load(lm(), cpu)) {
            ModelConfig c = m.config();
            assertEquals(16, c.dModel());
            assertEquals(8, c.zDim());
            assertEquals(12, c.vDim());
            assertTrue(c.isLanguageModel());
            assertTrue(c.takesTokens());
            assertTrue(c.decay());
            assertEquals(8, c.ffnDim());
            assertTrue(m.tensorNames().contains("layers.1.ffn.fc2.weight"));
            assertEquals(12 * 16, m.weights("layers.0.v_proj.weight").length);
            assertThrows(ChelaException.class, () -> m.weights("nope"));
            assertTrue(m.toString().contains("lm"));
        }
    }

    @Test
    void forwardShapesAndFiniteValues() {
        try (ChelaModel m = ChelaModel.load(lm(), cpu); Tensor ids = Tensor.fromInts(new int[] {1, 2, 3, 4, 5, 6}, 2, 3);
             Tensor logits = m.forward(ids)) {
            assertArrayEquals(new long[] {2, 3, 50}, logits.shape());
            for (float x : logits.toFloatArray()) {
                assertTrue(Float.isFinite(x));
            }
        }
    }

    /** Causal LM: the logits of a prefix do not depend on what follows it. */
    @Test
    void causalPrefixIsIndependentOfTheFuture() {
        try (ChelaModel m = ChelaModel.load(lm(), cpu); Tensor a = Tensor.fromInts(new int[] {5, 6, 7, 8}, 1, 4);
             Tensor b = Tensor.fromInts(new int[] {5, 6, 40, 41}, 1, 4); Tensor la = m.forward(a); Tensor lb = m.forward(b)) {
            float[] x = la.toFloatArray(), y = lb.toFloatArray();
            for (int i = 0; i < 2 * 50; i++) {
                assertEquals(x[i], y[i], 0f, "position " + i / 50);
            }
            assertFalse(x[2 * 50] == y[2 * 50] && x[3 * 50] == y[3 * 50]);
        }
    }

    @Test
    void tokenOutOfRangeIsANamedError() {
        try (ChelaModel m = ChelaModel.load(lm(), cpu); Tensor ids = Tensor.fromInts(new int[] {1, 50}, 1, 2)) {
            ChelaException e = assertThrows(ChelaException.class, () -> m.forward(ids));
            assertEquals(Status.INVALID_ARGUMENT, e.status());
            assertTrue(e.getMessage().contains("token id 50 at position [0, 1]"), e.getMessage());
        }
    }

    @Test
    void wrongInputsAreRejected() {
        try (ChelaModel m = ChelaModel.load(lm(), cpu); Tensor f = Tensor.fromFloats(new float[] {1, 2}, 1, 2);
             Tensor one = Tensor.fromInts(new int[] {1}, 1)) {
            ChelaException e = assertThrows(ChelaException.class, () -> m.forward(f));
            assertEquals(Status.DTYPE, e.status());
            assertThrows(IllegalArgumentException.class, () -> m.forward(one));
            assertThrows(IllegalArgumentException.class, () -> m.forward(null));
            assertThrows(IllegalArgumentException.class, () -> m.layerForward(7, f));
            assertThrows(IllegalStateException.class, () -> m.classify(new int[][] {{1}}));
        }
    }

    @Test
    void layerForwardKeepsTheShape() {
        try (ChelaModel m = ChelaModel.load(lm(), cpu); Tensor x = Tensor.fromFloats(Reference.randn(5 * 16, 7), 1, 5, 16);
             Tensor y = m.layerForward(1, x)) {
            assertArrayEquals(x.shape(), y.shape());
            assertFalse(java.util.Arrays.equals(x.toFloatArray(), y.toFloatArray()));
        }
    }

    @Test
    void classifierPadsUnequalLengths() {
        try (ChelaModel m = ChelaModel.load(samples.resolve("good/classify_bidirectional_branches"), cpu)) {
            assertFalse(m.config().takesTokens());
            assertThrows(IllegalStateException.class, () -> m.classify(new int[][] {{1}}));
            int B = 3, L = 9, in = m.config().inputDim();
            float[] x = Reference.randn(B * L * in, 9);
            try (Tensor t = Tensor.fromFloats(x, B, L, in); Tensor full = m.forward(t, new int[] {9, 4, 1})) {
                // Row 1 alone with 4 positions equals row 1 of the padded batch.
                float[] row = java.util.Arrays.copyOfRange(x, L * in, L * in + 4 * in);
                try (Tensor alone = Tensor.fromFloats(row, 1, 4, in); Tensor la = m.forward(alone)) {
                    float[] f = full.toFloatArray(), a = la.toFloatArray();
                    int n = m.config().numClasses();
                    for (int c = 0; c < n; c++) {
                        assertEquals(a[c], f[n + c], 1e-5f);
                    }
                }
                assertThrows(ChelaException.class, () -> m.forward(t, new int[] {9, 0, 1}));
                assertThrows(IllegalArgumentException.class, () -> m.forward(t, new int[] {9}));
            }
        }
    }

    @Test
    void useAfterCloseAndOrderOfClosing() {
        Backend b = Chela.cpu(1);
        ChelaModel m = ChelaModel.load(lm(), b);
        ChelaException busy = assertThrows(ChelaException.class, b::close);
        assertTrue(busy.getMessage().contains("still alive"), busy.getMessage());
        assertFalse(b.isClosed());
        m.close();
        m.close();
        try (Tensor ids = Tensor.fromInts(new int[] {1}, 1, 1)) {
            assertThrows(IllegalStateException.class, () -> m.forward(ids));
        }
        assertThrows(IllegalStateException.class, m::tensorNames);
        b.close();
        assertThrows(IllegalStateException.class, () -> ChelaModel.load(lm(), b));
    }

    /** One model, 16 threads × 200 forwards: every result identical to the first. */
    @Test
    void sixteenThreadsShareOneModel() throws Exception {
        try (ChelaModel m = ChelaModel.load(lm(), cpu); Tensor ids = Tensor.fromInts(new int[] {3, 1, 4, 1, 5, 9, 2, 6}, 2, 4);
             Tensor first = m.forward(ids)) {
            float[] want = first.toFloatArray();
            ExecutorService pool = Executors.newFixedThreadPool(16);
            try {
                List<Future<Integer>> results = new ArrayList<>();
                for (int t = 0; t < 16; t++) {
                    results.add(pool.submit(() -> {
                        int mismatches = 0;
                        for (int i = 0; i < 200; i++) {
                            try (Tensor out = m.forward(ids)) {
                                if (!java.util.Arrays.equals(want, out.toFloatArray())) {
                                    mismatches++;
                                }
                            }
                        }
                        return mismatches;
                    }));
                }
                for (Future<Integer> f : results) {
                    assertEquals(0, f.get());
                }
            } finally {
                pool.shutdown();
            }
        }
    }

    /** Closing a model while other threads call it never crashes: they finish or fail cleanly. */
    @Test
    void closeWhileInUseIsSafe() throws Exception {
        ChelaModel m = ChelaModel.load(lm(), cpu);
        try (Tensor ids = Tensor.fromInts(new int[64], 1, 64)) {
            ExecutorService pool = Executors.newFixedThreadPool(4);
            List<Future<String>> results = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                results.add(pool.submit(() -> {
                    for (int i = 0; i < 500; i++) {
                        try (Tensor out = m.forward(ids)) {
                            assertEquals(64 * 50, out.elementCount());
                        } catch (IllegalStateException closed) {
                            return "closed";
                        }
                    }
                    return "done";
                }));
            }
            Thread.sleep(20);
            m.close();
            for (Future<String> f : results) {
                String r = f.get();
                assertTrue(r.equals("closed") || r.equals("done"), r);
            }
            pool.shutdown();
        }
    }
}
