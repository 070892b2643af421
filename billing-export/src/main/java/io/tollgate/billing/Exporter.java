package io.tollgate.billing;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.tollgate.metering.health.TaskHealth;
import io.tollgate.metering.store.ExportSource;
import io.tollgate.metering.store.MinuteUsage;
import io.tollgate.metering.store.TouchedKey;
import io.tollgate.metering.store.UsageCounts;
import java.math.BigDecimal;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes usage windows into records: every {@code interval}, the purchases queued since the last
 * run, then every window whose end + grace has passed and whose usage changed since it was last
 * exported (its first export, or late usage: a journal replayed after the window closed), then
 * the followers (JSONL) catch up with the ledger.
 *
 * <h2>Why exactly once</h2>
 *
 * <p>A window's work list is the meter store's marks ({@link ExportSource}): the subscriptions
 * whose usage changed in it. For each, the exporter reads the window's per-minute usage, prices
 * it ({@link Pricing}) and hands the ledger the window's totals as they stand; the ledger writes
 * only the difference to what its records of that (subscription, SKU, window) already add up to,
 * in one transaction serialised with every other record writer ({@link RecordLedger}). Then the
 * marks it read are cleared, unless usage moved them in the meantime. So:
 *
 * <ul>
 *   <li>a crash after the ledger committed and before the marks were cleared makes the next run
 *       read the same usage and find no difference: nothing is written twice;
 *   <li>usage applied while a run works either was read (and its mark, cleared or not, finds no
 *       difference later) or moved its mark's version (and the next run exports it): nothing is
 *       lost;
 *   <li>two exporters at once (a lease that expired under a slow run) compute the same
 *       difference against the same records, since the ledger's lock orders them: the second
 *       finds nothing to add.
 * </ul>
 *
 * <p>The lease ({@link ExportLease}) only keeps instances from doing that work twice.
 *
 * <p>Cost: a run reads the marks of the windows due in the last {@link Config#lateHorizon} (a
 * marks lookup per window) and the usage of marked subscriptions only, in chunks of {@link
 * Config#chunk}: it grows with active subscriptions, never with requests or with history.
 *
 * <p>The task never stops: whatever a run throws is logged, counted ({@code
 * tollgate_export_errors_total{sink}}), reported to {@link TaskHealth} as {@value #TASK}, and the
 * next run comes after a backoff; the work left over is simply still due.
 */
public final class Exporter implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Exporter.class);
  /** The exporter's name in {@link TaskHealth}. */
  public static final String TASK = "billing-export";

  /**
   * @param window export window length (the meter store's marks must use the same)
   * @param grace a window is closed this long after its end
   * @param interval time between runs. Defaults to 10 s
   * @param lateHorizon how far back late usage is looked for; usage older than that cannot be
   *     replayed exactly anyway (the meter store forgets applied batch ids). Defaults to 7 days
   * @param chunk marked subscriptions read, priced and committed at once. Defaults to 2000
   * @param maxBackoff longest wait between failing runs. Defaults to 60 s
   */
  public record Config(Duration window, Duration grace, Duration interval, Duration lateHorizon, int chunk,
      Duration maxBackoff) {

    public Config {
      Objects.requireNonNull(window, "window");
      Objects.requireNonNull(grace, "grace");
      Objects.requireNonNull(interval, "interval");
      Objects.requireNonNull(lateHorizon, "lateHorizon");
      Objects.requireNonNull(maxBackoff, "maxBackoff");
      if (window.toMillis() < 60_000 || window.toMillis() % 60_000 != 0) {
        throw new IllegalArgumentException("window must be whole minutes: " + window);
      }
      if (grace.isNegative() || interval.isZero() || interval.isNegative() || chunk < 1) {
        throw new IllegalArgumentException("grace >= 0, interval > 0, chunk >= 1");
      }
      if (lateHorizon.compareTo(window) < 0) {
        throw new IllegalArgumentException("lateHorizon must be at least one window");
      }
    }

    /** The defaults for {@code window} and {@code grace}. */
    public static Config of(Duration window, Duration grace) {
      return new Config(window, grace, Duration.ofSeconds(10), Duration.ofDays(7), 2000, Duration.ofSeconds(60));
    }

    public Config withInterval(Duration i) {
      return new Config(window, grace, i, lateHorizon, chunk, maxBackoff);
    }

    public Config withChunk(int c) {
      return new Config(window, grace, interval, lateHorizon, c, maxBackoff);
    }
  }

  /** What one run did. */
  public record Summary(boolean leaseHeld, int windows, int purchases, int usageRecords, int adjustments) {
    static final Summary SKIPPED = new Summary(false, 0, 0, 0, 0);

    public int records() {
      return purchases + usageRecords + adjustments;
    }
  }

  private final Config config;
  private final ExportSource source;
  private final PriceBook prices;
  private final RecordLedger ledger;
  private final List<LedgerFollower> followers;
  private final ExportLease lease;
  private final Clock clock;
  private final TaskHealth.Task task;
  private final Metrics metrics;
  private final ScheduledExecutorService thread;
  /**
   * End (epoch ms) of the oldest due window a run found and has not finished, or that holds marks
   * another holder of the lease has not cleared yet; -1 for none.
   */
  private volatile long oldestPendingEnd = -1;
  /**
   * End of the last window that was due when the last complete run (or look, without the lease)
   * started; before the first, when this exporter was made: a window that falls due later and
   * that no run covers shows as lag even if the exporter never runs.
   */
  private volatile long exportedThrough;
  private String step = "lease"; // the running pass's current step, for errors{sink}
  private long backoffNanos; // exporter thread only
  private volatile boolean closing;

  public Exporter(Config config, ExportSource source, PriceBook prices, RecordLedger ledger,
      List<LedgerFollower> followers, ExportLease lease, Clock clock, TaskHealth health, MeterRegistry registry) {
    this.config = Objects.requireNonNull(config, "config");
    this.source = Objects.requireNonNull(source, "source");
    this.prices = Objects.requireNonNull(prices, "prices");
    this.ledger = Objects.requireNonNull(ledger, "ledger");
    this.followers = List.copyOf(followers);
    this.lease = Objects.requireNonNull(lease, "lease");
    this.clock = Objects.requireNonNull(clock, "clock");
    if (!source.exportWindow().equals(config.window())) {
      throw new IllegalArgumentException("the meter store marks " + source.exportWindow()
          + " windows, the exporter closes " + config.window() + " windows");
    }
    this.exportedThrough = lastDueStart(clock.instant()) + config.window().toMillis();
    this.task = health.task(TASK, config.interval().multipliedBy(3).plus(config.maxBackoff()).plusSeconds(60));
    this.metrics = new Metrics(registry, this);
    this.backoffNanos = config.interval().toNanos();
    ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "tollgate-billing-export");
      t.setDaemon(true);
      return t;
    });
    // close() must not wait for (and then make) the next scheduled run: with the default policy it
    // did, which held every gateway's shutdown for up to an interval (30 s with a long one).
    executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    this.thread = executor;
  }

  /** Runs every {@code interval} from now on, on a thread of its own. */
  public Exporter start() {
    thread.schedule(this::runAndReschedule, 0, TimeUnit.NANOSECONDS);
    return this;
  }

  private void runAndReschedule() {
    boolean ok = false;
    try {
      runOnce();
      ok = true;
    } catch (Throwable t) { // a bug or an Error too: counted, reported, retried
      if (!closing) {
        log.error("billing export run failed; it runs again with backoff and catches up", t);
      }
    } finally {
      if (!closing) {
        long delay = config.interval().toNanos();
        if (!ok) {
          backoffNanos = Math.min(Math.max(backoffNanos * 2, delay), config.maxBackoff().toNanos());
          delay = backoffNanos;
        } else {
          backoffNanos = delay;
        }
        try {
          thread.schedule(this::runAndReschedule, delay, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
          if (!closing) {
            log.error("billing export could not be rescheduled", e);
          }
        }
      }
    }
  }

  /**
   * One pass: purchases, every due window with changed usage, then the followers. Blocking.
   * Throws what failed (after reporting it); what was committed before stays committed, what was
   * not is still due at the next run. Without the lease it exports nothing: it only looks which
   * due windows still hold marks, for the lag gauge.
   */
  public synchronized Summary runOnce() {
    step = "lease";
    try {
      if (!lease.tryAcquire()) {
        step = "source";
        lookAtDueWindows(); // another instance exports; this one shows the lag it leaves
        task.succeeded(); // and is healthy
        return Summary.SKIPPED;
      }
      Timer.Sample run = Timer.start();
      step = "jdbc";
      List<UsageRecord> purchases = ledger.commitPurchases(prices, config.window());
      metrics.written(purchases);
      CrashPoints.reach(CrashPoints.AFTER_PURCHASES);
      int windows = 0;
      int usage = 0;
      int adjustments = 0;
      Instant now = clock.instant();
      long window = config.window().toMillis();
      long lastDueStart = lastDueStart(now);
      step = "source";
      List<Instant> due = dueWindows(now);
      for (int i = 0; i < due.size(); i++) {
        Instant start = due.get(i);
        oldestPendingEnd = start.toEpochMilli() + window;
        int[] written = exportWindow(new ExportWindow(start, start.plusMillis(window)));
        usage += written[0];
        adjustments += written[1];
        windows++;
      }
      exportedThrough = lastDueStart + window; // before the pending end goes: no gap the gauge could see
      oldestPendingEnd = -1;
      for (LedgerFollower f : followers) {
        step = f.name();
        f.catchUp();
      }
      run.stop(metrics.runs);
      task.succeeded();
      return new Summary(true, windows, purchases.size(), usage, adjustments);
    } catch (RuntimeException | Error e) {
      String sink = step;
      TaskHealth.Cause cause = TaskHealth.Cause.DEPENDENCY;
      if (step.equals("jsonl")) {
        // The files are this instance's disk: a local failure, which takes it out of rotation.
        // But the follower reads the ledger too, and a database outage is shared by every
        // instance: leaving rotation over it would turn a billing outage into a total one.
        if (e instanceof BillingStoreException) {
          sink = "jdbc";
        } else {
          cause = TaskHealth.Cause.LOCAL;
        }
      }
      metrics.error(sink);
      task.failed(e, cause);
      throw e;
    }
  }

  /** The start of the last window due at {@code now}: end + grace <= now, so start <= now - grace - window. */
  private long lastDueStart(Instant now) {
    long window = config.window().toMillis();
    return Math.floorDiv(now.minus(config.grace()).toEpochMilli() - window, window) * window;
  }

  /** Starts of the due windows within the late horizon that hold marks, oldest first. */
  private List<Instant> dueWindows(Instant now) {
    long window = config.window().toMillis();
    long from = Math.floorDiv(now.minus(config.lateHorizon()).toEpochMilli(), window) * window;
    return source.touchedWindows(Instant.ofEpochMilli(from), Instant.ofEpochMilli(lastDueStart(now) + 1));
  }

  /**
   * Without the lease: notes the oldest due window whose marks the holder has not cleared, so that
   * this instance's lag gauge shows what the holder leaves undone (one marks lookup per window
   * within the late horizon, as a run's first step), not how long ago this instance last held it.
   */
  private void lookAtDueWindows() {
    Instant now = clock.instant();
    List<Instant> due = dueWindows(now);
    if (due.isEmpty()) {
      exportedThrough = lastDueStart(now) + config.window().toMillis();
      oldestPendingEnd = -1;
    } else {
      oldestPendingEnd = due.get(0).toEpochMilli() + config.window().toMillis();
    }
  }

  /**
   * Exports one window's changed usage, chunk by chunk; returns how many usage records and
   * adjustments it wrote (counted, not kept: a window of 100,000 subscriptions would hold them all).
   */
  private int[] exportWindow(ExportWindow w) {
    step = "source";
    List<TouchedKey> marks = source.touched(w.start());
    int[] written = new int[2];
    Map<String, SkuTerms> terms = new HashMap<>();
    for (int i = 0; i < marks.size(); i += config.chunk()) {
      List<TouchedKey> chunk = marks.subList(i, Math.min(marks.size(), i + config.chunk()));
      List<String> ids = new ArrayList<>(chunk.size());
      chunk.forEach(k -> ids.add(k.subscriptionId()));
      step = "source";
      Map<String, List<MinuteUsage>> minutes = source.minutes(ids, w.start(), w.end());
      List<WindowUsage> current = new ArrayList<>(chunk.size());
      for (TouchedKey k : chunk) {
        List<MinuteUsage> used = minutes.getOrDefault(k.subscriptionId(), List.of());
        UsageCounts total = UsageCounts.ZERO;
        for (MinuteUsage m : used) {
          total = total.plus(m.counts());
        }
        if (total.isZero()) {
          continue; // a mark without usage (left by a crash between marking and applying): nothing to bill
        }
        step = "catalog";
        SkuTerms t = terms.computeIfAbsent(k.skuId(), prices::terms);
        BigDecimal amount = Pricing.amount(t, k.test(), used);
        current.add(new WindowUsage(k.subscriptionId(), k.skuId(), k.productId(), k.merchantId(), k.buyerId(),
            k.test(), t.mode(), currency(t, used, w), total, amount));
      }
      step = "jdbc";
      List<UsageRecord> records = current.isEmpty() ? List.of() : ledger.commitWindow(w, current);
      metrics.written(records);
      for (UsageRecord r : records) {
        written[r.kind() == RecordKind.USAGE ? 0 : 1]++;
      }
      CrashPoints.reach(CrashPoints.AFTER_LEDGER_COMMIT);
      step = "source";
      source.clearTouched(w.start(), chunk);
      task.running(); // a backlog of windows takes as long as it takes; it is not a stall
    }
    return written;
  }

  /**
   * The currency of a window's usage: that of the last price entry in force during it. A SKU's
   * currency is frozen once it is sold, so all of them agree.
   */
  private static String currency(SkuTerms t, List<MinuteUsage> used, ExportWindow w) {
    long last = used.isEmpty() ? w.start().toEpochMilli() : used.get(used.size() - 1).minuteStart();
    return t.at(Instant.ofEpochMilli(last)).currency();
  }

  /**
   * Seconds from the end of the oldest due window not yet exported to now; 0 when none. A window
   * that fell due after the last complete run (or look at the marks, without the lease) counts as
   * not exported until a run covers it; so does one that falls due after this exporter was made,
   * if it never runs.
   */
  double lagSeconds() {
    long now = clock.millis();
    long pending = oldestPendingEnd;
    if (pending >= 0) {
      return Math.max(0, (now - pending) / 1000.0);
    }
    long through = exportedThrough;
    long nextEnd = through + config.window().toMillis();
    return now >= nextEnd + config.grace().toMillis() ? (now - nextEnd) / 1000.0 : 0;
  }

  /** Stops the schedule; a run in progress finishes (bounded by its store and database timeouts). */
  @Override
  public void close() {
    closing = true;
    thread.shutdown();
    try {
      if (!thread.awaitTermination(30, TimeUnit.SECONDS)) {
        thread.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      thread.shutdownNow();
    }
    try {
      lease.close();
    } catch (RuntimeException e) {
      log.warn("could not release the export lease: {}", e.toString());
    }
  }

  /** Meters resolved once. */
  private static final class Metrics {
    final EnumMap<RecordKind, Counter> records = new EnumMap<>(RecordKind.class);
    final Map<String, Counter> errors = new HashMap<>();
    final MeterRegistry registry;
    final Timer runs;

    Metrics(MeterRegistry registry, Exporter exporter) {
      this.registry = registry;
      for (RecordKind k : RecordKind.values()) {
        records.put(k, Counter.builder("tollgate.export.records").tag("kind", k.wireName())
            .description("usage records exported").register(registry));
      }
      Gauge.builder("tollgate.export.lag", exporter, Exporter::lagSeconds).baseUnit("seconds")
          .description("now minus the end of the oldest due window not yet exported").register(registry);
      runs = Timer.builder("tollgate.export.run.duration").description("export runs that completed")
          .register(registry);
    }

    void written(List<UsageRecord> rs) {
      for (UsageRecord r : rs) {
        records.get(r.kind()).increment();
      }
    }

    synchronized void error(String sink) {
      errors.computeIfAbsent(sink, s -> Counter.builder("tollgate.export.errors").tag("sink", s)
          .description("failed export steps, by the sink or store that failed").register(registry)).increment();
    }
  }
}
