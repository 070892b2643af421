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

  /**
   * Netty's switch for io_uring's multishot accept, set to {@code false} here unless the operator
   * set it: a multishot accept has the kernel accept every connection waiting, each into a
   * descriptor of its own, before the accept loop has seen one, so a burst of connections filled
   * the descriptor limit past {@code server.maxConnections} ({@code DescriptorLimitTest} under
   * {@code ulimit -n 900}: accept failed with EMFILE at the derived cap of 322, and so did the
   * journal's next segment and a class load). One accept at a time, each closed on the accept loop
   * when over the cap, holds one descriptor beyond it. Netty reads it once, when its {@code
   * IoUring} class loads: {@link #setNettyDefaults()} runs before anything that may load it (the
   * gateway's Vert.x, which prefers a native transport, probes io_uring at start).
   */
  static final String ACCEPT_MULTISHOT = "io.netty.iouring.acceptMultiShotEnabled";

  static {
    setNettyDefaults();
  }

  /** Sets {@link #ACCEPT_MULTISHOT} to {@code false} unless the operator set it; idempotent. */
  static void setNettyDefaults() {
    if (System.getProperty(ACCEPT_MULTISHOT) == null) {
      System.setProperty(ACCEPT_MULTISHOT, "false");
    }
  }

  static final String AUTO = "auto";
  static final String IO_URING = "io_uring";
  static final String EPOLL = "epoll";
  static final String NIO = "nio";
  /** What {@code server.transport} accepts. */
  static final List<String> CHOICES = List.of(AUTO, IO_URING, EPOLL, NIO);

  /**
   * What {@code auto} tries, in order: io_uring first, the faster where system calls are dear (on
   * the machine the buyer port is benchmarked on, a paravirtualised VM, {@code
   * benchmarks/load/run.sh} gave io_uring about 1.4x epoll's requests/s at 0.6x its CPU per JSON
   * call, 1.2x at 0.7x per stream, in the same alternating rounds), then epoll, then NIO. (It was
   * epoll for a day: with io_uring first, {@code DescriptorLimitTest} failed in two CI runs of
   * four, a flush failing while a burst of connections was refused at the cap. The cause was
   * io_uring's multishot accept, now off: {@link #ACCEPT_MULTISHOT}.)
   *
   * <p>On epoll the flush after a call's journal append is a {@code writev} at once. On io_uring a
   * flush only queues a submission: {@link LoopEnds} journals the ends of the calls one turn of the
   * loop completed held, queues their writes, publishes the entries in one store and enters the
   * ring once ({@link SubmitNow}), so a process killed meanwhile has journaled and sent all of
   * them or none. (Journaled one by one before the ring entry, the {@code kill -9} test, {@code
   * GatewayKillTest}, billed a call its buyer never received in one of six runs; that is why
   * epoll came first until the entries were held.) {@code auto} takes io_uring only where {@link
   * SubmitNow} can reach Netty's ring ({@link SubmitNow#AVAILABLE}).
   */
  static final List<String> AUTO_ORDER = List.of(IO_URING, EPOLL, NIO);

  /**
   * The transport {@code choice} names, or for {@code auto} the first available of {@link
   * #AUTO_ORDER}.
   *
   * @throws IllegalArgumentException naming the choice and why, when it is not one of {@link
   *     #CHOICES} or not available here
   */
  static Transport choose(String choice) {
    return choose(choice, AUTO.equals(choice) ? Transport::autoUnavailabilityCause : Transport::unavailabilityCause);
  }

  /**
   * Null when {@code auto} may take {@code name} here: it runs, and on io_uring the ring can be
   * entered for a turn's call ends before the loop goes on ({@link SubmitNow}).
   */
  static Throwable autoUnavailabilityCause(String name) {
    Throwable cause = unavailabilityCause(name);
    return cause == null && IO_URING.equals(name) ? SubmitNow.UNAVAILABLE : cause;
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
