package io.tollgate.metering.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.tollgate.metering.testing.Services;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * What reading one export window of 100,000 active subscriptions costs, on the shared Redis, on
 * PostgreSQL and on H2 (in memory). Not part of the build's tests; run by hand (Netty's paranoid
 * leak detection, on for the tests, makes Lettuce ~50x slower, so switch it off):
 *
 * <pre>
 * mvn -B -q -o -pl metering test -Dtest=ExportSourceLoadTest -Dtollgate.load=true \
 *     -Dio.netty.leakDetection.level=disabled [-Dtollgate.load.subscriptions=100000] \
 *     [-Dtollgate.load.minutes=5]
 * </pre>
 *
 * Each subscription uses {@code tollgate.load.minutes} random minutes of the window (1 to 60);
 * the figures land in {@code metering/target/surefire-reports/*ExportSourceLoadTest-output.txt}.
 */
@EnabledIfSystemProperty(named = "tollgate.load", matches = "true")
class ExportSourceLoadTest {

  static final Instant WINDOW = Instant.parse("2025-03-01T10:00:00Z");
  static final int SUBS = Integer.getInteger("tollgate.load.subscriptions", 100_000);
  static final int MINUTES = Integer.getInteger("tollgate.load.minutes", 5);
  static final int CELLS_PER_BATCH = 1_000;

  @Test
  void redis() {
    String prefix = Services.uniquePrefix();
    RedisClient client = Services.sharedRedis();
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      RedisMeterStore store = new RedisMeterStore(c.async(),
          RedisMeterStore.Config.defaults().withKeyPrefix(prefix).withCommandTimeout(Duration.ofSeconds(30)));
      try {
        measure("redis", store, () -> {});
      } finally {
        unlinkAll(c.sync(), prefix);
      }
    } finally {
      client.shutdown();
    }
  }

  @Test
  void postgres() {
    String schema = Services.uniquePrefix();
    DataSource db = Services.postgresSchema(schema);
    try {
      measure("postgres", new JdbcMeterStore(db, "tg_", Clock.systemUTC()).migrate(), () -> analyze(db));
    } finally {
      Services.dropSchema(schema);
    }
  }

  @Test
  void h2() {
    DataSource db = Services.h2();
    measure("h2", new JdbcMeterStore(db, "tg_", Clock.systemUTC()).migrate(), () -> {});
  }

  /** What autovacuum does to a table that grew this much: without it PostgreSQL scans it all. */
  private static void analyze(DataSource db) {
    try (Connection c = db.getConnection();
        Statement s = c.createStatement()) {
      s.execute("ANALYZE tg_usage_minute");
      s.execute("ANALYZE tg_touched");
    } catch (SQLException e) {
      throw new AssertionError(e);
    }
  }

  private static <S extends MeterStore & ExportSource> void measure(
      String name, S store, Runnable afterLoading) {
    Random random = new Random(42);
    List<String> subs = new ArrayList<>(SUBS);
    List<UsageCell> cells = new ArrayList<>();
    long expectedCalls = 0;
    long applyNanos = 0;
    int batches = 0;
    for (int s = 0; s < SUBS; s++) {
      String sub = "sub_" + s;
      subs.add(sub);
      boolean[] used = new boolean[60];
      for (int m = 0; m < MINUTES; m++) {
        int minute = MINUTES >= 60 ? m : random.nextInt(60);
        if (used[minute]) {
          continue;
        }
        used[minute] = true;
        long calls = 1 + random.nextInt(5);
        expectedCalls += calls;
        cells.add(new UsageCell(sub, "sku_" + (s % 500), "prod_" + (s % 50), "mer_" + (s % 20),
            "buyer_" + s, false, WINDOW.toEpochMilli() + minute * 60_000L,
            new UsageCounts(calls, 900 * calls, 100 * calls, 300 * calls, 0)));
      }
      if (cells.size() >= CELLS_PER_BATCH || s == SUBS - 1) {
        long t = System.nanoTime();
        store.apply(List.of(new UsageBatch("load-" + batches++, cells)));
        applyNanos += System.nanoTime() - t;
        cells = new ArrayList<>();
      }
    }
    System.out.printf("%s: %d subscriptions x %d minutes: %d applies of %d cells, %.1f ms per apply%n",
        name, SUBS, MINUTES, batches, CELLS_PER_BATCH, applyNanos / 1e6 / batches);
    afterLoading.run();

    long t = System.nanoTime();
    List<Instant> windows = store.touchedWindows(WINDOW.minus(Duration.ofDays(7)), WINDOW.plus(Duration.ofHours(1)));
    System.out.printf("%s: touchedWindows over 7 days: %.1f ms%n", name, (System.nanoTime() - t) / 1e6);
    assertThat(windows).containsExactly(WINDOW);

    t = System.nanoTime();
    List<TouchedKey> marks = store.touched(WINDOW);
    System.out.printf("%s: touched: %d marks in %.1f ms%n", name, marks.size(), (System.nanoTime() - t) / 1e6);
    assertThat(marks).hasSize(SUBS);

    for (int round = 1; round <= 3; round++) {
      System.gc();
      Runtime rt = Runtime.getRuntime();
      long heapBefore = rt.totalMemory() - rt.freeMemory();
      t = System.nanoTime();
      Map<String, List<MinuteUsage>> minutes = store.minutes(subs, WINDOW, WINDOW.plus(Duration.ofHours(1)));
      long nanos = System.nanoTime() - t;
      long heapAfter = rt.totalMemory() - rt.freeMemory();
      long calls = minutes.values().stream().flatMap(List::stream).mapToLong(u -> u.counts().calls()).sum();
      System.out.printf("%s: minutes round %d: %d subscriptions in %.0f ms (%.0f subscriptions/s),"
              + " result ~%d MB of heap%n",
          name, round, minutes.size(), nanos / 1e6, SUBS / (nanos / 1e9),
          (heapAfter - heapBefore) >> 20);
      assertThat(calls).isEqualTo(expectedCalls);
    }

    t = System.nanoTime();
    store.clearTouched(WINDOW, marks);
    System.out.printf("%s: clearTouched of %d marks: %.0f ms%n", name, marks.size(), (System.nanoTime() - t) / 1e6);
    assertThat(store.touchedWindows(WINDOW, WINDOW.plus(Duration.ofHours(1)))).isEmpty();
  }

  /** Deletes the test's keys without blocking the shared Redis: SCAN and UNLINK in pages. */
  private static void unlinkAll(RedisCommands<String, String> redis, String prefix) {
    ScanArgs match = ScanArgs.Builder.matches(prefix + ":*").limit(1_000);
    ScanCursor cursor = ScanCursor.INITIAL;
    do {
      KeyScanCursor<String> page = redis.scan(cursor, match);
      if (!page.getKeys().isEmpty()) {
        redis.unlink(page.getKeys().toArray(String[]::new));
      }
      cursor = page;
    } while (!cursor.isFinished());
  }
}
