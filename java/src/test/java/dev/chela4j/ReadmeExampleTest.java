package dev.chela4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Java example in README.md compiles, is at most 15 lines of code, and runs. */
class ReadmeExampleTest {
    @Test
    void readmeExampleCompilesAndRuns(@TempDir Path dir) throws Exception {
        Path root = Path.of(System.getProperty("chela.repo.root", ".."));
        String readme = Files.readString(root.resolve("README.md"));
        int a = readme.indexOf("<!-- readme-example:start -->"), b = readme.indexOf("<!-- readme-example:end -->");
        assertTrue(a >= 0 && b > a, "README.md has no marked example");
        String block = readme.substring(a, b);
        String code = block.substring(block.indexOf("```java") + 7, block.lastIndexOf("```"));
        long lines = code.lines().map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("import") && !l.equals("}")).count();
        assertTrue(lines <= 15, "the README example has " + lines + " lines of code");

        Path src = dir.resolve("Example.java");
        Files.writeString(src, code);
        // The JDK's own javac, as a user would run it (the test module does not read java.compiler).
        Path javac = Path.of(System.getProperty("java.home"), "bin", "javac");
        Process p = new ProcessBuilder(javac.toString(), "-d", dir.toString(), "-cp", System.getProperty("java.class.path"),
                src.toString()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "the README example does not compile:\n" + log);

        PrintStream saved = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try (URLClassLoader loader = new URLClassLoader(new java.net.URL[] {dir.toUri().toURL()}, getClass().getClassLoader())) {
            System.setOut(new PrintStream(captured, true));
            Class<?> example = loader.loadClass("Example");
            String model = Path.of(System.getProperty("chela.samples.dir", "../build/samples"), "good", "lm_decay_ffn").toString();
            example.getMethod("main", String[].class).invoke(null, (Object) new String[] {model});
        } finally {
            System.setOut(saved);
        }
        assertTrue(captured.toString().startsWith("next-token logits: ["), captured.toString());
        assertEquals(50, List.of(captured.toString().split(",")).size());
    }
}
