package io.tollgate.gateway.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.util.AsciiString;
import io.netty.util.concurrent.FastThreadLocal;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * One event loop's scratch space and string caches for {@link HeadParser}: a head is copied once
 * into {@link #bytes}, and its field names, values and request target become strings through
 * caches keyed by their exact bytes, so the names and values a connection sends on every call (the
 * key, the host, the content type, the SDK's own fields; an upstream's server and content type)
 * are the same string objects call after call instead of two new objects each. {@link
 * RequestBodyScanner} reads a body's model the same way.
 *
 * <p>Each cache is direct-mapped: a string's bytes pick one slot, a hit needs every byte equal, and
 * a miss makes the string (no more than Netty's decoder makes for it) and takes the slot. So a head that differs from the one before in a
 * single byte gets a string of its own, the caches hold at most {@value #NAME_SLOTS} names and
 * {@value #VALUE_SLOTS} values of at most {@value #LONGEST_CACHED} bytes each (about 200 KB per
 * loop at worst), and whatever a peer sends can cost it misses, never a wrong string. Values held
 * here (an API key among them) are the ones the loop's calls carried; they live as long as the
 * loop or until another value takes their slot.
 *
 * <p>Confined to one thread: {@link #forThisThread()} gives each thread its own.
 */
final class HeadStrings {

  /** The most bytes of a head {@link HeadParser} reads; a longer head is Netty's to decode. */
  static final int HEAD_BYTES = 8192;
  static final int NAME_SLOTS = 256;
  static final int VALUE_SLOTS = 512;
  static final int LONGEST_CACHED = 256;

  private static final FastThreadLocal<HeadStrings> LOOP = new FastThreadLocal<>() {
    @Override
    protected HeadStrings initialValue() {
      return new HeadStrings();
    }
  };

  static HeadStrings forThisThread() {
    return LOOP.get();
  }

  /** Where a head is copied to be read. */
  final byte[] bytes = new byte[HEAD_BYTES];
  /** Per field: name start, name end, value start, value end, in {@link #bytes}. */
  final int[] marks = new int[HEAD_BYTES]; // a field takes at least 4 bytes ("a:\r\n")

  private final AsciiString[] names = new AsciiString[NAME_SLOTS];
  private final String[] values = new String[VALUE_SLOTS];

  /** The name in {@code b[from, to)} with its case as sent. */
  AsciiString name(byte[] b, int from, int to) {
    int length = to - from;
    if (length > LONGEST_CACHED) {
      return new AsciiString(b, from, length, true);
    }
    int slot = hash(b, from, to) & (NAME_SLOTS - 1);
    AsciiString cached = names[slot];
    if (cached != null && cached.length() == length
        && Arrays.equals(cached.array(), cached.arrayOffset(), cached.arrayOffset() + length, b, from, to)) {
      return cached;
    }
    AsciiString made = new AsciiString(b, from, length, true);
    names[slot] = made;
    return made;
  }

  /** The ASCII text in {@code b[from, to)} as a string. */
  String value(byte[] b, int from, int to) {
    int length = to - from;
    if (length == 0) {
      return "";
    }
    if (length > LONGEST_CACHED) {
      return new String(b, from, length, StandardCharsets.ISO_8859_1);
    }
    int slot = hash(b, from, to) & (VALUE_SLOTS - 1);
    String cached = values[slot];
    if (cached != null && cached.length() == length && sameText(cached, b, from)) {
      return cached;
    }
    String made = new String(b, from, length, StandardCharsets.ISO_8859_1);
    values[slot] = made;
    return made;
  }

  private static boolean sameText(String s, byte[] b, int from) {
    for (int i = 0, n = s.length(); i < n; i++) {
      if (s.charAt(i) != (b[from + i] & 0xff)) {
        return false;
      }
    }
    return true;
  }

  /** The ASCII text in {@code length} bytes of {@code buf} at {@code index}, as a string. */
  String value(ByteBuf buf, int index, int length) {
    if (length > LONGEST_CACHED) {
      return buf.toString(index, length, StandardCharsets.ISO_8859_1);
    }
    buf.getBytes(index, text, 0, length);
    return value(text, 0, length);
  }

  private final byte[] text = new byte[LONGEST_CACHED];

  /** {@code n}, at least 0, in decimal: the same string while the same number recurs. */
  String decimal(long n) {
    byte[] b = text;
    int at = 20;
    do {
      b[--at] = (byte) ('0' + n % 10);
      n /= 10;
    } while (n > 0);
    return value(b, at, 20);
  }

  private static int hash(byte[] b, int from, int to) {
    int h = to - from;
    for (int i = from; i < to; i++) {
      h = 31 * h + b[i];
    }
    return h ^ (h >>> 16);
  }
}
