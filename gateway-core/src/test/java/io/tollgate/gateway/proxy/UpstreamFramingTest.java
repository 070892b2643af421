package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.proxy.RawUpstream.Answer;
import io.tollgate.gateway.testing.NettyLeaks;
import io.tollgate.metering.usage.UsageEvent;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestInstance.Lifecycle;

/**
 * What the buyer gets when an upstream breaks HTTP/1.1 framing: hand-written raw-socket upstreams
 * on loopback send exact bytes. A broken answer is a 502 {@code bad_upstream_response} while
 * nothing went to the buyer yet, a cut buyer connection (no clean end) once the head went out;
 * it is never billable, and its backend connection never goes back to the pool, so the next call
 * on the same event loop is served. One event loop, so "the same loop" is certain.
 *
 * <p>Run on io_uring and on epoll (see {@link ProxyHarness}).
 */
class UpstreamFramingTest {

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

    private static final String CHAT = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    ProxyHarness gw;
    HttpClient http;

    /** The buyer port's transport: {@link Transport#IO_URING} or {@link Transport#EPOLL}. */
    final String transport;

    Contract(String transport) {
      this.transport = transport;
    }

    @BeforeAll
    void start() throws Exception {
      gw = new ProxyHarness(transport, /* eventLoops= */ 1, 64 * 1024, ProxyHarness.HEAD_TIMEOUT,
          ProxyHarness.IDLE_TIMEOUT, EndpointLimits.UNLIMITED);
      http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    }

    @AfterAll
    void stop() {
      gw.close();
      assertThat(NettyLeaks.collect()).as("no Netty buffer may leak").isEmpty();
    }

    private String subscribe(String baseUrl) {
      Product p = ProxyHarness.product(Protocol.OPENAI, baseUrl, UpstreamAuth.NONE, Map.of(), Duration.ofSeconds(2), null);
      return gw.subscribe(p);
    }

    private HttpResponse<String> post(String key) throws Exception {
      return http.send(HttpRequest.newBuilder(URI.create(gw.url("/v1/chat/completions"))).timeout(Duration.ofSeconds(10))
          .header("authorization", "Bearer " + key).header("content-type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(CHAT)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private UsageEvent eventOf(String requestId) {
      UUID id = UUID.fromString(requestId);
      return Awaitility.await().atMost(Duration.ofSeconds(5)).until(
          () -> gw.events.stream().filter(e -> e.requestId().equals(id)).findFirst().orElse(null), Objects::nonNull);
    }

    private static void assertError(HttpResponse<String> r, int status, String code) {
      assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
      assertThat(r.body()).as("OpenAI error shape").startsWith("{\"error\":{\"message\":\"")
          .contains("\"code\":\"" + code + "\"");
    }

    /** A failed call leaves a usage event that is not billable. */
    private void assertNotBilled(String requestId) {
      UsageEvent e = eventOf(requestId);
      assertThat(e.outcome()).as("a broken upstream answer is a failed call").isEqualTo(UsageEvent.Outcome.UPSTREAM_FAILED);
      assertThat(e.billable()).as("a broken upstream answer is never billed").isFalse();
    }

    /** The next call to the same upstream, on the same event loop, is served on a new connection. */
    private void assertNextCallServedOnAFreshConnection(RawUpstream raw, String key) throws Exception {
      HttpResponse<String> next = post(key);
      assertThat(next.statusCode()).as("the broken connection must not poison the pool: %s", next.body()).isEqualTo(200);
      assertThat(next.body()).isEqualTo(RawUpstream.OK_BODY);
      assertThat(raw.connections.get()).as("the broken connection is never reused").isEqualTo(2);
    }

    @Test
    void headWithContentLengthAndChunked_is502_notBilled_andNotPooled() throws Exception {
      try (RawUpstream raw = new RawUpstream(Answer.of("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
          + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", /* closeAfter= */ false))) {
        String key = subscribe(raw.baseUrl());

        HttpResponse<String> r = post(key);

        assertError(r, 502, "bad_upstream_response");
        assertThat(r.headers().firstValue("transfer-encoding")).as("nothing of the upstream's head reaches the buyer").isEmpty();
        assertNotBilled(r.headers().firstValue("x-request-id").orElseThrow());
        assertNextCallServedOnAFreshConnection(raw, key);
      }
    }

    @Test
    void malformedChunkSize_afterTheHeadWentOut_cutsTheBuyer_notBilled_andNotPooled() throws Exception {
      // The head and a first chunk reach the buyer, then the upstream sends a chunk size that is not
      // hex, and keeps the connection open as if all were well.
      try (RawUpstream raw = new RawUpstream(Answer.inTwoParts("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
          + "Transfer-Encoding: chunked\r\n\r\n6\r\ndata: \r\n", 300, "zz\r\nmore\r\n0\r\n\r\n", /* closeAfter= */ false))) {
        String key = subscribe(raw.baseUrl());

        String got = rawCall(key);

        assertThat(got).as("the head went out before the break").startsWith("HTTP/1.1 200").contains("data: ");
        assertThat(got).as("the buyer must not see a clean end of a broken body").doesNotEndWith("0\r\n\r\n");
        assertNotBilled(header(got, "x-request-id"));
        assertNextCallServedOnAFreshConnection(raw, key);
      }
    }

    @Test
    void aStreamedAnswer_reachesTheBuyerInTheUpstreamsOwnChunks_andIsMetered() throws Exception {
      String usage = "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}\n\n";
      String content = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n";
      // odd framing a re-encoder would not keep: upper-case hex with a leading zero, an extension,
      // two events in one chunk, one event split over two chunks
      String body = "0" + Integer.toHexString(content.length()).toUpperCase() + ";src=up\r\n" + content + "\r\n"
          + Integer.toHexString(usage.length() + 5) + "\r\n" + usage + "data:\r\n"
          + Integer.toHexString(" [DONE]\n\n".length()) + "\r\n [DONE]\n\n\r\n";
      try (RawUpstream raw = new RawUpstream(Answer.inTwoParts("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
          + "Transfer-Encoding: chunked\r\n\r\n" + body.substring(0, 40), 100, body.substring(40) + "0\r\n\r\n",
          /* closeAfter= */ false))) {
        String key = subscribe(raw.baseUrl());

        String got = rawCall(key);

        assertThat(got).startsWith("HTTP/1.1 200").containsIgnoringCase("transfer-encoding: chunked");
        assertThat(got.substring(got.indexOf("\r\n\r\n") + 4)).as("the upstream's chunks, then tollgate's end")
            .isEqualTo(body + "0\r\n\r\n");
        UsageEvent e = eventOf(header(got, "x-request-id"));
        assertThat(e.outcome()).isEqualTo(UsageEvent.Outcome.COMPLETED);
        assertThat(e.tokens().inputTokens()).isEqualTo(7);
        assertThat(e.tokens().outputTokens()).isEqualTo(3);
        assertThat(e.tokens().estimated()).isFalse();
      }
    }

    @Test
    void aStreamWhoseUsageChunkIsHidden_keepsTheUpstreamsOwnChunksForEveryOtherEvent() throws Exception {
      String content = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n";
      String usage = "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":4,\"total_tokens\":15}}\n\n";
      String done = "data: [DONE]\n\n";
      String kept = "0" + Integer.toHexString(content.length()).toUpperCase() + ";src=up\r\n" + content + "\r\n";
      String hidden = Integer.toHexString(usage.length()) + "\r\n" + usage + "\r\n";
      String last = Integer.toHexString(done.length()) + "\r\n" + done + "\r\n";
      try (RawUpstream raw = new RawUpstream(Answer.inTwoParts("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
          + "Transfer-Encoding: chunked\r\n\r\n" + kept + hidden.substring(0, 20), 100,
          hidden.substring(20) + last + "0\r\n\r\n", /* closeAfter= */ false))) {
        String key = subscribe(raw.baseUrl());

        String got = rawCall(key, "{\"model\":\"mock-gpt\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");

        assertThat(got.substring(got.indexOf("\r\n\r\n") + 4)).as("the buyer did not ask for usage: its chunk is gone, "
            + "the others are the upstream's own").isEqualTo(kept + last + "0\r\n\r\n");
        UsageEvent e = eventOf(header(got, "x-request-id"));
        assertThat(e.tokens().inputTokens()).isEqualTo(11);
        assertThat(e.tokens().outputTokens()).isEqualTo(4);
        assertThat(e.tokens().estimated()).isFalse();
      }
    }

    @Test
    void upstreamClosingInsideItsHead_is502_notBilled() throws Exception {
      try (RawUpstream raw = new RawUpstream(Answer.of("HTTP/1.1 200 OK\r\nContent-Type: applic", /* closeAfter= */ true))) {
        String key = subscribe(raw.baseUrl());

        HttpResponse<String> r = post(key);

        assertError(r, 502, "bad_upstream_response");
        assertNotBilled(r.headers().firstValue("x-request-id").orElseThrow());
        assertNextCallServedOnAFreshConnection(raw, key);
      }
    }

    @Test
    void refusedConnection_is502_withoutTheAddressOrTheCause() throws Exception {
      int deadPort;
      try (ServerSocket s = new ServerSocket(0)) {
        deadPort = s.getLocalPort();
      }
      HttpResponse<String> r = post(subscribe("http://127.0.0.1:" + deadPort));

      assertError(r, 502, "upstream_unavailable");
      assertThat(r.body()).as("a buyer never learns the merchant's address or an exception's text")
          .doesNotContain("127.0.0.1").doesNotContain(Integer.toString(deadPort)).doesNotContainIgnoringCase("refused")
          .doesNotContain("Exception").doesNotContain("Error:");
      assertNotBilled(r.headers().firstValue("x-request-id").orElseThrow());
    }

    /** One call on its own connection, {@code Connection: close}: everything the buyer reads until the end. */
    private String rawCall(String key) throws Exception {
      return rawCall(key, CHAT);
    }

    private String rawCall(String key, String body) throws Exception {
      try (Socket s = new Socket("127.0.0.1", gw.port)) {
        s.setSoTimeout(10_000);
        s.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key
            + "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " + body.length() + "\r\n\r\n"
            + body).getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        InputStream in = s.getInputStream();
        return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
      }
    }

    private static String header(String rawAnswer, String name) {
      Matcher m = Pattern.compile("(?im)^" + Pattern.quote(name) + ": *([^\r\n]+)").matcher(rawAnswer);
      assertThat(m.find()).as("%s in %s", name, rawAnswer).isTrue();
      return m.group(1).trim();
    }
  }
}
