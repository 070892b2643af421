package io.tollgate.gateway.faults;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.faults.BuyerLoad.Buyer;
import io.tollgate.gateway.mock.MockUpstream;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.Socket;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM drains: {@code tollgate serve} in a JVM of its own turns unready at once, stops
 * accepting connections, closes idle ones, lets the calls in flight run to their end for up to
 * {@code server.drainTimeout}, cuts what is still running then, meters all of it, and exits by
 * itself with status 0. (It used to cut every stream about 2 s after the signal, ready to the
 * end.)
 */
class GatewayDrainTest {

  /** Short, so the stream that outlives it costs the test little; longer than the short stream. */
  static final Duration DRAIN = Duration.ofSeconds(6);

  @TempDir Path dir;
  Vertx vertx;
  MockUpstream mock;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(2)).build();

  @BeforeEach
  void startMock() {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults().withLogCapacity(0)).await();
  }

  @AfterEach
  void stopMock() {
    mock.close().await();
    vertx.close().await();
  }

  @Test
  void sigterm_notReadyAtOnce_streamInFlightCompletesAndIsMetered_longerOneCutAtDrainTimeout_exits0()
      throws Exception {
    GatewayYaml yaml = GatewayYaml.embedded(dir.resolve("data")).fixedPorts()
        .server("drainTimeout", DRAIN.toSeconds() + "s");
    GatewayProcess gateway = new GatewayProcess(yaml.writeTo(dir.resolve("tollgate.yaml")), yaml.adminPort());
    try {
      gateway.start();
      AdminClient admin = new AdminClient(http, yaml.adminPort());
      Buyer[] buyers = admin.onboardOpenAiAndAnthropicBuyers(mock.baseUrl());
      Buyer openai = buyers[0];
      Buyer anthropic = buyers[1];

      // An idle keep-alive connection, after one answered call.
      Call idle = Call.open(yaml.buyerPort(), "GET", "/v1/models", openai.apiKey(), null, 0);
      idle.awaitText("mock-gpt", Duration.ofSeconds(10));
      // A stream that would need 30 s (60 events, 500 ms apart), and one that needs about 3.8 s
      // more after the signal (20 events, 200 ms apart): the first is cut, the second completes.
      Call cut = Call.open(yaml.buyerPort(), "POST", "/v1/messages", anthropic.apiKey(),
          "{\"model\":\"mock-claude\",\"max_tokens\":60,\"stream\":true,"
              + "\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}", 500);
      cut.awaitText("tok1", Duration.ofSeconds(10));
      String shortBody = "{\"model\":\"mock-gpt\",\"max_tokens\":20,\"stream\":true,"
          + "\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}";
      Call completes = Call.open(yaml.buyerPort(), "POST", "/v1/chat/completions", openai.apiKey(), shortBody, 200);
      completes.awaitText("tok1", Duration.ofSeconds(10));
      assertThat(admin.readiness().getInteger("httpStatus")).as("ready before the signal").isEqualTo(200);

      long signalled = System.nanoTime();
      gateway.terminate();

      JsonObject unready = Awaitility.await("readiness 503 at once").atMost(Duration.ofSeconds(1))
          .pollInterval(Duration.ofMillis(20)).until(admin::readiness, r -> r.getInteger("httpStatus") == 503);
      assertThat(unready.getString("error")).contains("stopping");
      Awaitility.await("the buyer port refuses new connections").atMost(Duration.ofSeconds(1))
          .pollInterval(Duration.ofMillis(20)).until(() -> refused(yaml.buyerPort()));
      idle.awaitEnd(Duration.ofSeconds(1)); // idle keep-alive connections are closed at once
      assertThat(completes.ended()).as("the short stream is still running: %s", completes.text()).isFalse();

      completes.awaitEnd(Duration.ofSeconds(10));
      assertThat(completes.text()).as("the stream in flight ran to its end, the gateway's own last chunk included")
          .contains("tok20").contains("\"usage\"").contains("data: [DONE]").endsWith("0\r\n\r\n");
      assertThat(System.nanoTime() - signalled).as("it outlived the 2 s after which SIGTERM used to cut streams")
          .isGreaterThan(Duration.ofMillis(3000).toNanos());
      assertThat(admin.readiness().getInteger("httpStatus")).as("still draining (the long stream): not ready")
          .isEqualTo(503);
      assertThat(cut.ended()).isFalse();

      cut.awaitEnd(DRAIN.plusSeconds(5));
      long cutAfter = System.nanoTime() - signalled;
      assertThat(cut.text()).as("cut at the drain timeout, before its end").contains("tok1").doesNotContain("message_stop");
      assertThat(cutAfter).as("cut at server.drainTimeout, not before")
          .isGreaterThan(DRAIN.minusMillis(300).toNanos());
      assertThat(gateway.awaitExit(Duration.ofSeconds(20))).as("the gateway exits by itself").isTrue();
      assertThat(gateway.exitValue()).as("exit status after SIGTERM and a drain").isZero();

      gateway.start(); // same config and data dir: what is metered is in the store
      MockUpstream.Usage expected = MockUpstream.expectedUsage("/v1/chat/completions", shortBody);
      Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200))
          .until(() -> admin.metered(anthropic.subscriptionId()).calls() == 1);
      assertThat(admin.metered(openai.subscriptionId())).as("the stream that completed during the drain, as reported")
          .isEqualTo(new BuyerLoad.Totals(1, expected.promptTokens(), expected.completionTokens()));
      JsonObject cutUsage = admin.subscription(anthropic.subscriptionId()).getJsonObject("usage");
      assertThat(cutUsage.getLong("calls")).as("the stream cut at the drain timeout is metered too").isEqualTo(1);
      assertThat(cutUsage.getLong("outputTokens")).as("for what was delivered").isPositive();
    } catch (Throwable t) {
      t.addSuppressed(new AssertionError("gateway output (tail):\n" + gateway.logTail()));
      throw t;
    } finally {
      gateway.close();
    }
  }

  private static boolean refused(int port) {
    try {
      new Socket("127.0.0.1", port).close();
      return false;
    } catch (ConnectException e) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** One HTTP/1.1 request on a connection of its own, whose answer is read as it arrives. */
  static final class Call {
    private final Socket socket;
    private final ByteArrayOutputStream received = new ByteArrayOutputStream();
    private volatile boolean ended;

    private Call(Socket socket) {
      this.socket = socket;
    }

    static Call open(int port, String method, String path, String key, String body, int chunkDelayMs)
        throws IOException {
      Socket s = new Socket("127.0.0.1", port);
      byte[] bytes = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
      String head = method + " " + path + " HTTP/1.1\r\nHost: tollgate\r\nAuthorization: Bearer " + key
          + "\r\nx-api-key: " + key + "\r\nContent-Type: application/json\r\nContent-Length: " + bytes.length
          + (chunkDelayMs > 0 ? "\r\nx-mock-chunk-delay-ms: " + chunkDelayMs : "") + "\r\n\r\n";
      s.getOutputStream().write(head.getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().write(bytes);
      s.getOutputStream().flush();
      Call call = new Call(s);
      Thread reader = new Thread(call::readToEnd, "drain-test-reader");
      reader.setDaemon(true);
      reader.start();
      return call;
    }

    private void readToEnd() {
      byte[] buf = new byte[8192];
      try (Socket s = socket; InputStream in = s.getInputStream()) {
        for (int n; (n = in.read(buf)) >= 0; ) {
          synchronized (received) {
            received.write(buf, 0, n);
          }
        }
      } catch (IOException e) {
        // a reset ends the answer as a close does
      } finally {
        ended = true;
      }
    }

    String text() {
      synchronized (received) {
        return received.toString(StandardCharsets.UTF_8);
      }
    }

    boolean ended() {
      return ended;
    }

    void awaitText(String text, Duration atMost) {
      Awaitility.await("'" + text + "' received").atMost(atMost).pollInterval(Duration.ofMillis(10))
          .until(() -> text().contains(text));
    }

    /** Waits until the gateway closed the connection. */
    void awaitEnd(Duration atMost) {
      Awaitility.await("the connection closed").atMost(atMost).pollInterval(Duration.ofMillis(10))
          .until(this::ended);
    }
  }
}
