package dev.chela4j.cli;

import dev.chela4j.Backend;
import dev.chela4j.ChelaModel;
import dev.chela4j.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Bits per byte of a byte-level language model on a file, with the windows of models/eval_ref.py:
 * non-overlapping windows of W+1 bytes; bytes 1..W of each are predicted from bytes 0..W-1.
 */
@Command(name = "eval-lm", description = "Bits per byte of a byte-level LM on a file (windows as models/eval_ref.py).")
final class EvalLm extends Main.Common implements Callable<Integer> {
    @Option(names = "--model", required = true) Path model;
    @Option(names = "--bytes", required = true, description = "evaluation file (raw bytes)") Path file;
    @Option(names = "--window", defaultValue = "512") int window;
    @Option(names = "--batch", defaultValue = "4") int batch;

    @Override
    public Integer call() throws IOException {
        byte[] data = Files.readAllBytes(file);
        if (window < 1 || data.length < window + 1) {
            throw new IllegalArgumentException("--window " + window + " needs a file of more than " + window + " bytes");
        }
        try (Backend be = backend(); ChelaModel m = ChelaModel.load(model, be)) {
            if (m.config().vocabSize() != 256 || !m.config().isLanguageModel()) {
                throw new IllegalArgumentException("eval-lm needs a byte-level language model (vocab 256)");
            }
            System.out.printf("bits/byte: %.6f%n", bitsPerByte(m, data, window, batch));
        }
        return 0;
    }

    /** Total -log2 p over every predicted byte, divided by their count. */
    static double bitsPerByte(ChelaModel m, byte[] data, int window, int batch) {
        int n = (data.length - 1) / window;
        double bits = 0;
        for (int s = 0; s < n; s += batch) {
            int b = Math.min(batch, n - s);
            int[] ids = new int[b * window];
            for (int i = 0; i < b; i++) {
                for (int t = 0; t < window; t++) {
                    ids[i * window + t] = data[(s + i) * window + t] & 0xff;
                }
            }
            try (Tensor in = Tensor.fromInts(ids, b, window); Tensor logits = m.forward(in)) {
                float[] v = logits.toFloatArray();
                for (int i = 0; i < b; i++) {
                    for (int t = 0; t < window; t++) {
                        int off = (i * window + t) * 256;
                        int target = data[(s + i) * window + t + 1] & 0xff;
                        double max = Double.NEGATIVE_INFINITY;
                        for (int c = 0; c < 256; c++) {
                            max = Math.max(max, v[off + c]);
                        }
                        double sum = 0;
                        for (int c = 0; c < 256; c++) {
                            sum += Math.exp(v[off + c] - max);
                        }
                        bits += (Math.log(sum) + max - v[off + target]) / Math.log(2);
                    }
                }
            }
            System.err.printf("\reval-lm: %d/%d windows", Math.min(n, s + batch), n);
        }
        System.err.println();
        return bits / ((double) n * window);
    }
}
