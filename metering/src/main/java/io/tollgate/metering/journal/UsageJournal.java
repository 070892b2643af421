package io.tollgate.metering.journal;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.tollgate.metering.health.TaskHealth;
import io.tollgate.metering.usage.UsageEvent;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The local append-only record of every billable usage event not yet acknowledged by the meter
 * store, in a data directory of segment files {@code segment-<incarnation>-<sequence>.tgj}.
 *
 * <p>Batch ids: a segment's batch id is {@code <incarnation>-<sequence>}, taken from its file
 * name. The incarnation is 64 random bits drawn each time a journal is opened, so ids never
 * repeat — not across instances sharing a store, and not when a restarted process starts
 * numbering segments again — while a recovered segment keeps exactly the id its batch was sent
 * under before the crash.
 *
 * <p>Durability: appends are stores into a shared mapping of the segment file, in the page cache
 * before {@code record} returns, so a process crash ({@code kill -9}) loses nothing; a sync thread
 * forces what was appended to open segments every {@code syncInterval} (default 100 ms), which
 * bounds what a power loss can take, and a preparer thread, at the same interval, keeps disk
 * blocks reserved ahead of the appenders (see {@link Segment}). A segment is deleted only after the store acknowledged its batch.
 *
 * <p>Segment files are pre-sized: each maps {@code segmentBytes} plus room for one largest entry,
 * sparse beyond what is reserved, and is never truncated (a sealed segment is deleted within a
 * flush in the normal case; in an outage its zero tail is at most the last reservation). Recovery
 * reads entries up to the first zero length.
 *
 * <p><b>The spare segment.</b> Creating a segment (a file, a mapping, its first blocks reserved and
 * its pages touched) is file system work of up to milliseconds when the appender is fast (the first
 * reservation grows with the append rate, up to a whole segment). A full segment is rolled by the
 * appender itself, on an event loop, so the preparer keeps one segment prepared, the spare, and
 * {@link #newSegment} hands it out with one atomic exchange; it creates a segment on the caller's
 * thread only when no spare is ready (counted as {@code tollgate.journal.inline.segments}). Taking
 * the spare asks the preparer for the next one at once rather than at its next run (a task queued
 * on it, which may wake it: a futex call, no wait), since at a few hundred MB/s a segment lasts
 * less than an interval. The preparer is a thread of its own, not the sync thread, whose {@code
 * msync} of a fast appender's pages took up to ~370 ms here: with the spare made there, most full
 * segments still rolled to a file created inline. A spare is numbered when it is prepared, and the
 * numbering stays the order in which segments are handed out: a segment is numbered under {@code
 * sequencing}, where a spare waiting to be taken is taken instead, and a spare that finds, when it
 * is ready, that a later number was handed out meanwhile is renamed to the next number before it is
 * published, so replay in name order still follows each appender's order. A spare holds only a
 * header; the spare left by a crash, like any segment with no entry and no torn tail, is deleted
 * when the journal is opened and never reaches {@link #recovered()}. {@link #close()} deletes it.
 *
 * <p>Size cap (default 1 GiB): when the store has been unreachable long enough for unacknowledged
 * segments to exceed it, the journal keeps accepting and writing events — usage is money, and
 * refusing calls would turn a metering outage into a full outage for every buyer — but it logs an
 * error once a minute and reports {@code tollgate.journal.over.cap = 1}; {@link #overCap()} lets
 * the gateway fail its readiness probe so a load balancer can drain the instance. Only a full
 * disk stops it: {@link Segment#append} then throws and the gateway fails the call.
 *
 * <p>The sync thread survives any failure: a run that cannot force a segment (or throws
 * anything) is logged and reported to {@link TaskHealth} as task {@value #SYNC_TASK} with a
 * local cause, and the next run comes at the next interval. So does the preparer; its last run's
 * failure (blocks or a spare it could not reserve) is reported by the sync thread's next run.
 */
public final class UsageJournal implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(UsageJournal.class);
  private static final Pattern SEGMENT = Pattern.compile("segment-([0-9a-f]{16})-(\\d{16})\\.tgj");
  private static final long LOG_EVERY_MILLIS = 60_000;
  private static final VarHandle SPARE;

  static {
    try {
      SPARE = MethodHandles.lookup().findVarHandle(UsageJournal.class, "spare", Segment.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }
  /** The sync thread's name in {@link TaskHealth}. */
  public static final String SYNC_TASK = "journal-sync";

  /**
   * @param syncInterval how often open segments are forced to disk. Defaults to 100 ms.
   * @param segmentBytes size at which a segment is closed and a new one started, at most 1 GiB
   *     (a segment is one mapping). Defaults to 16 MiB.
   * @param capBytes journal size beyond which it reports {@link #overCap()}. Defaults to 1 GiB.
   */
  public record Config(Duration syncInterval, long segmentBytes, long capBytes) {

    public Config {
      if (syncInterval.isNegative() || syncInterval.isZero()) {
        throw new IllegalArgumentException("syncInterval must be positive: " + syncInterval);
      }
      if (segmentBytes < 4096 || segmentBytes > 1 << 30) {
        throw new IllegalArgumentException("segmentBytes must be 4096 to 1 GiB: " + segmentBytes);
      }
      if (capBytes < segmentBytes) {
        throw new IllegalArgumentException(
            "capBytes " + capBytes + " must be at least segmentBytes " + segmentBytes);
      }
    }

    public static Config defaults() {
      return new Config(Duration.ofMillis(100), 16L << 20, 1L << 30);
    }
  }

  private final Path dir;
  private final Config config;
  private final Clock clock;
  private final String journalId;
  /** Guards {@code nextSequence} and the publishing of {@code spare}: see "The spare segment". */
  private final Object sequencing = new Object();
  private long nextSequence = 1; // guarded by sequencing
  private boolean preparing; // guarded by sequencing: the preparer has numbered a spare
  /** A segment prepared by the preparer, not handed out yet; taken with {@link #SPARE}. */
  private volatile Segment spare;
  private final AtomicBoolean spareRequested = new AtomicBoolean();
  private final Runnable prepareSpareNow = this::prepareSpareOnRequest;
  private volatile boolean closed;
  private final Set<Segment> live = ConcurrentHashMap.newKeySet();
  private final List<RecoveredSegment> recovered;
  private final ScheduledExecutorService syncer;
  /** Reserves blocks ahead of appenders and prepares the spare: see "The spare segment". */
  private final ScheduledExecutorService preparer;
  private final TaskHealth.Task syncTask;
  private final Counter inlineAllocations;
  private final Counter inlineSegments;
  private final Timer syncs;
  private final Counter syncedBytes;
  /** What a new segment reserves: twice the most any segment took in one sync interval. */
  private volatile int firstReservation = Segment.MIN_AHEAD;
  private long lastCapLog; // sync thread only
  private Exception syncError; // sync thread only: the run's first failure
  private Exception reserveError; // preparer thread only: the run's first failure
  /** The preparer's last run's failure, reported with the sync thread's health; null if none. */
  private volatile Exception prepareError;

  private UsageJournal(Path dir, Config config, Clock clock, MeterRegistry registry, TaskHealth health)
      throws IOException {
    this.dir = dir;
    this.config = config;
    this.clock = clock;
    // stalled when it has not run for 50 intervals (at least 10 s)
    this.syncTask = health.task(SYNC_TASK, config.syncInterval().multipliedBy(50).compareTo(Duration.ofSeconds(10)) < 0
        ? Duration.ofSeconds(10) : config.syncInterval().multipliedBy(50));
    Files.createDirectories(dir);
    this.journalId = UUID.randomUUID().toString().replace("-", "").substring(0, 16);
    this.recovered = recover();
    this.inlineAllocations = Counter.builder("tollgate.journal.inline.allocations")
        .description("appends that reserved disk blocks themselves (a system call on the event"
            + " loop) because a burst outran the preparer's reservation")
        .register(registry);
    this.inlineSegments = Counter.builder("tollgate.journal.inline.segments")
        .description("segments created by the thread that needed one (on an event loop when a"
            + " full segment rolled) because the preparer had no spare ready")
        .register(registry);
    this.syncs = Timer.builder("tollgate.journal.sync")
        .description("forces of the part of a segment appended since the previous one")
        .register(registry);
    this.syncedBytes = Counter.builder("tollgate.journal.synced.bytes").baseUnit("bytes")
        .description("journal bytes forced to disk").register(registry);
    Gauge.builder("tollgate.journal.bytes", this, UsageJournal::bytes)
        .description("bytes of usage in the journal not yet acknowledged by the meter store")
        .baseUnit("bytes").register(registry);
    Gauge.builder("tollgate.journal.segments", live, Set::size).register(registry);
    Gauge.builder("tollgate.journal.over.cap", this, j -> j.overCap() ? 1 : 0)
        .description("1 when the journal exceeds its cap: the meter store is far behind")
        .register(registry);
    this.syncer = daemonExecutor("tollgate-journal-sync");
    this.preparer = daemonExecutor("tollgate-journal-prepare");
    long every = config.syncInterval().toNanos();
    syncer.scheduleWithFixedDelay(this::syncOpenSegments, every, every, TimeUnit.NANOSECONDS);
    preparer.scheduleWithFixedDelay(this::prepareRoom, every, every, TimeUnit.NANOSECONDS);
  }

  private static ScheduledExecutorService daemonExecutor(String name) {
    return Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    });
  }

  /** Opens (creating if needed) the journal in {@code dir} and reads what earlier processes left. */
  public static UsageJournal open(Path dir, Config config, Clock clock, MeterRegistry registry) {
    return open(dir, config, clock, registry, new TaskHealth(clock, registry));
  }

  /** As {@link #open(Path, Config, Clock, MeterRegistry)}, reporting the sync thread to {@code health}. */
  public static UsageJournal open(Path dir, Config config, Clock clock, MeterRegistry registry,
      TaskHealth health) {
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(health, "health");
    try {
      return new UsageJournal(dir, config, clock, registry, health);
    } catch (IOException e) {
      throw new JournalException("cannot open usage journal in " + dir + ": " + e.getMessage(), e);
    }
  }

  /** This incarnation's id: the prefix of the batch ids of segments it creates. */
  public String journalId() {
    return journalId;
  }

  public Config config() {
    return config;
  }

  /**
   * Segments with entries (or a torn tail) an earlier process left, in name order; each must be
   * applied, then deleted. Segments with neither were deleted at open.
   */
  public List<RecoveredSegment> recovered() {
    return recovered;
  }

  /**
   * The next segment to append to, for a thread that may wait on the file system (the
   * aggregator's flusher): the spare the preparer made, or, when none is ready, a new file
   * created, mapped and given its whole first reservation on this thread. Either way the preparer
   * is asked for the next spare.
   */
  public Segment newSegment() {
    return next(firstReservation, /* mayWait= */ true);
  }

  /**
   * The next segment for an appender whose segment is full, on an event loop: the spare, with one
   * atomic exchange and no file system call; or, when none is ready, a new file created here with
   * only the least reservation ({@value Segment#MIN_AHEAD} bytes: its pages are faulted in by
   * this thread, ~10 µs each on a busy machine), the preparer reserving the rest as it goes.
   */
  public Segment rollSegment() {
    return next(Segment.MIN_AHEAD, /* mayWait= */ false);
  }

  private Segment next(int reserveIfCreated, boolean mayWait) {
    Segment s = (Segment) SPARE.getAndSet(this, null);
    if (s == null) {
      s = createInline(reserveIfCreated, mayWait);
    }
    live.add(s);
    requestSpare();
    return s;
  }

  /**
   * Numbers and creates a segment here, unless a spare was published meanwhile. A caller that
   * may wait ({@link #newSegment}) waits for a spare being prepared instead (up to a second):
   * creating one here would number it after that spare, which would then be deleted unused; with
   * the flusher rolling two stripes in a run, that was a spare wasted at every run.
   */
  private Segment createInline(int reserve, boolean mayWait) {
    long seq;
    synchronized (sequencing) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
      while (true) {
        Segment ready = (Segment) SPARE.getAndSet(this, null);
        if (ready != null) {
          return ready; // numbered before any segment this could create: take it, keep the order
        }
        long left = deadline - System.nanoTime();
        if (!mayWait || !preparing || left <= 0) {
          break;
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(sequencing, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
      seq = nextSequence++;
    }
    inlineSegments.increment();
    return create(seq, reserve);
  }

  private Segment create(long seq, int reserve) {
    Path path = pathOf(seq);
    try {
      return Segment.create(this, journalId, seq, path, (int) config.segmentBytes(), reserve);
    } catch (IOException | RuntimeException e) {
      throw new JournalException("cannot create journal segment " + path + ": " + e.getMessage(), e);
    }
  }

  /** Asks the preparer for a spare now; one request at a time. */
  private void requestSpare() {
    if (closed || !spareRequested.compareAndSet(false, true)) {
      return;
    }
    try {
      preparer.execute(prepareSpareNow);
    } catch (RejectedExecutionException e) {
      spareRequested.set(false); // closing: no spare needed any more
    }
  }

  /**
   * A run asked for by a roll: first room for the segments being appended to now (one just
   * created inline has only {@value Segment#MIN_AHEAD} bytes; waiting for the periodic run would
   * leave its appender reserving blocks itself meanwhile), then the next spare.
   */
  private void prepareSpareOnRequest() {
    spareRequested.set(false);
    try {
      for (Segment s : live) {
        s.reserveAhead(firstReservation);
      }
      prepareSpare();
    } catch (Throwable t) { // the periodic run retries and reports it
      log.error("cannot prepare a spare journal segment: {}", t.toString());
    }
  }

  /**
   * Prepares the spare if none is ready; preparer thread only. Throws {@link JournalException} when
   * the segment cannot be created: the next {@link #newSegment} creates one itself, or fails.
   */
  private void prepareSpare() {
    if (closed || spare != null) {
      return;
    }
    long seq;
    synchronized (sequencing) {
      seq = nextSequence++;
      preparing = true;
    }
    Segment s = null;
    try {
      s = create(seq, firstReservation);
      synchronized (sequencing) {
        if (closed) {
          return; // discarded below
        }
        if (nextSequence != seq + 1) {
          // A segment was created inline meanwhile and numbered after this one: handed out now,
          // this one would come after its successor. It holds nothing yet, so it takes the next
          // number instead of being deleted: its reservation is the costly part, its name is a
          // rename (under the lock, so nothing is numbered between; only a creating thread
          // waits on it).
          long renumbered = nextSequence++;
          s = s.renumbered(renumbered, pathOf(renumbered));
        }
        spare = s;
        s = null;
      }
    } catch (IOException e) {
      throw new JournalException("cannot rename spare journal segment: " + e.getMessage(), e);
    } finally {
      synchronized (sequencing) {
        preparing = false;
        sequencing.notifyAll(); // a flusher waiting in createInline
      }
      if (s != null) {
        discard(s); // not published (a failed rename leaves it under its first name)
      }
    }
  }

  private Path pathOf(long seq) {
    return dir.resolve(String.format("segment-%s-%016d.tgj", journalId, seq));
  }

  /** Deletes a segment that was never handed out. */
  private void discard(Segment s) {
    s.release();
    try {
      Files.deleteIfExists(s.path());
    } catch (IOException e) {
      // empty: deleted at the next start if it is still there
      log.warn("cannot delete unused journal segment {}: {}", s.path(), e.toString());
    }
  }

  /** Whether a spare is ready to be handed out. For tests. */
  boolean spareReady() {
    return spare != null;
  }

  /**
   * Trims a segment whose batch the store acknowledged (or an empty one nothing appends to any
   * more): unmaps it and deletes its file.
   */
  public void delete(Segment segment) {
    segment.release();
    try {
      Files.deleteIfExists(segment.path());
    } catch (IOException e) {
      throw new JournalException("cannot delete journal segment " + segment.path(), e);
    }
    live.remove(segment);
  }

  /** Bytes of header and entries of all live segments. */
  public long bytes() {
    long total = 0;
    for (Segment s : live) {
      total += s.bytes();
    }
    return total;
  }

  public boolean overCap() {
    return bytes() > config.capBytes();
  }

  void allocatedInline() {
    inlineAllocations.increment();
  }

  void synced(int bytes, long nanos) {
    syncs.record(nanos, TimeUnit.NANOSECONDS);
    syncedBytes.increment(bytes);
  }

  void syncFailed(Segment segment, IOException e) {
    log.error("cannot fsync usage journal segment {}: {}", segment, e.toString());
    if (syncError == null) {
      syncError = e;
    }
  }

  void reserveFailed(Segment segment, IOException e) {
    log.error("cannot reserve blocks for usage journal segment {}: {}", segment, e.toString());
    if (reserveError == null) {
      reserveError = e;
    }
  }

  private void syncOpenSegments() {
    syncError = null;
    try {
      for (Segment s : live) {
        s.sync();
      }
      logIfOverCap();
    } catch (Throwable t) { // never let the scheduled task die: its next runs would be cancelled
      log.error("usage journal sync failed", t);
      syncTask.failed(t, TaskHealth.Cause.LOCAL);
      return;
    }
    Exception failure = syncError != null ? syncError : prepareError;
    if (failure != null) {
      syncTask.failed(failure, TaskHealth.Cause.LOCAL);
    } else {
      syncTask.succeeded();
    }
  }

  /**
   * The preparer's periodic run: reserves blocks ahead of each appender, sizes the next segment's
   * first reservation from the busiest one, and prepares the spare if none is ready.
   */
  private void prepareRoom() {
    reserveError = null;
    try {
      int busiest = 0;
      for (Segment s : live) {
        busiest = Math.max(busiest, s.reserveAhead());
      }
      firstReservation = (int) Math.min(config.segmentBytes(), Math.max(Segment.MIN_AHEAD, 2L * busiest));
      prepareSpare();
    } catch (Throwable t) { // never let the scheduled task die: its next runs would be cancelled
      log.error("usage journal preparer failed: {}", t.toString());
      if (reserveError == null) {
        reserveError = t instanceof Exception e ? e : new IllegalStateException(t);
      }
    }
    prepareError = reserveError;
  }

  private void logIfOverCap() {
    long total = bytes();
    long now = clock.millis();
    if (total > config.capBytes() && now - lastCapLog >= LOG_EVERY_MILLIS) {
      lastCapLog = now;
      log.error("usage journal {} holds {} bytes the meter store has not acknowledged, over its"
              + " cap of {} bytes; still accepting and journaling calls (usage is money)."
              + " Restore the meter store or free disk space.", dir, total, config.capBytes());
    }
  }

  /** Stops syncing and forces and closes open segments; they are replayed on the next start. */
  @Override
  public void close() {
    closed = true;
    preparer.shutdown(); // not shutdownNow: an interrupt would close the file a run is writing
    syncer.shutdown();
    try {
      preparer.awaitTermination(10, TimeUnit.SECONDS);
      syncer.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Segment unused = (Segment) SPARE.getAndSet(this, null);
    if (unused != null) {
      discard(unused);
    }
    for (Segment s : live) {
      try {
        s.seal();
      } catch (JournalException e) {
        log.error("{}", e.getMessage());
      }
    }
  }

  /** Stops syncing and closes files without forcing them, as a crash would. For tests. */
  public void abandon() {
    closed = true;
    preparer.shutdownNow();
    syncer.shutdownNow();
    try {
      preparer.awaitTermination(5, TimeUnit.SECONDS); // no spare created after the "crash"
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    live.forEach(Segment::abandon);
    Segment unused = spare;
    if (unused != null) {
      unused.abandon(); // its file stays, as a crash leaves it
    }
  }

  private List<RecoveredSegment> recover() throws IOException {
    List<Path> files = new ArrayList<>();
    try (var stream = Files.list(dir)) {
      stream.filter(p -> SEGMENT.matcher(p.getFileName().toString()).matches()).sorted()
          .forEach(files::add);
    }
    List<RecoveredSegment> out = new ArrayList<>();
    for (Path p : files) {
      Matcher m = SEGMENT.matcher(p.getFileName().toString());
      m.matches();
      String incarnation = m.group(1);
      long seq = Long.parseLong(m.group(2));
      byte[] content = Files.readAllBytes(p);
      List<UsageEvent> events = new ArrayList<>();
      int end = readEntries(content, events);
      int tail = lastNonZero(content) + 1;
      boolean torn = tail > end;
      if (events.isEmpty() && !torn) {
        // a spare, or a segment nothing was appended to: nothing to replay
        Files.delete(p);
        continue;
      }
      Segment s = Segment.recovered(this, incarnation, seq, p, end, events.size());
      live.add(s);
      if (torn) {
        log.warn("journal segment {}: ignoring {} bytes after the last whole entry (a write cut"
            + " short by a crash)", p, tail - end);
      }
      out.add(new RecoveredSegment(s, events, torn));
    }
    if (!out.isEmpty()) {
      log.info("usage journal {}: replaying {} segments left by an earlier process", dir, out.size());
    }
    return List.copyOf(out);
  }

  /** The zeros after it are the pre-sized file's unused tail, not a tear. */
  private static int lastNonZero(byte[] content) {
    int i = content.length - 1;
    while (i >= 0 && content[i] == 0) {
      i--;
    }
    return i;
  }

  /**
   * Reads the events of whole entries into {@code events}; returns the offset after the last whole
   * entry: the first zero length (the unused tail), or the first entry cut short or failing its
   * CRC.
   */
  static int readEntries(byte[] content, List<UsageEvent> events) {
    ByteBuffer buf = ByteBuffer.wrap(content);
    if (content.length < Segment.HEADER_BYTES || buf.getInt(0) != Segment.MAGIC) {
      return 0;
    }
    int pos = Segment.HEADER_BYTES;
    CRC32C crc = new CRC32C();
    List<String[]> idsByRef = new ArrayList<>();
    while (pos + 8 <= content.length) {
      int len = buf.getInt(pos);
      int sum = buf.getInt(pos + 4);
      if (len <= 0 || len > Segment.MAX_ENTRY_BYTES || pos + 8 + len > content.length) {
        break;
      }
      crc.reset();
      crc.update(content, pos + 8, len);
      if ((int) crc.getValue() != sum) {
        break;
      }
      UsageEvent event = EventCodec.decode(ByteBuffer.wrap(content, pos + 8, len).slice(), idsByRef);
      if (event != null) {
        events.add(event);
      }
      pos += 8 + len;
    }
    return pos;
  }
}
