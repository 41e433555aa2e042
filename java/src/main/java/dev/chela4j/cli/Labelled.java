package dev.chela4j.cli;

import dev.chela4j.ChelaModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Labelled token sequences from a TSV file ("label<TAB>space-separated tokens", as the ListOps
 * model's test.tsv), tokenized with a vocab.txt (one token per line, id = line number).
 */
record Labelled(List<int[]> sequences, int[] labels) {
    static Labelled read(Path tsv, Path vocabFile) throws IOException {
        Map<String, Integer> vocab = vocab(vocabFile);
        List<int[]> seqs = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        int lineNo = 0;
        for (String line : Files.readAllLines(tsv)) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            int tab = line.indexOf('\t');
            if (tab < 0) {
                throw new IllegalArgumentException(tsv + ":" + lineNo + ": expected label<TAB>text");
            }
            int[] ids = tokenize(line.substring(tab + 1), vocab, tsv + ":" + lineNo);
            try {
                labels.add(Integer.parseInt(line.substring(0, tab).trim()));
            } catch (NumberFormatException ex) {
                throw new IllegalArgumentException(tsv + ":" + lineNo + ": label is not an integer");
            }
            seqs.add(ids);
        }
        return new Labelled(seqs, labels.stream().mapToInt(Integer::intValue).toArray());
    }

    /** {@code n} generated ListOps expressions (test-set settings), labelled by the evaluator. */
    static Labelled generated(int n, long seed, Path vocabFile) throws IOException {
        if (n < 1) {
            throw new IllegalArgumentException("--generate needs at least 1 expression");
        }
        Map<String, Integer> vocab = vocab(vocabFile);
        List<int[]> seqs = new ArrayList<>();
        int[] labels = new int[n];
        List<String> texts = ListOps.generate(n, seed, 20, 2000, 7, 5);
        for (int i = 0; i < n; i++) {
            seqs.add(tokenize(texts.get(i), vocab, "generated expression " + i));
            labels[i] = ListOps.evaluate(texts.get(i));
        }
        return new Labelled(seqs, labels);
    }

    private static Map<String, Integer> vocab(Path vocabFile) throws IOException {
        if (!Files.isRegularFile(vocabFile)) {
            throw new IllegalArgumentException("no vocabulary at " + vocabFile + " (one token per line)");
        }
        Map<String, Integer> vocab = new HashMap<>();
        for (String tok : Files.readAllLines(vocabFile)) {
            vocab.putIfAbsent(tok, vocab.size());
        }
        return vocab;
    }

    private static int[] tokenize(String text, Map<String, Integer> vocab, String where) {
        String[] toks = text.trim().split("\\s+");
        int[] ids = new int[toks.length];
        for (int i = 0; i < toks.length; i++) {
            Integer id = vocab.get(toks[i]);
            if (id == null) {
                throw new IllegalArgumentException(where + ": token \"" + toks[i] + "\" is not in the vocabulary");
            }
            ids[i] = id;
        }
        return ids;
    }

    int size() {
        return labels.length;
    }

    /** Share of sequences classified as labelled; batches of similar lengths, progress on stderr. */
    double accuracy(ChelaModel m, int batch) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < size(); i++) {
            order.add(i);
        }
        order.sort(Comparator.comparingInt(i -> sequences.get(i).length));
        int right = 0;
        for (int s = 0; s < order.size(); s += batch) {
            List<Integer> idx = order.subList(s, Math.min(order.size(), s + batch));
            int[][] seqs = idx.stream().map(sequences::get).toArray(int[][]::new);
            int[] got = m.classify(seqs);
            for (int i = 0; i < got.length; i++) {
                if (got[i] == labels[idx.get(i)]) {
                    right++;
                }
            }
            System.err.printf("\rclassify: %d/%d", Math.min(order.size(), s + batch), order.size());
        }
        System.err.println();
        return (double) right / size();
    }
}
