package io.tollgate.metering.usage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.util.ByteProcessor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;

/**
 * Removes, from an OpenAI chat/completions stream, the usage chunk the gateway asked for on the
 * buyer's behalf ({@link StreamUsage#includeUsage}): the one event whose JSON has {@code
 * "choices":[]} and a non-null {@code usage}. Every other byte reaches the buyer unchanged and in
 * order. Run the {@link UsageExtractor} over each chunk <em>before</em> filtering it, so the usage
 * is still counted.
 *
 * <p>Ownership: {@link #filter} takes over its argument and returns what to write to the buyer,
 * which the caller then owns. In the common case, a chunk made of whole events none of which is
 * the usage chunk, that is the argument itself, untouched, and nothing is allocated. Only a chunk
 * that contains the usage event, or ends inside an event that might be it, costs a copy: an event
 * split across chunks is held back while it could still be the usage chunk and let go as soon as
 * its bytes show a non-empty {@code choices} (as every content chunk does early on). At most
 * {@link #MAX_HELD_BYTES} are held; an event that grows past that is let through unfiltered, as
 * the stream must not stall or grow memory for a chunk that is never that big.
 *
 * <p>Not thread-safe; confined to the response's event loop. Call {@link #finish} once when the
 * upstream stream ends (or is abandoned) and write or release what it returns.
 */
public final class SseUsageChunkFilter {

  /** Largest event held back while deciding; a usage chunk is well under 1 KiB. */
  static final int MAX_HELD_BYTES = 64 * 1024;

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final byte[] USAGE = {'"', 'u', 's', 'a', 'g', 'e', '"'};
  private static final byte[] CHOICES = {'"', 'c', 'h', 'o', 'i', 'c', 'e', 's', '"'};
  private static final char NONE = 0;

  // Event-boundary scanner state, carried across chunks.
  private boolean lineHasContent;
  private boolean afterCr;
  /** A blank line ended in CR at the end of the previous chunk: the event ends there or after LF. */
  private boolean endPendingAfterCr;

  /** The current event is not the usage chunk: its bytes go straight through. */
  private boolean passing;
  /** Bytes of the current event held back while it may still be the usage chunk. */
  private ByteBuf held;

  // Output of the filter() call in progress.
  private ByteBuf in;
  private ByteBuf out;
  private int passedTo;

  public SseUsageChunkFilter() {}

  /**
   * Filters the next chunk of the upstream stream.
   *
   * @param chunk the upstream's bytes; ownership passes to the filter
   * @return the bytes to write to the buyer, owned by the caller; {@code chunk} itself when
   *     nothing had to change (possibly empty: write or release it)
   */
  public ByteBuf filter(ByteBuf chunk) {
    if (!chunk.isReadable()) {
      return chunk;
    }
    in = chunk;
    out = null;
    int end = chunk.writerIndex();
    int eventStart = chunk.readerIndex();
    passedTo = eventStart;
    while (eventStart < end) {
      int eventEnd = findEventEnd(chunk, eventStart, end);
      if (eventEnd < 0) {
        partialEvent(eventStart, end);
        break;
      }
      completeEvent(eventStart, eventEnd);
      eventStart = eventEnd;
    }
    in = null;
    if (out == null) {
      return chunk; // fast path: every byte passed through
    }
    ByteBuf result = out;
    out = null;
    chunk.release();
    return result;
  }

  /**
   * Ends the stream: returns the bytes still held back (none if the last event was the usage
   * chunk, or an empty buffer), which the caller owns.
   */
  public ByteBuf finish() {
    ByteBuf last = held;
    held = null;
    passing = false;
    endPendingAfterCr = false;
    if (last == null) {
      return Unpooled.EMPTY_BUFFER;
    }
    if (isUsageChunk(ByteBufUtil.getBytes(last))) {
      last.release();
      return Unpooled.EMPTY_BUFFER;
    }
    return last;
  }

  private void completeEvent(int from, int to) {
    if (passing) {
      forward(from, to);
    } else if (held != null) {
      held.writeBytes(in, from, to - from);
      take();
      if (isUsageChunk(ByteBufUtil.getBytes(held))) {
        held.release();
      } else {
        out.writeBytes(held);
        held.release();
      }
      held = null;
    } else if (mayBeUsageChunk(in, from, to)
        && isUsageChunk(ByteBufUtil.getBytes(in, from, to - from))) {
      take(); // cut: these bytes are never forwarded
    } else {
      forward(from, to);
    }
    passing = false;
  }

  private void partialEvent(int from, int to) {
    if (passing) {
      forward(from, to);
      return;
    }
    take();
    if (held == null) {
      held = in.alloc().buffer(Math.max(256, to - from));
    }
    held.writeBytes(in, from, to - from);
    if (held.readableBytes() > MAX_HELD_BYTES || hasNonEmptyChoices(held)) {
      out.writeBytes(held);
      held.release();
      held = null;
      passing = true;
    }
  }

  private void forward(int from, int to) {
    if (out == null) {
      if (from == passedTo) {
        passedTo = to; // still one untouched run of the input
        return;
      }
      throw new AssertionError("bytes skipped without take()");
    }
    out.writeBytes(in, from, to - from);
  }

  /** Switches from passing the input through to building a new output buffer. */
  private void take() {
    if (out == null) {
      out = in.alloc().buffer(in.readableBytes());
      out.writeBytes(in, in.readerIndex(), passedTo - in.readerIndex());
    }
  }

  /**
   * The index just past the blank line that ends the event starting at or before {@code from}, or
   * -1 if the chunk ends first. Lines end in LF, CRLF or CR.
   */
  private int findEventEnd(ByteBuf buf, int from, int to) {
    int i = from;
    if (endPendingAfterCr) {
      endPendingAfterCr = false;
      afterCr = false;
      return buf.getByte(i) == '\n' ? i + 1 : i;
    }
    for (; i < to; i++) {
      if (lineHasContent && !afterCr) { // inside a line: jump to its end
        i = buf.forEachByte(i, to - i, ByteProcessor.FIND_CRLF);
        if (i < 0) {
          return -1;
        }
      }
      byte c = buf.getByte(i);
      if (afterCr) {
        afterCr = false;
        if (c == '\n') {
          continue;
        }
      }
      if (c == '\n' || c == '\r') {
        if (!lineHasContent) { // a blank line: the event ends here
          if (c == '\n') {
            return i + 1;
          }
          if (i + 1 < to) {
            return buf.getByte(i + 1) == '\n' ? i + 2 : i + 1;
          }
          endPendingAfterCr = true; // decided by the next chunk's first byte
          return -1;
        }
        lineHasContent = false;
        afterCr = c == '\r';
      } else {
        lineHasContent = true;
      }
    }
    return -1;
  }

  /** Cheap byte-level test: {@code "choices"} followed by {@code []} and {@code "usage"} by {@code {}. */
  private static boolean mayBeUsageChunk(ByteBuf buf, int from, int to) {
    return valueStartsWith(buf, from, to, USAGE, '{', NONE)
        && valueStartsWith(buf, from, to, CHOICES, '[', ']');
  }

  private static boolean hasNonEmptyChoices(ByteBuf held) {
    int from = held.readerIndex();
    int to = held.writerIndex();
    int at = valueAt(held, from, to, CHOICES);
    if (at < 0 || at >= to || held.getByte(at) != '[') {
      return false;
    }
    int next = skipSpace(held, at + 1, to);
    return next < to && held.getByte(next) != ']';
  }

  private static boolean valueStartsWith(
      ByteBuf buf, int from, int to, byte[] key, char open, char close) {
    for (int at = from; at < to; ) {
      int value = valueAt(buf, at, to, key);
      if (value < 0) {
        return false;
      }
      if (value < to && buf.getByte(value) == open) {
        if (close == NONE) {
          return true;
        }
        int next = skipSpace(buf, value + 1, to);
        if (next < to && buf.getByte(next) == close) {
          return true;
        }
      }
      at = value;
    }
    return false;
  }

  /** Index of the first byte of the value after {@code key}, spaces and a colon; -1 if no key. */
  private static int valueAt(ByteBuf buf, int from, int to, byte[] key) {
    int found = indexOf(buf, from, to, key);
    if (found < 0) {
      return -1;
    }
    int i = skipSpace(buf, found + key.length, to);
    if (i >= to || buf.getByte(i) != ':') {
      return i >= to ? to : valueAt(buf, i, to, key);
    }
    return skipSpace(buf, i + 1, to);
  }

  private static int skipSpace(ByteBuf buf, int from, int to) {
    int i = from;
    while (i < to) {
      byte c = buf.getByte(i);
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        break;
      }
      i++;
    }
    return i;
  }

  /**
   * Where {@code key} (two bytes or more) occurs in {@code [from, to)}, or -1. Candidates are
   * found with {@link ByteBuf#indexOf}, which searches a word at a time, for the key's second byte:
   * its first is a quote, the commonest byte in JSON.
   */
  private static int indexOf(ByteBuf buf, int from, int to, byte[] key) {
    int last = to - key.length;
    int i = from;
    while (i <= last) {
      int second = buf.indexOf(i + 1, last + 2, key[1]);
      if (second < 0) {
        return -1;
      }
      int start = second - 1;
      if (matches(buf, start, key)) {
        return start;
      }
      i = start + 1;
    }
    return -1;
  }

  private static boolean matches(ByteBuf buf, int at, byte[] key) {
    for (int k = 0; k < key.length; k++) {
      if (buf.getByte(at + k) != key[k]) {
        return false;
      }
    }
    return true;
  }

  /**
   * Whether {@code event} (raw SSE bytes) is the injected usage chunk: its data is a JSON object
   * with an empty {@code choices} array and an object {@code usage}.
   */
  static boolean isUsageChunk(byte[] event) {
    ByteArrayOutputStream data = new ByteArrayOutputStream(event.length);
    boolean hasData = false;
    int i = 0;
    while (i < event.length) {
      int eol = i;
      while (eol < event.length && event[eol] != '\n' && event[eol] != '\r') {
        eol++;
      }
      if (eol - i >= 5 && event[i] == 'd' && event[i + 1] == 'a' && event[i + 2] == 't'
          && event[i + 3] == 'a' && event[i + 4] == ':') {
        int value = i + 5 < eol && event[i + 5] == ' ' ? i + 6 : i + 5;
        if (hasData) {
          data.write('\n');
        }
        data.write(event, value, eol - value);
        hasData = true;
      }
      i = eol < event.length && event[eol] == '\r' && eol + 1 < event.length && event[eol + 1] == '\n'
          ? eol + 2
          : eol + 1;
    }
    if (!hasData) {
      return false;
    }
    try {
      JsonNode json = MAPPER.readTree(data.toByteArray());
      JsonNode choices = json == null ? null : json.get("choices");
      JsonNode usage = json == null ? null : json.get("usage");
      return choices != null && choices.isArray() && choices.isEmpty()
          && usage != null && usage.isObject();
    } catch (IOException e) {
      return false;
    }
  }
}
