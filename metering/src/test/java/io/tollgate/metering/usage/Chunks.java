package io.tollgate.metering.usage;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.SortedSet;
import java.util.TreeSet;

/** Splits a body into the chunks a socket might deliver, and feeds them. */
final class Chunks {

  private Chunks() {}

  /** Cuts {@code bytes} at the given offsets (out-of-range ones ignored). */
  static List<byte[]> split(byte[] bytes, Iterable<Integer> cuts) {
    SortedSet<Integer> at = new TreeSet<>();
    for (int cut : cuts) {
      if (cut > 0 && cut < bytes.length) {
        at.add(cut);
      }
    }
    List<byte[]> chunks = new ArrayList<>();
    int from = 0;
    for (int cut : at) {
      chunks.add(java.util.Arrays.copyOfRange(bytes, from, cut));
      from = cut;
    }
    chunks.add(java.util.Arrays.copyOfRange(bytes, from, bytes.length));
    return chunks;
  }

  static List<byte[]> random(byte[] bytes, long seed, int maxChunk) {
    Random random = new Random(seed);
    List<Integer> cuts = new ArrayList<>();
    for (int at = 0; at < bytes.length; ) {
      at += 1 + random.nextInt(maxChunk);
      cuts.add(at);
    }
    return split(bytes, cuts);
  }

  static List<byte[]> ofSize(byte[] bytes, int size) {
    List<Integer> cuts = new ArrayList<>();
    for (int at = size; at < bytes.length; at += size) {
      cuts.add(at);
    }
    return split(bytes, cuts);
  }

  /** Cuts at every byte that continues a multi-byte UTF-8 sequence, i.e. inside characters. */
  static List<byte[]> insideUtf8Characters(byte[] bytes) {
    List<Integer> cuts = new ArrayList<>();
    for (int i = 0; i < bytes.length; i++) {
      if ((bytes[i] & 0xC0) == 0x80) {
        cuts.add(i);
      }
    }
    return split(bytes, cuts);
  }

  /**
   * Feeds the chunks, each in a buffer with readable bytes in the middle of its array (or a
   * direct buffer), and checks the extractor leaves indices and reference counts alone.
   */
  static UsageExtractor feed(UsageExtractor extractor, List<byte[]> chunks, boolean direct) {
    for (byte[] chunk : chunks) {
      ByteBuf buf = direct ? Unpooled.directBuffer(chunk.length + 6) : Unpooled.buffer(chunk.length + 6);
      buf.writeBytes(new byte[] {'x', 'x', 'x'}).writeBytes(chunk).writeBytes(new byte[] {'y', 'y', 'y'});
      buf.readerIndex(3).writerIndex(3 + chunk.length);
      extractor.feed(buf);
      if (buf.readerIndex() != 3 || buf.writerIndex() != 3 + chunk.length || buf.refCnt() != 1) {
        throw new AssertionError("feed moved indices or changed the reference count of a chunk");
      }
      buf.release();
    }
    return extractor;
  }
}
