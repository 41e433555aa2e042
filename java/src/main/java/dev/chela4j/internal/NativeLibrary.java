package dev.chela4j.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Finds and loads libchela once per class loader, in this order: the system property
 * {@code chela.library.path} (a file, or a folder holding libchela.so), the environment variable
 * {@code CHELA_LIBRARY_PATH} (likewise), then the copy bundled in the jar for linux-x86_64
 * (extracted once to a temporary file and checked against the SHA-256 recorded beside it).
 * A failure lists every place tried.
 */
public final class NativeLibrary {
    static final String FILE_NAME = "libchela.so";
    static final String BUNDLE = "/native/linux-x86_64/";

    private static volatile boolean loaded;
    private static String loadedFrom;

    private NativeLibrary() {}

    /** Loads libchela if it is not loaded yet. Thread-safe. */
    public static void load() {
        if (loaded) {
            return;
        }
        synchronized (NativeLibrary.class) {
            if (loaded) {
                return;
            }
            List<String> tried = new ArrayList<>();
            String fromProperty = System.getProperty("chela.library.path");
            String fromEnv = System.getenv("CHELA_LIBRARY_PATH");
            for (String[] place : new String[][] {{"-Dchela.library.path", fromProperty}, {"CHELA_LIBRARY_PATH", fromEnv}}) {
                if (place[1] == null || place[1].isBlank()) {
                    tried.add(place[0] + " (not set)");
                    continue;
                }
                Path p = Path.of(place[1]);
                if (Files.isDirectory(p)) {
                    p = p.resolve(FILE_NAME);
                }
                if (Files.isRegularFile(p)) {
                    loadFrom(p.toAbsolutePath(), place[0]);
                    return;
                }
                tried.add(place[0] + " = " + place[1] + " (no " + FILE_NAME + " there)");
            }
            Path bundled = extractBundled(tried);
            if (bundled != null) {
                loadFrom(bundled, "the jar's bundled copy");
                return;
            }
            throw new UnsatisfiedLinkError("libchela not found; tried: " + String.join("; ", tried));
        }
    }

    /** Where libchela was loaded from (after {@link #load()}). */
    public static synchronized String loadedFrom() {
        return loadedFrom;
    }

    private static void loadFrom(Path path, String how) {
        System.load(path.toString());
        loadedFrom = path + " (" + how + ")";
        loaded = true;
    }

    private static Path extractBundled(List<String> tried) {
        String os = System.getProperty("os.name", "").toLowerCase();
        String arch = System.getProperty("os.arch", "");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            tried.add("bundled copy (only for linux-x86_64, this is " + os + "-" + arch + ")");
            return null;
        }
        try (InputStream lib = NativeLibrary.class.getResourceAsStream(BUNDLE + FILE_NAME);
             InputStream sum = NativeLibrary.class.getResourceAsStream(BUNDLE + FILE_NAME + ".sha256")) {
            if (lib == null || sum == null) {
                tried.add("bundled copy " + BUNDLE + FILE_NAME + " (not in this jar)");
                return null;
            }
            byte[] bytes = lib.readAllBytes();
            String want = new String(sum.readAllBytes(), StandardCharsets.US_ASCII).trim().split("\\s+")[0];
            String got = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
            if (!got.equalsIgnoreCase(want)) {
                tried.add("bundled copy (SHA-256 " + got + " does not match the recorded " + want + ")");
                return null;
            }
            Path dir = Files.createTempDirectory("chela4j-");
            Path file = dir.resolve(FILE_NAME);
            try (InputStream in = new java.io.ByteArrayInputStream(bytes)) {
                Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            }
            file.toFile().deleteOnExit();
            dir.toFile().deleteOnExit();
            return file;
        } catch (IOException | NoSuchAlgorithmException e) {
            tried.add("bundled copy (" + e + ")");
            return null;
        }
    }
}
