package io.tollgate.metering.usage;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.concurrent.FastThreadLocal;

/**
 * Reads a response's usage in one pass over its bytes, and, for a stream whose usage tollgate
 * asked for on the buyer's behalf, hides the usage chunk in the same pass. Reusable: one reader
 * per event loop (or connection) can serve call after call, and then a call allocates nothing.
 *
 * <pre>{@code
 * UsageReader usage = new UsageReader();                       // once, then per call:
 * usage.start(Dialect.OPENAI, stream, options, hideUsageChunk);
 * ByteBuf out = usage.forward(chunk);  // for each chunk: takes it, returns what the buyer gets
 * ByteBuf tail = usage.finish();       // at the end of the answer: write it too (usually empty)
 * TokenUsage reported = usage.reported(); // null: estimate from usage.completionText()
 * }</pre>
 *
 * <p>{@link #forward} hands back the chunk itself whenever the buyer receives it unchanged, which
 * is every chunk but the one holding the hidden usage chunk: the upstream's bytes go out as they
 * came, not decoded and re-encoded. The hidden event is cut out with {@link ByteBuf#retainedSlice}
 * (no copy). An event split across chunks is held back (as slices) only while it could still be
 * the usage chunk, and let go as soon as its bytes show it is not: a non-empty {@code choices},
 * which content chunks show in their first 200 bytes. At most {@link #MAX_HELD_BYTES} are held;
 * an event that grows past that is let through, as the stream must not stall for a chunk that is
 * never that big. {@link #feed} reads without forwarding, for a caller that writes the chunk
 * itself.
 *
 * <p>Cost, measured with the stream of the benchmarks' SsePassBenchmark (1,003 recorded OpenAI
 * chat events, pooled direct buffers; JMH on a shared 2-core machine, so ±30%): the extractor and
 * then the filter it replaces read 0.19 GB/s and left 110 KB of garbage per stream; this reader,
 * reused, reads 1.4 GB per CPU second with a buffer per event and 1.3 with 16 KiB buffers (0.7
 * both before {@link JsonSkimmer} resumed events after their text too), and allocates
 * 48 bytes per stream (its {@link TokenUsage}). A reader made per call adds about 21 KB, mostly
 * its completion text growing: keep one and {@link #start} it. An event held back costs a slice
 * (recycled on an event loop) and, when let go, a composite buffer joining it to the next chunk,
 * about 250 bytes: once per read that cuts an event before its {@code choices}.
 *
 * <p>Not thread-safe: one call at a time, on the response's event loop, and, once the response
 * has ended, on the worker that estimates its tokens. {@link #start} a reader again only once
 * nothing reads the previous call's {@link #reported()} or {@link #completionText()}.
 */
public final class UsageReader implements UsageExtractor {

  /** Largest event held back while deciding whether it is the usage chunk; that one is under 1 KiB. */
  static final int MAX_HELD_BYTES = 64 * 1024;

  private static final int SCRATCH_BYTES = 8192;
  /** A direct buffer's bytes are read through this; done with when a read returns. */
  private static final FastThreadLocal<byte[]> SCRATCH = new FastThreadLocal<>() {
    @Override
    protected byte[] initialValue() {
      return new byte[SCRATCH_BYTES];
    }
  };

  private final CompletionText text = new CompletionText(0);
  private final JsonSkimmer json = new JsonSkimmer(text);
  private final SseScanner sse = new SseScanner(json, text);
  private UsageAccumulator.LastReported lastReported;
  private UsageAccumulator.Cumulative cumulative;
  private UsageAccumulator accumulator;
  /** {@link #SCRATCH} of {@link #scratchThread}, looked up once per thread rather than per chunk. */
  private byte[] scratch;
  private Thread scratchThread;
  private boolean stream;
  private boolean hideUsageChunk;
  private boolean fed;
  /** A JSON body: its value is complete and its usage applied. */
  private boolean bodyRead;

  // Across forward() calls: the open event's held bytes, or that it is being let through.
  private ByteBuf held;
  private boolean passing;
  private boolean droppedLast;

  // Within a forward() call.
  private ByteBuf in;
  private ByteBuf out;
  private int chunkStart;
  private int runStart;
  private boolean eventCarried;

  /** A reader to {@link #start}. */
  public UsageReader() {}

  /** Readies the reader for the next response, without hiding anything. */
  public UsageReader start(Dialect dialect, boolean stream, ExtractorOptions options) {
    return start(dialect, stream, options, /* hideUsageChunk= */ false);
  }

  /**
   * Readies the reader for the next response, forgetting the last one.
   *
   * @param stream whether the response is an SSE stream ({@code text/event-stream}) rather than
   *     one JSON body
   * @param hideUsageChunk whether {@link #forward} removes the usage chunk tollgate asked for
   *     ({@link StreamUsage#includeUsage}); only for a stream
   */
  public UsageReader start(Dialect dialect, boolean stream, ExtractorOptions options, boolean hideUsageChunk) {
    if (hideUsageChunk && !stream) {
      throw new IllegalArgumentException("only a stream has a usage chunk to hide");
    }
    releaseHeld();
    UsageShape shape = UsageShape.of(dialect, stream, options.usagePointers());
    accumulator = accumulator(dialect, options.maxTokensPerField());
    text.clear(options.maxCompletionChars());
    json.start(shape.trie(text.enabled()), options.maxTokensPerField());
    sse.start(accumulator);
    this.stream = stream;
    this.hideUsageChunk = hideUsageChunk;
    fed = false;
    bodyRead = false;
    passing = false;
    droppedLast = false;
    return this;
  }

  private UsageAccumulator accumulator(Dialect dialect, long maxPerField) {
    UsageAccumulator a;
    if (dialect == Dialect.ANTHROPIC) {
      a = cumulative != null ? cumulative : (cumulative = new UsageAccumulator.Cumulative(maxPerField));
    } else {
      a = lastReported != null ? lastReported : (lastReported = new UsageAccumulator.LastReported(maxPerField));
    }
    a.reset(maxPerField);
    return a;
  }

  /**
   * Turns on hiding for a stream not yet fed: what {@link SseUsageChunkFilter#over} does for a
   * reader the gateway made through {@link UsageExtractors}. False if it cannot.
   */
  boolean hideUsageChunkFromNowOn() {
    if (!stream || fed) {
      return false;
    }
    hideUsageChunk = true;
    return true;
  }

  /** The filter that reads through this reader: one per reader, which is reused call after call. */
  SseUsageChunkFilter hidingFilter() {
    if (hidingFilter == null) {
      hidingFilter = new SseUsageChunkFilter(this, null);
    }
    return hidingFilter;
  }

  private SseUsageChunkFilter hidingFilter;

  @Override
  public void feed(ByteBuf chunk) {
    read(chunk, /* forwarding= */ false);
  }

  /**
   * Reads the chunk and returns what the buyer receives of it. Takes over {@code chunk}: the
   * result, owned by the caller, is {@code chunk} itself unless the reader hides the usage chunk
   * and this chunk held (part of) it or of an event that may be it; then it is what is left, maybe
   * with bytes held back from earlier chunks, maybe empty (write or release it).
   */
  public ByteBuf forward(ByteBuf chunk) {
    if (!hideUsageChunk || !chunk.isReadable()) {
      read(chunk, /* forwarding= */ false);
      return chunk;
    }
    in = chunk;
    out = null;
    chunkStart = chunk.readerIndex();
    runStart = chunkStart;
    eventCarried = sse.eventOpen();
    read(chunk, /* forwarding= */ true);
    int end = chunk.writerIndex();
    if (sse.eventOpen() && !passing) {
      int from = eventCarried ? chunkStart : sse.eventStart();
      int heldBytes = held == null ? 0 : held.readableBytes();
      if (sse.openEventCannotBeUsageChunk() || heldBytes + end - from > MAX_HELD_BYTES) {
        passing = true;
        emitHeld();
      } else {
        emit(runStart, from);
        ByteBuf slice = chunk.retainedSlice(from, end - from);
        held = held == null ? slice : join(held, slice);
        runStart = end;
      }
    }
    if (out == null && runStart == chunkStart) {
      in = null;
      return chunk; // the common case: every byte goes out as it came
    }
    emit(runStart, end);
    ByteBuf result = out != null ? out : Unpooled.EMPTY_BUFFER;
    in = null;
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
    if (last == null) {
      return Unpooled.EMPTY_BUFFER;
    }
    if (sse.openEventIsUsageChunk()) {
      last.release();
      return Unpooled.EMPTY_BUFFER;
    }
    return last;
  }

  private void releaseHeld() {
    if (held != null) {
      held.release();
      held = null;
    }
  }

  /** Hands the readable bytes to the stream or body reader as array ranges, without copying a heap buffer's. */
  private void read(ByteBuf chunk, boolean forwarding) {
    int index = chunk.readerIndex();
    int remaining = chunk.readableBytes();
    if (remaining == 0) {
      return;
    }
    fed = true;
    if (chunk.hasArray()) {
      int offset = chunk.arrayOffset();
      read(chunk.array(), offset + index, offset + index + remaining, -offset, forwarding);
      return;
    }
    byte[] scratch = scratch();
    while (remaining > 0) {
      int n = Math.min(remaining, scratch.length);
      chunk.getBytes(index, scratch, 0, n);
      read(scratch, 0, n, index, forwarding);
      index += n;
      remaining -= n;
    }
  }

  /** The calling thread's scratch bytes ({@code currentThread} is an intrinsic; the lookup is not). */
  private byte[] scratch() {
    Thread t = Thread.currentThread();
    if (t != scratchThread) {
      scratch = SCRATCH.get();
      scratchThread = t;
    }
    return scratch;
  }

  /** Reads {@code [i, end)} of {@code b}, whose index {@code k} is the chunk's {@code base + k}. */
  private void read(byte[] b, int i, int end, int base, boolean forwarding) {
    if (!stream) {
      if (!bodyRead && !json.failed()) {
        json.feed(b, i, end, /* lineMode= */ false);
        if (json.complete()) {
          for (int k = 0; k < json.reportCount(); k++) {
            accumulator.apply(json.report(k));
          }
          bodyRead = true;
        }
      }
      return;
    }
    while (i < end) {
      i = sse.scan(b, i, end, base);
      if (forwarding) {
        int lf = sse.lfOfEndedEvent();
        if (lf >= 0 && droppedLast) {
          runStart = lf + 1; // the LF of the hidden event's CRLF, at the start of this piece
        }
        if (sse.ended()) {
          eventEnded(base + i);
        }
      }
    }
  }

  /** An event ended at {@code end}: hidden if it is the usage chunk and none of it was let through. */
  private void eventEnded(int end) {
    boolean hide = !passing && sse.endedUsageChunk();
    if (hide) {
      releaseHeld();
      emit(runStart, eventCarried ? chunkStart : sse.eventStart());
      runStart = end;
    } else {
      emitHeld();
    }
    eventCarried = false;
    passing = false;
    droppedLast = hide;
  }

  /** Lets the held bytes go: they come before anything of the chunk, as nothing of it went yet. */
  private void emitHeld() {
    if (held != null) {
      ByteBuf h = held;
      held = null;
      add(h);
    }
  }

  private void emit(int from, int to) {
    if (to > from) {
      add(in.retainedSlice(from, to - from));
    }
  }

  private void add(ByteBuf piece) {
    out = out == null ? piece : join(out, piece);
  }

  private ByteBuf join(ByteBuf first, ByteBuf next) {
    CompositeByteBuf all = first instanceof CompositeByteBuf c ? c : in.alloc().compositeBuffer().addComponent(true, first);
    return all.addComponent(true, next);
  }

  @Override
  public TokenUsage reported() {
    if (!stream) {
      return bodyRead ? accumulator.usage() : null;
    }
    return sse.reported();
  }

  @Override
  public boolean rejected() {
    return accumulator.rejected();
  }

  @Override
  public CharSequence completionText() {
    return text;
  }
}
