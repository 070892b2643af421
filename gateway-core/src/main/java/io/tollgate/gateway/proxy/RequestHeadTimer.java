package io.tollgate.gateway.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ByteProcessor;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Bounds how long a request head may take to arrive: once its first byte is read, the whole head
 * must be read within {@code server.requestHeaderTimeout}, however its bytes are spread out. The
 * idle timer cannot do this: every read resets it, so a client sending a byte every few seconds
 * (slowloris) held a connection forever, and 200 of them held 200.
 *
 * <p>Sits before the HTTP codec, where bytes are still bytes; {@link BuyerHandler} says when a head
 * was decoded ({@link #headRead}) and when the connection waits for the next one ({@link
 * #awaitHead}: at the start, and after each answer). A connection waiting with nothing sent is
 * governed by the idle timeout, not this. When the deadline passes, {@link #EXPIRED} goes down the
 * pipeline and the buyer handler answers 408 and closes.
 *
 * <p>The deadline starts at the first read that arrives while a head is awaited. Head bytes that
 * came in the same read as the end of the request before it are dated from the next read: the
 * silence before that read is bounded by the idle timeout, as for any connection.
 *
 * <p>The common case, a head that arrives whole in one read, schedules nothing: the timer is only
 * set when a read ends with the head still incomplete. Confined to the channel's event loop.
 */
final class RequestHeadTimer extends ChannelInboundHandlerAdapter {

  /** The user event fired when a head did not arrive in time. */
  static final Object EXPIRED = new Object() {
    @Override
    public String toString() {
      return "RequestHeadTimer.EXPIRED";
    }
  };

  private final long timeoutNanos;
  private ChannelHandlerContext ctx;
  private boolean awaitingHead = true;
  private boolean headStarted;
  private long firstByteNanos;
  private ScheduledFuture<?> deadline;

  RequestHeadTimer(long timeoutNanos) {
    if (timeoutNanos <= 0) {
      throw new IllegalArgumentException("timeoutNanos must be positive: " + timeoutNanos);
    }
    this.timeoutNanos = timeoutNanos;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    // Empty lines before a request line start no head: the codec skips them, and some clients
    // send one after a body.
    if (!awaitingHead || headStarted || !(msg instanceof ByteBuf bytes)
        || bytes.forEachByte(ByteProcessor.FIND_NON_CRLF) < 0) {
      ctx.fireChannelRead(msg);
      return;
    }
    headStarted = true;
    firstByteNanos = System.nanoTime();
    ctx.fireChannelRead(msg); // the codec decodes synchronously: a whole head calls headRead()
    if (awaitingHead && deadline == null && ctx.channel().isActive()) {
      long left = timeoutNanos - (System.nanoTime() - firstByteNanos);
      deadline = ctx.executor().schedule(this::expired, Math.max(0, left), TimeUnit.NANOSECONDS);
    }
  }

  /** A head was decoded: no deadline until the next one is awaited. */
  void headRead() {
    awaitingHead = false;
    headStarted = false;
    cancel();
  }

  /** The connection waits for the next head; the next byte read starts its deadline. */
  void awaitHead() {
    awaitingHead = true;
  }

  /** When the first byte of the head that is being awaited was read. */
  long firstByteNanos() {
    return firstByteNanos;
  }

  private void expired() {
    deadline = null;
    if (awaitingHead && headStarted && ctx.channel().isActive()) {
      ctx.fireUserEventTriggered(EXPIRED);
    }
  }

  private void cancel() {
    if (deadline != null) {
      deadline.cancel(false);
      deadline = null;
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    cancel();
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    cancel();
  }
}
