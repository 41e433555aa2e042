package dev.chela4j.internal;

import dev.chela4j.ChelaException;
import dev.chela4j.Status;
import dev.chela4j.bindings.chela_h;

import java.lang.foreign.MemorySegment;

/** Small helpers around the generated bindings: status checks and C strings. */
public final class Native {
    private Native() {}

    /** Loads libchela (once) and checks that its ABI matches the bindings'. */
    public static void init() {
        NativeLibrary.load();
        int abi = chela_h.chela_abi_version();
        if (abi != chela_h.CHELA_ABI_VERSION()) {
            throw new UnsatisfiedLinkError("libchela at " + NativeLibrary.loadedFrom() + " has ABI version " + abi
                    + " but these bindings were generated for " + chela_h.CHELA_ABI_VERSION());
        }
    }

    /** Throws ChelaException carrying libchela's message when {@code status} is not CHELA_OK. */
    public static void check(int status) {
        if (status != 0) {
            throw new ChelaException(Status.of(status), string(chela_h.chela_last_error()));
        }
    }

    /** Reads a NUL-terminated UTF-8 string owned by libchela. */
    public static String string(MemorySegment cString) {
        if (cString == null || cString.equals(MemorySegment.NULL)) {
            return "";
        }
        return cString.reinterpret(Long.MAX_VALUE).getString(0);
    }
}
