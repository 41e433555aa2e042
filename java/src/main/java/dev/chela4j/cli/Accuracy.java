package dev.chela4j.cli;

import dev.chela4j.ChelaModel;

import java.io.IOException;
import java.nio.file.Path;

/** The quality measures of the CLI (classify --tsv, eval-lm), callable from tests. */
public final class Accuracy {
    /** Share of the labelled expressions in {@code tsv} that {@code model} classifies right. */
    public static double of(ChelaModel model, Path tsv, Path vocab) throws IOException {
        return Labelled.read(tsv, vocab).accuracy(model, 16);
    }

    /** Bits per byte of a byte-level LM on {@code data}, windows of {@code window} + 1 bytes. */
    public static double bitsPerByte(ChelaModel model, byte[] data, int window) {
        return EvalLm.bitsPerByte(model, data, window, 4);
    }

    private Accuracy() {}
}
