package io.tollgate.metering.journal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Unmaps a segment's buffer when the segment is deleted rather than when the GC finds the buffer:
 * a deleted file's blocks are freed only once its last mapping is gone, and the journal is built
 * to make no garbage, so a GC may be hours away while segments are deleted five times a second.
 *
 * <p>Java 17 has no public unmap. {@code sun.misc.Unsafe.invokeCleaner} (module {@code
 * jdk.unsupported}, which opens {@code sun.misc}) is the one that works; Netty's {@code
 * PlatformDependent.freeDirectBuffer} calls the same but is deprecated in Netty 4.2. It is looked
 * up through a method handle, since javac warns on any mention of {@code sun.misc} and the build
 * fails on warnings. Where it is missing, unmapping is left to the GC.
 *
 * <p>Touching a buffer after it is unmapped crashes the JVM, so the caller unmaps only what no
 * thread can reach any more (see {@link Segment}). {@link Segment} holds the one instance, made
 * when it is loaded at the journal's start: a delete may run with file descriptors exhausted, when
 * a class can no longer be read from a classes directory.
 */
final class Unmapper {

  private static final Logger log = LoggerFactory.getLogger(Unmapper.class);
  private final MethodHandle invokeCleaner; // null: left to the GC

  private Unmapper(MethodHandle invokeCleaner) {
    this.invokeCleaner = invokeCleaner;
  }

  static Unmapper create() {
    return new Unmapper(invokeCleaner());
  }

  void unmap(MappedByteBuffer buffer) {
    if (invokeCleaner == null) {
      return;
    }
    try {
      invokeCleaner.invokeExact((ByteBuffer) buffer);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  private static MethodHandle invokeCleaner() {
    try {
      Class<?> unsafeClass = Class.forName("sun.misc.Unsafe");
      Field theUnsafe = unsafeClass.getDeclaredField("theUnsafe");
      theUnsafe.setAccessible(true);
      return MethodHandles.lookup()
          .findVirtual(unsafeClass, "invokeCleaner", MethodType.methodType(void.class, ByteBuffer.class))
          .bindTo(theUnsafe.get(null));
    } catch (ReflectiveOperationException | RuntimeException e) {
      log.warn("cannot unmap deleted journal segments at once ({}); the GC will", e.toString());
      return null;
    }
  }
}
