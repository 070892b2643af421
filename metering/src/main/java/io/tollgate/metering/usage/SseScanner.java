package io.tollgate.metering.usage;

/**
 * The events of a Server-Sent Events stream, found in one pass over its bytes: the data of each
 * event goes to a {@link JsonSkimmer} as it passes, and when the event ends its usage counts (if
 * its JSON is complete) or its text is taken back (if not).
 *
 * <p>Framing follows the SSE spec across arbitrary chunk boundaries: lines end in LF, CRLF or CR
 * (a CRLF split between two chunks is one line end), {@code data:} lines of one event are joined
 * with LF, comment ({@code :}) and other field lines are skipped, and a blank line ends the event.
 * An event the stream ends in without its blank line still counts when its JSON is complete
 * (Anthropic's SDK fixtures end that way); see {@link #reported}.
 *
 * <p>Nothing is copied or buffered: the skimmer reads each data line where it lies in the chunk,
 * whatever the size of the event, so memory does not grow with it. {@link #scan} stops after each
 * event's end, so that a caller forwarding the chunk knows where the event was; positions are
 * given in the caller's coordinates ({@code base} plus the array index).
 *
 * <p>Not thread-safe; confined to the response's event loop.
 */
final class SseScanner {

  // Where in a line the reader is.
  private static final int LINE_START = 0;
  private static final int FIELD = 1;
  private static final int VALUE_START = 2;
  private static final int DATA = 3;
  private static final int SKIP = 4;

  private final JsonSkimmer json;
  private final CompletionText text;
  private UsageAccumulator accumulator;

  private int lineState;
  private final byte[] field = new byte[4];
  private int fieldLength; // -1 once the name cannot be "data"
  private boolean afterCr;

  /** The data line about to be read is the event's first, found whole at the start of a line. */
  private boolean firstDataLine;
  private boolean eventOpen;
  private int eventStart;
  private boolean eventHasData;
  private int textMark;

  // What the last scan() saw.
  private boolean ended;
  private boolean endedUsageChunk;
  private boolean crEndedEvent;
  private int lfOfEndedEvent = -1;

  SseScanner(JsonSkimmer json, CompletionText text) {
    this.json = json;
    this.text = text;
  }

  /** Readies the scanner for a stream whose usage goes to {@code accumulator}. */
  void start(UsageAccumulator accumulator) {
    this.accumulator = accumulator;
    lineState = LINE_START;
    fieldLength = 0;
    afterCr = false;
    eventOpen = false;
    eventHasData = false;
    firstDataLine = false;
    ended = false;
    endedUsageChunk = false;
    crEndedEvent = false;
    lfOfEndedEvent = -1;
    json.reset();
  }

  /**
   * Reads {@code [i, end)} until an event ends ({@link #ended()}, the return value is then the
   * index just past its blank line) or the bytes do ({@code end}).
   */
  int scan(byte[] b, int i, int end, int base) {
    ended = false;
    lfOfEndedEvent = -1;
    while (i < end) {
      if (afterCr) {
        afterCr = false;
        if (b[i] == '\n') { // the LF of a CRLF
          if (crEndedEvent) {
            lfOfEndedEvent = base + i; // the blank line's CR ended the previous piece
          }
          crEndedEvent = false;
          i++;
          continue;
        }
      }
      crEndedEvent = false;
      switch (lineState) {
        case LINE_START, FIELD -> {
          if (!eventOpen) {
            eventOpen = true;
            eventStart = base + i;
            textMark = text.mark();
          }
          if (lineState == LINE_START && isDataPrefix(b, i, end)) { // the common line, in one step
            firstDataLine = !eventHasData;
            startDataLine();
            i += b[i + 5] == ' ' ? 6 : 5;
            lineState = DATA;
            continue;
          }
          byte c = b[i++];
          if (c == '\n' || c == '\r') {
            afterCr = c == '\r';
            if (lineState == LINE_START) {
              dispatch();
              if (afterCr && i < end && b[i] == '\n') {
                afterCr = false;
                i++; // the event's CRLF, whole in this piece
              }
              crEndedEvent = afterCr;
              return i;
            }
            endLine();
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
          if (b[i] == ' ') {
            i++;
          }
          lineState = DATA;
        }
        case DATA -> {
          if (firstDataLine) {
            firstDataLine = false;
            i = json.feedEventStart(b, i, end);
          } else {
            i = json.feed(b, i, end, /* lineMode= */ true);
          }
          if (i < end) {
            byte c = b[i];
            if (c == '\n' || c == '\r') {
              afterCr = c == '\r';
              endLine();
              i++;
            } else {
              lineState = SKIP; // the JSON has ended (or cannot be read): the rest is not read
            }
          }
        }
        default -> { // SKIP: run to the end of the line
          int eol = i;
          while (eol < end && b[eol] != '\n' && b[eol] != '\r') {
            eol++;
          }
          if (eol == end) {
            i = end;
          } else {
            afterCr = b[eol] == '\r';
            endLine();
            i = eol + 1;
          }
        }
      }
    }
    return end;
  }

  /** Whether {@code "data:"} and one more byte are at {@code i}. */
  private static boolean isDataPrefix(byte[] b, int i, int end) {
    return i + 5 < end && b[i] == 'd' && b[i + 1] == 'a' && b[i + 2] == 't' && b[i + 3] == 'a' && b[i + 4] == ':';
  }

  private boolean isDataField() {
    return fieldLength == 4 && field[0] == 'd' && field[1] == 'a' && field[2] == 't' && field[3] == 'a';
  }

  private void startDataLine() {
    if (eventHasData) {
      json.lineBreak();
    }
    eventHasData = true;
  }

  /** A line that was not blank ends. */
  private void endLine() {
    if (lineState == FIELD && isDataField()) {
      startDataLine(); // "data" without a colon: an empty data line
    }
    lineState = LINE_START;
    fieldLength = 0;
  }

  private void dispatch() {
    ended = true;
    endedUsageChunk = false;
    if (eventHasData) {
      if (json.complete()) {
        apply(accumulator);
        endedUsageChunk = json.usageChunk();
      } else {
        text.rollback(textMark);
      }
    }
    eventOpen = false;
    eventHasData = false;
    firstDataLine = false;
    lineState = LINE_START;
    fieldLength = 0;
    json.reset();
  }

  private void apply(UsageAccumulator target) {
    for (int k = 0; k < json.reportCount(); k++) {
      target.apply(json.report(k));
    }
  }

  /** Whether the last {@link #scan} stopped at an event's end. */
  boolean ended() {
    return ended;
  }

  /** Whether the event that ended was the usage chunk ({@link JsonSkimmer#usageChunk()}). */
  boolean endedUsageChunk() {
    return endedUsageChunk;
  }

  /**
   * Where the last {@link #scan} passed over the LF of a CRLF whose CR ended the previous piece's
   * last event: that byte belongs to the event. -1 if it did not.
   */
  int lfOfEndedEvent() {
    return lfOfEndedEvent;
  }

  /** Whether an event has begun and not ended. */
  boolean eventOpen() {
    return eventOpen;
  }

  /** Where the open event began, in the coordinates of the {@code scan} that began it. */
  int eventStart() {
    return eventStart;
  }

  /** Whether the open event is the usage chunk if the stream ends here. */
  boolean openEventIsUsageChunk() {
    return eventOpen && eventHasData && json.usageChunk();
  }

  /** Whether the bytes of the open event already show it is not the usage chunk. */
  boolean openEventCannotBeUsageChunk() {
    return eventHasData && json.cannotBeUsageChunk();
  }

  /**
   * The committed usage, plus the stream's last event if it lacks only its closing blank line and
   * its JSON is complete. Evaluated on a copy, so scanning may go on afterwards.
   */
  TokenUsage reported() {
    if (!eventHasData || !json.complete() || json.reportCount() == 0) {
      return accumulator.usage();
    }
    UsageAccumulator tentative = accumulator.copy();
    apply(tentative);
    return tentative.usage();
  }
}
