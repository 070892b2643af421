package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.proxy.RawUpstream.Answer;
import io.tollgate.gateway.testing.NettyLeaks;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestInstance.Lifecycle;

/**
 * Exactly which header fields cross tollgate, both ways, read off the wire with raw sockets: the
 * request an upstream receives for a buyer's request full of fields that must not pass (the key,
 * hop-by-hop fields, forged identities, their underscore spellings, framing), and the answer a
 * buyer receives for an upstream's answer with hop-by-hop and account fields; trailer fields of a
 * chunked answer reach the buyer, those of a chunked request are dropped with its framing. Every
 * field is listed, so a change to how heads are decoded, kept or re-used cannot add, lose or
 * alter one unnoticed.
 */
@TestInstance(Lifecycle.PER_CLASS)
class ForwardedHeadersTest {

  static final String CHAT = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  static final String ANSWER_BODY = "{\"id\":\"a\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,"
      + "\"completion_tokens\":2,\"total_tokens\":5}}";

  ProxyHarness gw;

  @BeforeAll
  void start() throws Exception {
    gw = new ProxyHarness(/* eventLoops= */ 1, 64 * 1024);
  }

  @AfterAll
  void stop() {
    gw.close();
    assertThat(NettyLeaks.collect()).as("no Netty buffer may leak").isEmpty();
  }

  private Product product(RawUpstream upstream) {
    return ProxyHarness.product(Protocol.OPENAI, upstream.baseUrl(), UpstreamAuth.NONE,
        Map.of("x-merchant-secret", "merchant-secret-1"), Duration.ofSeconds(5), null);
  }

  @Test
  void theUpstreamReceives_exactlyTheBuyersEndToEndFields_andTollgatesOwn() throws Exception {
    try (RawUpstream upstream = new RawUpstream()) {
      String key = gw.subscribe(product(upstream));
      String head = "POST /v1/chat/completions HTTP/1.1\r\n"
          + "Host: buyer.example\r\n"
          + "Authorization: Bearer " + key + "\r\n"
          + "Content-Type: application/json\r\n"
          + "Accept: application/json\r\n"
          + "Accept-Encoding: gzip, br\r\n"
          + "User-Agent: OpenAI/Python 1.40.0\r\n"
          + "Connection: keep-alive, X-Hop\r\n"
          + "X-Hop: dropped with the connection\r\n"
          + "Keep-Alive: timeout=5\r\n"
          + "Proxy-Connection: keep-alive\r\n"
          + "Proxy-Authorization: Basic Zm9yZ2Vk\r\n"
          + "TE: trailers\r\n"
          + "Upgrade: h2c\r\n"
          + "X-Api-Key: " + key + "\r\n"
          + "X-Request-Id: forged-id\r\n"
          + "X-Customer-Id: forged-buyer\r\n"
          + "x_customer_name: Forged\r\n"
          + "X_Merchant_Secret: forged-secret\r\n"
          + "X_Trace_Id: kept\r\n"
          + "OpenAI-Beta: assistants=v2\r\n"
          + "Via: 1.1 corporate-proxy\r\n"
          + "Content-Length: " + CHAT.length() + "\r\n\r\n" + CHAT;

      String answer = call(head);

      assertThat(answer).startsWith("HTTP/1.1 200");
      String requestId = field(answer, "x-request-id");
      String got = upstream.received.poll();
      assertThat(got).as("one request reached the upstream").isNotNull();
      assertThat(got).startsWith("POST /v1/chat/completions HTTP/1.1\r\n").endsWith("\r\n\r\n" + CHAT);
      assertThat(fields(got)).as("the buyer's end-to-end fields, then tollgate's; nothing else").containsExactlyInAnyOrder(
          "content-type: application/json",
          "accept: application/json",
          "user-agent: OpenAI/Python 1.40.0",
          "x_trace_id: kept",
          "openai-beta: assistants=v2",
          "via: 1.1 corporate-proxy",
          "via: 1.1 " + gw.services.instanceId(),
          "host: 127.0.0.1:" + upstream.baseUrl().substring(upstream.baseUrl().lastIndexOf(':') + 1),
          "x-merchant-secret: merchant-secret-1",
          "x-request-id: " + requestId,
          "x-customer-id: buyer-1",
          "x-customer-name: Buyer%20%C3%9Cn%C3%AFcode%0D%0AX",
          "connection: keep-alive",
          "content-length: " + CHAT.length());
    }
  }

  @Test
  void aChunkedRequestWithTrailerFields_isForwardedWithALength_andWithoutThem() throws Exception {
    try (RawUpstream upstream = new RawUpstream()) {
      String key = gw.subscribe(product(upstream));
      String head = "POST /v1/chat/completions HTTP/1.1\r\nHost: buyer.example\r\nAuthorization: Bearer " + key
          + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
          + Integer.toHexString(10) + "\r\n" + CHAT.substring(0, 10) + "\r\n"
          + Integer.toHexString(CHAT.length() - 10) + "\r\n" + CHAT.substring(10) + "\r\n"
          + "0\r\nX-Checksum: c1\r\n\r\n";

      String answer = call(head);

      assertThat(answer).startsWith("HTTP/1.1 200");
      String got = upstream.received.poll();
      assertThat(got).endsWith("\r\n\r\n" + CHAT);
      assertThat(fields(got)).contains("content-length: " + CHAT.length())
          .noneMatch(f -> f.startsWith("transfer-encoding") || f.startsWith("x-checksum"));
    }
  }

  @Test
  void theBuyerReceives_exactlyTheUpstreamsEndToEndFields_andTollgatesOwn() throws Exception {
    Answer answer = Answer.of("HTTP/1.1 200 OK\r\n"
        + "Content-Type: application/json\r\n"
        + "Connection: keep-alive, X-Upstream-Hop\r\n"
        + "X-Upstream-Hop: dropped\r\n"
        + "Keep-Alive: timeout=5\r\n"
        + "Proxy-Authenticate: Basic\r\n"
        + "Upgrade: h2c\r\n"
        + "X-Request-Id: req_upstream_1\r\n"
        + "X-Ratelimit-Limit-Requests: 10000\r\n"
        + "x-ratelimit-remaining-tokens: 99\r\n"
        + "Anthropic-Ratelimit-Requests-Limit: 50\r\n"
        + "OpenAI-Organization: org-merchant\r\n"
        + "openai-project: proj_merchant\r\n"
        + "anthropic-organization-id: org-merchant-a\r\n"
        + "OpenAI-Processing-Ms: 12\r\n"
        + "Set-Cookie: a=b\r\n"
        + "Content-Length: " + ANSWER_BODY.length() + "\r\n\r\n" + ANSWER_BODY, false);
    try (RawUpstream upstream = new RawUpstream(answer)) {
      String key = gw.subscribe(product(upstream));

      String got = call("POST /v1/chat/completions HTTP/1.1\r\nHost: buyer.example\r\nAuthorization: Bearer " + key
          + "\r\nContent-Type: application/json\r\nContent-Length: " + CHAT.length() + "\r\n\r\n" + CHAT);

      assertThat(got).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\r\n\r\n" + ANSWER_BODY);
      String requestId = field(got, "x-request-id");
      assertThat(requestId).as("tollgate's request id, not the upstream's").isNotEqualTo("req_upstream_1")
          .matches("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
      assertThat(fields(got)).as("the upstream's end-to-end fields, then tollgate's; nothing else")
          .containsExactlyInAnyOrder(
              "content-type: application/json",
              "openai-processing-ms: 12",
              "set-cookie: a=b",
              "content-length: " + ANSWER_BODY.length(),
              "x-request-id: " + requestId);
    }
  }

  @Test
  void trailerFieldsOfAChunkedAnswer_reachTheBuyer() throws Exception {
    Answer answer = Answer.of("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        + "Trailer: X-Checksum\r\n\r\n"
        + Integer.toHexString(ANSWER_BODY.length()) + "\r\n" + ANSWER_BODY + "\r\n"
        + "0\r\nX-Checksum: c2\r\n\r\n", false);
    try (RawUpstream upstream = new RawUpstream(answer)) {
      String key = gw.subscribe(product(upstream));

      String got = call("POST /v1/chat/completions HTTP/1.1\r\nHost: buyer.example\r\nAuthorization: Bearer " + key
          + "\r\nContent-Type: application/json\r\nContent-Length: " + CHAT.length() + "\r\n\r\n" + CHAT);

      assertThat(got).startsWith("HTTP/1.1 200 OK\r\n")
          .endsWith(Integer.toHexString(ANSWER_BODY.length()) + "\r\n" + ANSWER_BODY + "\r\n0\r\nX-Checksum: c2\r\n\r\n");
      assertThat(fields(got)).as("Trailer is a hop-by-hop field here").contains("transfer-encoding: chunked")
          .noneMatch(f -> f.startsWith("trailer:"));
    }
  }

  /** Sends {@code request} on a new connection and reads one answer (a length or a chunked body). */
  private String call(String request) throws Exception {
    try (Socket s = new Socket("127.0.0.1", gw.port)) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      return readAnswer(s.getInputStream());
    }
  }

  private static String readAnswer(InputStream in) throws Exception {
    ByteArrayOutputStream got = new ByteArrayOutputStream();
    while (true) {
      int b = in.read();
      assertThat(b).as("answer so far: %s", got).isNotNegative();
      got.write(b);
      String s = got.toString(StandardCharsets.ISO_8859_1);
      int headEnd = s.indexOf("\r\n\r\n");
      if (headEnd < 0) {
        continue;
      }
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)\r\ncontent-length: *(\\d+)").matcher(s);
      if (m.find() && m.start() < headEnd) {
        if (s.length() == headEnd + 4 + Integer.parseInt(m.group(1))) {
          return s;
        }
      } else if (s.length() > headEnd + 4 && s.substring(headEnd + 4).matches("(?s).*(^|\r\n)0\r\n(.+\r\n)*\r\n")) {
        return s;
      }
    }
  }

  /** The header fields of a message's head, as {@code name: value} with the name in lower case. */
  static List<String> fields(String message) {
    String head = message.substring(0, message.indexOf("\r\n\r\n"));
    List<String> fields = new ArrayList<>();
    String[] lines = head.split("\r\n");
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      fields.add(lines[i].substring(0, colon).toLowerCase(Locale.ROOT) + ": " + lines[i].substring(colon + 1).trim());
    }
    return fields;
  }

  static String field(String message, String name) {
    return fields(message).stream().filter(f -> f.startsWith(name + ": ")).map(f -> f.substring(name.length() + 2))
        .findFirst().orElseThrow(() -> new AssertionError("no " + name + " in " + message));
  }
}
