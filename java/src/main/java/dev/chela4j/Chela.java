package dev.chela4j;

import dev.chela4j.bindings.chela_h;
import dev.chela4j.internal.Native;
import dev.chela4j.internal.NativeLibrary;

/**
 * Entry point of Chela4J: backends and library information.
 *
 * <pre>{@code
 * try (Backend cpu = Chela.cpu();
 *      ChelaModel model = ChelaModel.load(Path.of("my-model"), cpu);
 *      Tensor ids = Tensor.fromInts(new int[] {1, 2, 3}, 1, 3);
 *      Tensor logits = model.forward(ids)) {
 *     float[] values = logits.toFloatArray();
 * }
 * }</pre>
 */
public final class Chela {
    private Chela() {}

    /** A CPU backend with one worker per hardware thread. */
    public static Backend cpu() {
        return Backend.cpu(0);
    }

    /** A CPU backend with {@code threads} workers (including the calling thread); 0 = one per hardware thread. */
    public static Backend cpu(int threads) {
        return Backend.cpu(threads);
    }

    /** A CUDA backend on device {@code device}; ChelaException(UNSUPPORTED) where CUDA is not built or present. */
    public static Backend cuda(int device) {
        return Backend.cuda(device);
    }

    /** libchela's version, "major.minor.patch". */
    public static String version() {
        Native.init();
        return Native.string(chela_h.chela_version());
    }

    /** One line on how libchela was built and where it was loaded from. */
    public static String buildInfo() {
        Native.init();
        return Native.string(chela_h.chela_build_info()) + "; loaded from " + NativeLibrary.loadedFrom();
    }
}
