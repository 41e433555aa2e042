package dev.chela4j.cli;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.SplittableRandom;

/**
 * ListOps expressions ([MAX 2 9 [MIN 4 7 ] 0 ] → 9) for `chela classify --generate`: the process of
 * tests/reference/listops.py (a digit with probability 0.25, always at the depth limit, else one
 * of MIN/MAX/MED/SM with 2..maxArgs arguments; trees outside [minLen, maxLen] tokens are redrawn),
 * with its test-set settings (depth <= 7, <= 5 arguments, 20..2000 tokens), and the evaluator.
 * Java's generator draws other trees than Python's for the same seed; the evaluator agrees with
 * the Python labels (tested on models/listops/test.tsv).
 */
final class ListOps {
    static final String[] OPERATORS = {"[MIN", "[MAX", "[MED", "[SM"};

    private ListOps() {}

    /** {@code n} expressions (space-separated tokens) of minLen..maxLen tokens. */
    static List<String> generate(int n, long seed, int minLen, int maxLen, int maxDepth, int maxArgs) {
        SplittableRandom rng = new SplittableRandom(seed);
        List<String> out = new ArrayList<>(n);
        while (out.size() < n) {
            List<String> toks = new ArrayList<>();
            if (tree(rng, 1, maxDepth, maxArgs, toks, maxLen) && toks.size() >= minLen) {
                out.add(String.join(" ", toks));
            }
        }
        return out;
    }

    /** Appends one tree's tokens; false as soon as it would exceed {@code maxLen} tokens. */
    private static boolean tree(SplittableRandom rng, int depth, int maxDepth, int maxArgs, List<String> toks, int maxLen) {
        if (toks.size() >= maxLen) {
            return false;
        }
        if (depth >= maxDepth || rng.nextDouble() <= 0.25) {
            toks.add(Integer.toString(rng.nextInt(10)));
            return true;
        }
        toks.add(OPERATORS[rng.nextInt(OPERATORS.length)]);
        int args = 2 + rng.nextInt(maxArgs - 1);
        for (int i = 0; i < args; i++) {
            if (!tree(rng, depth + 1, maxDepth, maxArgs, toks, maxLen)) {
                return false;
            }
        }
        toks.add("]");
        return toks.size() <= maxLen;
    }

    /** The value of an expression (the class label); '(' and ')' are ignored as in LRA's files. */
    static int evaluate(String text) {
        Deque<List<Integer>> values = new ArrayDeque<>();
        Deque<String> ops = new ArrayDeque<>();
        values.push(new ArrayList<>());
        for (String tok : text.trim().split("\\s+")) {
            switch (tok) {
                case "(", ")" -> { }
                case "[MIN", "[MAX", "[MED", "[SM" -> {
                    ops.push(tok);
                    values.push(new ArrayList<>());
                }
                case "]" -> {
                    if (ops.isEmpty() || values.peek().isEmpty()) {
                        throw new IllegalArgumentException("unbalanced or empty operator in: " + text);
                    }
                    int v = apply(ops.pop(), values.pop());
                    values.peek().add(v);
                }
                default -> {
                    if (tok.length() != 1 || !Character.isDigit(tok.charAt(0))) {
                        throw new IllegalArgumentException("bad token \"" + tok + "\"");
                    }
                    values.peek().add(tok.charAt(0) - '0');
                }
            }
        }
        if (!ops.isEmpty() || values.size() != 1 || values.peek().size() != 1) {
            throw new IllegalArgumentException("unbalanced expression");
        }
        return values.peek().get(0);
    }

    private static int apply(String op, List<Integer> v) {
        int[] s = v.stream().mapToInt(Integer::intValue).sorted().toArray();
        return switch (op) {
            case "[MIN" -> s[0];
            case "[MAX" -> s[s.length - 1];
            case "[MED" -> s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
            case "[SM" -> Arrays.stream(s).sum() % 10;
            default -> throw new IllegalArgumentException("unknown operator " + op);
        };
    }
}
