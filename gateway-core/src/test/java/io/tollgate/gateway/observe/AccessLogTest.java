package io.tollgate.gateway.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.gateway.config.ConfigException;
import io.tollgate.gateway.config.GatewayConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

class AccessLogTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final List<String> FIELDS = List.of("timestamp", "type", "request_id", "subscription_id", "product_id",
      "sku_id", "model", "method", "path", "status", "upstream_status", "duration_ms", "ttft_ms", "input_tokens",
      "output_tokens", "estimated", "bytes_out", "endpoint");

  @TempDir Path dir;

  static CallSummary served(UUID id) {
    return new CallSummary(id, "sub_1", "prod_1", "sku_1", "openai", "mock-gpt", "POST", "/v1/chat/completions",
        200, 200, 12_345_678L, 2_500_000L, 9, 10, false, 595, "127.0.0.1:18080");
  }

  static List<JsonNode> lines(Path file) throws Exception {
    List<JsonNode> out = new ArrayList<>();
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      out.add(JSON.readTree(line));
    }
    return out;
  }

  static List<String> fieldNames(JsonNode line) {
    List<String> names = new ArrayList<>();
    for (Iterator<String> it = line.fieldNames(); it.hasNext(); ) {
      names.add(it.next());
    }
    return names;
  }

  @Test
  void aCall_isOneJsonLine_withExactlyTheAccessFields() throws Exception {
    Path file = dir.resolve("logs/access.log");
    UUID id = UUID.randomUUID();
    AccessLog log = AccessLog.open(new GatewayConfig.Logging("json", "file " + file), null);
    log.ended(served(id));
    log.ended(new CallSummary(UUID.randomUUID(), null, null, null, null, null, "GET", "/v1/models?key=tg-x",
        401, 0, 150_000L, -1, 0, 0, false, 87, null));
    log.close();

    List<JsonNode> lines = lines(file);
    assertThat(lines).hasSize(2);
    JsonNode a = lines.get(0);
    assertThat(fieldNames(a)).as("timestamp, the marker and the access fields, in this order").isEqualTo(FIELDS);
    assertThat(a.get("type").asText()).isEqualTo("access");
    assertThat(a.get("request_id").asText()).isEqualTo(id.toString());
    assertThat(a.get("subscription_id").asText()).isEqualTo("sub_1");
    assertThat(a.get("product_id").asText()).isEqualTo("prod_1");
    assertThat(a.get("sku_id").asText()).isEqualTo("sku_1");
    assertThat(a.get("model").asText()).isEqualTo("mock-gpt");
    assertThat(a.get("method").asText()).isEqualTo("POST");
    assertThat(a.get("path").asText()).isEqualTo("/v1/chat/completions");
    assertThat(a.get("status").asInt()).isEqualTo(200);
    assertThat(a.get("upstream_status").asInt()).isEqualTo(200);
    assertThat(a.get("duration_ms").decimalValue()).as("milliseconds, microsecond decimals")
        .isEqualByComparingTo("12.345");
    assertThat(a.get("ttft_ms").decimalValue()).isEqualByComparingTo("2.5");
    assertThat(a.get("input_tokens").asLong()).isEqualTo(9);
    assertThat(a.get("output_tokens").asLong()).isEqualTo(10);
    assertThat(a.get("estimated").asBoolean()).isFalse();
    assertThat(a.get("bytes_out").asLong()).isEqualTo(595);
    assertThat(a.get("endpoint").asText()).isEqualTo("127.0.0.1:18080");
    assertThat(java.time.Instant.parse(a.get("timestamp").asText())).isNotNull();

    JsonNode refused = lines.get(1);
    assertThat(fieldNames(refused)).isEqualTo(FIELDS);
    assertThat(refused.get("ttft_ms").isNull()).as("no answer byte came").isTrue();
    assertThat(refused.get("subscription_id").isNull()).isTrue();
    assertThat(refused.get("endpoint").isNull()).isTrue();
    assertThat(refused.get("path").asText()).as("a query may hold a key: never written").isEqualTo("/v1/models");
    assertThat(refused.get("duration_ms").decimalValue()).isEqualByComparingTo("0.15");
  }

  @Test
  void aFile_isAppendedTo_andAModelIsBounded() throws Exception {
    Path file = dir.resolve("access.log");
    Files.writeString(file, "{\"earlier\":true}\n");
    AccessLog log = AccessLog.open(new GatewayConfig.Logging("text", "file " + file), null);
    CallSummary s = served(UUID.randomUUID());
    log.ended(new CallSummary(s.requestId(), s.subscriptionId(), s.productId(), s.skuId(), s.protocol(),
        "m\"\n".repeat(500), s.method(), s.path(), s.status(), s.upstreamStatus(), s.durationNanos(), s.ttftNanos(),
        s.inputTokens(), s.outputTokens(), true, s.bytesOut(), s.endpoint()));
    log.close();
    List<JsonNode> lines = lines(file);
    assertThat(lines).hasSize(2);
    assertThat(lines.get(0).has("earlier")).isTrue();
    assertThat(lines.get(1).get("model").asText()).hasSize(200).startsWith("m\"\nm\"\n");
    assertThat(lines.get(1).get("estimated").asBoolean()).isTrue();
  }

  @Test
  void off_isNoAccessLogAtAll() {
    assertThat(AccessLog.open(new GatewayConfig.Logging(null, "off"), null)).isNull();
  }

  @Test
  void anUnwritableFile_isAConfigError() throws Exception {
    Path blocker = Files.writeString(dir.resolve("not-a-dir"), "x");
    assertThatThrownBy(() -> AccessLog.open(new GatewayConfig.Logging(null, "file " + blocker.resolve("a.log")), null))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("logging.access:");
  }

  @Test
  void twoAccessLogsInOneJvm_eachWriteOnlyTheirOwnCalls() throws Exception {
    Path a = dir.resolve("a.log");
    Path b = dir.resolve("b.log");
    AccessLog logA = AccessLog.open(new GatewayConfig.Logging(null, "file " + a), null);
    AccessLog logB = AccessLog.open(new GatewayConfig.Logging(null, "file " + b), null);
    UUID ida = UUID.randomUUID();
    UUID idb = UUID.randomUUID();
    logA.ended(served(ida));
    logB.ended(served(idb));
    logA.close();
    logB.close();
    assertThat(lines(a)).singleElement().satisfies(l -> assertThat(l.get("request_id").asText()).isEqualTo(ida.toString()));
    assertThat(lines(b)).singleElement().satisfies(l -> assertThat(l.get("request_id").asText()).isEqualTo(idb.toString()));
  }

  /**
   * The event loop's side never waits: with the writer stuck, lines past the queue's capacity are
   * dropped at once, and counted.
   */
  @Test
  void aFullQueue_dropsAndCounts_withoutWaiting() throws Exception {
    LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch writing = new CountDownLatch(1);
    AppenderBase<ILoggingEvent> stuck = new AppenderBase<>() {
      @Override
      protected void append(ILoggingEvent e) {
        writing.countDown();
        try {
          release.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException ex) {
          Thread.currentThread().interrupt();
        }
      }
    };
    stuck.setContext(ctx);
    stuck.start();
    AccessLog.CountingAsyncAppender async = new AccessLog.CountingAsyncAppender();
    async.setContext(ctx);
    async.setQueueSize(4);
    async.setNeverBlock(true);
    async.setDiscardingThreshold(1);
    async.addAppender(stuck);
    async.start();
    ch.qos.logback.classic.Logger logger = ctx.getLogger("access-log-test");
    ch.qos.logback.classic.spi.LoggingEvent first = new ch.qos.logback.classic.spi.LoggingEvent(
        getClass().getName(), logger, ch.qos.logback.classic.Level.INFO, "access", null, null);
    async.doAppend(first);
    assertThat(writing.await(5, TimeUnit.SECONDS)).as("the writer took the first line and is stuck").isTrue();
    long t0 = System.nanoTime();
    for (int i = 0; i < 20; i++) {
      async.doAppend(new ch.qos.logback.classic.spi.LoggingEvent(
          getClass().getName(), logger, ch.qos.logback.classic.Level.INFO, "access", null, null));
    }
    long waitedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    assertThat(waitedMs).as("20 lines offered to a full queue without waiting").isLessThan(1000);
    assertThat(async.dropped()).as("4 queued, 16 dropped and counted").isEqualTo(16);
    release.countDown();
    async.stop();

    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    AccessLog log = AccessLog.open(new GatewayConfig.Logging(null, "file " + dir.resolve("c.log")), registry);
    assertThat(registry.get("tollgate.access.dropped").functionCounter().count()).isZero();
    log.close();
  }
}
