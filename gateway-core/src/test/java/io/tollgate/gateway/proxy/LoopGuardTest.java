package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Counter;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.mock.MockUpstream;
import io.tollgate.gateway.testing.NettyLeaks;
import io.tollgate.gateway.upstream.AddressPolicy;
import io.tollgate.metering.usage.UsageEvent;
import io.vertx.core.Vertx;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestInstance.Lifecycle;

/**
 * The buyer port never connects to an address the policy refuses, whatever the endpoint's host
 * resolves to at the time, and never forwards a request that has already been through it.
 */
@TestInstance(Lifecycle.PER_CLASS)
class LoopGuardTest {

  static final String CHAT = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}";

  Vertx vertx;
  MockUpstream mock;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeAll
  void start() {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults()).await();
  }

  @AfterAll
  void stop() {
    mock.close().await();
    vertx.close().await();
    assertThat(NettyLeaks.collect()).as("no Netty buffer may leak").isEmpty();
  }

  HttpResponse<String> chat(ProxyHarness gw, String key, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(gw.url("/v1/chat/completions")))
        .timeout(Duration.ofSeconds(20)).header("content-type", "application/json")
        .header("authorization", "Bearer " + key).POST(HttpRequest.BodyPublishers.ofString(CHAT));
    if (headers.length > 0) {
      b.headers(headers);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static Product product(String url, Map<String, String> headers) {
    return ProxyHarness.product(Protocol.OPENAI, url, UpstreamAuth.NONE, headers, Duration.ofSeconds(2), null);
  }

  static double denied(ProxyHarness gw, String reason) {
    Counter c = gw.registry.find("tollgate.upstream.denied").tag("reason", reason).counter();
    return c == null ? 0 : c.count();
  }

  UsageEvent eventOf(ProxyHarness gw, HttpResponse<?> r) {
    UUID id = UUID.fromString(r.headers().firstValue("x-request-id").orElseThrow());
    return Awaitility.await().atMost(Duration.ofSeconds(5)).until(
        () -> gw.events.stream().filter(e -> e.requestId().equals(id)).findFirst().orElse(null),
        java.util.Objects::nonNull);
  }

  static void assertGeneric502(HttpResponse<String> r, String... hidden) {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(502);
    assertThat(r.body()).as("the buyer learns nothing about the address").isEqualTo(
        "{\"error\":{\"message\":\"The upstream endpoint could not be reached. Nothing was billed; retry later.\","
            + "\"type\":\"upstream_error\","
            + "\"code\":\"upstream_unavailable\"}}");
    for (String h : hidden) {
      assertThat(r.body()).doesNotContain(h);
    }
  }

  @Test
  void endpointResolvingIntoADeniedNetwork_is502_neverCalled_andCounted() throws Exception {
    try (ProxyHarness gw = new ProxyHarness(1, 64 * 1024, AddressPolicy.create(List.of("127.0.0.0/8")))) {
      long before = mock.requestCount();
      // registered elsewhere, or resolving differently then: only the connect-time check is left
      HttpResponse<String> r = chat(gw, gw.subscribe(product(mock.baseUrl(), Map.of())));
      assertGeneric502(r, "127.0.0.1", Integer.toString(mock.port()));
      assertThat(mock.requestCount()).as("the upstream was never called").isEqualTo(before);
      assertThat(denied(gw, "denied_network")).isEqualTo(1);
      assertThat(eventOf(gw, r).billable()).isFalse();
    }
  }

  @Test
  void endpointResolvingToTheGatewaysOwnPort_is502_andCounted() throws Exception {
    AddressPolicy policy = AddressPolicy.create(List.of());
    try (ProxyHarness gw = new ProxyHarness(1, 64 * 1024, policy)) {
      policy.addListener(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), gw.port));
      for (String host : new String[] {"localhost", "127.0.0.1", "[::ffff:127.0.0.1]", "0.0.0.0"}) {
        assertGeneric502(chat(gw, gw.subscribe(product("http://" + host + ":" + gw.port, Map.of()))),
            Integer.toString(gw.port));
      }
      assertThat(denied(gw, "own_listener")).isEqualTo(4);
    }
  }

  @Test
  void metadataEndpoint_is502_withoutAConnectAttempt() throws Exception {
    try (ProxyHarness gw = new ProxyHarness(1, 64 * 1024, AddressPolicy.create(List.of()))) {
      long start = System.nanoTime();
      assertGeneric502(chat(gw, gw.subscribe(product("http://169.254.169.254", Map.of()))), "169.254");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).as("refused before connecting, not timed out")
          .isLessThan(Duration.ofSeconds(1));
      assertThat(denied(gw, "link_local_or_metadata")).isEqualTo(1);
    }
  }

  @Test
  void everyUpstreamRequest_carriesOurVia_afterTheBuyers() throws Exception {
    try (ProxyHarness gw = new ProxyHarness(1, 64 * 1024)) {
      assertThat(gw.services.instanceId()).matches("tollgate-[0-9a-f]{8}");
      String key = gw.subscribe(product(mock.baseUrl(), Map.of()));
      assertThat(chat(gw, key, "via", "1.0 fred, 1.1 edge-proxy").statusCode()).isEqualTo(200);
      List<String> via = mock.requests().get(mock.requests().size() - 1).headers().getAll("via");
      assertThat(String.join(", ", via)).as("the buyer's proxies, then this gateway")
          .isEqualTo("1.0 fred, 1.1 edge-proxy, 1.1 " + gw.services.instanceId());

      assertThat(chat(gw, key).statusCode()).isEqualTo(200);
      assertThat(mock.requests().get(mock.requests().size() - 1).headers().getAll("via"))
          .containsExactly("1.1 " + gw.services.instanceId());
    }
  }

  @Test
  void buyerRequestCarryingOurVia_is508_andNeverForwarded() throws Exception {
    try (ProxyHarness gw = new ProxyHarness(1, 64 * 1024)) {
      String id = gw.services.instanceId();
      String key = gw.subscribe(product(mock.baseUrl(), Map.of()));
      long before = mock.requestCount();
      for (String via : new String[] {"1.1 " + id, "1.0 fred, 1.1 " + id + " (tollgate)", "HTTP/1.1 " + id.toUpperCase()}) {
        HttpResponse<String> r = chat(gw, key, "via", via);
        assertThat(r.statusCode()).as(via).isEqualTo(508);
        assertThat(r.body()).contains("\"code\":\"loop_detected\"");
      }
      HttpResponse<String> twoLines = http.send(HttpRequest.newBuilder(URI.create(gw.url("/v1/chat/completions")))
          .header("authorization", "Bearer " + key).header("via", "1.0 fred").header("via", "1.1 " + id)
          .POST(HttpRequest.BodyPublishers.ofString(CHAT)).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(twoLines.statusCode()).as("our token on a second Via line").isEqualTo(508);
      assertThat(mock.requestCount()).as("none was forwarded").isEqualTo(before);

      assertThat(chat(gw, key, "via", "1.1 " + id + "-other, 1.1 x" + id).statusCode())
          .as("another instance's id is not ours").isEqualTo(200);
    }
  }

  /**
   * The loop of the issue: an endpoint that is the gateway's own buyer port, carrying a key of its
   * own as a static header, unseen by the address policy (here: one that knows no listener, as
   * behind a NAT). The second pass answers 508, which the first passes on: one turn, not a loop
   * until the descriptors run out.
   */
  @Test
  void endpointLeadingBackToTheGateway_isAnswered508AfterOneTurn() throws Exception {
    try (ProxyHarness gw = new ProxyHarness(1, 64 * 1024)) {
      String key = "tg-loop-" + UUID.randomUUID();
      gw.subscribe(product(gw.url(""), Map.of("x-api-key", key)), key);
      long start = System.nanoTime();
      HttpResponse<String> r = chat(gw, key);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(508);
      assertThat(r.body()).contains("\"code\":\"loop_detected\"");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
      assertThat(eventOf(gw, r).billable()).as("a looped call is not billed").isFalse();
      assertThat(gw.events).as("one call forwarded once; the second pass was refused before admission").hasSize(1);
      assertThat(chat(gw, gw.subscribe(product(mock.baseUrl(), Map.of()))).statusCode())
          .as("the gateway keeps serving").isEqualTo(200);
    }
  }
}
