package dev.chela4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class TensorTest {
    @Test
    void floatsRoundTrip() {
        float[] v = Reference.randn(24, 1);
        try (Tensor t = Tensor.fromFloats(v, 2, 3, 4)) {
            assertEquals(DType.F32, t.dtype());
            assertArrayEquals(new long[] {2, 3, 4}, t.shape());
            assertEquals(3, t.rank());
            assertEquals(24, t.elementCount());
            assertArrayEquals(v, t.toFloatArray());
            assertTrue(t.ownsMemory());
        }
    }

    @Test
    void intsRoundTrip() {
        int[] v = {3, -1, 7, 42};
        try (Tensor t = Tensor.fromInts(v, 2, 2)) {
            assertEquals(DType.I32, t.dtype());
            assertArrayEquals(v, t.toIntArray());
            assertThrows(IllegalStateException.class, t::toFloatArray);
        }
    }

    @Test
    void bufferRoundTrip() {
        float[] v = Reference.randn(6, 2);
        FloatBuffer buf = FloatBuffer.wrap(v);
        try (Tensor t = Tensor.fromBuffer(buf, 6)) {
            assertArrayEquals(v, t.toFloatArray());
            assertEquals(6, buf.remaining(), "the caller's buffer position is untouched");
        }
    }

    @Test
    void wrapBorrowsWithoutCopy() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(4 * 4);
            Tensor t = Tensor.wrap(seg, DType.F32, 2, 2);
            seg.setAtIndex(ValueLayout.JAVA_FLOAT, 3, 9.5f);
            assertEquals(9.5f, t.toFloatArray()[3]);
            assertFalse(t.ownsMemory());
            t.close();
            seg.setAtIndex(ValueLayout.JAVA_FLOAT, 0, 1f); // still the caller's memory
        }
    }

    @Test
    void wrapChecksItsArguments() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(12);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(seg, DType.F32, 2, 2));
            assertTrue(e.getMessage().contains("needs 16"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(MemorySegment.ofArray(new float[4]), DType.F32, 4));
            assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(null, DType.F32, 1));
            assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(seg, null, 3));
        }
    }

    @Test
    void badShapesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> Tensor.fromFloats(new float[3], 2, 2));
        assertThrows(IllegalArgumentException.class, () -> Tensor.allocate(DType.F32, 2, -1));
        assertThrows(IllegalArgumentException.class, () -> Tensor.allocate(DType.F32, 1, 1, 1, 1, 1, 1, 1, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> Tensor.fromFloats(null, 1));
        assertThrows(IllegalArgumentException.class, () -> Tensor.fromInts(new int[2], (long[]) null));
        assertThrows(ArithmeticException.class, () -> Tensor.allocate(DType.F32, Long.MAX_VALUE, 4));
    }

    @Test
    void halfPrecisionViewsConvert() {
        try (Tensor bf = Tensor.allocate(DType.BF16, 2); Tensor h = Tensor.allocate(DType.F16, 2)) {
            bf.segment().setAtIndex(ValueLayout.JAVA_SHORT, 0, (short) 0x3f80); // 1.0
            bf.segment().setAtIndex(ValueLayout.JAVA_SHORT, 1, (short) 0xc000); // -2.0
            h.segment().setAtIndex(ValueLayout.JAVA_SHORT, 0, (short) 0x3c00);  // 1.0
            h.segment().setAtIndex(ValueLayout.JAVA_SHORT, 1, (short) 0x3800);  // 0.5
            assertArrayEquals(new float[] {1f, -2f}, bf.toFloatArray());
            assertArrayEquals(new float[] {1f, 0.5f}, h.toFloatArray());
        }
    }

    @Test
    void fillNaNPoisonsEveryElement() {
        for (DType d : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            try (Tensor t = Tensor.allocate(d, 5).fillNaN()) {
                for (float x : t.toFloatArray()) {
                    assertTrue(Float.isNaN(x), d.toString());
                }
            }
        }
    }

    @Test
    void useAfterCloseFailsCleanly() {
        Tensor t = Tensor.fromFloats(new float[] {1, 2}, 2);
        t.close();
        t.close(); // idempotent
        assertTrue(t.isClosed());
        assertThrows(IllegalStateException.class, t::toFloatArray);
        assertThrows(IllegalStateException.class, t::segment);
        assertTrue(t.toString().contains("closed"));
    }

    /** 10^5 tensors allocated and closed: resident memory returns (no leak of off-heap memory). */
    @Test
    void hundredThousandTensorsDoNotLeak() throws Exception {
        for (int i = 0; i < 2000; i++) {
            Tensor.allocate(DType.F32, 1024).close(); // warm up allocator and JIT
        }
        long before = rssKb();
        for (int i = 0; i < 100_000; i++) {
            try (Tensor t = Tensor.allocate(DType.F32, 1024)) { // 4 KiB each: 400 MB if leaked
                t.segment().set(ValueLayout.JAVA_FLOAT, 0, i);
            }
        }
        long grown = rssKb() - before;
        assertTrue(grown < 100_000, "resident memory grew by " + grown + " KiB over 10^5 closed tensors");
    }

    private static long rssKb() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D+", ""));
            }
        }
        throw new IllegalStateException("no VmRSS");
    }
}
