package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.proxy.RawUpstream.Answer;
import io.tollgate.metering.usage.UsageEvent;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * Calls one after another on one kept-alive buyer connection, where the usage reader of a call is
 * restarted for the next: each call is metered with its own usage, never with what the call
 * before it reported, whether a stream follows a JSON answer or the other way round; each call
 * is the subscription of its own key, and meets its own product's response timeout, whatever the
 * calls before it on the connection named.
 *
 * <p>Run on io_uring and on epoll (see {@link ProxyHarness}).
 */
class KeptAliveCallsTest {

  static String requestId(String answer) {
    Matcher m = Pattern.compile("(?im)^x-request-id: *([^\r\n]+)").matcher(answer);
    assertThat(m.find()).as(answer).isTrue();
    return m.group(1).trim();
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

  abstract static class Contract extends OneLoopPort {

    Contract(String transport) {
      super(transport);
    }

    @Test
    void eachCallOnAConnection_isMeteredWithItsOwnUsage() throws Exception {
      String stream = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n"
          + "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}\n\n"
          + "data: [DONE]\n\n";
      Answer sse = Answer.of("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
          + Integer.toHexString(stream.length()) + "\r\n" + stream + "\r\n0\r\n\r\n", false);
      String noUsage = "{\"id\":\"n\",\"choices\":[{\"message\":{\"content\":\"plain\"}}]}";
      Answer json = Answer.of("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + noUsage.length()
          + "\r\n\r\n" + noUsage, false);
      try (RawUpstream raw = new RawUpstream(sse, RawUpstream.OK, sse, json);
          Socket s = new Socket("127.0.0.1", gw.port)) {
        Product p = ProxyHarness.product(Protocol.OPENAI, raw.baseUrl(), UpstreamAuth.NONE, Map.of(), Duration.ofSeconds(5), null);
        String key = gw.subscribe(p);
        s.setSoTimeout(10_000);
        String[] ids = new String[4];
        for (int i = 0; i < 4; i++) {
          s.getOutputStream().write(IdleTimeoutTest.call(key));
          String answer = IdleTimeoutTest.readAnswer(s.getInputStream());
          assertThat(answer).startsWith("HTTP/1.1 200");
          ids[i] = requestId(answer);
        }

        List<UsageEvent> events = Awaitility.await().atMost(Duration.ofSeconds(10)).until(
            () -> List.of(ids).stream().map(id -> gw.events.stream().filter(e -> e.requestId().toString().equals(id))
                .findFirst().orElse(null)).toList(), l -> !l.contains(null));
        assertThat(events.get(0).tokens().inputTokens()).isEqualTo(7);
        assertThat(events.get(1).tokens().inputTokens()).as("the JSON answer's own usage").isEqualTo(3);
        assertThat(events.get(1).tokens().outputTokens()).isEqualTo(2);
        assertThat(events.get(2).tokens().outputTokens()).isEqualTo(3);
        assertThat(events.get(3).tokens().estimated()).as("no usage reported: estimated, not the last call's")
            .isTrue();
        assertThat(raw.connections.get()).as("one upstream connection served them all").isEqualTo(1);
      }
    }

    @Test
    void eachCallOnAConnection_isTheSubscriptionOfItsOwnKey() throws Exception {
      try (RawUpstream raw = new RawUpstream(RawUpstream.OK, RawUpstream.OK, RawUpstream.OK);
          Socket s = new Socket("127.0.0.1", gw.port)) {
        Product p = ProxyHarness.product(Protocol.OPENAI, raw.baseUrl(), UpstreamAuth.NONE, Map.of(), Duration.ofSeconds(5), null);
        String a = gw.subscribe(p);
        String b = gw.subscribe(p);
        String wrong = a.substring(0, a.length() - 1) + (a.endsWith("x") ? "y" : "x"); // same length, one character off
        s.setSoTimeout(10_000);
        String[] keys = {a, wrong, b, a};
        String[] answers = new String[keys.length];
        for (int i = 0; i < keys.length; i++) {
          s.getOutputStream().write(IdleTimeoutTest.call(keys[i]));
          answers[i] = IdleTimeoutTest.readAnswer(s.getInputStream());
        }
        assertThat(answers[1]).as("a wrong key after a right one on the same connection").startsWith("HTTP/1.1 401");
        String[] ids = {requestId(answers[0]), requestId(answers[2]), requestId(answers[3])};
        List<UsageEvent> events = Awaitility.await().atMost(Duration.ofSeconds(10)).until(
            () -> List.of(ids).stream().map(id -> gw.events.stream().filter(e -> e.requestId().toString().equals(id))
                .findFirst().orElse(null)).toList(), l -> !l.contains(null));
        assertThat(events.get(1).subscriptionId()).as("the second key's call").isNotEqualTo(events.get(0).subscriptionId());
        assertThat(events.get(2).subscriptionId()).as("the first key again").isEqualTo(events.get(0).subscriptionId());
      }
    }

    @Test
    void aShorterResponseTimeoutAfterALongerOne_isMetOnTime() throws Exception {
      try (RawUpstream patient = new RawUpstream(RawUpstream.OK);
          RawUpstream silent = new RawUpstream(Answer.inTwoParts("HTTP/1.1 200", 8_000, " OK\r\n\r\n", true));
          Socket s = new Socket("127.0.0.1", gw.port)) {
        Product slow = ProxyHarness.product(Protocol.OPENAI, patient.baseUrl(), UpstreamAuth.NONE, Map.of(),
            Duration.ofSeconds(60), null);
        Product quick = ProxyHarness.product(Protocol.OPENAI, silent.baseUrl(), UpstreamAuth.NONE, Map.of(),
            Duration.ofMillis(300), null);
        String first = gw.subscribe(slow);
        String second = gw.subscribe(quick);
        s.setSoTimeout(10_000);
        s.getOutputStream().write(IdleTimeoutTest.call(first));
        assertThat(IdleTimeoutTest.readAnswer(s.getInputStream())).startsWith("HTTP/1.1 200");
        long started = System.nanoTime();
        s.getOutputStream().write(IdleTimeoutTest.call(second));
        String answer = IdleTimeoutTest.readAnswer(s.getInputStream());
        long tookMillis = (System.nanoTime() - started) / 1_000_000;
        assertThat(answer).startsWith("HTTP/1.1 504").contains("upstream_timeout");
        assertThat(tookMillis).as("the 300 ms timeout, not the 60 s one of the call before").isLessThan(4_000);
      }
    }
  }
}
