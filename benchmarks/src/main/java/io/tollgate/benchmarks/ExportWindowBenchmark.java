package io.tollgate.benchmarks;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.billing.BillingMode;
import io.tollgate.billing.ExportLease;
import io.tollgate.billing.Exporter;
import io.tollgate.billing.JsonlSink;
import io.tollgate.billing.LedgerFollower;
import io.tollgate.billing.PriceEntry;
import io.tollgate.billing.RecordLedger;
import io.tollgate.billing.SkuTerms;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.metering.health.TaskHealth;
import io.tollgate.metering.store.ExportSource;
import io.tollgate.metering.store.JdbcMeterStore;
import io.tollgate.metering.store.MeterStore;
import io.tollgate.metering.store.RedisMeterStore;
import io.tollgate.metering.store.UsageBatch;
import io.tollgate.metering.store.UsageCell;
import io.tollgate.metering.store.UsageCounts;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.sql.DataSource;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Timeout;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Closing one export window of {@code subscriptions} active subscriptions, end to end: {@link
 * Exporter#runOnce} reads the window's marks and per-minute usage from the meter store, prices
 * it, commits one usage record per subscription to the ledger, clears the marks and writes the
 * JSONL files. One shot per iteration: each iteration's setup applies a fresh hour of usage (each
 * subscription active {@code minutes} minutes, each minute's cell reached by {@code
 * batchesPerMinute} batches: more requests, the same cells) and moves the clock past that
 * window's end + grace; the ledger keeps the earlier iterations' records, as it would.
 *
 * <p>Stores: {@code h2} is the embedded default (one H2 file database, opened as the gateway opens
 * it, for the meter store and the ledger); {@code postgres-redis} the production pair (the ledger
 * in a schema of its own on 127.0.0.1:5432/test, the meter store under a key prefix of its own on
 * 127.0.0.1:6379; both removed at the end).
 *
 * <p>Besides JMH's time, each iteration prints {@code export-window:} lines: how long applying the
 * usage took, and the run's records per second, the bytes it allocated (all threads; JMH's {@code
 * -prof gc} would count the setup's too) and the old generation's peak, its working set. {@code
 * -jvmArgsAppend -Xmx128m} shows it fits a small heap.
 *
 * <p>There are {@value #SKUS} SKUs: with few, H2 spends the setup in its MERGE of the cells, which
 * it plans on the (SKU, minute) index on a table without statistics and which then scans every
 * cell of the SKU's minute.
 *
 * <p>Run (from the project root; an iteration of 10 batches per minute applies 5,000,000 cells
 * first, about a quarter of an hour on H2):
 *
 * <pre>
 * mvn -B -q package -pl benchmarks -am -DskipTests
 * java -jar benchmarks/target/benchmarks.jar ExportWindowBenchmark -p batchesPerMinute=1 -rf json -rff /tmp/e1.json
 * java -jar benchmarks/target/benchmarks.jar ExportWindowBenchmark -p batchesPerMinute=10 -wi 0 -i 2
 * java -jar benchmarks/target/benchmarks.jar ExportWindowBenchmark -p store=postgres-redis -p batchesPerMinute=1,10
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgsAppend = {"-Xmx1g"})
@Timeout(time = 60, timeUnit = TimeUnit.MINUTES)
public class ExportWindowBenchmark {

  private static final Instant T0 = Instant.parse("2026-12-01T00:00:00Z");
  private static final Duration WINDOW = Duration.ofHours(1);
  private static final Duration GRACE = Duration.ofMinutes(2);
  /** Cells per applied batch: about what one flush of a busy gateway sends. */
  private static final int CELLS_PER_BATCH = 5_000;
  private static final int SKUS = 2_000;

  @Param({"h2"})
  public String store;

  @Param({"100000"})
  public int subscriptions;

  @Param({"5"})
  public int minutes;

  @Param({"1", "10"})
  public int batchesPerMinute;

  private final BenchClock clock = new BenchClock();
  private Path dir;
  private HikariDataSource dataSource;
  private String schema;
  private RedisClient redis;
  private StatefulRedisConnection<String, String> connection;
  private String keyPrefix;
  private MeterStore meterStore;
  private Exporter exporter;
  private int window;
  private int batchIds;
  private long runStartedNanos;
  private long allocatedBefore;

  /** A clock the benchmark moves: a window is due when the benchmark says so. */
  static final class BenchClock extends Clock {
    volatile Instant now = T0;

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }
  }

  @Setup(Level.Trial)
  public void openStores() throws IOException, SQLException {
    dir = Files.createTempDirectory("tollgate-export-bench");
    DataSource ledgerDb;
    switch (store) {
      case "h2" -> {
        dataSource = pool(CatalogRepository.h2FileUrl(dir.resolve("data").toString()), null);
        meterStore = new JdbcMeterStore(dataSource, "tg_", clock).withExportWindow(WINDOW).migrate();
        ledgerDb = dataSource;
      }
      case "postgres-redis" -> {
        schema = "bench_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:5432/test", "postgres", null);
            Statement s = c.createStatement()) {
          s.execute("CREATE SCHEMA " + schema);
        }
        dataSource = pool("jdbc:postgresql://127.0.0.1:5432/test?currentSchema=" + schema, "postgres");
        ledgerDb = dataSource;
        redis = RedisClient.create("redis://127.0.0.1:6379");
        connection = redis.connect();
        keyPrefix = "bench" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        // Applied batch ids expire after a minute: the benchmark never replays, and millions of
        // them would otherwise sit in the shared Redis for a week.
        meterStore = new RedisMeterStore(connection.async(), new RedisMeterStore.Config(keyPrefix,
            Duration.ofSeconds(30), Duration.ofMinutes(1), Duration.ofDays(2), WINDOW));
      }
      default -> throw new IllegalArgumentException("store must be h2 or postgres-redis: " + store);
    }
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    RecordLedger ledger = new RecordLedger(ledgerDb, clock, registry).migrate();
    List<LedgerFollower> files = List.of(new JsonlSink(ledger, dir, JsonlSink.Format.RECORD));
    exporter = new Exporter(Exporter.Config.of(WINDOW, GRACE), (ExportSource) meterStore, skus()::get, ledger,
        files, held(), clock, new TaskHealth(clock, registry), registry);
  }

  private static HikariDataSource pool(String url, String user) {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(url);
    config.setUsername(user);
    config.setMaximumPoolSize(8); // as the gateway's catalog pool
    return new HikariDataSource(config);
  }

  private static Map<String, SkuTerms> skus() {
    Map<String, SkuTerms> skus = new HashMap<>();
    for (int k = 0; k < SKUS; k++) {
      String id = "sku-" + k;
      skus.put(id, k % 2 == 0
          ? new SkuTerms(id, BillingMode.PER_TOKEN, List.of(
              new PriceEntry(T0.minus(Duration.ofDays(30)), "USD", new BigDecimal("0.15"), new BigDecimal("0.075"),
                  new BigDecimal("0.60"), null, null),
              new PriceEntry(T0.plus(Duration.ofMinutes(30)), "USD", new BigDecimal("0.30"), null,
                  new BigDecimal("1.20"), null, null)))
          : new SkuTerms(id, BillingMode.PER_CALL, List.of(
              new PriceEntry(T0.minus(Duration.ofDays(30)), "USD", null, null, null, new BigDecimal("0.002"), null))));
    }
    return skus;
  }

  private static ExportLease held() {
    return new ExportLease() {
      @Override
      public boolean tryAcquire() {
        return true;
      }

      @Override
      public void close() {}
    };
  }

  /**
   * The next hour of usage: every subscription in {@code minutes} minutes spread over the hour,
   * each minute's cell applied by {@code batchesPerMinute} batches; then the clock past its
   * end + grace.
   */
  @Setup(Level.Iteration)
  public void applyUsage() {
    Instant start = T0.plus(WINDOW.multipliedBy(window++));
    clock.now = start;
    long applyStart = System.nanoTime();
    List<UsageCell> cells = new ArrayList<>(CELLS_PER_BATCH);
    for (int round = 0; round < batchesPerMinute; round++) {
      for (int m = 0; m < minutes; m++) {
        long minute = start.plus(Duration.ofMinutes(m * (60L / minutes))).toEpochMilli();
        for (int s = 0; s < subscriptions; s++) {
          String sub = "sub-" + s;
          cells.add(new UsageCell(sub, "sku-" + (s % SKUS), "prod-" + (s % SKUS), "mer-" + (s % 97), "buyer-" + s,
              s % 50 == 0, minute, new UsageCounts(1, 1000 + s % 997, s % 200, 200 + s % 499, 0)));
          if (cells.size() == CELLS_PER_BATCH) {
            meterStore.apply(List.of(new UsageBatch("b" + batchIds++, cells)));
            cells = new ArrayList<>(CELLS_PER_BATCH);
          }
        }
      }
    }
    if (!cells.isEmpty()) {
      meterStore.apply(List.of(new UsageBatch("b" + batchIds++, cells)));
    }
    System.out.printf(Locale.ROOT, "%nexport-window: applied %d cells in %d batches in %.1f s%n",
        (long) batchesPerMinute * minutes * subscriptions, batchIds, (System.nanoTime() - applyStart) / 1e9);
    clock.now = start.plus(WINDOW).plus(GRACE);
    System.gc();
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      pool.resetPeakUsage();
    }
    allocatedBefore = allocated();
    runStartedNanos = System.nanoTime();
  }

  /** Bytes allocated so far by the live threads (the exporter's, the pool's, Lettuce's). */
  private static long allocated() {
    com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long sum = 0;
    for (long bytes : threads.getThreadAllocatedBytes(threads.getAllThreadIds())) {
      sum += Math.max(0, bytes);
    }
    return sum;
  }

  @Benchmark
  public Exporter.Summary closeWindow() {
    Exporter.Summary s = exporter.runOnce();
    if (s.usageRecords() != subscriptions || s.adjustments() != 0) {
      throw new IllegalStateException("expected " + subscriptions + " usage records, the run wrote " + s);
    }
    return s;
  }

  /**
   * Prints the run's records per second, what it allocated, and the peak of the old generation:
   * what lived through several young collections, the run's working set (the young pools' peaks
   * are mostly garbage).
   */
  @TearDown(Level.Iteration)
  public void report() {
    double seconds = (System.nanoTime() - runStartedNanos) / 1e9;
    long allocated = allocated() - allocatedBefore;
    long old = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP && pool.getName().contains("Old")) {
        old += pool.getPeakUsage().getUsed();
      }
    }
    System.out.printf(Locale.ROOT, "export-window: %d records in %.2f s = %.0f records/s; allocated %d MB"
            + " (%d bytes per record); old generation peak %d MB%n", subscriptions, seconds,
        subscriptions / seconds, allocated >> 20, allocated / subscriptions, old >> 20);
  }

  @TearDown(Level.Trial)
  public void closeStores() throws IOException, SQLException {
    exporter.close();
    dataSource.close();
    if (schema != null) {
      try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:5432/test", "postgres", null);
          Statement s = c.createStatement()) {
        s.execute("DROP SCHEMA " + schema + " CASCADE");
      }
    }
    if (connection != null) {
      KeyScanCursor<String> cursor = connection.sync().scan(ScanArgs.Builder.matches(keyPrefix + ":*").limit(10_000));
      while (true) {
        if (!cursor.getKeys().isEmpty()) {
          connection.sync().unlink(cursor.getKeys().toArray(String[]::new));
        }
        if (cursor.isFinished()) {
          break;
        }
        cursor = connection.sync().scan(ScanCursor.of(cursor.getCursor()), ScanArgs.Builder.matches(keyPrefix + ":*")
            .limit(10_000));
      }
      connection.close();
      redis.shutdown();
    }
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
