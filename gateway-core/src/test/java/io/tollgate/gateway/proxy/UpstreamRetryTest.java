package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.testing.NettyLeaks;
import io.tollgate.metering.usage.UsageEvent;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestInstance.Lifecycle;

/**
 * A kept-alive upstream connection that dies under the next request, before any byte of its
 * answer (the upstream closed it in the meantime: a close, or a reset that fails the connection
 * with an error), is retried once on a new connection: the buyer gets the answer and the call is
 * metered once. A new connection that dies the same way is not retried: the buyer gets a 502.
 *
 * <p>Run on io_uring and on epoll (see {@link ProxyHarness}).
 */
class UpstreamRetryTest {

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

    static final String CHAT = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    ProxyHarness gw;

    /** The buyer port's transport: {@link Transport#IO_URING} or {@link Transport#EPOLL}. */
    final String transport;

    Contract(String transport) {
      this.transport = transport;
    }

    @BeforeAll
    void start() throws Exception {
      gw = new ProxyHarness(transport, /* eventLoops= */ 1, 64 * 1024, ProxyHarness.HEAD_TIMEOUT,
          ProxyHarness.IDLE_TIMEOUT, EndpointLimits.UNLIMITED);
    }

    @AfterAll
    void stop() {
      gw.close();
      assertThat(NettyLeaks.collect()).as("no Netty buffer may leak").isEmpty();
    }

    @Test
    void aReusedConnectionClosedUnderTheRequest_isRetriedOnANewOne_andMeteredOnce() throws Exception {
      retriedOnce(/* reset= */ false);
    }

    @Test
    void aReusedConnectionResetUnderTheRequest_isRetriedOnANewOne_andMeteredOnce() throws Exception {
      retriedOnce(/* reset= */ true);
    }

    private void retriedOnce(boolean reset) throws Exception {
      try (DyingUpstream upstream = new DyingUpstream(/* answered= */ 1, reset);
          Socket buyer = new Socket("127.0.0.1", gw.port)) {
        String key = gw.subscribe(product(upstream));
        buyer.setSoTimeout(10_000);
        buyer.getOutputStream().write(IdleTimeoutTest.call(key));
        assertThat(IdleTimeoutTest.readAnswer(buyer.getInputStream())).startsWith("HTTP/1.1 200");

        buyer.getOutputStream().write(IdleTimeoutTest.call(key));
        String answer = IdleTimeoutTest.readAnswer(buyer.getInputStream());

        assertThat(answer).as("the second call, retried").startsWith("HTTP/1.1 200");
        assertThat(upstream.connections.get()).as("a second connection took the retry").isEqualTo(2);
        assertThat(upstream.requests.get()).as("the request reached the dying connection, then the new one")
            .isEqualTo(3);
        String id = KeptAliveCallsTest.requestId(answer);
        List<UsageEvent> events = Awaitility.await().atMost(Duration.ofSeconds(5)).until(
            () -> gw.events.stream().filter(e -> e.requestId().toString().equals(id)).toList(), l -> !l.isEmpty());
        Thread.sleep(200);
        assertThat(gw.events.stream().filter(e -> e.requestId().toString().equals(id))).as("metered once").hasSize(1);
        assertThat(events.get(0).billable()).isTrue();
      }
    }

    @Test
    void aNewConnectionThatDiesUnderTheRequest_isNotRetried() throws Exception {
      try (DyingUpstream upstream = new DyingUpstream(/* answered= */ 0, /* reset= */ true);
          Socket buyer = new Socket("127.0.0.1", gw.port)) {
        String key = gw.subscribe(product(upstream));
        buyer.setSoTimeout(10_000);
        buyer.getOutputStream().write(IdleTimeoutTest.call(key));

        assertThat(IdleTimeoutTest.readAnswer(buyer.getInputStream())).startsWith("HTTP/1.1 502")
            .contains("bad_upstream_response");
        assertThat(upstream.connections.get()).isEqualTo(1);
      }
    }

    private Product product(DyingUpstream upstream) {
      return ProxyHarness.product(Protocol.OPENAI, upstream.baseUrl(), UpstreamAuth.NONE, Map.of(),
          Duration.ofSeconds(5), null);
    }

    /**
     * Answers the first {@code answered} requests of its first connection, then closes that
     * connection (with a reset when {@code reset}) as soon as the next request on it has arrived;
     * answers everything on later connections, but dies the same way on them when {@code answered}
     * is 0.
     */
    static final class DyingUpstream implements AutoCloseable {
      static final String BODY = "{\"id\":\"r\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,"
          + "\"total_tokens\":5}}";
      static final byte[] OK = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + BODY.length()
          + "\r\n\r\n" + BODY).getBytes(StandardCharsets.US_ASCII);

      final AtomicInteger connections = new AtomicInteger();
      final AtomicInteger requests = new AtomicInteger();
      private final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());

      DyingUpstream(int answered, boolean reset) throws IOException {
        Thread t = new Thread(() -> {
          while (!server.isClosed()) {
            try {
              Socket c = server.accept();
              boolean dies = connections.incrementAndGet() == 1 || answered == 0;
              Thread serving = new Thread(() -> serve(c, dies ? answered : Integer.MAX_VALUE, reset), "dying-upstream-conn");
              serving.setDaemon(true);
              serving.start();
            } catch (IOException e) {
              return;
            }
          }
        }, "dying-upstream-accept");
        t.setDaemon(true);
        t.start();
      }

      String baseUrl() {
        return "http://127.0.0.1:" + server.getLocalPort();
      }

      private void serve(Socket c, int answered, boolean reset) {
        try (c) {
          c.setSoTimeout(10_000);
          InputStream in = new BufferedInputStream(c.getInputStream());
          for (int n = 0; readRequest(in); n++) {
            requests.incrementAndGet();
            if (n == answered) {
              if (reset) {
                c.setSoLinger(true, 0);
              }
              return;
            }
            c.getOutputStream().write(OK);
            c.getOutputStream().flush();
          }
        } catch (IOException e) {
          // closed
        }
      }

      private static boolean readRequest(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        int matched = 0;
        while (matched < 4) {
          int b = in.read();
          if (b < 0) {
            return false;
          }
          head.append((char) b);
          matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
        }
        String h = head.toString().toLowerCase();
        int at = h.indexOf("\r\ncontent-length:");
        if (at >= 0) {
          in.skipNBytes(Integer.parseInt(h.substring(at + 17, h.indexOf('\r', at + 2)).trim()));
        }
        return true;
      }

      @Override
      public void close() throws IOException {
        server.close();
      }
    }
  }
}
