package dev.chela4j.cli;

import dev.chela4j.Backend;
import dev.chela4j.Chela;
import dev.chela4j.ChelaException;
import dev.chela4j.ChelaModel;
import dev.chela4j.Device;
import dev.chela4j.LinearAttentionOptions;
import dev.chela4j.ModelConfig;
import dev.chela4j.Ops;
import dev.chela4j.Tensor;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The chela command line: {@code java -jar chela.jar <info|forward|classify|bench> ...}.
 * Exit codes: 0 success, 1 a failure of the engine, 2 bad input (arguments, files, checkpoints).
 */
@Command(name = "chela", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
         description = "Run CHELA models with Chela4J.",
         subcommands = {Main.Info.class, Main.Forward.class, Main.Classify.class, Main.Bench.class, Generate.class,
                        EvalLm.class})
public final class Main {
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"chela4j " + Chela.version(), Chela.buildInfo()};
        }
    }

    /** Options every subcommand shares. */
    static class Common {  // package-private: the subcommands in their own files extend it
        @Option(names = "--threads", description = "CPU threads (0 = one per hardware thread)", defaultValue = "0")
        int threads;

        @Option(names = "--cuda", description = "run on this CUDA device instead of the CPU")
        Integer cuda;

        Backend backend() {
            return cuda != null ? Chela.cuda(cuda) : Chela.cpu(threads);
        }
    }

    @Command(name = "info", description = "Library, backends and (with --model) a model summary.")
    static final class Info extends Common implements Callable<Integer> {
        @Option(names = "--model", description = "model directory (config.json + model.safetensors)")
        Path model;

        @Override
        public Integer call() {
            PrintWriter out = new PrintWriter(System.out, true);
            out.println("chela4j " + Chela.version());
            out.println(Chela.buildInfo());
            out.println("backends: " + Backend.available());
            if (model != null) {
                try (Backend b = backend(); ChelaModel m = ChelaModel.load(model, b)) {
                    ModelConfig c = m.config();
                    out.printf("model: %s, task %s, %d layers, d=%d e=%d f=%d heads=%d, %s, %s inputs%n", model, c.task(),
                            c.nLayers(), c.dModel(), c.zDim(), c.vDim(), c.nHeads(), c.causal() ? "causal" : "bidirectional",
                            c.takesTokens() ? "token (vocab " + c.vocabSize() + ")" : "feature (" + c.inputDim() + ")");
                    out.printf("weights: %d tensors%n", m.tensorNames().size());
                }
            }
            return 0;
        }
    }

    /** Token sequences, one per line, ids separated by white space or commas. */
    static List<int[]> readTokens(Path file) throws IOException {
        List<int[]> seqs = new ArrayList<>();
        int lineNo = 0;
        for (String line : Files.readAllLines(file)) {
            lineNo++;
            String t = line.strip();
            if (t.isEmpty() || t.startsWith("#")) {
                continue;
            }
            String[] parts = t.split("[\\s,]+");
            int[] ids = new int[parts.length];
            for (int i = 0; i < parts.length; i++) {
                try {
                    ids[i] = Integer.parseInt(parts[i]);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(file + ":" + lineNo + ": \"" + parts[i] + "\" is not a token id");
                }
            }
            seqs.add(ids);
        }
        if (seqs.isEmpty()) {
            throw new IllegalArgumentException(file + ": no sequences");
        }
        return seqs;
    }

    @Command(name = "forward", description = "Logits for token sequences (one per line in --input).")
    static final class Forward extends Common implements Callable<Integer> {
        @Option(names = "--model", required = true) Path model;
        @Option(names = "--input", required = true, description = "text file: one sequence of token ids per line") Path input;
        @Option(names = "--output", description = "write logits to this .safetensors file (tensor \"logits\") instead of stdout") Path output;

        @Override
        public Integer call() throws IOException {
            List<int[]> seqs = readTokens(input);
            int B = seqs.size(), L = seqs.stream().mapToInt(s -> s.length).max().orElse(0);
            int[] ids = new int[B * L], lengths = new int[B];
            for (int b = 0; b < B; b++) {
                System.arraycopy(seqs.get(b), 0, ids, b * L, seqs.get(b).length);
                lengths[b] = seqs.get(b).length;
            }
            try (Backend be = backend(); ChelaModel m = ChelaModel.load(model, be); Tensor in = Tensor.fromInts(ids, B, L);
                 Tensor logits = m.forward(in, lengths)) {
                if (output != null) {
                    SafetensorsWriter.write(output, "logits", logits.shape(), logits.toFloatArray());
                    System.out.println("wrote logits " + Arrays.toString(logits.shape()) + " to " + output);
                } else {
                    float[] v = logits.toFloatArray();
                    long[] s = logits.shape();
                    int row = (int) s[s.length - 1];
                    System.out.println("logits " + Arrays.toString(s));
                    for (int r = 0; r < v.length / row; r++) {
                        StringBuilder sb = new StringBuilder();
                        for (int c = 0; c < row; c++) {
                            sb.append(c == 0 ? "" : " ").append(v[r * row + c]);
                        }
                        System.out.println(sb);
                    }
                }
            }
            return 0;
        }
    }

    @Command(name = "classify", description = "Predicted class for each token sequence (one per line in --input), "
            + "or accuracy on labelled expressions (--tsv: label<TAB>text, tokenized with the model's vocab.txt).")
    static final class Classify extends Common implements Callable<Integer> {
        @Option(names = "--model", required = true) Path model;
        @Option(names = "--input", description = "token ids, one sequence per line") Path input;
        @Option(names = "--tsv", description = "labelled expressions: label<TAB>space-separated tokens") Path tsv;
        @Option(names = "--generate", description = "classify this many freshly generated ListOps expressions") Integer generate;
        @Option(names = "--seed", defaultValue = "1", description = "seed of --generate") long seed;
        @Option(names = "--batch", defaultValue = "16") int batch;

        @Override
        public Integer call() throws IOException {
            if ((input != null ? 1 : 0) + (tsv != null ? 1 : 0) + (generate != null ? 1 : 0) != 1) {
                throw new IllegalArgumentException("give exactly one of --input, --tsv and --generate");
            }
            try (Backend be = backend(); ChelaModel m = ChelaModel.load(model, be)) {
                if (input != null) {
                    for (int c : m.classify(readTokens(input).toArray(new int[0][]))) {
                        System.out.println(c);
                    }
                    return 0;
                }
                Labelled data = tsv != null ? Labelled.read(tsv, model.resolve("vocab.txt"))
                                            : Labelled.generated(generate, seed, model.resolve("vocab.txt"));
                System.out.printf("accuracy: %.4f (%d examples)%n", data.accuracy(m, batch), data.size());
            }
            return 0;
        }
    }

    @Command(name = "bench", description = "Times forward passes of a model on random tokens, or one op "
            + "(--op linear-attention|short-long-conv) on random inputs; progress on stderr.")
    static final class Bench extends Common implements Callable<Integer> {
        @Option(names = "--model", description = "model directory (for model timings)") Path model;
        @Option(names = "--op", description = "linear-attention or short-long-conv (for op timings)") String op;
        @Option(names = "--width", defaultValue = "1024", description = "op width: f for attention (e = 128), d for the conv") int width;
        @Option(names = "--batch", defaultValue = "2") int batch;
        @Option(names = "--tokens", defaultValue = "2048") int tokens;
        @Option(names = "--reps", defaultValue = "5") int reps;

        @Override
        public Integer call() {
            if (batch < 1 || tokens < 1 || reps < 1 || width < 1) {
                throw new IllegalArgumentException("--batch, --tokens, --reps and --width must be >= 1");
            }
            if ((model == null) == (op == null)) {
                throw new IllegalArgumentException("give exactly one of --model and --op");
            }
            if (op != null) {
                return benchOp();
            }
            try (Backend be = backend(); ChelaModel m = ChelaModel.load(model, be)) {
                ModelConfig c = m.config();
                if (!c.takesTokens()) {
                    throw new IllegalArgumentException("bench needs a token model");
                }
                Random rng = new Random(7);
                int[] ids = new int[batch * tokens];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = rng.nextInt(c.vocabSize());
                }
                System.out.println(Chela.buildInfo());
                System.out.printf("model %s: %d layers, d=%d e=%d f=%d, %s on %s%n", model, c.nLayers(), c.dModel(), c.zDim(),
                        c.vDim(), c.task(), be);
                try (Tensor in = Tensor.fromInts(ids, batch, tokens)) {
                    long[] shape;
                    try (Tensor warm = m.forward(in)) {
                        shape = warm.shape();
                    }
                    // synchronize: a CUDA backend returns once the work is queued
                    double med = medianMs(reps, () -> {
                        m.forward(in).close();
                        be.synchronize();
                    });
                    System.out.printf("forward [%d, %d] -> logits %s: median %.1f ms over %d runs, %.0f tokens/s%n", batch, tokens,
                            Arrays.toString(shape), med, reps, batch * tokens / (med / 1e3));
                }
            }
            return 0;
        }

        private int benchOp() {
            Random rng = new Random(7);
            try (Backend be = backend()) {
                System.out.println(Chela.buildInfo());
                if (op.equals("linear-attention")) {
                    int e = 128, f = width;
                    try (Tensor q = randomTensor(be, rng, batch, tokens, e); Tensor k = randomTensor(be, rng, batch, tokens, e);
                         Tensor v = randomTensor(be, rng, batch, tokens, f)) {
                        double ms = medianMs(reps, () -> {
                            Ops.linearAttention(be, q, k, v, LinearAttentionOptions.defaults(1)).close();
                            be.synchronize();
                        });
                        System.out.printf("linear attention B%d L%d e%d f%d (causal) on %s: median %.2f ms%n", batch, tokens, e, f, be, ms);
                    }
                } else if (op.equals("short-long-conv")) {
                    int d = width;
                    try (Tensor x = randomTensor(be, rng, batch, tokens, d); Tensor ws = randomTensor(be, rng, d, 3);
                         Tensor bs = randomTensor(be, rng, d);
                         Tensor wl = randomTensor(be, rng, d, tokens); Tensor om = randomTensor(be, rng, d)) {
                        double ms = medianMs(reps, () -> {
                            Ops.shortLongConv(be, x, ws, bs, wl, null, om, true).close();
                            be.synchronize();
                        });
                        System.out.printf("short-long conv B%d L%d d%d (causal, Lk = L) on %s: median %.2f ms%n", batch, tokens, d, be, ms);
                    }
                } else {
                    throw new IllegalArgumentException("--op must be linear-attention or short-long-conv, got " + op);
                }
            }
            return 0;
        }

        /** Random normal f32 values in the backend's memory (ops on a CUDA backend take device tensors). */
        private static Tensor randomTensor(Backend be, Random rng, long... shape) {
            float[] v = new float[Math.toIntExact(count(shape))];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) rng.nextGaussian();
            }
            Tensor host = Tensor.fromFloats(v, shape);
            if (be.device() == Device.CPU) {
                return host;
            }
            try (host) {
                return host.toDevice(be);
            }
        }

        private static long count(long[] shape) {
            long n = 1;
            for (long s : shape) {
                n *= s;
            }
            return n;
        }
    }

    /** Median time of {@code body} over {@code reps} runs after one warm-up, with progress on stderr. */
    static double medianMs(int reps, Runnable body) {
        body.run();
        double[] ms = new double[reps];
        for (int r = 0; r < reps; r++) {
            long t0 = System.nanoTime();
            body.run();
            ms[r] = (System.nanoTime() - t0) / 1e6;
            System.err.printf("\rbench: %d/%d runs", r + 1, reps);
        }
        System.err.println();
        Arrays.sort(ms);
        return ms[reps / 2];
    }

    /** Maps failures to exit codes and one clear line on stderr. */
    static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (ex instanceof ChelaException ce) {
                cmd.getErr().println("chela: error: " + ce.getMessage());
                return ce.status() == dev.chela4j.Status.INTERNAL || ce.status() == dev.chela4j.Status.DEVICE ? 1 : 2;
            }
            if (ex instanceof IllegalArgumentException || ex instanceof IllegalStateException || ex instanceof IOException) {
                cmd.getErr().println("chela: error: " + ex.getMessage());
                return 2;
            }
            cmd.getErr().println("chela: internal error: " + ex);
            return 1;
        });
        return cl.execute(args);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }
}
