package dev.chela4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LibraryTest {
    @Test
    void versionAndBuildInfo() {
        assertEquals("0.1.0", Chela.version());
        assertTrue(Chela.buildInfo().contains("cpu"), Chela.buildInfo());
        assertTrue(Chela.buildInfo().contains("loaded from"), Chela.buildInfo());
    }

    @Test
    void cpuIsAlwaysAvailable() {
        assertTrue(Backend.available().contains(Device.CPU));
    }

    @Test
    void cpuBackendReportsItsThreads() {
        try (Backend b = Chela.cpu(3)) {
            assertEquals(Device.CPU, b.device());
            assertEquals(3, b.threads());
            assertTrue(b.toString().contains("3 threads"));
        }
        try (Backend b = Chela.cpu()) {
            assertTrue(b.threads() >= 1);
        }
    }

    @Test
    void negativeThreadsAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Chela.cpu(-1));
        assertTrue(e.getMessage().contains("threads"));
    }

    @Test
    void tooManyThreadsIsANativeError() {
        ChelaException e = assertThrows(ChelaException.class, () -> Chela.cpu(100000));
        assertEquals(Status.INVALID_ARGUMENT, e.status());
        assertTrue(e.getMessage().contains("threads"), e.getMessage());
    }

    @Test
    void cudaWithoutAGpuIsAClearError() {
        if (Backend.available().contains(Device.CUDA)) {
            return; // a GPU is present: covered by the GPU tests
        }
        ChelaException e = assertThrows(ChelaException.class, () -> Chela.cuda(0));
        assertEquals(Status.UNSUPPORTED, e.status());
        assertFalse(e.getMessage().isBlank());
        assertThrows(IllegalArgumentException.class, () -> Chela.cuda(-1));
    }

    @Test
    void backendCloseIsIdempotentAndFinal() {
        Backend b = Chela.cpu(1);
        b.close();
        b.close();
        assertTrue(b.isClosed());
        try (Tensor q = Tensor.fromFloats(new float[] {1, 2}, 1, 1, 2)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> Ops.linearAttention(b, q, q, q, LinearAttentionOptions.defaults(1)));
            assertTrue(e.getMessage().contains("closed"));
        }
    }

    @Test
    void statusCodesMapBothWays() {
        for (Status s : Status.values()) {
            if (s != Status.UNKNOWN) {
                assertEquals(s, Status.of(s.code()));
            }
        }
        assertEquals(Status.UNKNOWN, Status.of(4242));
    }
}
