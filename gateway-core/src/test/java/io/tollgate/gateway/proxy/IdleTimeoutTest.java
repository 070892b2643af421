package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.proxy.RawUpstream.Answer;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestInstance.Lifecycle;

/**
 * {@code server.idleTimeout} (1 s here): a keep-alive connection with no request in flight is
 * closed once it has been idle that long, counted from the end of its last answer; a call that
 * takes longer than the timeout, with a pause longer than it, is never cut.
 *
 * <p>Run on io_uring and on epoll (see {@link ProxyHarness}).
 */
class IdleTimeoutTest {

  static final Duration IDLE = Duration.ofSeconds(1);
  static final String CHAT = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

  static byte[] call(String key) {
    return ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key
        + "\r\nContent-Type: application/json\r\nContent-Length: " + CHAT.length() + "\r\n\r\n" + CHAT)
        .getBytes(StandardCharsets.US_ASCII);
  }

  /** Reads one answer with a Content-Length body or a chunked body; returns it. */
  static String readAnswer(InputStream in) throws Exception {
    StringBuilder got = new StringBuilder();
    while (true) {
      int b = in.read();
      assertThat(b).as("answer so far: %s", got).isNotNegative();
      got.append((char) b);
      String s = got.toString();
      int headEnd = s.indexOf("\r\n\r\n");
      if (headEnd < 0) {
        continue;
      }
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)\r\ncontent-length: *(\\d+)").matcher(s);
      if (m.find() ? s.length() == headEnd + 4 + Integer.parseInt(m.group(1)) : s.endsWith("\r\n0\r\n\r\n")) {
        return s;
      }
    }
  }

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

    ProxyHarness gw;

    /** The buyer port's transport: {@link Transport#IO_URING} or {@link Transport#EPOLL}. */
    final String transport;

    Contract(String transport) {
      this.transport = transport;
    }

    @BeforeAll
    void start() throws Exception {
      gw = new ProxyHarness(transport, /* eventLoops= */ 1, 64 * 1024, ProxyHarness.HEAD_TIMEOUT, IDLE,
          EndpointLimits.UNLIMITED);
    }

    @AfterAll
    void stop() {
      gw.close();
    }

    String subscribe(String baseUrl) {
      Product p = ProxyHarness.product(Protocol.OPENAI, baseUrl, UpstreamAuth.NONE, Map.of(), Duration.ofSeconds(10), null);
      return gw.subscribe(p);
    }

    @Test
    void aConnectionIdleForTheTimeout_isClosed_countedFromItsLastAnswer() throws Exception {
      try (RawUpstream raw = new RawUpstream(); Socket s = new Socket("127.0.0.1", gw.port)) {
        String key = subscribe(raw.baseUrl());
        s.setSoTimeout(10_000);
        s.getOutputStream().write(call(key));
        assertThat(readAnswer(s.getInputStream())).startsWith("HTTP/1.1 200");
        Thread.sleep(IDLE.toMillis() / 2);
        s.getOutputStream().write(call(key));
        assertThat(readAnswer(s.getInputStream())).as("half the timeout idle: still open").startsWith("HTTP/1.1 200");
        long answered = System.nanoTime();

        assertThat(s.getInputStream().read()).as("then closed").isEqualTo(-1);
        long closedAfterMillis = (System.nanoTime() - answered) / 1_000_000;
        assertThat(closedAfterMillis).as("closed after the idle timeout from the last answer")
            .isBetween(IDLE.toMillis() - 100, IDLE.toMillis() * 3);
      }
    }

    @Test
    void aCallWithAPauseLongerThanTheTimeout_isServedWhole() throws Exception {
      String body = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n";
      String first = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
          + Integer.toHexString(body.length()) + "\r\n" + body + "\r\n";
      try (RawUpstream raw = new RawUpstream(Answer.inTwoParts(first, IDLE.toMillis() * 2,
              Integer.toHexString(body.length()) + "\r\n" + body + "\r\n0\r\n\r\n", false));
          Socket s = new Socket("127.0.0.1", gw.port)) {
        String key = subscribe(raw.baseUrl());
        s.setSoTimeout(10_000);
        s.getOutputStream().write(call(key));

        String answer = readAnswer(s.getInputStream());

        assertThat(answer).startsWith("HTTP/1.1 200").endsWith("0\r\n\r\n");
        assertThat(answer.split("\"hi\"", -1)).as("both events arrived").hasSize(3);
      }
    }
  }
}
