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

    @Test
    @EnabledIf("cudaPresent")
    void channelsMajorConvOnDeviceEqualsTheCpu() {
        // bf16 [B, d, L] on the on-chip tensor-core FFT (L + Lk = 32768 points), against the CPU
        // backend in the same layout from the same bf16 values (bf16 bound 3e-3).
        int B = 2, d = 8, L = 16384, ks = 3;
        float[] x = Reference.randn(B * d * L, 51), ws = Reference.randn(d * ks, 52), bs = Reference.randn(d, 53);
        float[] wl = Reference.randn(d * L, 54), om = Reference.randn(d, 55);
        for (int i = 0; i < wl.length; i++) {
            wl[i] /= (float) Math.sqrt(L);
        }
        try (Backend gpu = Chela.cuda(0); Backend cpu = Chela.cpu(2);
             Tensor hx = Reference.bf16(x, B, d, L); Tensor hws = Tensor.fromFloats(ws, d, ks);
             Tensor hbs = Tensor.fromFloats(bs, d); Tensor hwl = Tensor.fromFloats(wl, d, L); Tensor hom = Tensor.fromFloats(om, d);
             Tensor dx = hx.toDevice(gpu); Tensor dws = hws.toDevice(gpu); Tensor dbs = hbs.toDevice(gpu);
             Tensor dwl = hwl.toDevice(gpu); Tensor dom = hom.toDevice(gpu);
             Tensor want = Ops.shortLongConv(cpu, hx, hws, hbs, hwl, null, hom, true, ConvLayout.CHANNELS_MAJOR);
             Tensor got = Ops.shortLongConv(gpu, dx, dws, dbs, dwl, null, dom, true, ConvLayout.CHANNELS_MAJOR)) {
            assertEquals(Device.CUDA, got.device());
            assertArrayEquals(new long[] {B, d, L}, got.shape());
            double err = Reference.relL2(got.toFloatArray(), Reference.toDouble(want.toFloatArray()));
            assertTrue(err <= 3e-3, "bf16 channel-major conv, CUDA vs CPU rel-L2 " + err);
        }
    }
}
