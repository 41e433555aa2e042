package dev.chela4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The Java ListOps evaluator agrees with the Python one; the generator respects its bounds. */
class ListOpsTest {
    @Test
    void evaluatorAgreesWithThePythonLabelsOfTheShippedTestSet() throws IOException {
        Path tsv = Path.of(System.getProperty("chela.repo.root", "..")).resolve("models/listops/test.tsv");
        List<String> lines = Files.readAllLines(tsv);
        assertTrue(lines.size() >= 1000);
        for (String line : lines) {
            int tab = line.indexOf('\t');
            assertEquals(Integer.parseInt(line.substring(0, tab)), ListOps.evaluate(line.substring(tab + 1)), line);
        }
    }

    @Test
    void handExamples() {
        Map<String, Integer> hand = Map.of("[MAX 2 9 [MIN 4 7 ] 0 ]", 9, "[SM 9 9 5 ]", 3, "[MED 1 2 3 4 ]", 2,
                "[MED 7 8 ]", 7, "[SM [MAX 3 8 ] [MIN 9 2 5 ] ]", 0, "( ( [MAX 2 ) 9 ] )", 9, "7", 7);
        hand.forEach((text, want) -> assertEquals(want, ListOps.evaluate(text), text));
        for (String bad : new String[] {"[MAX 2", "[MAX ]", "2 3", "[FOO 1 ]"}) {
            assertThrows(IllegalArgumentException.class, () -> ListOps.evaluate(bad), bad);
        }
    }

    @Test
    void generatorIsSeededAndBounded() {
        List<String> a = ListOps.generate(200, 5, 20, 2000, 7, 5);
        assertEquals(a, ListOps.generate(200, 5, 20, 2000, 7, 5));
        int[] classes = new int[10];
        int longest = 0;
        for (String e : a) {
            int n = e.split(" ").length;
            assertTrue(n >= 20 && n <= 2000, "length " + n);
            longest = Math.max(longest, n);
            classes[ListOps.evaluate(e)]++;
        }
        assertTrue(longest > 1000, "expressions reach past 1000 tokens");
        for (int c = 0; c < 10; c++) {
            assertTrue(classes[c] > 0, "class " + c + " never drawn");
        }
    }
}
