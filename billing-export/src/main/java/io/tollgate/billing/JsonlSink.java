package io.tollgate.billing;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.UUID;

/**
 * The JSONL files: a follower of the {@link RecordLedger} that writes every record, in export
 * order, to files under {@code <dataDir>/billing/}, one record per line.
 *
 * <p><b>One file per commit and window</b>, named from the window start and the first and last
 * seq it holds: {@code usage-20261201T1000Z-000000000123-000000000140.jsonl}. Both are fixed when
 * the ledger commits, so the file a run writes is the file any later run would write; and a file
 * once written is never written to again, so an adjustment (a later commit) always lands in a new
 * file. Names sort by window, then by export order.
 *
 * <p><b>Crash safety.</b> A file is written under a temporary name in the same directory ({@code
 * .usage-....jsonl.tmp}: a reader listing {@code *.jsonl} never sees it), fsynced, renamed in one
 * step, the directory fsynced, and only then the cursor advanced in the database. A crash before
 * the rename leaves a temporary file (removed by the next run); a crash between the rename and the
 * cursor leaves a complete file that the next run rewrites identically (same name, same bytes).
 *
 * <p><b>Cursor.</b> Kept in the ledger's database under a name that the directory holds
 * ({@code .follower}, made on first use): one {@code store.dataDir} belongs to one instance, and a
 * new or wiped directory starts from the first record instead of inheriting another's position.
 *
 * <p>Blocking (files and database); one caller at a time.
 */
public final class JsonlSink implements LedgerFollower {

  /** What a line holds. */
  public enum Format {
    /** The record's JSON ({@link RecordJson#record}). */
    RECORD,
    /** The record in a CloudEvents 1.0 envelope ({@link RecordJson#cloudEvent}). */
    CLOUDEVENTS;

    /** {@code record} or {@code cloudevents}, as {@code export.jsonl.format} spells it. */
    public static Format parse(String name) {
      return switch (name) {
        case "record" -> RECORD;
        case "cloudevents" -> CLOUDEVENTS;
        default -> throw new IllegalArgumentException("JSONL format must be record or cloudevents: " + name);
      };
    }
  }

  /** Records read per round (rounded up to whole commits). */
  static final int DEFAULT_BATCH = 10_000;

  private static final DateTimeFormatter WINDOW =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmm'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);
  private static final String TEMP_SUFFIX = ".tmp";
  private static final String FOLLOWER_FILE = ".follower";

  private final RecordLedger ledger;
  private final Path dir;
  private final Format format;
  private final int batch;
  private String follower;

  /** @param dataDir {@code store.dataDir}; the files go to its {@code billing/} */
  public JsonlSink(RecordLedger ledger, Path dataDir, Format format) {
    this(ledger, dataDir, format, DEFAULT_BATCH);
  }

  JsonlSink(RecordLedger ledger, Path dataDir, Format format, int batch) {
    this.ledger = Objects.requireNonNull(ledger, "ledger");
    this.dir = dataDir.resolve("billing");
    this.format = Objects.requireNonNull(format, "format");
    if (batch < 1) {
      throw new IllegalArgumentException("batch must be positive: " + batch);
    }
    this.batch = batch;
  }

  /** {@code jsonl}. */
  @Override
  public String name() {
    return "jsonl";
  }

  /** {@code <dataDir>/billing}. */
  public Path directory() {
    return dir;
  }

  /**
   * Writes every record committed after this directory's cursor; returns how many it wrote.
   *
   * @throws UncheckedIOException if a file cannot be written (the cursor stays before it)
   * @throws BillingStoreException if the ledger cannot be read or the cursor moved
   */
  @Override
  public synchronized int catchUp() {
    try {
      if (follower == null) {
        Files.createDirectories(dir);
        removeTemporaryFiles();
        follower = followerName();
      }
      int written = 0;
      while (true) {
        List<LedgerEntry> entries = ledger.follow(ledger.cursor(follower), batch);
        if (entries.isEmpty()) {
          return written;
        }
        for (List<LedgerEntry> file : files(entries)) {
          write(file);
          ledger.advanceCursor(follower, file.get(file.size() - 1).seq());
          written += file.size();
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write billing files in " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Splits entries (whole commits, in seq order) into runs of one commit and one window. */
  private static List<List<LedgerEntry>> files(List<LedgerEntry> entries) {
    List<List<LedgerEntry>> files = new ArrayList<>();
    List<LedgerEntry> run = new ArrayList<>();
    for (LedgerEntry e : entries) {
      if (!run.isEmpty()) {
        LedgerEntry last = run.get(run.size() - 1);
        if (last.commitSeq() != e.commitSeq() || !last.record().windowStart().equals(e.record().windowStart())) {
          files.add(run);
          run = new ArrayList<>();
        }
      }
      run.add(e);
    }
    files.add(run);
    return files;
  }

  static String fileName(Instant windowStart, long firstSeq, long lastSeq) {
    return String.format(Locale.ROOT, "usage-%s-%012d-%012d.jsonl", WINDOW.format(windowStart), firstSeq, lastSeq);
  }

  private void write(List<LedgerEntry> file) throws IOException {
    String name = fileName(file.get(0).record().windowStart(), file.get(0).seq(), file.get(file.size() - 1).seq());
    Path temp = dir.resolve("." + name + TEMP_SUFFIX);
    try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      OutputStream out = new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 16);
      for (LedgerEntry e : file) {
        out.write(RecordJson.MAPPER.writeValueAsBytes(
            format == Format.RECORD ? RecordJson.record(e.record()) : RecordJson.cloudEvent(e.record())));
        out.write('\n');
      }
      out.flush();
      ch.force(true);
    }
    publish(temp, dir.resolve(name));
  }

  /** Renames a complete, synced file into place and syncs the directory that names it. */
  private void publish(Path temp, Path target) throws IOException {
    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    }
  }

  /** Left by a crash before a rename: never visible to readers, and rewritten from the ledger. */
  private void removeTemporaryFiles() throws IOException {
    try (DirectoryStream<Path> temps = Files.newDirectoryStream(dir, ".*" + TEMP_SUFFIX)) {
      for (Path t : temps) {
        Files.deleteIfExists(t);
      }
    }
  }

  /** This directory's follower name, made (durably) on first use. */
  private String followerName() throws IOException {
    Path file = dir.resolve(FOLLOWER_FILE);
    if (Files.exists(file)) {
      return Files.readString(file, StandardCharsets.UTF_8).strip();
    }
    String name = "jsonl-" + UUID.randomUUID();
    Path temp = dir.resolve(FOLLOWER_FILE + TEMP_SUFFIX);
    try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      ch.write(StandardCharsets.UTF_8.encode(name + "\n"));
      ch.force(true);
    }
    publish(temp, file);
    return name;
  }
}
