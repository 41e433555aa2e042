package dev.chela4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Session (chela_state): prefill + decode equal one forward pass; generation; lifetime and misuse. */
class SessionTest {
    static Backend cpu;
    static ChelaModel lm;

    @BeforeAll
    static void open() {
        cpu = Chela.cpu(2);
        lm = ChelaModel.load(samples().resolve("good/lm_decay_ffn"), cpu);
    }

    @AfterAll
    static void close() {
        lm.close();
        cpu.close();
    }

    static Path samples() {
        return Path.of(System.getProperty("chela.samples.dir", "../build/samples"));
    }

    @ParameterizedTest
    @CsvSource({"1,1", "1,9", "17,5", "64,3", "65,20", "150,10"})
    void prefillThenDecodeEqualsOneForward(int t, int n) {
        int V = lm.config().vocabSize();
        int[] ids = Reference.randomIds(t + n, V, 31L * t + n);
        float[] all;
        try (Tensor in = Tensor.fromInts(ids, 1, t + n); Tensor logits = lm.forward(in)) {
            all = logits.toFloatArray();
        }
        try (Session s = lm.newSession()) {
            float[] got = s.prefill(Arrays.copyOf(ids, t));
            assertClose(Arrays.copyOfRange(all, (t - 1) * V, t * V), got, "prefill");
            for (int i = 0; i < n; i++) {
                got = s.decode(ids[t + i]);
                assertClose(Arrays.copyOfRange(all, (t + i) * V, (t + i + 1) * V), got, "decode " + i);
            }
            assertEquals(t + n, s.position());
        }
    }

    static void assertClose(float[] want, float[] got, String what) {
        double[] w = Reference.toDouble(want);
        double err = Reference.relL2(got, w);
        assertTrue(err <= 1e-5, what + ": rel-L2 " + err);
    }

    @Test
    void greedyGenerationFollowsTheArgmaxAndSeedsRepeat() {
        int V = lm.config().vocabSize();
        int[] prompt = Reference.randomIds(12, V, 5);
        int[] greedy;
        try (Session s = lm.newSession()) {
            List<Integer> streamed = new ArrayList<>();
            greedy = s.generate(prompt, 8, SamplingOptions.greedy(), streamed::add);
            assertEquals(8, streamed.size());
            assertArrayEquals(greedy, streamed.stream().mapToInt(Integer::intValue).toArray());
        }
        // The same tokens by hand: each greedy token is the argmax of the forward pass so far.
        int[] seq = Arrays.copyOf(prompt, prompt.length + greedy.length);
        System.arraycopy(greedy, 0, seq, prompt.length, greedy.length);
        try (Tensor in = Tensor.fromInts(seq, 1, seq.length); Tensor logits = lm.forward(in)) {
            float[] all = logits.toFloatArray();
            for (int i = 0; i < greedy.length; i++) {
                int pos = prompt.length - 1 + i, best = 0;
                for (int c = 1; c < V; c++) {
                    if (all[pos * V + c] > all[pos * V + best]) {
                        best = c;
                    }
                }
                assertEquals(best, greedy[i], "token " + i);
            }
        }
        try (Session a = lm.newSession(); Session b = lm.newSession()) {
            SamplingOptions opts = SamplingOptions.sample(1.0f, 42).withTopK(20).withTopP(0.9f);
            int[] x = a.generate(prompt, 30, opts, null), y = b.generate(prompt, 30, opts, null);
            assertArrayEquals(x, y);
            b.reset();
            int[] z = b.generate(prompt, 30, SamplingOptions.sample(1.0f, 43), null);
            assertNotEquals(Arrays.toString(x), Arrays.toString(z));
        }
    }

    @Test
    void misuseSaysWhy() {
        assertThrows(IllegalArgumentException.class, () -> new SamplingOptions(-1f, 0, 1f, 0));
        assertThrows(IllegalArgumentException.class, () -> new SamplingOptions(1f, -1, 1f, 0));
        assertThrows(IllegalArgumentException.class, () -> new SamplingOptions(1f, 0, 0f, 0));
        assertThrows(IllegalArgumentException.class, () -> lm.newSession(0));
        Session s = lm.newSession();
        ChelaException bad = assertThrows(ChelaException.class, () -> s.prefill(new int[] {lm.config().vocabSize()}));
        assertTrue(bad.getMessage().contains("token id"), bad.getMessage());
        assertEquals(0, s.position(), "a rejected prompt leaves the stream as it was");
        assertThrows(IllegalArgumentException.class, () -> s.generate(new int[0], 3, SamplingOptions.greedy(), null));
        // The model cannot be closed under an open session; it stays usable.
        ChelaException busy = assertThrows(ChelaException.class, lm::close);
        assertTrue(busy.getMessage().contains("streaming state"), busy.getMessage());
        s.decode(1);
        s.close();
        s.close();  // idempotent
        assertThrows(IllegalStateException.class, () -> s.decode(1));
        try (Session batch = lm.newSession(2)) {
            assertThrows(IllegalStateException.class, () -> batch.decode(1));
        }
        try (ChelaModel cls = ChelaModel.load(samples().resolve("good/classify_bidirectional_branches"), cpu)) {
            ChelaException ex = assertThrows(ChelaException.class, cls::newSession);
            assertTrue(ex.getMessage().contains("causal"), ex.getMessage());
        }
    }
}
