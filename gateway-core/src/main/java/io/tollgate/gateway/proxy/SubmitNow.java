package io.tollgate.gateway.proxy;

import io.netty.channel.Channel;
import io.netty.channel.IoRegistration;
import io.netty.channel.unix.IovArray;
import io.netty.channel.uring.IoUringIoHandler;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands what a channel's event loop has queued for the kernel over at once, rather than when the
 * loop's iteration ends: after a call's usage is journaled, its last write must leave within
 * microseconds, so that a process killed in between has seldom billed a call its buyer did not
 * get (DESIGN.md, Invariants; {@code Exchange.deliver}).
 *
 * <p>On epoll and NIO a flush is already a {@code writev} at once: nothing to do. On io_uring a
 * flush only queues a submission-queue entry, and Netty 4.2 enters the ring (one {@code
 * io_uring_enter} for everything the iteration queued) when the iteration's completions are
 * handled. Netty has no public call to enter it earlier, so this takes its own private one,
 * {@code IoUringIoHandler.submitAndClearNow}, the very call its loop makes between batches of
 * completions, through a private lookup (Netty is on the class path, in the unnamed module, open
 * to it). {@link #AVAILABLE} says whether this Netty has it: a Netty upgrade that renames it
 * fails {@code LastWriteTest} and {@code TransportTest}, and {@code auto} then takes epoll (an
 * explicit {@code io_uring} logs a warning and leaves the ends to Netty's turn). {@link
 * Ring#roomForWrite} reads the same loop's submission queue and iovec array, so that {@link
 * LoopEnds} knows when queuing an end would make Netty enter the ring by itself.
 */
final class SubmitNow {

  private static final Logger log = LoggerFactory.getLogger(SubmitNow.class);

  /** A loop's ring: what enters it now, and whether a write can still be queued without entering it. */
  interface Ring extends Runnable {

    /**
     * True when one more write (a {@code writev} entry and its iovecs) can be queued without Netty
     * entering the ring itself to make room: what is queued until {@link #run} leaves only then.
     */
    boolean roomForWrite();
  }

  /** Does nothing: the transport writes at once (so each write leaves when made: no room to hold). */
  static final Ring NOTHING = new Ring() {
    @Override
    public void run() {
    }

    @Override
    public boolean roomForWrite() {
      return false;
    }
  };

  private static final MethodHandle REGISTRATION; // (AbstractIoUringChannel) IoRegistration
  private static final MethodHandle SUBMISSION_QUEUE; // (IoUringIoHandler) SubmissionQueue, as Object
  private static final MethodHandle SUBMIT; // (IoUringIoHandler, SubmissionQueue) int
  private static final MethodHandle REMAINING; // (SubmissionQueue as Object) int: free entries
  private static final MethodHandle IOV_ARRAY; // (IoUringIoHandler) IovArray: the loop's iovecs for writev
  /** Null when this Netty lets a loop's io_uring submissions be entered early, else why not. */
  static final Throwable UNAVAILABLE;
  static final boolean AVAILABLE;
  private static final AtomicBoolean WARNED_UNAVAILABLE = new AtomicBoolean();

  static {
    MethodHandle registration = null;
    MethodHandle queue = null;
    MethodHandle submit = null;
    MethodHandle remaining = null;
    MethodHandle iovArray = null;
    Throwable why = null;
    try {
      MethodHandles.Lookup self = MethodHandles.lookup();
      Class<?> channel = Class.forName("io.netty.channel.uring.AbstractIoUringChannel");
      Class<?> ring = Class.forName("io.netty.channel.uring.RingBuffer");
      Class<?> sq = Class.forName("io.netty.channel.uring.SubmissionQueue");
      registration = MethodHandles.privateLookupIn(channel, self)
          .findVirtual(channel, "registration", MethodType.methodType(IoRegistration.class))
          .asType(MethodType.methodType(IoRegistration.class, Channel.class));
      MethodHandles.Lookup handler = MethodHandles.privateLookupIn(IoUringIoHandler.class, self);
      MethodHandle ringOf = handler.findGetter(IoUringIoHandler.class, "ringBuffer", ring);
      MethodHandle queueOf = MethodHandles.privateLookupIn(ring, self)
          .findVirtual(ring, "ioUringSubmissionQueue", MethodType.methodType(sq));
      queue = MethodHandles.filterReturnValue(ringOf, queueOf)
          .asType(MethodType.methodType(Object.class, IoUringIoHandler.class));
      submit = handler.findVirtual(IoUringIoHandler.class, "submitAndClearNow", MethodType.methodType(int.class, sq))
          .asType(MethodType.methodType(int.class, IoUringIoHandler.class, Object.class));
      remaining = MethodHandles.privateLookupIn(sq, self).findVirtual(sq, "remaining", MethodType.methodType(int.class))
          .asType(MethodType.methodType(int.class, Object.class));
      iovArray = handler.findGetter(IoUringIoHandler.class, "iovArray", IovArray.class);
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      why = e;
    }
    REGISTRATION = registration;
    SUBMISSION_QUEUE = queue;
    SUBMIT = submit;
    REMAINING = remaining;
    IOV_ARRAY = iovArray;
    UNAVAILABLE = why;
    AVAILABLE = why == null;
  }

  private SubmitNow() {
  }

  /**
   * What enters {@code channel}'s loop's submissions now: {@link #NOTHING} unless the channel is on
   * io_uring. Call it once the channel is registered ({@link LoopEnds} does, once per loop), and
   * run the result on that loop.
   */
  static Ring of(Channel channel) {
    if (!channel.getClass().getName().startsWith("io.netty.channel.uring.")) {
      return NOTHING;
    }
    if (!AVAILABLE) {
      if (!WARNED_UNAVAILABLE.getAndSet(true)) {
        log.warn("io_uring: this Netty's ring cannot be entered early ({}); a call's end leaves when its loop's"
            + " turn ends, which widens what a killed gateway can bill undelivered", UNAVAILABLE.toString());
      }
      return NOTHING;
    }
    try {
      IoRegistration registration = (IoRegistration) REGISTRATION.invokeExact(channel);
      Object attachment = registration == null ? null : registration.attachment();
      if (!(attachment instanceof IoUringIoHandler handler)) {
        return NOTHING;
      }
      return forHandler(handler);
    } catch (Throwable e) {
      log.warn("io_uring: cannot reach the loop's submission queue ({}); a call's last write leaves when the loop's"
          + " iteration ends", e.toString());
      return NOTHING;
    }
  }

  private static Ring forHandler(IoUringIoHandler handler) throws Throwable {
    Object queue = (Object) SUBMISSION_QUEUE.invokeExact(handler);
    IovArray iovecs = (IovArray) IOV_ARRAY.invokeExact(handler);
    return new Ring() {
      private boolean warned;

      @Override
      public boolean roomForWrite() {
        // Netty enters the ring on its own when a queued entry finds the submission queue full
        // (SubmissionQueue.enqueueSqe) or a writev finds the iovecs full (IoUringIoHandler.iovArray)
        try {
          return (int) REMAINING.invokeExact(queue) >= 2 && !iovecs.isFull();
        } catch (Throwable e) {
          return false;
        }
      }

      @Override
      public void run() {
        try {
          int entered = (int) SUBMIT.invokeExact(handler, queue);
        } catch (Throwable e) {
          // The ring is closing (the loop shuts down) or refused: the loop's own submission
          // follows at the end of its iteration, as without this.
          if (!warned) {
            warned = true;
            log.warn("io_uring: entering the ring early failed ({}); writes leave at the end of the loop's iteration",
                e.toString());
          }
        }
      }
    };
  }
}
