/**
 * Chela4J: CHELA long-sequence models on the JVM. Entry point: {@link dev.chela4j.Chela}.
 */
module dev.chela4j {
    requires info.picocli;

    exports dev.chela4j;

    opens dev.chela4j.cli to info.picocli;
}
