package dev.chela4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Java API reproduces the native test vectors bit for bit (same CPU backend, same inputs):
 * tests/native/support/vectors.cpp wrote the inputs and the native outputs.
 */
class NativeVectorsTest {
    record Stored(long[] shape, float[] values) {}

    static Backend cpu;
    static Path dir;

    @BeforeAll
    static void open() {
        cpu = Chela.cpu(2);
        dir = Path.of(System.getProperty("chela.samples.dir", "../build/samples"), "vectors");
        assertTrue(Files.isDirectory(dir), "vectors missing at " + dir + ": run ./build.sh test");
    }

    @AfterAll
    static void close() {
        cpu.close();
    }

    /** A minimal reader for the f32 safetensors files our writer produces. */
    static Map<String, Stored> read(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int n = (int) buf.getLong(0);
        String header = new String(bytes, 8, n, StandardCharsets.UTF_8);
        Matcher m = Pattern.compile("\"([^\"]+)\":\\{\"dtype\":\"F32\",\"shape\":\\[([0-9,]*)\\],\"data_offsets\":\\[(\\d+),(\\d+)\\]\\}")
                .matcher(header);
        Map<String, Stored> out = new HashMap<>();
        while (m.find()) {
            String[] dims = m.group(2).isEmpty() ? new String[0] : m.group(2).split(",");
            long[] shape = new long[dims.length];
            for (int i = 0; i < dims.length; i++) {
                shape[i] = Long.parseLong(dims[i]);
            }
            int begin = Integer.parseInt(m.group(3)), end = Integer.parseInt(m.group(4));
            float[] v = new float[(end - begin) / 4];
            buf.position(8 + n + begin);
            buf.slice().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
            out.put(m.group(1), new Stored(shape, v));
        }
        return out;
    }

    static Tensor tensor(Map<String, Stored> all, String name) {
        Stored s = all.get(name);
        assertTrue(s != null, "missing " + name);
        return Tensor.fromFloats(s.values(), s.shape());
    }

    void checkAttention(Map<String, Stored> all, String c, LinearAttentionOptions base) {
        try (Tensor q = tensor(all, c + ".q"); Tensor k = tensor(all, c + ".k"); Tensor v = tensor(all, c + ".v");
             Tensor decay = tensor(all, c + ".decay"); Tensor g = tensor(all, c + ".norm_weight")) {
            LinearAttentionOptions o = base.withDecay(decay);
            if (o.norm() == AttnNorm.RMSNORM) {
                o = o.withNorm(AttnNorm.RMSNORM, g);
            }
            try (AttentionResult r = Ops.linearAttention(cpu, q, k, v, o)) {
                assertArrayEquals(all.get(c + ".out").values(), r.output().toFloatArray(), 0f, c);
            }
        }
    }

    @Test
    void linearAttentionIsBitIdentical() throws IOException {
        Map<String, Stored> all = read(dir.resolve("linear_attention.safetensors"));
        checkAttention(all, "causal", LinearAttentionOptions.defaults(2).withFeatureMap(FeatureMap.ELU1).withNorm(AttnNorm.DENOMINATOR, null));
        checkAttention(all, "bidir", LinearAttentionOptions.defaults(1).withCausal(false).withFeatureMap(FeatureMap.SILU)
                .withNorm(AttnNorm.RMSNORM, null));
    }

    @Test
    void shortLongConvIsBitIdentical() throws IOException {
        Map<String, Stored> all = read(dir.resolve("short_long_conv.safetensors"));
        for (String c : new String[] {"causal", "bidir"}) {
            boolean causal = c.equals("causal");
            try (Tensor x = tensor(all, c + ".x"); Tensor ws = tensor(all, c + ".short_weight"); Tensor bs = tensor(all, c + ".short_bias");
                 Tensor wl = tensor(all, c + ".long_weight"); Tensor wr = tensor(all, c + ".long_weight_rev");
                 Tensor om = tensor(all, c + ".omega"); Tensor out = Ops.shortLongConv(cpu, x, ws, bs, wl, causal ? null : wr, om, causal)) {
                assertArrayEquals(all.get(c + ".out").values(), out.toFloatArray(), 0f, c);
            }
        }
    }
}
