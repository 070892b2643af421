package io.tollgate.gateway.proxy;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringDatagramChannel;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.List;
import java.util.function.Function;

/**
 * The I/O transport of the buyer port: its event loops and every channel registered on them (the
 * listener, buyer and backend connections, the DNS resolver's datagram channel). One choice for
 * all of them, since a channel can only be registered on loops of its own transport.
 *
 * <p>{@code server.transport}: {@code io_uring}, {@code epoll} or {@code nio} must be available or
 * start-up stops; {@code auto} takes the first available of {@link #AUTO_ORDER}.
 */
record Transport(
    String name,
    IoHandlerFactory ioHandlerFactory,
    Class<? extends ServerChannel> serverChannel,
    Class<? extends SocketChannel> socketChannel,
    Class<? extends DatagramChannel> datagramChannel) {

  static final String AUTO = "auto";
  static final String IO_URING = "io_uring";
  static final String EPOLL = "epoll";
  static final String NIO = "nio";
  /** What {@code server.transport} accepts. */
  static final List<String> CHOICES = List.of(AUTO, IO_URING, EPOLL, NIO);

  /**
   * What {@code auto} tries, in order: epoll first, although io_uring is the faster where system
   * calls are dear, because epoll keeps the window between a call's journal append and its last
   * byte leaving a few microseconds long. A process killed in that window has billed a call whose
   * buyer did not get its end (the price of "no crash loses a call the buyer received"). On epoll
   * the flush after the append is a {@code writev} at once; on io_uring it is a submission queued
   * until the event loop's iteration ends, so the window spans the rest of the iteration (the
   * {@code kill -9} test, {@code GatewayKillTest}, then saw one call billed that its buyer never
   * received, within its first two CI runs). Operators who take that for the speed set {@code
   * io_uring}: on the machine the buyer port is benchmarked on (kernel 6.18, 2 shared cores under a
   * paravirtualised hypervisor, where the kernel's entry and exit took over half of the event
   * loops' time with epoll), {@code benchmarks/load/run.sh} with an epoll and an io_uring gateway
   * in the same alternating rounds gave io_uring 1.39x epoll's requests/s at 0.66x its CPU per call,
   * JSON and streamed calls alike, ahead in every round.
   */
  static final List<String> AUTO_ORDER = List.of(EPOLL, IO_URING, NIO);

  /**
   * The transport {@code choice} names, or for {@code auto} the first available of {@link
   * #AUTO_ORDER}.
   *
   * @throws IllegalArgumentException naming the choice and why, when it is not one of {@link
   *     #CHOICES} or not available here
   */
  static Transport choose(String choice) {
    return choose(choice, Transport::unavailabilityCause);
  }

  /** {@link #choose(String)} with the availability of each transport given (tests). */
  static Transport choose(String choice, Function<String, Throwable> unavailability) {
    if (AUTO.equals(choice)) {
      for (String name : AUTO_ORDER) {
        if (unavailability.apply(name) == null) {
          return of(name);
        }
      }
      return of(NIO);
    }
    if (!CHOICES.contains(choice)) {
      throw new IllegalArgumentException("must be one of " + String.join(", ", CHOICES) + ", got " + choice);
    }
    Throwable cause = unavailability.apply(choice);
    if (cause != null) {
      throw new IllegalArgumentException(choice + " is not available here ("
          + String.valueOf(cause).lines().findFirst().orElse("") + "); auto falls back to what is");
    }
    return of(choice);
  }

  /** Null when {@code name} can run in this process, else why not. */
  static Throwable unavailabilityCause(String name) {
    return switch (name) {
      case IO_URING -> IoUring.unavailabilityCause();
      case EPOLL -> Epoll.unavailabilityCause();
      default -> null;
    };
  }

  private static Transport of(String name) {
    return switch (name) {
      case IO_URING -> new Transport(IO_URING, IoUringIoHandler.newFactory(), IoUringServerSocketChannel.class,
          IoUringSocketChannel.class, IoUringDatagramChannel.class);
      case EPOLL -> new Transport(EPOLL, EpollIoHandler.newFactory(), EpollServerSocketChannel.class,
          EpollSocketChannel.class, EpollDatagramChannel.class);
      default -> new Transport(NIO, NioIoHandler.newFactory(), NioServerSocketChannel.class,
          NioSocketChannel.class, NioDatagramChannel.class);
    };
  }

  EventLoopGroup newGroup(int threads, String threadPrefix) {
    return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(threadPrefix, true), ioHandlerFactory);
  }
}
