package io.tollgate.metering.aggregate;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.tollgate.metering.health.TaskHealth;
import io.tollgate.metering.journal.EncodedIds;
import io.tollgate.metering.journal.JournalException;
import io.tollgate.metering.journal.RecoveredSegment;
import io.tollgate.metering.journal.Segment;
import io.tollgate.metering.journal.UsageJournal;
import io.tollgate.metering.store.MeterStore;
import io.tollgate.metering.store.UsageBatch;
import io.tollgate.metering.store.UsageCell;
import io.tollgate.metering.store.UsageCounts;
import io.tollgate.metering.usage.TokenUsage;
import io.tollgate.metering.usage.UsageEvent;
import io.tollgate.metering.usage.UsageRecorder;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Counts every billable {@link UsageEvent} exactly once in the {@link MeterStore}: journal first,
 * then per-minute cells, flushed in batches by a thread of its own.
 *
 * <h2>Why exactly once</h2>
 *
 * <p><b>One segment, one batch.</b> State is split into stripes (a thread maps to one stripe, so
 * each event loop mostly owns its stripe's lock). A stripe has one open journal {@link Segment}
 * and the cells of exactly the events in that segment: {@link #record} appends the event to the
 * segment and adds it to the cells under the stripe lock, and a roll swaps segment and cells
 * together under the same lock. So when a segment is closed, its cells are the aggregate of its
 * entries — no more, no less. The segment is then forced to disk ({@link Segment#seal}) before
 * its batch is sent, and the batch id is {@link Segment#batchId()}, a function of the file name.
 *
 * <p><b>Replay rebuilds the same batch.</b> On start, every segment left on disk is read back and
 * re-aggregated with the same function ({@link #toBatch}). A sent segment was sealed, so its
 * entries on disk are exactly those aggregated into the sent batch: the rebuilt batch has the same
 * id and the same cells. A segment that was still open at the crash was never sent; its rebuilt
 * batch holds its whole entries, which are all the events whose {@code record} returned (a torn
 * tail is an event whose {@code record} never returned, so its call was never served).
 *
 * <p><b>The two crash windows.</b> Crash before the store applied a batch: the segment is on disk,
 * replay applies it once. Crash after the store applied it but before the segment was deleted:
 * replay sends the same id, the store recognises it and adds nothing, then the segment is
 * deleted. A timeout after the store applied is the same case without a crash: the flusher
 * retries the same batch object. Stores apply a batch atomically (Redis: per slot, each slot's
 * part with its own id), so a half-applied batch cannot exist.
 *
 * <p><b>Outages.</b> While a stripe has a batch the store has not acknowledged, its open segment
 * is not rolled at each flush but keeps growing (up to the journal's segment size), so a long
 * outage makes a few large segments, not thousands of tiny ones, and memory holds one set of
 * cells per pending segment. Retries back off from the flush interval up to {@code maxBackoff}.
 *
 * <p><b>The flusher never stops.</b> Every run, whatever it throws (the store, the journal
 * directory, descriptors running out while a segment is created, a bug), is caught, logged,
 * counted and reported to {@link TaskHealth} as task {@value #TASK}, and the next run is
 * scheduled with backoff. A stripe whose next segment cannot be created keeps its open segment
 * (events stay journaled and counted) and is rolled at a later run; a segment that cannot be
 * deleted after its batch was applied is forgotten by the flusher but kept on a list and deleted
 * at the next runs, so it is never applied again by this process (a restart replays it under the
 * same batch id, which the store recognises). A local failure (not the store's) makes the task
 * FAILING for a local reason, which takes the instance out of readiness until a run succeeds.
 *
 * <p>Hot path: {@code record} runs on event loops: a lock ({@link StripeLock}: one compare-and-set,
 * one release store) held for the lookup of the event's cell (a direct-mapped slot by subscription,
 * checked against the event, before the hash map), one journal append (stores into a mapped
 * segment, no system call) and the cell's update; no network, no fsync, no allocation once the
 * cell exists. Only when a segment reaches its size
 * limit does {@code record} roll to the next one: the journal's spare, prepared by its preparer
 * thread ({@link UsageJournal#rollSegment}), and a file created on the event loop only when no
 * spare is ready. A cell holds its ids already in the journal's
 * encoding ({@link EncodedIds}), and outlives its segment: a roll zeroes the cells, and drops
 * only those that counted no call for a flush interval or more, so a busy subscription's cell, and
 * its encoded ids, are made once a minute rather than at every roll. The usage metrics
 * are counted per stripe under its lock and drained into their counters by the flusher, so they
 * lag by up to a flush interval (a backoff while the store fails). In {@code RecordBenchmark}
 * (one thread, a shared 2-core machine) these took a recording from ~330 to ~210 ns of process CPU
 * per event and from 1.7 to 0.8 bytes: what is left of both is mostly the journal's, per segment
 * rather than per event (reserving each new segment's blocks, its batch). The slot, the lock and
 * the journal's ids entries ({@code EventCodec}) then took the recording thread from ~76-108 to
 * ~55-72 ns of CPU per event, and it allocates nothing per event.
 */
public final class UsageAggregator implements UsageRecorder, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(UsageAggregator.class);
  /** The flusher's name in {@link TaskHealth}. */
  public static final String TASK = "usage-flush";
  /** A flusher that has not reported for this long (plus its longest backoff) has stalled. */
  private static final Duration STALL_MARGIN = Duration.ofSeconds(10);

  static {
    // A process out of descriptors cannot load a class from a classes directory (from a jar it
    // can): load now what the failure paths need, so they run when descriptors are exhausted.
    loadNow(Outcome.class, JournalException.class, TaskHealth.Cause.class, TaskHealth.Status.class,
        TaskHealth.State.class, RejectedExecutionException.class);
  }

  private static void loadNow(Class<?>... classes) {
    for (Class<?> c : classes) {
      try {
        Class.forName(c.getName(), true, c.getClassLoader());
      } catch (ClassNotFoundException e) {
        throw new IllegalStateException(e);
      }
    }
  }
  /**
   * Cells sent in one store call. After an outage the backlog is applied in slices of this size,
   * so each call fits the store's command timeout instead of timing out whole, forever.
   */
  private static final int MAX_CELLS_PER_APPLY = 20_000;

  /**
   * @param flushInterval how often cells are flushed. Defaults to 200 ms.
   * @param stripes lock stripes, a power of two. Defaults to the next power of two of the CPUs.
   * @param maxBackoff longest wait between retries while the store fails. Defaults to 5 s.
   * @param drainTimeout how long {@link #close()} keeps flushing. Defaults to 5 s.
   */
  public record Config(Duration flushInterval, int stripes, Duration maxBackoff, Duration drainTimeout) {

    public Config {
      if (flushInterval.isNegative() || flushInterval.isZero()) {
        throw new IllegalArgumentException("flushInterval must be positive: " + flushInterval);
      }
      if (stripes < 1 || Integer.bitCount(stripes) != 1) {
        throw new IllegalArgumentException("stripes must be a power of two: " + stripes);
      }
      if (maxBackoff.compareTo(flushInterval) < 0) {
        throw new IllegalArgumentException("maxBackoff must be at least flushInterval");
      }
    }

    public static Config defaults() {
      int cpus = Runtime.getRuntime().availableProcessors();
      return new Config(Duration.ofMillis(200), Integer.highestOneBit(Math.max(1, cpus * 2 - 1)),
          Duration.ofSeconds(5), Duration.ofSeconds(5));
    }

    public Config withFlushInterval(Duration interval) {
      return new Config(interval, stripes, maxBackoff.compareTo(interval) < 0 ? interval : maxBackoff,
          drainTimeout);
    }
  }

  /**
   * A cell's identity: subscription, SKU and their fixed dimensions, and the minute. A key in a
   * map never changes; each stripe has one more, its probe, which it sets from each event to look
   * the event's cell up, so recording allocates nothing once the minute's cell exists.
   */
  static final class CellKey {
    private String subscriptionId;
    private String skuId;
    private String productId;
    private String merchantId;
    private String buyerId;
    private boolean test;
    private long minuteStart;
    private int hash;

    CellKey set(UsageEvent e, long minute) {
      subscriptionId = e.subscriptionId();
      skuId = e.skuId();
      productId = e.productId();
      merchantId = e.merchantId();
      buyerId = e.buyerId();
      test = e.test();
      minuteStart = minute;
      // Not the product's and merchant's: a SKU has one of each, so they add no spread, and each
      // is one more String to load per event.
      int h = subscriptionId.hashCode();
      h = 31 * h + skuId.hashCode();
      h = 31 * h + buyerId.hashCode();
      h = 31 * h + Boolean.hashCode(test);
      hash = 31 * h + Long.hashCode(minute);
      return this;
    }

    /**
     * Whether this key is that of {@code e}'s cell in {@code minute}: by reference first, as the
     * events of one subscription carry its cached entry's very {@code String}s.
     */
    boolean is(UsageEvent e, long minute) {
      return minuteStart == minute && test == e.test() && same(subscriptionId, e.subscriptionId())
          && same(skuId, e.skuId()) && same(buyerId, e.buyerId()) && same(productId, e.productId())
          && same(merchantId, e.merchantId());
    }

    private static boolean same(String a, String b) {
      return a == b || (a != null && a.equals(b));
    }

    /** A key of its own with this one's values, for a map. */
    CellKey copy() {
      CellKey k = new CellKey();
      k.subscriptionId = subscriptionId;
      k.skuId = skuId;
      k.productId = productId;
      k.merchantId = merchantId;
      k.buyerId = buyerId;
      k.test = test;
      k.minuteStart = minuteStart;
      k.hash = hash;
      return k;
    }

    String subscriptionId() {
      return subscriptionId;
    }

    String skuId() {
      return skuId;
    }

    String productId() {
      return productId;
    }

    String merchantId() {
      return merchantId;
    }

    String buyerId() {
      return buyerId;
    }

    boolean test() {
      return test;
    }

    long minuteStart() {
      return minuteStart;
    }

    @Override
    public int hashCode() {
      return hash;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof CellKey k && hash == k.hash && minuteStart == k.minuteStart && test == k.test
          && subscriptionId.equals(k.subscriptionId) && skuId.equals(k.skuId) && productId.equals(k.productId)
          && merchantId.equals(k.merchantId) && buyerId.equals(k.buyerId);
    }
  }

  /** A closed segment and its batch, waiting for the store's acknowledgement. */
  record Pending(Segment segment, UsageBatch batch) {}

  /**
   * A cell's counters, and its ids encoded for the journal. In a stripe the counters are those of
   * the open segment's entries.
   */
  static final class Cell {
    /** Its key in its map. */
    final CellKey key;
    /** Null in a replayed segment's cells, which nothing appends with. */
    final EncodedIds ids;
    /** Counted a call since its stripe's previous sweep. */
    boolean active;
    long calls;
    long inputTokens;
    long cachedInputTokens;
    long outputTokens;
    long estimatedTokens;

    Cell(CellKey key, EncodedIds ids) {
      this.key = key;
      this.ids = ids;
    }

    /** Counts one call of {@code t}. */
    void add(TokenUsage t) {
      active = true;
      calls++;
      inputTokens += t.inputTokens();
      cachedInputTokens += t.cachedInputTokens();
      outputTokens += t.outputTokens();
      if (t.estimated()) {
        estimatedTokens += t.totalTokens();
      }
    }
  }

  private static final class Stripe {
    /** Longs in a cache line: the padding of {@link #counted}. */
    static final int PAD = 8;
    static final int CALLS = PAD;
    static final int TOKENS = CALLS + 1;
    static final int RECENT_BITS = 12;
    static final int RECENT = 1 << RECENT_BITS;

    final StripeLock lock = new StripeLock();
    Segment open; // guarded by lock
    /**
     * Guarded by lock: the cells of {@code open}'s entries, and those idle since the previous
     * sweep (each with no calls).
     */
    final Map<CellKey, Cell> cells = new HashMap<>();
    long lastSweep = System.nanoTime(); // guarded by lock
    final ArrayDeque<Pending> closed = new ArrayDeque<>(); // guarded by lock
    final CellKey probe = new CellKey(); // guarded by lock
    /**
     * Guarded by lock: cells of {@link #cells} by their subscription's hash, direct-mapped, each
     * checked against the event ({@link CellKey#is}) before use: the cell most events find
     * without hashing five ids and walking the map, about a third of an event's cost in {@code
     * RecordBenchmark}. Emptied whenever a sweep drops cells, so it never holds one the map lost.
     */
    final Cell[] recent = new Cell[RECENT];
    /**
     * Guarded by lock: billable calls ({@code [CALLS]}) and their tokens ({@code [TOKENS + i]}, as
     * {@code Metrics.tokens}) not yet drained into the metrics. Written by every event, so padded
     * with a cache line either side: a neighbouring stripe's state allocated next to it would
     * otherwise share its line, which doubled the CPU time of the cell update with two threads.
     */
    final long[] counted = new long[TOKENS + 6 + PAD];

    /**
     * Journals a billable event, then adds it to its cell; a new cell is kept only once its event
     * is journaled. Caller holds the lock.
     */
    void record(UsageEvent e, boolean held) {
      long minute = minuteOf(e);
      int slot = (e.subscriptionId().hashCode() * 0x9E3779B9) >>> (32 - RECENT_BITS);
      Cell c = recent[slot];
      if (c != null && c.key.is(e, minute)) {
        append(e, c.ids, held);
      } else {
        c = cells.get(probe.set(e, minute));
        if (c == null) {
          Cell fresh = new Cell(probe.copy(), EncodedIds.of(e));
          append(e, fresh.ids, held);
          cells.put(fresh.key, fresh);
          c = fresh;
        } else {
          append(e, c.ids, held);
        }
        recent[slot] = c;
      }
      TokenUsage t = e.tokens();
      c.add(t);
      counted[CALLS]++;
      int base = TOKENS + (t.estimated() ? 3 : 0);
      counted[base] += t.inputTokens();
      counted[base + 1] += t.cachedInputTokens();
      counted[base + 2] += t.outputTokens();
    }

    /**
     * Closes {@code open} with the batch of its cells and opens {@code next}, its cells zeroed.
     * At most once per {@code sweepNanos}, cells that counted no call since the previous sweep are
     * dropped: a time, not every roll, as a full segment's roll and the flusher's may come within
     * microseconds of each other and would drop every cell. Caller holds the lock.
     */
    private void append(UsageEvent e, EncodedIds ids, boolean held) {
      if (held) {
        open.appendHeld(e, ids);
      } else {
        open.append(e, ids);
      }
    }

    void roll(Segment next, long sweepNanos) {
      open.publish(); // a closed segment's entries are all published: its batch counts them
      closed.add(new Pending(open, toBatch(open.batchId(), cells)));
      open = next;
      long now = System.nanoTime();
      boolean sweep = now - lastSweep >= sweepNanos;
      if (sweep) {
        lastSweep = now;
        Arrays.fill(recent, null);
      }
      for (Iterator<Cell> it = cells.values().iterator(); it.hasNext(); ) {
        Cell c = it.next();
        if (sweep && !c.active) {
          it.remove();
          continue;
        }
        c.active &= !sweep;
        c.calls = 0;
        c.inputTokens = 0;
        c.cachedInputTokens = 0;
        c.outputTokens = 0;
        c.estimatedTokens = 0;
      }
    }
  }

  private final UsageJournal journal;
  private final MeterStore store;
  private final Config config;
  private final Clock clock;
  private final Stripe[] stripes;
  private final ArrayDeque<Pending> recovered = new ArrayDeque<>(); // flusher thread only
  private final ScheduledExecutorService flusher;
  private final Metrics metrics;
  private final TaskHealth.Task task;
  /** Applied batches whose segment file could not be deleted yet; flusher thread only. */
  private final ArrayDeque<Segment> undeleted = new ArrayDeque<>();
  private Segment spare; // flusher thread only
  private long lastFailureLog; // flusher thread only
  private long backoffNanos; // flusher thread only
  private long failingSince = -1; // flusher thread only
  private long lastOutageLog; // flusher thread only
  private boolean backlog; // flusher thread only: the last apply left pending batches behind
  private volatile boolean closing;

  private UsageAggregator(UsageJournal journal, MeterStore store, Config config, Clock clock,
      MeterRegistry registry, TaskHealth health) {
    this.journal = journal;
    this.store = store;
    this.config = config;
    this.clock = clock;
    this.metrics = new Metrics(registry);
    this.task = health.task(TASK, config.maxBackoff().plus(STALL_MARGIN));
    this.stripes = new Stripe[config.stripes()];
    for (int i = 0; i < stripes.length; i++) {
      stripes[i] = new Stripe();
      stripes[i].open = journal.newSegment();
    }
    for (RecoveredSegment r : journal.recovered()) {
      if (r.events().isEmpty()) {
        journal.delete(r.segment()); // nothing to count; an idle stripe's segment
        continue;
      }
      Map<CellKey, Cell> cells = new HashMap<>();
      r.events().forEach(e -> add(cells, e));
      recovered.add(new Pending(r.segment(), toBatch(r.segment().batchId(), cells)));
    }
    Gauge.builder("tollgate.meter.pending.batches", this, UsageAggregator::pendingBatches)
        .description("journal segments whose batch the meter store has not acknowledged")
        .register(registry);
    this.flusher = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "tollgate-usage-flusher");
      t.setDaemon(true);
      return t;
    });
    this.backoffNanos = config.flushInterval().toNanos();
    flusher.schedule(this::flushAndReschedule, 0, TimeUnit.NANOSECONDS);
  }

  /**
   * Starts aggregating: replays what {@code journal} recovered (asynchronously, with retries) and
   * flushes every {@code config.flushInterval()}. The aggregator owns the journal from now on.
   */
  public static UsageAggregator start(UsageJournal journal, MeterStore store, Config config,
      Clock clock, MeterRegistry registry) {
    return start(journal, store, config, clock, registry, new TaskHealth(clock, registry));
  }

  /** As {@link #start(UsageJournal, MeterStore, Config, Clock, MeterRegistry)}, reporting to {@code health}. */
  public static UsageAggregator start(UsageJournal journal, MeterStore store, Config config,
      Clock clock, MeterRegistry registry, TaskHealth health) {
    return new UsageAggregator(Objects.requireNonNull(journal), Objects.requireNonNull(store),
        Objects.requireNonNull(config), Objects.requireNonNull(clock), registry,
        Objects.requireNonNull(health));
  }

  /**
   * Journals a billable event and adds it to its cell; counts every event in metrics. Throws
   * {@link io.tollgate.metering.journal.JournalException} when the event cannot be journaled: the
   * event is then not counted and the caller must not complete the call.
   */
  @Override
  public void record(UsageEvent event) {
    record(event, false);
  }

  /**
   * As {@link #record}, but the event's journal entry is published only by this thread's next
   * {@link #publish()} (or sooner: by any other append to its segment, or a roll): until then a
   * crash leaves no trace of it. For an io_uring event loop, whose calls' ends leave only when it
   * enters its ring: it publishes the turn's entries right before.
   */
  @Override
  public void recordHeld(UsageEvent event) {
    record(event, true);
  }

  /** Publishes the entries this thread's {@link #recordHeld} calls left held. */
  @Override
  public void publish() {
    Stripe s = stripeOfThisThread();
    s.lock.lock();
    try {
      s.open.publish();
    } finally {
      s.lock.unlock();
    }
  }

  private Stripe stripeOfThisThread() {
    return stripes[(int) Thread.currentThread().getId() & (stripes.length - 1)];
  }

  private void record(UsageEvent event, boolean held) {
    if (!event.billable()) {
      metrics.unbillable.increment();
      return;
    }
    Stripe s = stripeOfThisThread();
    s.lock.lock();
    try {
      if (s.open.bytes() >= journal.config().segmentBytes()) {
        // Rare: a long store outage (or a rate that fills a segment between two flushes) filled
        // the segment. Close it here; the flusher seals it. The next segment is the journal's
        // spare, or, when none is ready, created here. The next segment first: if it cannot be
        // created, nothing has changed and this event is refused (its call is not served),
        // rather than appended to a segment already closed.
        s.roll(journal.rollSegment(), config.flushInterval().toNanos());
      }
      s.record(event, held);
    } finally {
      s.lock.unlock();
    }
  }

  /**
   * Adds a replayed event to its cell in {@code cells}, as {@link Stripe#record} adds it; such a
   * cell only makes its segment's batch and is never appended with, so it has no encoded ids.
   */
  private static void add(Map<CellKey, Cell> cells, UsageEvent e) {
    CellKey key = new CellKey().set(e, minuteOf(e));
    Cell c = cells.get(key);
    if (c == null) {
      c = new Cell(key, null);
      cells.put(key, c);
    }
    c.add(e.tokens());
  }

  private static long minuteOf(UsageEvent e) {
    return Math.floorDiv(e.epochMillis(), 60_000L) * 60_000L;
  }

  /** The batch of the cells that counted calls. */
  static UsageBatch toBatch(String id, Map<CellKey, Cell> cells) {
    List<UsageCell> out = new ArrayList<>(cells.size());
    cells.forEach((k, c) -> {
      if (c.calls > 0) {
        out.add(new UsageCell(k.subscriptionId(), k.skuId(), k.productId(), k.merchantId(),
            k.buyerId(), k.test(), k.minuteStart(), new UsageCounts(c.calls, c.inputTokens,
                c.cachedInputTokens, c.outputTokens, c.estimatedTokens)));
      }
    });
    return new UsageBatch(id, out);
  }

  /** Segments closed or recovered whose batch the store has not acknowledged yet. */
  public int pendingBatches() {
    int n = recovered.size();
    for (Stripe s : stripes) {
      n += s.closed.size(); // a racy read is fine for a gauge
    }
    return n;
  }

  /**
   * One flusher run, then the next one's scheduling. Nothing a run throws can stop the flusher:
   * see "The flusher never stops" in the class comment.
   */
  private void flushAndReschedule() {
    Outcome outcome = null;
    try {
      outcome = flushOnce(/* force= */ false);
      report(outcome);
    } catch (Throwable t) { // a bug or an Error: still counted, reported and retried
      outcome = new Outcome(false, t, TaskHealth.Cause.LOCAL);
      try {
        report(outcome);
      } catch (Throwable again) {
        t.addSuppressed(again); // nothing left to tell; the next run tries again
      }
    } finally {
      if (!closing) {
        reschedule(outcome != null && outcome.ok());
      }
    }
  }

  /** Schedules the next run: at once while a backlog remains, later after a failure. */
  private void reschedule(boolean ok) {
    long delay = config.flushInterval().toNanos();
    if (ok && backlog) {
      delay = 0;
    } else if (!ok) {
      backoffNanos = Math.min(backoffNanos * 2, config.maxBackoff().toNanos());
      delay = backoffNanos;
    } else {
      backoffNanos = delay;
    }
    try {
      flusher.schedule(this::flushAndReschedule, delay, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      if (!closing) {
        log.error("usage flusher could not be rescheduled; usage stays in the journal", e);
      }
    }
  }

  /** What a flusher run achieved: ok when nothing failed; else the first failure and its cause. */
  private record Outcome(boolean ok, Throwable error, TaskHealth.Cause cause) {
    static final Outcome OK = new Outcome(true, null, null);
  }

  /**
   * Rolls stripes and applies every pending batch. Runs on the flusher thread only. A stripe that
   * cannot roll, or a segment that cannot be deleted, does not stop the rest of the run.
   *
   * @param force roll every non-empty segment even if its stripe has an unacknowledged batch
   */
  private Outcome flushOnce(boolean force) {
    Throwable localError = deleteApplied();
    List<Pending> pending = new ArrayList<>(recovered);
    for (Stripe s : stripes) {
      try {
        roll(s, force);
      } catch (RuntimeException e) {
        localError = localError == null ? e : localError;
      }
      s.lock.lock();
      try {
        pending.addAll(s.closed);
        metrics.drain(s);
      } finally {
        s.lock.unlock();
      }
    }
    if (pending.isEmpty()) {
      backlog = false;
      return localError == null ? Outcome.OK : new Outcome(false, localError, TaskHealth.Cause.LOCAL);
    }
    List<UsageBatch> batches = new ArrayList<>();
    int cells = 0;
    int taken = 0;
    for (Pending p : pending) {
      if (taken > 0 && cells + p.batch().cells().size() > MAX_CELLS_PER_APPLY) {
        break;
      }
      try {
        p.segment().seal(); // on disk before the store can see the batch
      } catch (RuntimeException e) {
        localError = localError == null ? e : localError;
        break; // this batch and the ones after it wait for the next run
      }
      batches.add(p.batch());
      cells += p.batch().cells().size();
      taken++;
    }
    backlog = taken < pending.size();
    pending = pending.subList(0, taken);
    if (pending.isEmpty()) {
      return new Outcome(false, localError, TaskHealth.Cause.LOCAL);
    }
    long start = System.nanoTime();
    try {
      store.apply(batches);
    } catch (RuntimeException e) {
      backlog = false;
      metrics.storeErrors.increment();
      reportStoreFailure(e);
      return new Outcome(false, localError != null ? localError : e,
          localError != null ? TaskHealth.Cause.LOCAL : TaskHealth.Cause.DEPENDENCY);
    }
    metrics.flushLatency.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
    metrics.batchCells.record(cells);
    if (failingSince >= 0) {
      log.info("meter store is back after {} s; {} pending batches applied",
          (clock.millis() - failingSince) / 1000, pending.size());
      failingSince = -1;
    }
    // Applied: from here on these batches must never be sent again by this process, whether or
    // not their files can be deleted now.
    recovered.removeAll(pending);
    for (Stripe s : stripes) {
      s.lock.lock();
      try {
        s.closed.removeAll(pending);
      } finally {
        s.lock.unlock();
      }
    }
    for (Pending p : pending) {
      undeleted.add(p.segment());
    }
    Throwable deleteError = deleteApplied();
    localError = localError == null ? deleteError : localError;
    return localError == null ? Outcome.OK : new Outcome(false, localError, TaskHealth.Cause.LOCAL);
  }

  /** Deletes the files of applied batches; returns the first failure, the rest wait. */
  private Throwable deleteApplied() {
    while (!undeleted.isEmpty()) {
      try {
        journal.delete(undeleted.peek());
      } catch (RuntimeException e) {
        return e;
      }
      undeleted.poll();
    }
    return null;
  }

  private void roll(Stripe s, boolean force) {
    s.lock.lock();
    try {
      if (s.open.entries() == 0 || (!force && !s.closed.isEmpty())) {
        return;
      }
    } finally {
      s.lock.unlock();
    }
    if (spare == null) {
      spare = journal.newSegment(); // file creation stays off the event loop
    }
    s.lock.lock();
    try {
      if (s.open.entries() == 0 || (!force && !s.closed.isEmpty())) {
        return;
      }
      s.roll(spare, config.flushInterval().toNanos());
      spare = null;
    } finally {
      s.lock.unlock();
    }
  }

  /** Reports a run to the task's health; logs local failures at most every 10 s. */
  private void report(Outcome outcome) {
    if (outcome.ok()) {
      task.succeeded();
      return;
    }
    task.failed(outcome.error(), outcome.cause());
    if (outcome.cause() == TaskHealth.Cause.LOCAL) {
      long now = clock.millis();
      if (lastFailureLog == 0 || now - lastFailureLog >= 10_000) {
        lastFailureLog = now;
        log.error("usage flush failed ({} pending batches, {} journal bytes); calls are still journaled"
            + " and the flush is retried with backoff", pendingBatches(), journal.bytes(), outcome.error());
      }
    }
  }

  private void reportStoreFailure(RuntimeException e) {
    long now = clock.millis();
    if (failingSince < 0) {
      failingSince = now;
      lastOutageLog = now;
      log.warn("meter store apply failed, retrying the same batches: {}", e.toString());
    } else if (now - lastOutageLog >= 60_000) {
      lastOutageLog = now;
      log.error("meter store unreachable for {} s; {} batches and {} journal bytes wait for it: {}",
          (now - failingSince) / 1000, pendingBatches(), journal.bytes(), e.toString());
    }
  }

  /**
   * Stops flushing, then rolls every segment and keeps applying for up to {@code drainTimeout};
   * whatever the store did not acknowledge stays in the journal for the next start.
   */
  @Override
  public void close() {
    closing = true;
    try {
      flusher.submit(() -> {
        long deadline = System.nanoTime() + config.drainTimeout().toNanos();
        boolean ok;
        while (!(ok = flushOnce(/* force= */ true).ok()) || backlog) {
          if (System.nanoTime() > deadline) {
            break;
          }
          if (!ok) {
            Thread.sleep(Math.min(config.maxBackoff().toMillis(), 100));
          }
        }
        for (Stripe s : stripes) {
          s.lock.lock();
          try {
            if (s.open.entries() == 0) {
              journal.delete(s.open);
            }
          } finally {
            s.lock.unlock();
          }
        }
        if (spare != null) {
          journal.delete(spare);
          spare = null;
        }
        return null;
      }).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.ExecutionException e) {
      log.error("usage drain at close failed; the journal keeps it", e.getCause());
    } finally {
      flusher.shutdownNow();
      journal.close();
    }
  }

  /** Stops the flusher at once without flushing or syncing, as a crash would. For tests. */
  void halt() {
    closing = true;
    flusher.shutdownNow();
    try {
      flusher.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    journal.abandon();
  }

  /** Meters resolved once; see STYLE.md "Resolve meters once". */
  private static final class Metrics {
    final Counter billable;
    final Counter unbillable;
    final Counter[] tokens = new Counter[6]; // [estimated ? 3 : 0] + input, cached, output
    final Counter storeErrors;
    final Timer flushLatency;
    final DistributionSummary batchCells;

    Metrics(MeterRegistry r) {
      billable = Counter.builder("tollgate.usage.events").tag("billable", "true").register(r);
      unbillable = Counter.builder("tollgate.usage.events").tag("billable", "false").register(r);
      String[] kinds = {"input", "cached_input", "output"};
      for (int i = 0; i < 6; i++) {
        tokens[i] = Counter.builder("tollgate.usage.tokens").baseUnit("tokens")
            .tag("kind", kinds[i % 3]).tag("source", i < 3 ? "reported" : "estimated").register(r);
      }
      storeErrors = Counter.builder("tollgate.meter.store.errors").register(r);
      flushLatency = Timer.builder("tollgate.meter.flush.duration").register(r);
      batchCells = DistributionSummary.builder("tollgate.meter.flush.cells").register(r);
    }

    /** Moves what {@code s} counted since the previous drain into the counters; holds its lock. */
    void drain(Stripe s) {
      long[] counted = s.counted;
      if (counted[Stripe.CALLS] == 0) {
        return;
      }
      billable.increment(counted[Stripe.CALLS]);
      counted[Stripe.CALLS] = 0;
      for (int i = 0; i < tokens.length; i++) {
        tokens[i].increment(counted[Stripe.TOKENS + i]);
        counted[Stripe.TOKENS + i] = 0;
      }
    }
  }
}
