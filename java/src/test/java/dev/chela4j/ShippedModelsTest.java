package dev.chela4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The two trained models in models/ load and run from Java, and our engine measures the quality
 * the PyTorch reference measured on the same held-out data (models/<name>/reference.json, float64),
 * to 3 decimals: ListOps test accuracy and the byte LM's bits per byte.
 */
class ShippedModelsTest {
    static Path models() {
        return Path.of(System.getProperty("chela.repo.root", "..")).resolve("models");
    }

    static double referenceValue(Path dir, String key) throws IOException {
        Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*([0-9.eE+-]+)").matcher(Files.readString(dir.resolve("reference.json")));
        assertTrue(m.find(), key + " missing in " + dir.resolve("reference.json"));
        return Double.parseDouble(m.group(1));
    }

    @Test
    void listOpsAccuracyEqualsTheReference() throws IOException {
        Path dir = models().resolve("listops");
        try (Backend cpu = Chela.cpu(0); ChelaModel m = ChelaModel.load(dir, cpu)) {
            assertEquals("classify", m.config().task());
            double acc = dev.chela4j.cli.Accuracy.of(m, dir.resolve("test.tsv"), dir.resolve("vocab.txt"));
            double want = referenceValue(dir, "accuracy_float64");
            assertEquals(want, acc, 5e-4, "ListOps accuracy, ours vs reference");
        }
    }

    @Test
    void byteLmBitsPerByteEqualsTheReference() throws IOException {
        Path dir = models().resolve("bytelm");
        try (Backend cpu = Chela.cpu(0); ChelaModel m = ChelaModel.load(dir, cpu)) {
            byte[] data = Files.readAllBytes(dir.resolve("heldout.bin"));
            double bpb = dev.chela4j.cli.Accuracy.bitsPerByte(m, data, 512);
            double want = referenceValue(dir, "bits_per_byte_float64");
            assertEquals(want, bpb, 5e-4, "bits per byte, ours vs reference");
        }
    }
}
