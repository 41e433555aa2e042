package dev.chela4j.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Writes one f32 tensor as a .safetensors file (8-byte header length, JSON header, data). */
final class SafetensorsWriter {
    private SafetensorsWriter() {}

    static void write(Path file, String name, long[] shape, float[] values) throws IOException {
        StringBuilder dims = new StringBuilder();
        for (int i = 0; i < shape.length; i++) {
            dims.append(i == 0 ? "" : ",").append(shape[i]);
        }
        long bytes = 4L * values.length;
        StringBuilder header = new StringBuilder("{\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[" + dims
                + "],\"data_offsets\":[0," + bytes + "]}}");
        while (header.length() % 8 != 0) {
            header.append(' ');
        }
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocate(8 + h.length + (int) bytes).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(h.length).put(h);
        buf.asFloatBuffer().put(values);
        buf.position(0);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
        }
    }
}
