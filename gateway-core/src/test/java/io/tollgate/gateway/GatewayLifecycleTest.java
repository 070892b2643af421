package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.gateway.mock.MockUpstream;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import io.tollgate.gateway.testing.TestSecrets;

/**
 * What a load balancer sees of a gateway's life on {@code /health/ready}: 503 while it starts,
 * until the buyer port serves; 200 while it serves; 503 from the first moment of {@link
 * Gateway#close()}, which lets the calls in flight end before it returns. ({@code serve}'s
 * SIGTERM, which ends in the same close, is {@code faults.GatewayDrainTest}.)
 */
class GatewayLifecycleTest {

  static final String OPERATOR = "lifecycle-operator-token-0123";

  @TempDir Path dir;
  Vertx vertx;
  MockUpstream mock;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

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

  GatewayConfig config(int buyerPort) {
    return new GatewayConfig(new GatewayConfig.Server("127.0.0.1", buyerPort, 1, null, null, Duration.ofSeconds(10)),
        new GatewayConfig.Admin("127.0.0.1", 0, OPERATOR),
        new GatewayConfig.Store(dir.resolve("data").toString(), null, null, null, null),
        new GatewayConfig.Metering(Duration.ofMillis(50), null, null, null, null), null);
  }

  HttpResponse<String> get(String url) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> readiness(Gateway g) throws Exception {
    return get("http://127.0.0.1:" + g.adminPort() + "/health/ready");
  }

  @Test
  void readiness_is503WhileStarting_andTurns200OnceTheBuyerPortServes() throws Exception {
    int buyerPort;
    try (ServerSocket probe = new ServerSocket(0)) {
      buyerPort = probe.getLocalPort();
    }
    AtomicReference<HttpResponse<String>> duringStartup = new AtomicReference<>();
    AtomicReference<Boolean> buyerPortRefused = new AtomicReference<>();
    Gateway g = Gateway.start(config(buyerPort), Clock.systemUTC(), Gateway.CATALOG_CHANNEL, starting -> {
      try {
        duringStartup.set(readiness(starting)); // the admin port listens already
        buyerPortRefused.set(refused(buyerPort));
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    });
    try {
      assertThat(buyerPortRefused.get()).as("the buyer port is not bound yet at that point").isTrue();
      assertThat(duringStartup.get().statusCode()).as("not ready while starting: %s", duringStartup.get().body())
          .isEqualTo(503);
      assertThat(new JsonObject(duringStartup.get().body()).getString("error")).startsWith("starting");

      HttpResponse<String> ready = readiness(g);
      assertThat(ready.statusCode()).as("ready once started: %s", ready.body()).isEqualTo(200);
      assertThat(new JsonObject(ready.body()).getInteger("buyerPort")).isEqualTo(buyerPort);
      assertThat(get("http://127.0.0.1:" + buyerPort + "/v1/models").statusCode())
          .as("and the buyer port answers (no key: 401)").isEqualTo(401);
    } finally {
      g.close();
    }
  }

  @Test
  void close_isUnreadyAtOnce_refusesNewConnections_andReturnsOnceTheStreamInFlightHasEnded() throws Exception {
    Gateway g = Gateway.start(config(0));
    CompletableFuture<Void> closed = null;
    try {
      String apiKey = subscribe(g);
      String body = "{\"model\":\"mock-gpt\",\"max_tokens\":20,\"stream\":true,"
          + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
      try (Socket s = new Socket("127.0.0.1", g.buyerPort())) {
        s.setSoTimeout(20_000);
        s.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + apiKey
            + "\r\nx-mock-chunk-delay-ms: 100\r\nContent-Type: application/json\r\nContent-Length: "
            + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII));
        InputStream in = s.getInputStream();
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        while (!got.toString(StandardCharsets.US_ASCII).contains("tok1")) {
          int n = in.read(buf);
          assertThat(n).as("the stream must start: %s", got).isPositive();
          got.write(buf, 0, n);
        }

        closed = CompletableFuture.runAsync(g::close);
        Awaitility.await("not ready at once").atMost(Duration.ofSeconds(1)).pollInterval(Duration.ofMillis(10))
            .until(() -> readiness(g).statusCode() == 503);
        Awaitility.await("no new buyer connections").atMost(Duration.ofSeconds(1)).pollInterval(Duration.ofMillis(10))
            .until(() -> refused(g.buyerPort()));
        assertThat(closed).as("close() waits for the stream in flight").isNotDone();

        for (int n; (n = in.read(buf)) >= 0; ) {
          got.write(buf, 0, n);
        }
        assertThat(got.toString(StandardCharsets.US_ASCII)).as("the stream ran to its end, then the connection closed")
            .contains("tok20").contains("data: [DONE]").endsWith("0\r\n\r\n");
      }
      closed.get(10, java.util.concurrent.TimeUnit.SECONDS);
    } finally {
      if (closed == null) {
        g.close();
      }
    }
  }

  private String subscribe(Gateway g) throws Exception {
    String merchant = admin(g, "POST", "/admin/v1/merchants", OPERATOR, new JsonObject().put("name", "acme")
        .put("supportPhone", "+1 555 0100").put("supportEmail", "support@acme.example")).getString("token");
    String product = admin(g, "POST", "/admin/v1/products", merchant, new JsonObject().put("name", "p")
        .put("protocol", "openai").put("endpoints", new JsonArray().add(new JsonObject().put("url", mock.baseUrl()))))
        .getString("id");
    String sku = admin(g, "POST", "/admin/v1/products/" + product + "/skus", merchant, new JsonObject()
        .put("name", "payg").put("billing", new JsonObject().put("mode", "PER_TOKEN").put("currency", "USD")
            .put("inputPricePerMillion", "1").put("outputPricePerMillion", "2"))).getString("id");
    admin(g, "POST", "/admin/v1/products/" + product + "/submit", merchant, null);
    admin(g, "POST", "/admin/v1/products/" + product + "/approve", OPERATOR, null);
    return admin(g, "POST", "/admin/v1/subscriptions", OPERATOR,
        new JsonObject().put("skuId", sku).put("buyerId", "b1")).getString("apiKey");
  }

  private JsonObject admin(Gateway g, String method, String path, String token, JsonObject body) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + g.adminPort() + path))
        .timeout(Duration.ofSeconds(20)).header("authorization", "Bearer " + token)
        .header("content-type", "application/json")
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body.encode()))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(method + " " + path + ": " + r.body()).isBetween(200, 201);
    TestSecrets.fromJson(r.body()); // keys and tokens it hands out: never to be logged
    return new JsonObject(r.body());
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
}
