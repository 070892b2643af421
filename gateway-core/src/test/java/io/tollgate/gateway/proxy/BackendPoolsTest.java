package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.management.UnixOperatingSystemMXBean;
import io.tollgate.gateway.catalog.Endpoint;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.mock.MockUpstream;
import io.netty.util.ResourceLeakDetector;
import io.tollgate.gateway.testing.NettyLeaks;
import io.tollgate.metering.usage.UsageEvent;
import io.vertx.core.Vertx;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The backend pool under a burst: thousands of pooled connections that all die at once (the
 * upstream restarts) must not break the calls that follow. One event loop, so every connection of
 * the burst lands in one pool.
 */
class BackendPoolsTest {

  /**
   * Concurrent streams in the burst. Netty's SimpleChannelPool, which {@link OriginPool} replaced,
   * recursed once per dead connection on acquire: measured here, 1,500 dead connections passed
   * and 2,000 overflowed the event loop's 1 MB stack, so 3,000 fails reliably on that pool. The
   * JVM holds four descriptors per stream (buyer client, buyer port, backend, mock): 12,000,
   * under the limit of 20,000 here. About 8 s on an idle machine.
   */
  private static final int BURST = 3_000;

  private static final String STREAM = "{\"model\":\"mock-gpt\",\"stream\":true,\"max_tokens\":3,"
      + "\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"burst\"}]}";

  Vertx vertx;
  MockUpstream mock;
  ProxyHarness gw;

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults().withLogCapacity(0)).await();
    gw = new ProxyHarness(/* eventLoops= */ 1, 64 * 1024);
  }

  @AfterEach
  void stop() {
    gw.close();
    mock.close().await();
    vertx.close().await();
    assertThat(NettyLeaks.collect()).as("no Netty buffer may leak").isEmpty();
  }

  @Test
  @Timeout(120)
  void burstOfStreams_thenUpstreamRestart_nextCallsAreServed() throws Exception {
    Product product = new Product("p-" + UUID.randomUUID(), "m-1", "burst", Protocol.OPENAI,
        List.of(new Endpoint(mock.baseUrl(), 1, Map.of())), UpstreamAuth.NONE, Duration.ofSeconds(10),
        Duration.ofSeconds(30), null, null, null, null, Instant.now());
    String key = gw.subscribe(product);
    long openBefore = openDescriptors();

    // The burst: every stream waits for its head upstream until all are in flight, so the pool
    // holds one connection per stream when they end.
    List<SocketChannel> buyers = new ArrayList<>(BURST);
    // The burst tests the pool, not buffers: paranoid tracking of its ~100,000 buffers doubles its
    // time. Sampled detection still reports a leak; the calls after the restart run paranoid.
    ResourceLeakDetector.Level level = ResourceLeakDetector.getLevel();
    ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.SIMPLE);
    try {
      byte[] request = ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key
          + "\r\nContent-Type: application/json\r\nx-mock-delay-ms: 3000\r\nContent-Length: " + STREAM.length()
          + "\r\n\r\n" + STREAM).getBytes(StandardCharsets.US_ASCII);
      for (int i = 0; i < BURST; i++) {
        SocketChannel s = SocketChannel.open(new InetSocketAddress("127.0.0.1", gw.port));
        buyers.add(s);
        s.write(ByteBuffer.wrap(request));
      }
      Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> gw.events.size() >= BURST);
      assertThat(gw.events).as("every stream of the burst is served").hasSize(BURST)
          .allSatisfy(e -> assertThat(e.outcome()).isEqualTo(UsageEvent.Outcome.COMPLETED));
    } finally {
      ResourceLeakDetector.setLevel(level);
      for (SocketChannel s : buyers) {
        s.close();
      }
    }

    // The upstream restarts on the same port: every pooled connection is closed under the pool.
    // The descriptors of the burst are all gone once the gateway has seen every close.
    int port = mock.port();
    mock.close().await();
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> openDescriptors() < openBefore + 100);
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults().withPort(port)).await();

    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    for (int i = 0; i < 20; i++) {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(gw.url("/v1/chat/completions")))
          .header("authorization", "Bearer " + key).POST(HttpRequest.BodyPublishers.ofString(STREAM)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as("call %d after the restart (a StackOverflowError was a 502): %s", i, r.body())
          .isEqualTo(200);
      assertThat(r.body()).endsWith("data: [DONE]\n\n");
    }
  }

  private static long openDescriptors() {
    return ((UnixOperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getOpenFileDescriptorCount();
  }
}
