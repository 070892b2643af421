package io.tollgate.metering.usage;

import io.netty.buffer.ByteBuf;
import io.netty.util.concurrent.FastThreadLocal;

/**
 * Hands the readable bytes of a chunk to {@link #read} as array ranges: the heap buffer's own
 * array when it has one (no copy), else through the thread's scratch array, so neither path
 * allocates per chunk or per response.
 */
abstract class AbstractUsageExtractor implements UsageExtractor {

  private static final int SCRATCH_BYTES = 8192;
  /** {@link #read} is done with its bytes when it returns, so one scratch array per thread is enough. */
  private static final FastThreadLocal<byte[]> SCRATCH = new FastThreadLocal<>() {
    @Override
    protected byte[] initialValue() {
      return new byte[SCRATCH_BYTES];
    }
  };

  final UsageAccumulator accumulator;
  final CompletionText text;

  AbstractUsageExtractor(UsageAccumulator accumulator, CompletionText text) {
    this.accumulator = accumulator;
    this.text = text;
  }

  @Override
  public final void feed(ByteBuf chunk) {
    int index = chunk.readerIndex();
    int remaining = chunk.readableBytes();
    if (remaining == 0) {
      return;
    }
    if (chunk.hasArray()) { // fast path: heap buffers, which is what the tests and most pools give
      read(chunk.array(), chunk.arrayOffset() + index, remaining);
      return;
    }
    byte[] scratch = SCRATCH.get();
    while (remaining > 0) {
      int n = Math.min(remaining, scratch.length);
      chunk.getBytes(index, scratch, 0, n);
      read(scratch, 0, n);
      index += n;
      remaining -= n;
    }
  }

  /** Reads the next bytes of the body; must be done with {@code bytes} when it returns. */
  abstract void read(byte[] bytes, int offset, int length);

  @Override
  public final boolean rejected() {
    return accumulator.rejected();
  }

  @Override
  public final CharSequence completionText() {
    return text;
  }
}
