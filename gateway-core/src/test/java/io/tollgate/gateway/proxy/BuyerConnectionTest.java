package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.mock.MockUpstream;
import io.tollgate.gateway.testing.NettyLeaks;
import io.tollgate.metering.usage.UsageEvent;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestInstance.Lifecycle;

/**
 * What one buyer connection may cost the gateway: reading stops while a call is in flight (so
 * pipelined bytes wait in the buyer's socket, not in tollgate's memory), a request head must
 * arrive whole within {@code requestHeaderTimeout} of its first byte, and a buyer who leaves is
 * still noticed while tollgate is not reading.
 *
 * <p>Run on io_uring and on epoll (see {@link ProxyHarness}).
 */
class BuyerConnectionTest {

  @Nested
  class OnIoUring extends Contract {
    OnIoUring() {
      super(Transport.IO_URING);
    }
  }

  @Nested
  class OnEpoll extends Contract {
    OnEpoll() {
      super(Transport.EPOLL);
    }
  }

  @TestInstance(Lifecycle.PER_CLASS)
  abstract static class Contract {

    static final long MAX_BODY = 64 * 1024;
    static final Duration HEAD_TIMEOUT = Duration.ofMillis(1_000);

    Vertx vertx;
    MockUpstream mock;
    ProxyHarness gw;
    Product openai;
    String key;

    /** The buyer port's transport: {@link Transport#IO_URING} or {@link Transport#EPOLL}. */
    final String transport;

    Contract(String transport) {
      this.transport = transport;
    }

    @BeforeAll
    void start() throws Exception {
      vertx = Vertx.vertx();
      mock = MockUpstream.start(vertx, MockUpstream.Options.defaults()).await();
      gw = new ProxyHarness(transport, /* eventLoops= */ 1, MAX_BODY, HEAD_TIMEOUT, ProxyHarness.IDLE_TIMEOUT,
          EndpointLimits.UNLIMITED);
      openai = ProxyHarness.product(Protocol.OPENAI, mock.baseUrl(), UpstreamAuth.NONE, Map.of(),
          Duration.ofSeconds(20), null);
      key = gw.subscribe(openai);
    }

    @AfterAll
    void stop() {
      gw.close();
      mock.close().await();
      vertx.close().await();
      assertThat(NettyLeaks.collect()).as("no Netty buffer may leak").isEmpty();
    }

    static final String CHAT = "{\"model\":\"mock-gpt\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    String call(String extraHeaders) {
      return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key
          + "\r\nContent-Type: application/json\r\n" + extraHeaders + "Content-Length: " + CHAT.length() + "\r\n\r\n"
          + CHAT;
    }

    static byte[] ascii(String s) {
      return s.getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void pipelinedBytes_whileACallIsInFlight_waitInTheBuyersSocket_notInTheGateway() throws Exception {
      // One slow call, then 48 MB of pipelined requests (each within the body limit) behind it.
      // While the call is in flight the gateway must not read them: the client's writes block
      // once the socket buffers (a 64 KB send buffer here, the gateway's receive buffer) and what
      // the gateway may queue (one read) are full: about 240 KB measured. Before the fix the
      // gateway read and queued all 48 MB (512 MB once grew the heap by 517 MB).
      byte[] body = new byte[60_000];
      java.util.Arrays.fill(body, (byte) 'x');
      byte[] pipelined = concat(ascii("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          + "Content-Length: " + body.length + "\r\n\r\n"), body);
      long total = 48L << 20;
      long bound = 2L << 20;
      AtomicLong written = new AtomicLong();
      AtomicBoolean writerDone = new AtomicBoolean();
      try (Socket s = new Socket()) {
        s.setSendBufferSize(64 * 1024);
        s.connect(new java.net.InetSocketAddress("127.0.0.1", gw.port));
        OutputStream out = s.getOutputStream();
        out.write(ascii(call("x-mock-delay-ms: 4000\r\n")));
        out.flush();
        Thread writer = new Thread(() -> {
          try {
            while (written.get() < total) {
              out.write(pipelined);
              written.addAndGet(pipelined.length);
            }
          } catch (IOException closed) {
            // the test closed the socket
          } finally {
            writerDone.set(true);
          }
        }, "pipelining-buyer");
        writer.setDaemon(true);
        writer.start();

        Awaitility.await().atMost(Duration.ofSeconds(5)).during(Duration.ofSeconds(2))
            .pollInterval(Duration.ofMillis(50)).untilAsserted(() -> assertThat(written.get())
                .as("bytes the client could write while the call was in flight").isLessThan(bound));
        assertThat(written.get()).as("the gateway stopped reading: the writer is blocked, not done")
            .isLessThan(bound);
        assertThat(writerDone).isFalse();
      }
      Awaitility.await().atMost(Duration.ofSeconds(10)).untilTrue(writerDone);
      assertThat(post(call(""))).as("the gateway goes on serving").startsWith("HTTP/1.1 200");
    }

    @Test
    void pipelinedCalls_areStillReadAfterTheCallBeforeThem_ends() throws Exception {
      // Reading resumes when an answer has ended: three slow-ish calls pipelined in one write.
      String three = call("x-mock-delay-ms: 200\r\n") + call("x-mock-delay-ms: 200\r\n") + call("");
      try (Socket s = new Socket("127.0.0.1", gw.port)) {
        s.setSoTimeout(10_000);
        s.getOutputStream().write(ascii(three));
        String got = readAnswers(s.getInputStream(), 3);
        assertThat(ProxyTest.Contract.countOf(got, "HTTP/1.1 200")).as(got).isEqualTo(3);
      }
    }

    @Test
    void buyerLeavingWhileTheUpstreamThinks_isNoticed_andTheUpstreamCallIsCancelled() throws Exception {
      // Once the buyer pipelines, the gateway stops reading its socket until the call in flight
      // has ended; the buyer's close must still be noticed (epoll reports the peer's hang-up
      // without a read), the call accounted as aborted and the upstream connection closed, long
      // before the upstream would answer.
      CountDownLatch upstreamGotRequest = new CountDownLatch(1);
      CountDownLatch upstreamSawClose = new CountDownLatch(1);
      try (ServerSocket silent = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
        Thread upstream = new Thread(() -> {
          try (Socket c = silent.accept()) {
            InputStream in = c.getInputStream();
            byte[] buf = new byte[8192];
            int n = in.read(buf);
            if (n > 0) {
              upstreamGotRequest.countDown();
            }
            while (n >= 0) {
              n = in.read(buf);
            }
            upstreamSawClose.countDown();
          } catch (IOException e) {
            upstreamSawClose.countDown();
          }
        }, "silent-upstream");
        upstream.setDaemon(true);
        upstream.start();
        Product slow = ProxyHarness.product(Protocol.OPENAI, "http://127.0.0.1:" + silent.getLocalPort(),
            UpstreamAuth.NONE, Map.of(), Duration.ofSeconds(30), null);
        String slowKey = gw.subscribe(slow);
        gw.events.clear();
        try (Socket s = new Socket("127.0.0.1", gw.port)) {
          // A second, pipelined call: it arrives while the first is in flight, so reading stops.
          s.getOutputStream().write(ascii(call("").replace(key, slowKey) + call("").replace(key, slowKey)));
          s.getOutputStream().flush();
          assertThat(upstreamGotRequest.await(5, TimeUnit.SECONDS)).as("the call reached the upstream").isTrue();
        }
        long closedAt = System.nanoTime();
        assertThat(upstreamSawClose.await(3, TimeUnit.SECONDS)).as("the upstream connection is cancelled").isTrue();
        UsageEvent event = Awaitility.await().atMost(Duration.ofSeconds(3))
            .until(() -> gw.events.stream().filter(e -> e.productId().equals(slow.id())).findFirst().orElse(null),
                java.util.Objects::nonNull);
        assertThat(event.outcome()).isEqualTo(UsageEvent.Outcome.BUYER_ABORTED);
        assertThat(event.billable()).as("nothing was delivered").isFalse();
        assertThat(Duration.ofNanos(System.nanoTime() - closedAt)).as("noticed promptly")
            .isLessThan(Duration.ofSeconds(3));
      }
    }

    @Test
    void buyerHalfClosingAfterItsRequests_hasLeft_itsCallIsAbortedUnbilled_andNothingBehindItStarts() throws Exception {
      // A buyer that shuts its sending side once its requests are out (as `nc -N` does) is taken
      // as gone, as Netty takes a shut input by default: nothing is answered, the call in flight
      // ends BUYER_ABORTED and unbilled, the one pipelined behind it never starts. The transports
      // see the shut input differently (a read of 0 bytes, or EPOLLRDHUP while reading is
      // paused): the outcome must be the same on each.
      Product own = ProxyHarness.product(Protocol.OPENAI, mock.baseUrl(), UpstreamAuth.NONE, Map.of(),
          Duration.ofSeconds(20), null);
      String ownKey = gw.subscribe(own);
      // A call before, so the key is cached and the next call starts in the read that brings it,
      // before the shut input is seen. (With the key still loading when the buyer has gone, the
      // call ends before it starts: nothing reaches the upstream and nothing is metered.)
      assertThat(post(call("").replace(key, ownKey))).startsWith("HTTP/1.1 200");
      long before = mock.requestCount();
      try (Socket s = new Socket("127.0.0.1", gw.port)) {
        s.setSoTimeout(10_000);
        s.getOutputStream().write(ascii((call("x-mock-delay-ms: 300\r\n") + call("")).replace(key, ownKey)));
        s.getOutputStream().flush();
        s.shutdownOutput();
        assertThat(s.getInputStream().readAllBytes()).as("the connection closes unanswered").isEmpty();
      }
      UsageEvent event = Awaitility.await().atMost(Duration.ofSeconds(3))
          .until(() -> gw.events.stream().filter(e -> e.productId().equals(own.id())
              && e.outcome() != UsageEvent.Outcome.COMPLETED).findFirst().orElse(null), java.util.Objects::nonNull);
      assertThat(event.outcome()).isEqualTo(UsageEvent.Outcome.BUYER_ABORTED);
      assertThat(event.billable()).as("nothing was delivered").isFalse();
      Thread.sleep(500); // past the upstream's 300 ms: a call behind it would have started and ended by now
      assertThat(gw.events.stream().filter(e -> e.productId().equals(own.id())))
          .as("the call before, and one event for the one call started: none for the call behind it").hasSize(2);
      assertThat(mock.requestCount() - before).as("the call behind it never reached the upstream")
          .isLessThanOrEqualTo(1);
    }

    @Test
    void connectionsOverTheCap_areClosedAtOnce_andAPlaceFreedIsTakenAgain() throws Exception {
      // server.maxConnections: one over the cap is closed as soon as it is accepted.
      try (ProxyHarness capped = new ProxyHarness(transport, /* maxConnections= */ 2)) {
        String cappedCall = call("").replace(key, capped.subscribe(openai));
        try (Socket a = new Socket("127.0.0.1", capped.port); Socket b = new Socket("127.0.0.1", capped.port)) {
          for (Socket s : List.of(a, b)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(ascii(cappedCall));
            assertThat(readAnswers(s.getInputStream(), 1)).as("within the cap").startsWith("HTTP/1.1 200");
          }
          try (Socket over = new Socket("127.0.0.1", capped.port)) {
            over.setSoTimeout(10_000);
            assertThat(readOrReset(over)).as("the third connection is closed unread and unanswered").isEqualTo(-1);
          }
          assertThat(capped.registry.counter("tollgate.buyer.connections.refused").count()).isEqualTo(1.0);
        }
        Awaitility.await().atMost(Duration.ofSeconds(5))
            .until(() -> capped.registry.get("tollgate.buyer.connections").gauge().value() == 0);
        assertThat(post(cappedCall, capped.port)).as("the places freed are taken again").startsWith("HTTP/1.1 200");
      }
    }

    static int readOrReset(Socket s) throws IOException {
      try {
        return s.getInputStream().read();
      } catch (java.net.SocketException reset) {
        return -1;
      }
    }

    @Test
    void requestHeadDribbledByteByByte_isCutAtTheDeadline_notResetByEachRead() throws Exception {
      // The head takes ~5 s at one byte per 100 ms; the deadline runs from its first byte.
      byte[] head = ascii("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Pad: " + "y".repeat(20)
          + "\r\nContent-Length: 2\r\n\r\n");
      try (Socket s = new Socket("127.0.0.1", gw.port)) {
        s.setSoTimeout(10_000);
        long cutAfterMillis = dribbleUntilCut(s, head);
        assertThat(cutAfterMillis).as("closed at the deadline, not when the head was complete")
            .isBetween(HEAD_TIMEOUT.toMillis() - 100, HEAD_TIMEOUT.toMillis() + 1_500);
      }
    }

    @Test
    void secondRequestHead_onAKeepAliveConnection_hasItsOwnDeadline() throws Exception {
      byte[] head = ascii("GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Pad: " + "y".repeat(40) + "\r\n\r\n");
      try (Socket s = new Socket("127.0.0.1", gw.port)) {
        s.setSoTimeout(10_000);
        s.getOutputStream().write(ascii(call("")));
        assertThat(readAnswers(s.getInputStream(), 1)).startsWith("HTTP/1.1 200");
        long cutAfterMillis = dribbleUntilCut(s, head);
        assertThat(cutAfterMillis).isBetween(HEAD_TIMEOUT.toMillis() - 100, HEAD_TIMEOUT.toMillis() + 1_500);
      }
    }

    @Test
    void idleKeepAliveConnection_betweenRequests_outlivesTheHeadTimeout() throws Exception {
      try (Socket s = new Socket("127.0.0.1", gw.port)) {
        s.setSoTimeout(10_000);
        s.getOutputStream().write(ascii(call("")));
        assertThat(readAnswers(s.getInputStream(), 1)).startsWith("HTTP/1.1 200");
        s.getOutputStream().write(ascii("\r\n")); // a stray empty line after a body starts no head
        // Idle for three head timeouts: only idleTimeout (a minute here) governs this.
        s.setSoTimeout((int) HEAD_TIMEOUT.toMillis() * 3);
        assertThatReadTimesOut(s);
        s.setSoTimeout(10_000);
        s.getOutputStream().write(ascii(call("")));
        assertThat(readAnswers(s.getInputStream(), 1)).as("the connection is still open").startsWith("HTTP/1.1 200");
      }
    }

    @Test
    void aNormalClient_sendingItsHeadInPieces_withinTheDeadline_isServed() throws Exception {
      byte[] request = ascii(call(""));
      try (Socket s = new Socket("127.0.0.1", gw.port)) {
        s.setSoTimeout(10_000);
        OutputStream out = s.getOutputStream();
        int step = request.length / 4;
        for (int i = 0; i < request.length; i += step) {
          out.write(request, i, Math.min(step, request.length - i));
          out.flush();
          Thread.sleep(100);
        }
        assertThat(readAnswers(s.getInputStream(), 1)).startsWith("HTTP/1.1 200");
      }
    }

    static void assertThatReadTimesOut(Socket s) throws IOException {
      try {
        int b = s.getInputStream().read();
        throw new AssertionError("the gateway answered or closed an idle keep-alive connection: " + b);
      } catch (SocketTimeoutException expected) {
        // still open, nothing sent
      }
    }

    /**
     * Writes {@code head} one byte per 100 ms until the gateway closes the connection, which must
     * answer 408 first; returns the milliseconds from the first byte to the close.
     */
    static long dribbleUntilCut(Socket s, byte[] head) throws Exception {
      AtomicLong closedAt = new AtomicLong();
      StringBuilder answer = new StringBuilder();
      Thread reader = new Thread(() -> {
        try {
          answer.append(new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
          // reset: closed too
        }
        closedAt.set(System.nanoTime());
      }, "dribble-reader");
      reader.setDaemon(true);
      reader.start();
      long first = System.nanoTime();
      OutputStream out = s.getOutputStream();
      try {
        for (byte b : head) {
          if (closedAt.get() != 0) {
            break;
          }
          out.write(b);
          out.flush();
          Thread.sleep(100);
        }
      } catch (IOException closed) {
        // the gateway closed while we were writing
      }
      reader.join(10_000);
      assertThat(closedAt.get()).as("the gateway closed the connection").isNotZero();
      assertThat(answer.toString()).as("told why").startsWith("HTTP/1.1 408").contains("\"code\":\"request_timeout\"")
          .contains("connection: close");
      return TimeUnit.NANOSECONDS.toMillis(closedAt.get() - first);
    }

    String post(String request) throws Exception {
      return post(request, gw.port);
    }

    static String post(String request, int port) throws Exception {
      try (Socket s = new Socket("127.0.0.1", port)) {
        s.setSoTimeout(10_000);
        s.getOutputStream().write(ascii(request));
        return readAnswers(s.getInputStream(), 1);
      }
    }

    static String readAnswers(InputStream in, int answers) throws IOException {
      StringBuilder got = new StringBuilder();
      byte[] buf = new byte[8192];
      while (ProxyTest.Contract.countOf(got.toString(), "HTTP/1.1 ") < answers
          || !ProxyTest.Contract.endsWithWholeAnswer(got.toString())) {
        int n = in.read(buf);
        if (n < 0) {
          break;
        }
        got.append(new String(buf, 0, n, StandardCharsets.UTF_8));
      }
      return got.toString();
    }

    static byte[] concat(byte[] a, byte[] b) {
      byte[] all = java.util.Arrays.copyOf(a, a.length + b.length);
      System.arraycopy(b, 0, all, a.length, b.length);
      return all;
    }
  }
}
