package io.tollgate.metering.journal;

import io.tollgate.metering.usage.UsageEvent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * One journal file: a header, then entries {@code [int length][int crc32c(payload)][payload]}.
 *
 * <p>{@link #append} is not thread-safe: the caller serialises appends (the aggregator holds its
 * stripe lock). Appends go to the page cache with a plain {@code write}, no fsync; a background
 * thread of {@link UsageJournal} forces open segments every sync interval, and {@link #seal()}
 * forces and closes. A failed write truncates back to the last whole entry, so a segment never
 * holds a tear followed by more entries; a tear at the tail (a crash mid-write) fails its length
 * or CRC check and replay stops there.
 */
public final class Segment {

  static final int MAGIC = 0x54474A31; // "TGJ1"
  static final int HEADER_BYTES = 8;
  static final int MAX_ENTRY_BYTES = 1 << 20;

  private final UsageJournal journal;
  private final String incarnation;
  private final long sequence;
  private final Path path;
  private final FileChannel channel; // null for a recovered, read-only segment
  private final CRC32C crc = new CRC32C();
  private ByteBuffer scratch;
  private volatile long bytes;
  private int entries;
  private volatile boolean sealed;

  Segment(UsageJournal journal, String incarnation, long sequence, Path path, FileChannel channel,
      long bytes, int entries) {
    this.journal = journal;
    this.incarnation = incarnation;
    this.sequence = sequence;
    this.path = path;
    this.channel = channel;
    this.bytes = bytes;
    this.entries = entries;
    this.sealed = channel == null;
  }

  public long sequence() {
    return sequence;
  }

  /** Unique across instances and restarts, and a pure function of the file's name. */
  public String batchId() {
    return incarnation + "-" + sequence;
  }

  public long bytes() {
    return bytes;
  }

  /** Entries appended by this process (recovered segments: entries read). */
  public int entries() {
    return entries;
  }

  Path path() {
    return path;
  }

  /** Appends one event. Throws {@link JournalException} and leaves the segment as it was. */
  public void append(UsageEvent event) {
    if (sealed) {
      throw new IllegalStateException("segment " + sequence + " is sealed");
    }
    ByteBuffer buf = encode(event);
    long start = bytes;
    try {
      while (buf.hasRemaining()) {
        channel.write(buf, start + buf.position());
      }
    } catch (IOException e) {
      try {
        channel.truncate(start);
      } catch (IOException again) {
        e.addSuppressed(again);
      }
      throw new JournalException("cannot append to journal " + path + ": " + e.getMessage(), e);
    }
    bytes = start + buf.limit();
    entries++;
    journal.added(buf.limit());
  }

  private ByteBuffer encode(UsageEvent event) {
    if (scratch == null) {
      scratch = ByteBuffer.allocate(1024);
    }
    while (true) {
      scratch.clear();
      scratch.position(8);
      if (EventCodec.encode(event, scratch)) {
        break;
      }
      if (scratch.capacity() >= MAX_ENTRY_BYTES) {
        throw new IllegalArgumentException("usage event too large for the journal");
      }
      scratch = ByteBuffer.allocate(scratch.capacity() * 4);
    }
    int payload = scratch.position() - 8;
    crc.reset();
    crc.update(scratch.array(), 8, payload);
    scratch.putInt(0, payload);
    scratch.putInt(4, (int) crc.getValue());
    scratch.flip();
    return scratch;
  }

  /** Forces written entries to disk; a no-op once sealed. Called by the sync thread. */
  void force() {
    if (sealed) {
      return;
    }
    try {
      channel.force(false);
    } catch (ClosedChannelException e) {
      // sealed or abandoned concurrently; sealing forces itself
    } catch (IOException e) {
      journal.syncFailed(this, e);
    }
  }

  /** Forces and closes the file; idempotent. After this the segment's content never changes. */
  public void seal() {
    if (sealed) {
      return;
    }
    try {
      channel.force(false);
      channel.close();
    } catch (IOException e) {
      throw new JournalException("cannot seal journal segment " + path + ": " + e.getMessage(), e);
    }
    sealed = true;
  }

  /** Closes without forcing, as a crash would. */
  void abandon() {
    try {
      if (channel != null) {
        channel.close();
      }
    } catch (IOException e) {
      // abandoning anyway
    }
    sealed = true;
  }

  @Override
  public String toString() {
    return "Segment[" + path.getFileName() + ", " + bytes + " bytes]";
  }
}
