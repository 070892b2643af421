package io.tollgate.metering.journal;

import io.tollgate.metering.usage.UsageEvent;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;

/**
 * One journal file: a header, then entries {@code [int length][int crc32c(payload)][payload]},
 * then zeros to the end of the file. Written through a shared memory mapping.
 *
 * <p><b>Why a mapping.</b> An append writes the event (its ids encoded beforehand, {@link
 * EncodedIds}) straight into the mapped page cache with absolute puts: no system call and no
 * allocation, where a {@code pwrite} per append cost ~0.9 µs of CPU and ~130 bytes of garbage. A
 * store into a shared mapping is in the page cache the moment it is made, as a {@code write(2)}
 * would be, so a process crash ({@code kill -9}) after {@link #append} returned loses nothing.
 *
 * <p><b>Ids once per segment.</b> An event's entry names its five ids by the number of an ids
 * entry earlier in the same segment ({@link EventCodec}): the first append with a set of ids
 * writes their entry, then the event's, and publishes both with one store (the first entry's
 * length), so no event entry is ever readable without its ids. {@link EncodedIds} remembers the
 * segment and number its entry was last written with.
 *
 * <p><b>Entries are published by their length.</b> The payload and its CRC are written first, the
 * length last, so an entry cut short by a crash reads as length 0 or fails its CRC. The file is
 * pre-sized with zeros; recovery stops at the first zero length or bad entry, and bytes other than
 * zeros after it mark a torn tail. An event whose ids cannot be encoded fails in {@link
 * EncodedIds#of}, before its append. {@link #appendHeld} leaves its entries' publication to one
 * later store ({@link #publish}): an io_uring event loop journals a turn's completed calls, queues
 * their ends, then publishes them all and enters its ring, so a crash finds all of them journaled
 * and sent, or none of them.
 *
 * <p><b>No SIGBUS on a full disk.</b> The mapping spans {@code segmentBytes} plus room for the one
 * largest entry that may cross it, over a sparse file; a store into a hole of a sparse file on a
 * full disk kills the thread with SIGBUS. So appends write only below {@code allocated}: the part
 * of the file whose blocks were reserved by writing zeros with {@code write(2)}, which reports a
 * full disk as an {@link IOException}. The journal's preparer thread keeps {@code allocated} ahead
 * of the appender by twice what it appended since the previous run (at least {@value #MIN_AHEAD}
 * bytes), and touches each page so the appender takes no page fault either; only a burst that
 * outruns it makes {@link #append} reserve blocks itself, a step at a time (counted as {@code
 * tollgate.journal.inline.allocations}). The preparer is not the sync thread: an {@code msync} of
 * a fast appender's pages took up to ~370 ms on this machine, and a reservation waiting behind it
 * was a reservation made on the event loop.
 *
 * <p><b>Forcing.</b> The sync thread forces the range appended since its previous run ({@link
 * MappedByteBuffer#force(int, int)}, an {@code msync} of those pages only), never the zero tail,
 * and only when something was appended. {@link #seal()} forces the rest.
 *
 * <p><b>Threads.</b> {@link #append} is called by one thread at a time (the caller's lock: the
 * aggregator's stripe lock), and never once the segment is sealed; it alone uses {@code
 * payloadView}, {@code crc}, {@code entries} and writes {@code used} (a release store: the sync
 * thread that reads it sees the entries below it, and an appender pays no full fence). The sync
 * thread and the flusher force, seal and unmap under {@code this}; the preparer grows {@code
 * allocated} under {@code allocation}, which {@code append} takes only on its rare fallback (never waiting behind an
 * {@code msync}). The mapping is unmapped only by {@link #release} (on delete), and the file is
 * never truncated, so no store can land outside the mapping or the file.
 */
public final class Segment {

  static final int MAGIC = 0x54474A31; // "TGJ1"
  static final int HEADER_BYTES = 8;
  static final int ENTRY_HEADER_BYTES = 8;
  static final int MAX_ENTRY_BYTES = 1 << 20;
  /** The least the preparer keeps reserved ahead of the appender, and a new file's first. */
  static final int MIN_AHEAD = 64 << 10;
  /** What an append that outran the preparer reserves beyond its entry. */
  static final int INLINE_AHEAD = 256 << 10;
  private static final int PAGE = 4096;
  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 << 10).asReadOnlyBuffer();
  private static final Unmapper UNMAPPER = Unmapper.create();
  private static final VarHandle USED;
  private static final AtomicLong SERIALS = new AtomicLong();
  /**
   * The most one append writes past where it starts: a largest ids entry and an event entry, with
   * their headers. A segment maps this much beyond {@code segmentBytes}.
   */
  static final int MAX_APPEND_BYTES =
      2 * ENTRY_HEADER_BYTES + EventCodec.MAX_IDS_BYTES + EventCodec.EVENT_MAX_BYTES;

  static {
    try {
      USED = MethodHandles.lookup().findVarHandle(Segment.class, "used", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final UsageJournal journal;
  private final String incarnation;
  private final long sequence;
  private final Path path;
  private final FileChannel channel; // null for a recovered, read-only segment
  /** Used with absolute indexes only: its position and limit never move. */
  private final MappedByteBuffer map;
  private final int segmentBytes;
  private final int capacity;
  private final CRC32C crc = new CRC32C();
  /** The mapping again, its position and limit set to each entry's payload for its CRC. */
  private final ByteBuffer payloadView;
  private final Object allocation = new Object();
  /** The published entries end here: the sync thread forces up to it. */
  private volatile int used;
  /** Appender only: where the next entry goes; beyond {@code used} while entries are held. */
  private int next;
  /** Appender only: the first held entry's offset (its length not written yet), or -1. */
  private int held = -1;
  private int heldLength; // appender only
  private volatile int allocated; // guarded by allocation for writes; page-aligned or capacity
  private volatile boolean sealed;
  /** Events appended by this process, or read back; ids entries not counted. */
  private int entries;
  /** Appender only: ids entries written, the next one's number. */
  private int idsEntries;
  /** Unique per instance in this process: which segment {@link EncodedIds} last wrote to. */
  final long serial = SERIALS.incrementAndGet();
  private int forced; // guarded by this
  private int usedAtLastReserve; // preparer thread only
  private boolean unmapped; // guarded by this

  private Segment(UsageJournal journal, String incarnation, long sequence, Path path,
      FileChannel channel, MappedByteBuffer map, int segmentBytes, int used, int entries) {
    this.journal = journal;
    this.incarnation = incarnation;
    this.sequence = sequence;
    this.path = path;
    this.channel = channel;
    this.map = map;
    this.payloadView = map == null ? null : map.duplicate();
    this.segmentBytes = segmentBytes;
    this.capacity = map == null ? used : map.capacity();
    this.used = used;
    this.next = used;
    this.entries = entries;
    this.sealed = channel == null;
  }

  /**
   * Creates the file at {@code path}, maps enough of it for {@code segmentBytes} and the event that
   * crosses it, and reserves the first {@code reserve} bytes. Does file system calls: runs on the
   * journal's preparer thread (the spare, see {@link UsageJournal}) or the flusher, and on an event loop
   * only when a full segment must roll and no spare is ready.
   */
  static Segment create(UsageJournal journal, String incarnation, long sequence, Path path,
      int segmentBytes, int reserve) throws IOException {
    long capacity = ((long) segmentBytes + MAX_APPEND_BYTES + PAGE - 1) & -PAGE;
    FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW,
        StandardOpenOption.READ, StandardOpenOption.WRITE);
    MappedByteBuffer map = null;
    try {
      map = channel.map(FileChannel.MapMode.READ_WRITE, 0, capacity);
      Segment s = new Segment(journal, incarnation, sequence, path, channel, map, segmentBytes,
          HEADER_BYTES, 0);
      synchronized (s.allocation) {
        s.allocate(Math.max(reserve, HEADER_BYTES));
      }
      map.putInt(0, MAGIC);
      return s;
    } catch (IOException | RuntimeException e) {
      try {
        channel.close();
        if (map != null) {
          UNMAPPER.unmap(map);
        }
        Files.deleteIfExists(path);
      } catch (IOException | RuntimeException again) {
        e.addSuppressed(again);
      }
      throw e;
    }
  }

  /**
   * This segment, never handed out and with nothing appended, under another number: renames its
   * file to {@code to} and returns the segment to use instead of this one (same file and mapping,
   * same reservation). Preparer thread only.
   */
  Segment renumbered(long newSequence, Path to) throws IOException {
    Files.move(path, to, StandardCopyOption.ATOMIC_MOVE);
    Segment s = new Segment(journal, incarnation, newSequence, to, channel, map, segmentBytes,
        used, entries);
    synchronized (allocation) {
      s.allocated = allocated;
    }
    return s;
  }

  /** A segment an earlier process left: read only, already sealed. */
  static Segment recovered(UsageJournal journal, String incarnation, long sequence, Path path,
      int used, int entries) {
    return new Segment(journal, incarnation, sequence, path, null, null, used, used, entries);
  }

  public long sequence() {
    return sequence;
  }

  /** Unique across instances and restarts, and a pure function of the file's name. */
  public String batchId() {
    return incarnation + "-" + sequence;
  }

  /** Bytes of header and whole entries: where the next entry goes. */
  public long bytes() {
    return next;
  }

  /** Events appended by this process (recovered segments: events read); ids entries not counted. */
  public int entries() {
    return entries;
  }

  Path path() {
    return path;
  }

  /** Bytes of the file whose blocks are reserved: appends up to here need no system call. */
  int allocated() {
    return allocated;
  }

  /** Bytes forced to disk so far. */
  synchronized int forced() {
    return forced;
  }

  /**
   * Appends one event whose ids are {@code ids} ({@link EncodedIds#of} of an event with the same
   * five ids), while the segment holds less than {@code segmentBytes}: the event that crosses it
   * always fits, and then the caller must roll to a new segment. Throws {@link JournalException}
   * when the disk is full, and leaves the segment as it was. Publishes any held entries first.
   */
  public void append(UsageEvent event, EncodedIds ids) {
    int start = next;
    int length = write(event, ids);
    int end = next;
    publishHeld();
    map.putInt(start, length); // last: this publishes the append's entries
    USED.setRelease(this, end);
  }

  /**
   * Appends as {@link #append}, but leaves the entry unpublished, with any held before it, until
   * {@link #publish()} (or the next {@link #append}): a crash meanwhile leaves none of them, as
   * if none had been appended. The first held entry's length is written last: recovery stops at
   * its zero, so the entries after it, whole as they are, count only once it is written. That one
   * store publishes them all at once.
   */
  public void appendHeld(UsageEvent event, EncodedIds ids) {
    int start = next;
    int length = write(event, ids);
    if (held < 0) {
      held = start;
      heldLength = length;
    } else {
      map.putInt(start, length); // behind the first held entry's zero length: not yet readable
    }
  }

  /** Publishes the held entries ({@link #appendHeld}), if any: one store. Appender only. */
  public void publish() {
    if (held >= 0) {
      publishHeld();
      USED.setRelease(this, next);
    }
  }

  private void publishHeld() {
    if (held >= 0) {
      map.putInt(held, heldLength);
      held = -1;
    }
  }

  /**
   * Writes the entries of one append at {@code next}: the ids' entry, when this segment has none
   * for them yet, then the event's. Each has its payload and CRC written, and every length but the
   * first entry's, which is left zero and returned: the one store that publishes them.
   */
  private int write(UsageEvent event, EncodedIds ids) {
    int start = next;
    if (sealed || start >= segmentBytes) {
      throw new IllegalStateException("journal segment " + sequence + " is "
          + (sealed ? "sealed" : "full: its writer must roll to a new one"));
    }
    boolean newIds = ids.segment != serial;
    int ref = newIds ? idsEntries : ids.ref;
    int idsLength = newIds ? EventCodec.IDS_HEADER_BYTES + ids.bytes.length : 0;
    int eventStart = newIds ? start + ENTRY_HEADER_BYTES + idsLength : start;
    if (eventStart + ENTRY_HEADER_BYTES + EventCodec.EVENT_MAX_BYTES > allocated) {
      reserve(eventStart + ENTRY_HEADER_BYTES + EventCodec.EVENT_MAX_BYTES); // rare: see the preparer
    }
    if (newIds) {
      EventCodec.encodeIds(ref, ids.bytes, map, start + ENTRY_HEADER_BYTES);
      checksum(start, eventStart);
    }
    int eventLength = EventCodec.encodeEvent(event, ref, map, eventStart + ENTRY_HEADER_BYTES);
    int end = eventStart + ENTRY_HEADER_BYTES + eventLength;
    checksum(eventStart, end);
    next = end;
    entries++;
    if (!newIds) {
      return eventLength;
    }
    map.putInt(eventStart, eventLength); // behind the ids entry's zero length
    idsEntries++;
    ids.segment = serial;
    ids.ref = ref;
    return idsLength;
  }

  /** Writes the CRC of the payload of the entry from {@code start} to {@code end}. */
  private void checksum(int start, int end) {
    crc.reset();
    crc.update(payloadView.limit(end).position(start + ENTRY_HEADER_BYTES));
    map.putInt(start + 4, (int) crc.getValue());
  }

  /**
   * Reserves blocks up to {@code end} and {@value #INLINE_AHEAD} bytes more, on the appending
   * thread: a step small enough to stall it ~0.1 ms, not the preparer's whole look-ahead.
   */
  private void reserve(int end) {
    synchronized (allocation) {
      try {
        allocate((long) end + INLINE_AHEAD);
      } catch (IOException | UncheckedIOException e) {
        throw new JournalException("cannot append to journal " + path + ": " + e.getMessage(), e);
      }
    }
    journal.allocatedInline();
  }

  /**
   * Reserves the file's blocks up to at least {@code end} by writing zeros, then touches each new
   * page through the mapping so the appender finds it mapped. Caller holds {@code allocation}.
   */
  private void allocate(long end) throws IOException {
    int from = allocated;
    int to = (int) Math.min(capacity, (end + PAGE - 1) & -PAGE);
    if (to <= from) {
      return;
    }
    ByteBuffer zeros = ZEROS.duplicate();
    for (long pos = from; pos < to; ) {
      zeros.clear().limit((int) Math.min(zeros.capacity(), to - pos));
      pos += channel.write(zeros, pos);
    }
    for (int page = from; page < to; page += PAGE) {
      map.put(page, (byte) 0); // a write fault here, on this thread, maps the page writable
    }
    allocated = to;
  }

  /** The sync thread's run for this segment: forces what was appended since the previous run. */
  void sync() {
    int end = used;
    synchronized (this) {
      if (sealed) {
        return;
      }
      try {
        forceTo(end);
      } catch (UncheckedIOException e) {
        journal.syncFailed(this, e.getCause());
      }
    }
  }

  /**
   * The preparer thread's run for this segment: reserves twice what was appended since its
   * previous run (at least {@value #MIN_AHEAD} bytes) ahead of the appender. Returns the bytes
   * appended since the previous run.
   */
  int reserveAhead() {
    int end = used;
    int appended = end - usedAtLastReserve;
    usedAtLastReserve = end;
    reserveStepwise((long) end + Math.max(MIN_AHEAD, 2L * appended));
    return appended;
  }

  /** Reserves {@code bytes} ahead of the appender; preparer thread only, between its runs. */
  void reserveAhead(int bytes) {
    reserveStepwise((long) used + bytes);
  }

  /**
   * Reserves up to {@code end}, {@value #INLINE_AHEAD} bytes at a time, taking {@code allocation}
   * for each step only: an appender that outran the reservation waits for one step at most (~1 ms
   * of faults on a busy machine), not for a whole segment's (40-70 ms measured here for 16 MiB).
   * Nothing is reserved for a full segment: its writer rolls.
   */
  private void reserveStepwise(long end) {
    long target = Math.min(capacity, (end + PAGE - 1) & -PAGE);
    try {
      while (true) {
        synchronized (allocation) {
          if (sealed || used >= segmentBytes || allocated >= target) {
            return;
          }
          allocate(Math.min(target, (long) allocated + INLINE_AHEAD));
        }
      }
    } catch (IOException e) {
      journal.reserveFailed(this, e);
    }
  }

  /** Forces {@code [forced, end)} to disk; caller holds {@code this}. */
  private void forceTo(int end) {
    if (end <= forced) {
      return;
    }
    long start = System.nanoTime();
    map.force(forced, end - forced);
    journal.synced(end - forced, System.nanoTime() - start);
    forced = end;
  }

  /**
   * Forces what is not forced yet and closes the file; idempotent. After this the segment's
   * content never changes. The caller has stopped appending to it.
   */
  public void seal() {
    synchronized (allocation) {
      synchronized (this) {
        if (sealed) {
          return;
        }
        try {
          publish(); // the appender rolled away from this segment: what it held is published
          forceTo(used);
        } catch (UncheckedIOException e) {
          throw new JournalException("cannot seal journal segment " + path + ": " + e.getMessage(), e);
        }
        sealed = true;
        closeChannel();
      }
    }
  }

  /** Closes without forcing, as a crash would; the mapping is left to the GC. */
  void abandon() {
    synchronized (allocation) {
      synchronized (this) {
        sealed = true;
        closeChannel();
      }
    }
  }

  /** Closes and unmaps, for a segment being deleted: nothing appends to it any more. */
  void release() {
    synchronized (allocation) {
      synchronized (this) {
        sealed = true;
        closeChannel();
        if (map != null && !unmapped) {
          unmapped = true;
          UNMAPPER.unmap(map);
        }
      }
    }
  }

  private void closeChannel() {
    try {
      if (channel != null) {
        channel.close();
      }
    } catch (IOException e) {
      // nothing is written through the channel any more; the mapping holds the data
    }
  }

  @Override
  public String toString() {
    return "Segment[" + path.getFileName() + ", " + used + " bytes]";
  }
}
