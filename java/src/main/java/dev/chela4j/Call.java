package dev.chela4j;

import dev.chela4j.internal.Guard;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * One native call: holds the guards of every handle and tensor it touches (so none can be closed
 * under it) and a confined arena for the call's small structs. Package-private plumbing.
 */
final class Call implements AutoCloseable {
    final Arena arena = Arena.ofConfined();
    private final List<Guard.Use> uses = new ArrayList<>();

    Call(Backend backend) {
        uses.add(backend.use());
    }

    Call(Guard.Use first) {
        uses.add(first);
    }

    /** The chela_tensor struct for {@code t}, or NULL for a null tensor. */
    MemorySegment tensor(Tensor t) {
        if (t == null) {
            return MemorySegment.NULL;
        }
        uses.add(t.use());
        return t.struct(arena);
    }

    @Override
    public void close() {
        for (int i = uses.size() - 1; i >= 0; i--) {
            uses.get(i).close();
        }
        arena.close();
    }
}
