package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.testing.NettyLeaks;
import io.tollgate.metering.usage.UsageEvent;
import io.tollgate.metering.usage.UsageEvent.Outcome;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * {@code upstream.maxConnectionsPerEndpoint} and {@code maxPendingPerEndpoint} through the buyer
 * port, in front of an upstream that holds every request until the test lets it answer. One event
 * loop, so the caps given are the loop's own.
 *
 * <p>Run on io_uring and on epoll (see {@link ProxyHarness}).
 */
class UpstreamConnectionCapTest {

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

  abstract static class Contract {

    private static final String CHAT = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    private static final String ANSWER = "{\"id\":\"c-1\",\"object\":\"chat.completion\",\"model\":\"mock-gpt\","
        + "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"hello\"},"
        + "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,\"total_tokens\":12}}";

    Vertx vertx;
    HttpServer upstream;
    final BlockingQueue<HttpServerRequest> held = new LinkedBlockingQueue<>();
    final AtomicInteger upstreamConnections = new AtomicInteger();
    ProxyHarness gw;
    HttpClient http;
    String key;

    /** The buyer port's transport: {@link Transport#IO_URING} or {@link Transport#EPOLL}. */
    final String transport;

    Contract(String transport) {
      this.transport = transport;
    }

    @BeforeEach
    void startUpstream() {
      vertx = Vertx.vertx();
      upstream = vertx.createHttpServer()
          .connectionHandler(c -> upstreamConnections.incrementAndGet())
          .requestHandler(req -> req.body().onSuccess(b -> held.add(req)))
          .listen(0, "127.0.0.1").await();
      http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    }

    /** The buyer port with these caps, and a product whose connect timeout (the longest wait) is {@code connect}. */
    void startGateway(EndpointLimits limits, Duration connect) throws Exception {
      startGateway(limits, connect, Duration.ofSeconds(30));
    }

    void startGateway(EndpointLimits limits, Duration connect, Duration response) throws Exception {
      gw = new ProxyHarness(transport, /* eventLoops= */ 1, 64 * 1024, ProxyHarness.HEAD_TIMEOUT,
          ProxyHarness.IDLE_TIMEOUT, limits);
      Product p = ProxyHarness.product(Protocol.OPENAI, "http://127.0.0.1:" + upstream.actualPort(), UpstreamAuth.NONE,
          Map.of(), response, null);
      key = gw.subscribe(new Product(p.id(), p.merchantId(), p.name(), p.protocol(), p.endpoints(), p.auth(), connect,
          p.responseTimeout(), p.paths(), null, null, null, p.createdAt()));
    }

    @AfterEach
    void stop() {
      held.forEach(r -> r.connection().close());
      if (gw != null) {
        gw.close();
      }
      upstream.close().await();
      vertx.close().await();
      assertThat(NettyLeaks.collect()).as("no Netty buffer may leak").isEmpty();
    }

    private CompletableFuture<HttpResponse<String>> call() {
      return http.sendAsync(HttpRequest.newBuilder(URI.create(gw.url("/v1/chat/completions")))
          .timeout(Duration.ofSeconds(30)).header("authorization", "Bearer " + key)
          .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(CHAT)).build(),
          HttpResponse.BodyHandlers.ofString());
    }

    /** Lets the upstream answer the request it has held longest. */
    private void answerOne() throws InterruptedException {
      HttpServerRequest req = held.poll(10, TimeUnit.SECONDS);
      assertThat(req).as("a request held upstream").isNotNull();
      req.response().putHeader("content-type", "application/json").end(ANSWER);
    }

    private double overloaded(String reason) {
      return gw.registry.counter("tollgate.upstream.overloaded", "reason", reason).count();
    }

    private double pending() {
      return gw.registry.get("tollgate.upstream.pending").gauge().value();
    }

    private static void assertOverloaded(HttpResponse<String> r) {
      assertThat(r.statusCode()).isEqualTo(503);
      assertThat(r.headers().firstValue("retry-after")).as("SDKs wait this long before retrying").hasValue("1");
      assertThat(r.headers().firstValue("x-request-id")).isPresent();
      assertThat(r.body()).contains("\"type\":\"upstream_error\"").contains("\"code\":\"upstream_overloaded\"");
    }

    @Test
    void capTwoQueueOne_fourthCallGets503AtOnce_queuedCallGoesOnAFreedConnection_onlyServedCallsBilled()
        throws Exception {
      startGateway(new EndpointLimits(2, 1), Duration.ofSeconds(30));

      CompletableFuture<HttpResponse<String>> first = call();
      CompletableFuture<HttpResponse<String>> second = call();
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> held.size() == 2);
      CompletableFuture<HttpResponse<String>> third = call();
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> pending() == 1);
      HttpResponse<String> fourth = call().get(10, TimeUnit.SECONDS);

      assertOverloaded(fourth);
      assertThat(overloaded("queue_full")).as("refused for the full queue, not after a wait").isEqualTo(1.0);
      assertThat(first.isDone() || second.isDone() || third.isDone()).as("the others are still in flight").isFalse();
      assertThat(held).as("the upstream never saw more than the cap").hasSize(2);

      answerOne();
      CompletableFuture.anyOf(first, second).get(10, TimeUnit.SECONDS);
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> held.size() == 2);
      assertThat(pending()).as("the queued call took the freed connection").isZero();
      assertThat(third.isDone()).isFalse();
      answerOne();
      answerOne();
      assertThat(first.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
      assertThat(second.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
      assertThat(third.get(10, TimeUnit.SECONDS).body()).isEqualTo(ANSWER);
      assertThat(upstreamConnections.get()).as("the queued call reused a pooled connection").isEqualTo(2);

      Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> gw.events.size() == 4);
      List<UsageEvent> billable = gw.events.stream().filter(UsageEvent::billable).toList();
      assertThat(billable).as("the three served calls, each with the upstream's usage").hasSize(3)
          .allSatisfy(e -> assertThat(e.tokens().outputTokens()).isEqualTo(7));
      assertThat(gw.events.stream().filter(e -> !e.billable()).toList()).singleElement().satisfies(e -> {
        assertThat(e.status()).isEqualTo(503);
        assertThat(e.outcome()).isEqualTo(Outcome.UPSTREAM_FAILED);
        assertThat(e.tokens().outputTokens()).isZero();
      });
    }

    @Test
    void queuedCall_waitingLongerThanTheConnectTimeout_gets503() throws Exception {
      startGateway(new EndpointLimits(1, 1), Duration.ofMillis(300));
      CompletableFuture<HttpResponse<String>> first = call();
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> held.size() == 1);

      HttpResponse<String> second = call().get(10, TimeUnit.SECONDS);

      assertOverloaded(second);
      assertThat(overloaded("wait_timed_out")).isEqualTo(1.0);
      assertThat(overloaded("queue_full")).isZero();
      answerOne();
      assertThat(first.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    }

    @Test
    void buyerLeavingWhileQueued_freesItsPlaceInTheQueue() throws Exception {
      startGateway(new EndpointLimits(1, 1), Duration.ofSeconds(30));
      CompletableFuture<HttpResponse<String>> first = call();
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> held.size() == 1);
      byte[] request = ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key
          + "\r\nContent-Type: application/json\r\nContent-Length: " + CHAT.length() + "\r\n\r\n" + CHAT)
          .getBytes(StandardCharsets.US_ASCII);
      try (SocketChannel leaving = SocketChannel.open(new InetSocketAddress("127.0.0.1", gw.port))) {
        leaving.write(ByteBuffer.wrap(request));
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> pending() == 1);
      }
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> pending() == 0);

      CompletableFuture<HttpResponse<String>> third = call();
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> pending() == 1);
      answerOne();
      answerOne();

      assertThat(first.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
      assertThat(third.get(10, TimeUnit.SECONDS).statusCode()).as("queued where the one that left had been")
          .isEqualTo(200);
      assertThat(overloaded("queue_full") + overloaded("wait_timed_out")).isZero();
    }

    @Test
    void queuedCall_isNotTimedOutByItsConnectionsPreviousCall() throws Exception {
      // The response timeout runs from when a call has its upstream connection: a call queued for
      // one is bounded by the connect timeout, whatever the same buyer connection's last call left.
      startGateway(new EndpointLimits(1, 1), Duration.ofSeconds(30), Duration.ofSeconds(1));
      try (java.net.Socket buyer = new java.net.Socket("127.0.0.1", gw.port)) {
        buyer.setSoTimeout(10_000);
        buyer.getOutputStream().write(IdleTimeoutTest.call(key));
        answerOne();
        assertThat(IdleTimeoutTest.readAnswer(buyer.getInputStream())).startsWith("HTTP/1.1 200");

        CompletableFuture<HttpResponse<String>> holder = call(); // takes the only connection, then times out
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> held.size() == 1);
        buyer.getOutputStream().write(IdleTimeoutTest.call(key)); // queued behind it, on the same buyer connection
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> pending() == 1);

        assertThat(holder.get(10, TimeUnit.SECONDS).statusCode()).as("the held call's own timeout").isEqualTo(504);
        held.poll(10, TimeUnit.SECONDS).connection().close();
        answerOne(); // the queued call, on the connection that freed
        assertThat(IdleTimeoutTest.readAnswer(buyer.getInputStream())).as("the queued call").startsWith("HTTP/1.1 200");
      }
    }
  }
}
