package dev.chela4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CLI in a separate JVM: bad checkpoints give exit code != 0, a message on stderr and never a
 * JVM crash (no hs_err file); good runs print what they should.
 */
class CliTest {
    record Result(int exit, String out, String err, boolean crashed) {}

    static Path samples() {
        return Path.of(System.getProperty("chela.samples.dir", "../build/samples"));
    }

    static Result run(Path workDir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-Dchela.library.path=" + System.getProperty("chela.library.path"));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("dev.chela4j.cli.Main");
        cmd.addAll(List.of(args));
        Path out = workDir.resolve("stdout.txt"), err = workDir.resolve("stderr.txt");
        Process p = new ProcessBuilder(cmd).directory(workDir.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("CLI hung: " + cmd);
        }
        boolean crashed;
        try (Stream<Path> files = Files.list(workDir)) {
            crashed = files.anyMatch(f -> f.getFileName().toString().startsWith("hs_err"));
        }
        return new Result(p.exitValue(), Files.readString(out), Files.readString(err), crashed);
    }

    static Stream<Path> badSamples() throws IOException {
        try (Stream<Path> s = Files.list(samples().resolve("bad"))) {
            return s.sorted().toList().stream();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badSamples")
    void badCheckpointExitsCleanly(Path dir, @TempDir Path work) throws Exception {
        Result r = run(work, "info", "--model", dir.toString());
        String needle = Files.readAllLines(dir.resolve("expected.txt")).get(1);
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().contains(needle), r.err());
        assertTrue(r.err().startsWith("chela: error: "), r.err());
        assertTrue(!r.crashed(), "the JVM crashed (hs_err file)");
    }

    @Test
    void infoDescribesTheModel(@TempDir Path work) throws Exception {
        Result r = run(work, "info", "--model", samples().resolve("good/lm_decay_ffn").toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("task lm, 2 layers, d=16 e=8 f=12"), r.out());
        assertTrue(r.out().contains("backends: [CPU"), r.out());
    }

    @Test
    void forwardWritesSafetensors(@TempDir Path work) throws Exception {
        Path in = work.resolve("tokens.txt");
        Files.writeString(in, "1 2 3 4\n5, 6\n");
        Path out = work.resolve("logits.safetensors");
        Result r = run(work, "forward", "--model", samples().resolve("good/lm_decay_ffn").toString(), "--input", in.toString(),
                "--output", out.toString());
        assertEquals(0, r.exit(), r.err());
        byte[] bytes = Files.readAllBytes(out);
        long headerLen = java.nio.ByteBuffer.wrap(bytes, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(bytes, 8, (int) headerLen);
        assertTrue(header.contains("\"shape\":[2,4,50]"), header);
        assertEquals(8 + headerLen + 4L * 2 * 4 * 50, bytes.length);
    }

    @Test
    void classifyOfAFeatureModelIsACleanError(@TempDir Path work) throws Exception {
        // The classifier sample takes features, which a token file cannot feed: a clean error.
        Path in = work.resolve("tokens.txt");
        Files.writeString(in, "1 2 3\n4\n");
        Result r = run(work, "classify", "--model", samples().resolve("good/classify_bidirectional_branches").toString(),
                "--input", in.toString());
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("needs a token model"), r.err());
    }

    @Test
    void badArgumentsAreUsageErrors(@TempDir Path work) throws Exception {
        Result missing = run(work, "forward", "--model", "x");
        assertEquals(2, missing.exit());
        assertTrue(missing.err().contains("--input"), missing.err());
        Path in = work.resolve("bad.txt");
        Files.writeString(in, "1 two 3\n");
        Result parse = run(work, "forward", "--model", samples().resolve("good/lm_decay_ffn").toString(), "--input", in.toString());
        assertEquals(2, parse.exit());
        assertTrue(parse.err().contains("\"two\" is not a token id"), parse.err());
        Result range = run(work, "bench", "--model", samples().resolve("good/lm_decay_ffn").toString(), "--tokens", "0");
        assertNotEquals(0, range.exit());
    }

    @Test
    void benchTimesAnOp(@TempDir Path work) throws Exception {
        Result la = run(work, "bench", "--op", "linear-attention", "--tokens", "128", "--width", "64", "--reps", "2");
        assertEquals(0, la.exit(), la.err());
        assertTrue(la.out().contains("linear attention B2 L128 e128 f64"), la.out());
        Result conv = run(work, "bench", "--op", "short-long-conv", "--tokens", "128", "--width", "16", "--reps", "2");
        assertEquals(0, conv.exit(), conv.err());
        assertTrue(conv.out().contains("short-long conv B2 L128 d16"), conv.out());
        Result both = run(work, "bench", "--op", "nope", "--tokens", "8");
        assertEquals(2, both.exit());
        assertTrue(both.err().contains("--op must be"), both.err());
    }

    @Test
    void benchReportsThroughput(@TempDir Path work) throws Exception {
        Result r = run(work, "bench", "--model", samples().resolve("good/lm_decay_ffn").toString(), "--tokens", "64", "--reps", "2");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("tokens/s"), r.out());
        assertTrue(r.err().contains("bench: 2/2 runs"), r.err());
    }
}
