package dev.chela4j;

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

/** Reads the F32 / I32 tensors of a small .safetensors file (test data: golden inputs and logits). */
final class SafetensorsReader {
    record Entry(String dtype, long[] shape, byte[] bytes) {
        float[] floats() {
            float[] out = new float[bytes.length / 4];
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
            return out;
        }

        int[] ints() {
            int[] out = new int[bytes.length / 4];
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(out);
            return out;
        }
    }

    private static final Pattern ENTRY = Pattern.compile("\"([^\"]+)\"\\s*:\\s*\\{([^{}]*)\\}");
    private static final Pattern DTYPE = Pattern.compile("\"dtype\"\\s*:\\s*\"(\\w+)\"");
    private static final Pattern SHAPE = Pattern.compile("\"shape\"\\s*:\\s*\\[([\\d,\\s]*)\\]");
    private static final Pattern OFFSETS = Pattern.compile("\"data_offsets\"\\s*:\\s*\\[\\s*(\\d+)\\s*,\\s*(\\d+)\\s*\\]");

    static Map<String, Entry> read(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(all, 8, (int) n, StandardCharsets.UTF_8);
        Map<String, Entry> out = new HashMap<>();
        Matcher m = ENTRY.matcher(header);
        while (m.find()) {
            if (m.group(1).equals("__metadata__")) {
                continue;
            }
            String body = m.group(2);
            Matcher d = DTYPE.matcher(body), s = SHAPE.matcher(body), o = OFFSETS.matcher(body);
            if (!d.find() || !s.find() || !o.find()) {
                throw new IOException(file + ": cannot parse the entry of " + m.group(1));
            }
            String dims = s.group(1).trim();
            long[] shape = dims.isEmpty() ? new long[0]
                    : java.util.Arrays.stream(dims.split("\\s*,\\s*")).mapToLong(Long::parseLong).toArray();
            int begin = (int) (8 + n + Long.parseLong(o.group(1))), end = (int) (8 + n + Long.parseLong(o.group(2)));
            out.put(m.group(1), new Entry(d.group(1), shape, java.util.Arrays.copyOfRange(all, begin, end)));
        }
        return out;
    }

    private SafetensorsReader() {}
}
