package io.tollgate.gateway.mock;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tollgate.gateway.upstream.AkskJwt;
import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Options that change what the mock accepts: AK/SK, required headers, failEvery, event loops. */
class MockUpstreamAuthTest {

  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static final String BODY = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

  private Vertx vertx;

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
  }

  @AfterEach
  void tearDown() throws Exception {
    vertx.close().await();
  }

  private MockUpstream start(MockUpstream.Options options) throws Exception {
    return MockUpstream.start(vertx, options).await();
  }

  private static HttpResponse<String> call(MockUpstream mock, String authorization, String... headers)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(mock.baseUrl() + "/v1/chat/completions"))
            .timeout(Duration.ofSeconds(10))
            .POST(HttpRequest.BodyPublishers.ofString(BODY));
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    if (headers.length > 0) {
      b.headers(headers);
    }
    return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void akskRequired_rejectsMissingForgedAndExpiredTokens_andAcceptsAFreshOne() throws Exception {
    MockUpstream mock = start(MockUpstream.Options.defaults().withAksk("ak-test:sk-test"));
    long now = System.currentTimeMillis();

    HttpResponse<String> none = call(mock, null);
    HttpResponse<String> forged = call(mock, "Bearer " + AkskJwt.sign("ak-test", "not-the-secret", now));
    HttpResponse<String> expired =
        call(mock, "Bearer " + AkskJwt.sign("ak-test", "sk-test", now - AkskJwt.TTL_MILLIS - 1_000));
    HttpResponse<String> unknown = call(mock, "Bearer " + AkskJwt.sign("ak-other", "sk-test", now));
    HttpResponse<String> valid = call(mock, "Bearer " + AkskJwt.sign("ak-test", "sk-test", now));

    assertThat(List.of(none, forged, expired, unknown))
        .allSatisfy(r -> {
          assertThat(r.statusCode()).isEqualTo(401);
          assertThat(new ObjectMapper().readTree(r.body()).at("/error/code").asText())
              .isEqualTo("invalid_api_key");
          assertThat(r.body()).as("no secret echoed").doesNotContain("sk-test", "not-the-secret");
        });
    assertThat(expired.body()).contains("expired");
    assertThat(forged.body()).contains("bad signature");
    assertThat(valid.statusCode()).isEqualTo(200);
    assertThat(mock.requests()).as("rejected requests are logged too").hasSize(5);
  }

  @Test
  void requiredHeader_isEnforced_withoutEchoingItsValue() throws Exception {
    MockUpstream mock = start(MockUpstream.Options.defaults().withRequiredHeader("x-merchant-key", "s3cret"));

    HttpResponse<String> wrong = call(mock, null, "x-merchant-key", "guess");
    HttpResponse<String> right = call(mock, null, "x-merchant-key", "s3cret");

    assertThat(wrong.statusCode()).isEqualTo(401);
    assertThat(wrong.body()).doesNotContain("s3cret", "guess");
    assertThat(right.statusCode()).isEqualTo(200);
  }

  @Test
  void failEvery_failsExactlyEveryNthCall() throws Exception {
    MockUpstream mock = start(MockUpstream.Options.defaults().withFailEvery(3));
    List<Integer> statuses = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      statuses.add(call(mock, null).statusCode());
    }
    assertThat(statuses).containsExactly(200, 200, 500, 200, 200, 500, 200);
  }

  @Test
  void latencyOption_delaysEveryResponse() throws Exception {
    MockUpstream mock = start(MockUpstream.Options.defaults().withLatencyMs(200));
    long t0 = System.nanoTime();
    assertThat(call(mock, null).statusCode()).isEqualTo(200);
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(200));
  }

  @Test
  void severalEventLoops_shareOnePort_andOneLog() throws Exception {
    MockUpstream mock = start(MockUpstream.Options.defaults().withEventLoops(3).withLogCapacity(4));
    for (int i = 0; i < 6; i++) {
      // a new client per call makes new connections, spread over the servers
      HttpResponse<String> r =
          HttpClient.newHttpClient()
              .send(HttpRequest.newBuilder(URI.create(mock.baseUrl() + "/agent/run?q=" + i)).build(),
                  HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(200);
    }
    assertThat(mock.requestCount()).isEqualTo(6);
    assertThat(mock.requests()).as("log bounded to its capacity, newest kept")
        .extracting(MockUpstream.ReceivedRequest::query)
        .containsExactly("q=2", "q=3", "q=4", "q=5");
  }

  @Test
  void close_stopsListening() throws Exception {
    MockUpstream mock = start(MockUpstream.Options.defaults());
    assertThat(call(mock, null).statusCode()).isEqualTo(200);
    long served = mock.requestCount();
    mock.close().await();
    try {
      // A new client, so a new connection: the shared client's pooled one may not have seen the
      // server's FIN yet, and this test is about the listening port.
      HttpClient.newHttpClient()
          .send(
              HttpRequest.newBuilder(URI.create(mock.baseUrl() + "/v1/chat/completions"))
                  .timeout(Duration.ofSeconds(10))
                  .POST(HttpRequest.BodyPublishers.ofString(BODY))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      // The freed port was taken by another listener of the test run in the meantime (tests run
      // side by side): whatever answered, it was not this mock.
      assertThat(mock.requestCount()).as("a closed mock answers nothing").isEqualTo(served);
    } catch (java.io.IOException refused) {
      // nothing listens there any more
    }
  }
}
