package dev.chela4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;

/**
 * Tensor placement: host copies everywhere; device round trips and a linear attention on device
 * tensors equal to the CPU backend where a CUDA device is present (skipped otherwise).
 */
class DeviceTensorTest {
    static boolean cudaPresent() {
        return Backend.available().contains(Device.CUDA);
    }

    @Test
    void hostCopiesAndCpuPlacement() {
        float[] v = Reference.randn(24, 1);
        try (Backend cpu = Chela.cpu(1); Tensor t = Tensor.fromFloats(v, 2, 3, 4); Tensor c = t.toHost();
             Tensor a = Tensor.allocate(cpu, DType.BF16, 5, 6)) {
            assertNotSame(t.segment(), c.segment());
            assertArrayEquals(v, c.toFloatArray());
            assertEquals(Device.CPU, a.device());
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> t.toDevice(cpu));
            assertTrue(ex.getMessage().contains("CUDA"), ex.getMessage());
            cpu.synchronize();  // nothing queued on a CPU backend: returns at once
        }
    }

    @Test
    void synchronizeOnAClosedBackendIsAClearError() {
        Backend cpu = Chela.cpu(1);
        cpu.close();
        assertThrows(IllegalStateException.class, cpu::synchronize);
    }

    @Test
    @EnabledIf("cudaPresent")
    void deviceRoundTripAndLinearAttentionEqualTheCpu() {
        int B = 2, L = 300, H = 2, dk = 64, dv = 64;
        float[] q = Reference.randn(B * L * H * dk, 2), k = Reference.randn(q.length, 3), v = Reference.randn(B * L * H * dv, 4);
        LinearAttentionOptions opts = LinearAttentionOptions.defaults(H).withNorm(AttnNorm.NONE, null);
        try (Backend gpu = Chela.cuda(0); Backend cpu = Chela.cpu(2);
             Tensor hq = Tensor.fromFloats(q, B, L, H * dk); Tensor hk = Tensor.fromFloats(k, B, L, H * dk);
             Tensor hv = Tensor.fromFloats(v, B, L, H * dv);
             Tensor dq = hq.toDevice(gpu); Tensor dk2 = hk.toDevice(gpu); Tensor dv2 = hv.toDevice(gpu);
             AttentionResult want = Ops.linearAttention(cpu, hq, hk, hv, opts);
             AttentionResult got = Ops.linearAttention(gpu, dq, dk2, dv2, opts)) {
            assertEquals(Device.CUDA, got.output().device());
            assertArrayEquals(q, dq.toFloatArray());
            double err = Reference.relL2(got.output().toFloatArray(), Reference.toDouble(want.output().toFloatArray()));
            assertTrue(err <= 1e-5, "f32 CUDA vs CPU rel-L2 " + err);
        }
    }
}
