package io.tollgate.gateway.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.gateway.config.ConfigException;
import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.metering.health.TaskHealth;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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

  /** The encoder writes times, ids and durations by hand, into a reused buffer: check it against the JDK's. */
  @Test
  void timestampsIdsAndDurations_readBackExactly() throws Exception {
    long[] instants = {0L, 999L, 1_000L, 1_764_633_600_000L, 1_764_633_659_999L, 1_764_633_601_007L, 4_102_444_800_123L};
    for (long at : instants) {
      for (long nanos : new long[] {0L, 999L, 1_000L, 150_000L, 12_345_678L, 1_000_000_000L, 86_400_000_123_456L}) {
        UUID id = UUID.randomUUID();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        AccessLog.Encoder enc = new AccessLog.Encoder(out);
        CallSummary s = served(id);
        enc.line(at, new CallSummary(id, s.subscriptionId(), s.productId(), s.skuId(), s.protocol(), s.model(),
            s.method(), s.path(), s.status(), s.upstreamStatus(), nanos, nanos, 1, 2, false, 3, s.endpoint()));
        enc.flush();
        JsonNode line = JSON.readTree(out.toString(StandardCharsets.UTF_8));
        assertThat(java.time.Instant.parse(line.get("timestamp").asText()).toEpochMilli()).isEqualTo(at);
        assertThat(line.get("request_id").asText()).isEqualTo(id.toString());
        assertThat(line.get("duration_ms").decimalValue())
            .isEqualByComparingTo(java.math.BigDecimal.valueOf(nanos / 1_000, 3));
        assertThat(line.get("ttft_ms").decimalValue()).isEqualByComparingTo(line.get("duration_ms").decimalValue());
      }
    }
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
   * The event loop's side never waits: with the writer stuck in its output, lines past the queue's
   * capacity are dropped at once, and counted; once the output moves again the queued ones are
   * written.
   */
  @Test
  void aFullQueue_dropsAndCounts_withoutWaiting() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch writing = new CountDownLatch(1);
    ByteArrayOutputStream written = new ByteArrayOutputStream();
    OutputStream stuck = new OutputStream() {
      @Override
      public void write(int b) {
        throw new UnsupportedOperationException();
      }

      @Override
      public synchronized void write(byte[] b, int off, int len) {
        writing.countDown();
        try {
          release.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException ex) {
          Thread.currentThread().interrupt();
        }
        written.write(b, off, len);
      }
    };
    AccessLog log = new AccessLog(stuck, false, 4, null, "access-log-test-stuck");
    log.ended(served(UUID.randomUUID()));
    assertThat(writing.await(5, TimeUnit.SECONDS)).as("the writer took the first line and is stuck").isTrue();
    long t0 = System.nanoTime();
    for (int i = 0; i < 20; i++) {
      log.ended(served(UUID.randomUUID()));
    }
    long waitedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    assertThat(waitedMs).as("20 lines offered to a full queue without waiting").isLessThan(1000);
    assertThat(log.dropped()).as("4 queued, 16 dropped and counted").isEqualTo(16);
    release.countDown();
    log.close();
    assertThat(written.toString(StandardCharsets.UTF_8).lines()).as("the first line and the 4 queued").hasSize(5);

    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    AccessLog counted = AccessLog.open(new GatewayConfig.Logging(null, "file " + dir.resolve("c.log")), registry);
    assertThat(registry.get("tollgate.access.dropped").functionCounter().count()).isZero();
    counted.close();
  }

  /**
   * An output that fails (a full disk) shows: the writer's task is failing with the error, the
   * lost lines are counted, and it writes again once the output works.
   */
  @Test
  void aFailingOutput_showsInTaskHealth_countsTheLostLines_andRecovers() throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    TaskHealth health = new TaskHealth(java.time.Clock.systemUTC(), registry);
    java.util.concurrent.atomic.AtomicBoolean full = new java.util.concurrent.atomic.AtomicBoolean(true);
    ByteArrayOutputStream written = new ByteArrayOutputStream();
    OutputStream disk = new OutputStream() {
      @Override
      public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public synchronized void write(byte[] b, int off, int len) throws IOException {
        if (full.get()) {
          throw new IOException("No space left on device");
        }
        written.write(b, off, len);
      }
    };
    AccessLog log = new AccessLog(disk, false, 64, health.task(AccessLog.TASK, null), "access-log-test-full");
    log.ended(served(UUID.randomUUID()));
    await().atMost(Duration.ofSeconds(5)).until(() -> log.dropped() == 1);
    TaskHealth.Status failing = health.task(AccessLog.TASK, null).status();
    assertThat(failing.state()).isEqualTo(TaskHealth.State.FAILING);
    assertThat(failing.lastError()).contains("No space left on device");
    assertThat(failing.blocksReadiness()).as("calls are metered whether or not their lines are written").isFalse();

    full.set(false);
    UUID id = UUID.randomUUID();
    log.ended(served(id));
    await().atMost(Duration.ofSeconds(5))
        .until(() -> health.task(AccessLog.TASK, null).status().state() == TaskHealth.State.OK);
    log.close();
    assertThat(written.toString(StandardCharsets.UTF_8).lines().toList()).singleElement()
        .satisfies(l -> assertThat(JSON.readTree(l).get("request_id").asText()).isEqualTo(id.toString()));
  }

  @Test
  void manyLinesFromSeveralThreads_areEachWrittenOnce_asWholeLines() throws Exception {
    Path file = dir.resolve("many.log");
    AccessLog log = AccessLog.open(new GatewayConfig.Logging(null, "file " + file), null);
    int threads = 4;
    int each = 1500;
    List<Thread> started = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      Thread th = new Thread(() -> {
        for (int i = 0; i < each; i++) {
          log.ended(served(UUID.randomUUID()));
          if (i % 500 == 0) {
            Thread.yield();
          }
        }
      });
      th.start();
      started.add(th);
    }
    for (Thread th : started) {
      th.join();
    }
    log.close();
    List<JsonNode> lines = lines(file);
    assertThat(lines.size() + (long) log.dropped()).isEqualTo(threads * each);
    assertThat(lines.stream().map(l -> l.get("request_id").asText()).distinct().count()).isEqualTo(lines.size());
    assertThat(lines).allSatisfy(l -> assertThat(fieldNames(l)).isEqualTo(FIELDS));
  }
}
