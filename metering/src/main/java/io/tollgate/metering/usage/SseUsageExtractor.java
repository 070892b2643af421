package io.tollgate.metering.usage;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;

/**
 * Usage of a Server-Sent Events stream, read event by event as the chunks pass.
 *
 * <p>Framing follows the SSE spec across arbitrary chunk boundaries: lines end in LF, CRLF or CR
 * (a CRLF split between two chunks is one line end), {@code data:} lines of one event are joined
 * with LF, comment ({@code :}) and other field lines are skipped without being copied, and a blank
 * line ends the event. An event the stream ends in without its blank line still counts when its
 * JSON is complete (Anthropic's SDK fixtures end that way); see {@link #reported()}.
 *
 * <p>Cost: only {@code data:} bytes are copied, into one reused per-stream buffer, and read by
 * one reused {@link JsonSkimmer}, which follows the JSON's structure without tokenizing it. While
 * completion text is collected every data event is skimmed; without text, only an event whose
 * bytes contain a usage property with an object value ({@code "usage":{}, not the
 * {@code "usage":null} of every OpenAI chunk). {@code [DONE]} is never read. Measured
 * (ExtractionBenchmark, 100-event chat stream, one event per buffer): with text collection 63 us
 * and 14 KB per stream (101 us and 88 KB with a Jackson parser per event), without text 20 us and
 * 3.8 KB.
 *
 * <p>Memory is bounded by {@link #MAX_BUFFERED_EVENT}: an event larger than that (a Responses
 * {@code response.completed} echoing a long output) is not dropped but skimmed from then on as
 * its bytes arrive, so its usage still counts and nothing more is held (its completion text too, up
 * to the text's bound), also when it is the stream's last event and lacks its blank line. The only
 * event whose usage counts is one whose JSON is complete and well-formed.
 *
 * <p>Not thread-safe; confined to the response's event loop.
 */
final class SseUsageExtractor extends AbstractUsageExtractor {

  /** Largest event held in memory; larger ones are parsed incrementally instead. */
  static final int MAX_BUFFERED_EVENT = 256 * 1024;

  private static final int INITIAL_EVENT_BYTES = 1024;
  private static final byte[] DONE = {'[', 'D', 'O', 'N', 'E', ']'};
  private static final byte[] LF = {'\n'};

  // Where in a line the reader is.
  private static final int LINE_START = 0;
  private static final int FIELD = 1;
  private static final int VALUE_START = 2;
  private static final int DATA = 3;
  private static final int SKIP = 4;

  private final JsonSkimmer reader;
  private final byte[][] usageMarkers;

  private int lineState = LINE_START;
  private final byte[] field = new byte[5];
  private int fieldLength; // -1 once the name is too long to be "data"
  private boolean afterCr;

  private byte[] event = new byte[INITIAL_EVENT_BYTES];
  private int eventLength;
  private boolean eventHasData;
  private boolean spilling;
  private int spillTextMark;

  SseUsageExtractor(UsageShape shape, UsageAccumulator accumulator, CompletionText text) {
    super(accumulator, text);
    this.reader = new JsonSkimmer(shape, text);
    this.usageMarkers = shape.usageMarkers();
  }

  @Override
  void read(byte[] bytes, int offset, int length) {
    int i = offset;
    int end = offset + length;
    while (i < end) {
      if (afterCr) {
        afterCr = false;
        if (bytes[i] == '\n') {
          i++;
          continue; // the LF of a CRLF
        }
      }
      switch (lineState) {
        case LINE_START, FIELD -> {
          byte c = bytes[i++];
          if (c == '\n' || c == '\r') {
            endLine();
            afterCr = c == '\r';
          } else if (c == ':') {
            if (isDataField()) {
              startDataLine();
              lineState = VALUE_START;
            } else {
              lineState = SKIP;
            }
          } else {
            if (fieldLength >= 0 && fieldLength < field.length) {
              field[fieldLength++] = c;
            } else {
              fieldLength = -1;
            }
            lineState = FIELD;
          }
        }
        case VALUE_START -> {
          if (bytes[i] == ' ') {
            i++;
          }
          lineState = DATA;
        }
        default -> { // DATA or SKIP: run to the end of the line
          int eol = i;
          while (eol < end && bytes[eol] != '\n' && bytes[eol] != '\r') {
            eol++;
          }
          if (lineState == DATA) {
            appendData(bytes, i, eol - i);
          }
          if (eol == end) {
            i = end;
          } else {
            afterCr = bytes[eol] == '\r';
            endLine();
            i = eol + 1;
          }
        }
      }
    }
  }

  private boolean isDataField() {
    return fieldLength == 4
        && field[0] == 'd'
        && field[1] == 'a'
        && field[2] == 't'
        && field[3] == 'a';
  }

  private void startDataLine() {
    if (eventHasData) {
      appendData(LF, 0, 1);
    }
    eventHasData = true;
  }

  private void endLine() {
    if (lineState == LINE_START) {
      dispatch();
    } else if (lineState == FIELD && isDataField()) {
      startDataLine(); // "data" without a colon: an empty data line
    }
    lineState = LINE_START;
    fieldLength = 0;
  }

  private void appendData(byte[] bytes, int offset, int length) {
    if (length == 0) {
      return;
    }
    if (spilling) {
      reader.feed(bytes, offset, length);
      return;
    }
    int needed = eventLength + length;
    if (needed > MAX_BUFFERED_EVENT) {
      spilling = true;
      spillTextMark = text.mark();
      reader.reset();
      reader.feed(event, 0, eventLength);
      reader.feed(bytes, offset, length);
      eventLength = 0;
      return;
    }
    if (needed > event.length) {
      event = Arrays.copyOf(event, Math.min(MAX_BUFFERED_EVENT, Math.max(needed, event.length * 2)));
    }
    System.arraycopy(bytes, offset, event, eventLength, length);
    eventLength = needed;
  }

  private void dispatch() {
    if (spilling) {
      if (reader.complete()) {
        apply(accumulator);
      } else {
        text.rollback(spillTextMark);
      }
    } else if (eventHasData && !isDone() && worthReading()) {
      int mark = text.mark();
      if (reader.readWhole(event, 0, eventLength)) {
        apply(accumulator);
      } else {
        text.rollback(mark);
      }
    }
    eventLength = 0;
    eventHasData = false;
    spilling = false;
    if (event.length > 16 * INITIAL_EVENT_BYTES) {
      event = new byte[INITIAL_EVENT_BYTES]; // one huge event must not pin its buffer for the stream
    }
  }

  private void apply(UsageAccumulator target) {
    for (JsonNode usage : reader.usages()) {
      target.apply(usage);
    }
  }

  private boolean isDone() {
    return eventLength == DONE.length && Arrays.equals(event, 0, eventLength, DONE, 0, DONE.length);
  }

  /**
   * While completion text is collected every event is read: skimming one costs about what looking
   * for the text and usage markers in it did. Without text, only an event with a usage object.
   */
  private boolean worthReading() {
    return text.enabled() || hasUsageMarker();
  }

  /**
   * Whether a usage property with an object value ({@code "usage":{}) occurs. OpenAI streams with
   * {@code include_usage} carry {@code "usage":null} in every chunk; those need no parse.
   */
  private boolean hasUsageMarker() {
    for (byte[] marker : usageMarkers) {
      for (int at = indexOf(marker, 0); at >= 0; at = indexOf(marker, at + 1)) {
        int i = skipSpace(at + marker.length);
        if (i < eventLength && event[i] == ':') {
          i = skipSpace(i + 1);
          if (i < eventLength && event[i] == '{') {
            return true;
          }
        }
      }
    }
    return false;
  }

  private int skipSpace(int from) {
    int i = from;
    while (i < eventLength && (event[i] == ' ' || event[i] == '\t' || event[i] == '\n' || event[i] == '\r')) {
      i++;
    }
    return i;
  }

  /** Where {@code marker} (two bytes or more) occurs in the event from {@code from} on, or -1. */
  private int indexOf(byte[] marker, int from) {
    // Anchored on the marker's second byte: its first is a quote, the commonest byte in JSON.
    byte second = marker[1];
    int last = eventLength - marker.length;
    outer:
    for (int i = from; i <= last; i++) {
      if (event[i + 1] != second || event[i] != marker[0]) {
        continue;
      }
      for (int k = 2; k < marker.length; k++) {
        if (event[i + k] != marker[k]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  /**
   * The committed usage, plus the stream's last event if it lacks only its closing blank line and
   * its JSON is complete. Evaluated on a copy, so feeding may go on afterwards.
   */
  @Override
  public TokenUsage reported() {
    if (spilling) { // a large last event, already skimmed as it came: count it if its JSON is whole
      if (!reader.complete()) {
        return accumulator.usage();
      }
      UsageAccumulator tentative = accumulator.copy();
      apply(tentative);
      return tentative.usage();
    }
    if (!eventHasData || isDone() || !hasUsageMarker()) {
      return accumulator.usage();
    }
    int mark = text.mark();
    try {
      if (!reader.readWhole(event, 0, eventLength)) {
        return accumulator.usage();
      }
      UsageAccumulator tentative = accumulator.copy();
      apply(tentative);
      return tentative.usage();
    } finally {
      text.rollback(mark);
    }
  }
}
