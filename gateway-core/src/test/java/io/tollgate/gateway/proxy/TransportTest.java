package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.mock.MockUpstream;
import io.tollgate.gateway.testing.NettyLeaks;
import io.tollgate.metering.usage.UsageEvent;
import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.awaitility.Awaitility;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** {@code server.transport}: what each choice resolves to, and a real call on each transport there is here. */
class TransportTest {

  private static Function<String, Throwable> unavailable(String... names) {
    Set<String> down = Set.of(names);
    return name -> down.contains(name) ? new UnsupportedOperationException(name + " missing") : null;
  }

  @Test
  void auto_takesTheFirstAvailableInItsOrder_andEndsOnNio() {
    assertThat(Transport.choose("auto", unavailable()).name()).isEqualTo(Transport.AUTO_ORDER.get(0));
    assertThat(Transport.choose("auto", unavailable()).name()).isEqualTo("io_uring");
    assertThat(Transport.choose("auto", unavailable("epoll")).name()).isEqualTo("io_uring");
    assertThat(Transport.choose("auto", unavailable("io_uring")).name()).isEqualTo("epoll");
    assertThat(Transport.choose("auto", unavailable("epoll", "io_uring")).name()).isEqualTo("nio");
  }

  @Test
  void auto_takesIoUring_onlyWhereACallsEndCanBeSubmittedAtOnce() {
    assertThat(Transport.AUTO_ORDER).startsWith("io_uring", "epoll");
    assertThat(Transport.unavailabilityCause("io_uring")).as("io_uring runs on this machine's kernel").isNull();
    assertThat(Transport.autoUnavailabilityCause("io_uring")).as("SubmitNow reaches this Netty's ring")
        .isSameAs(SubmitNow.UNAVAILABLE).isNull();
    assertThat(Transport.choose("auto").name()).isEqualTo("io_uring");
    assertThat(Transport.autoUnavailabilityCause("epoll")).isNull();
  }

  @Test
  void anUnavailableChoice_isRefusedWithItsCause_neverReplaced() {
    assertThatThrownBy(() -> Transport.choose("io_uring", unavailable("io_uring")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("io_uring is not available here (java.lang.UnsupportedOperationException: io_uring missing)");
    assertThatThrownBy(() -> Transport.choose("epoll", unavailable("epoll", "io_uring")))
        .hasMessageStartingWith("epoll is not available here");
    assertThat(Transport.choose("nio", unavailable("epoll", "io_uring")).name()).isEqualTo("nio");
    assertThatThrownBy(() -> Transport.choose("kqueue", unavailable()))
        .hasMessage("must be one of auto, io_uring, epoll, nio, got kqueue");
  }

  /**
   * A JSON and a streamed call through a buyer port on each transport, to an endpoint named
   * {@code localhost}: the name goes through the DNS resolver, whose datagram channel must be of
   * the loops' transport.
   */
  @ParameterizedTest
  @ValueSource(strings = {"io_uring", "epoll", "nio"})
  void eachTransport_proxiesJsonAndStreamedCalls_andIsReportedByItsName(String transport) throws Exception {
    assumeThat(Transport.unavailabilityCause(transport)).as(transport + " available here").isNull();
    Vertx vertx = Vertx.vertx();
    MockUpstream mock = MockUpstream.start(vertx, MockUpstream.Options.defaults()).await();
    try (ProxyHarness gw = new ProxyHarness(/* eventLoops= */ 2, transport)) {
      assertThat(gw.server.transportName()).isEqualTo(transport);
      String key = gw.subscribe(ProxyHarness.product(Protocol.OPENAI, "http://localhost:" + mock.port(),
          UpstreamAuth.NONE, Map.of(), Duration.ofSeconds(10), null));
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      for (boolean stream : new boolean[] {false, true}) {
        String body = "{\"model\":\"mock-gpt\",\"stream\":" + stream
            + ",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}";
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(gw.url("/v1/chat/completions")))
            .header("authorization", "Bearer " + key).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
            HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as("%s, stream=%s: %s", transport, stream, r.body()).isEqualTo(200);
        assertThat(r.body()).as("the whole answer").contains(stream ? "data: [DONE]" : "\"usage\"");
      }
      Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> gw.events.size() == 2);
      assertThat(gw.events).allSatisfy(e -> {
        assertThat(e.billable()).isTrue();
        assertThat(e.tokens().outputTokens()).as("usage read from the answer").isPositive();
        assertThat(e.tokens().estimated()).isFalse();
      });
      assertThat(gw.events).extracting(UsageEvent::outcome).containsOnly(UsageEvent.Outcome.COMPLETED);
    } finally {
      mock.close().await();
      vertx.close().await();
    }
    assertThat(NettyLeaks.collect()).as("no Netty buffer may leak").isEmpty();
  }
}
