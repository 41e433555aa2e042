package dev.chela4j;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** The committed bindings were generated from the current chela.h (see bindings/README.md). */
class BindingsInSyncTest {
    @Test
    void headerHashMatchesTheRecordedOne() throws Exception {
        Path root = Path.of(System.getProperty("chela.repo.root", ".."));
        byte[] header = Files.readAllBytes(root.resolve("native/include/chela/chela.h"));
        String actual = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(header));
        String recorded = Files.readString(root.resolve("bindings/chela.h.sha256")).trim();
        assertEquals(recorded, actual,
                "native/include/chela/chela.h changed after the bindings were generated: run bindings/regenerate.sh");
    }
}
