package io.tollgate.billing;

import static io.tollgate.billing.RecordLedgerContract.HOUR;
import static io.tollgate.billing.RecordLedgerContract.T0;
import static io.tollgate.billing.RecordLedgerContract.W;
import static io.tollgate.billing.RecordLedgerContract.W2;
import static io.tollgate.billing.RecordLedgerContract.order;
import static io.tollgate.billing.RecordLedgerContract.packagePrice;
import static io.tollgate.billing.RecordLedgerContract.packageTerms;
import static io.tollgate.billing.RecordLedgerContract.usage;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The JSONL files, following a ledger on H2 (the sink does not care which database). */
class JsonlSinkTest {

  @TempDir
  Path dataDir;

  final MovableClock clock = new MovableClock(Instant.parse("2026-12-01T11:02:00Z"));
  TestDatabase db;
  RecordLedger ledger;

  @BeforeEach
  void open() {
    db = TestDatabase.h2();
    ledger = new RecordLedger(db.dataSource(), clock, new SimpleMeterRegistry()).migrate();
  }

  @AfterEach
  void close() {
    db.close();
  }

  JsonlSink sink(JsonlSink.Format format) {
    return new JsonlSink(ledger, dataDir, format);
  }

  /** What a reader sees: the {@code *.jsonl} files by name, with their content. */
  static Map<String, String> files(Path dir) throws IOException {
    Map<String, String> files = new TreeMap<>();
    try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, "*.jsonl")) {
      for (Path p : s) {
        files.put(p.getFileName().toString(), Files.readString(p, StandardCharsets.UTF_8));
      }
    }
    return files;
  }

  static String lines(List<UsageRecord> records) throws IOException {
    StringBuilder sb = new StringBuilder();
    for (UsageRecord r : records) {
      sb.append(RecordJson.MAPPER.writeValueAsString(RecordJson.record(r))).append('\n');
    }
    return sb.toString();
  }

  List<UsageRecord> commit(ExportWindow w, int grown, String... subs) {
    List<WindowUsage> u = new ArrayList<>();
    for (String s : subs) {
      u.add(usage(s, grown, 100L * grown, 0, 10L * grown, "0.0" + grown));
    }
    return ledger.commitWindow(w, u);
  }

  @Test
  void eachCommitOfAWindow_becomesOneFile_namedByWindowAndSeqs_oneRecordPerLine() throws Exception {
    List<UsageRecord> first = commit(W, 1, "sub-a", "sub-b", "sub-c");
    List<UsageRecord> second = commit(W2, 1, "sub-a", "sub-b");
    try (Connection c = db.dataSource().getConnection()) {
      RecordLedger.enqueuePurchase(c, order("sub-p", T0.plusSeconds(600), 1, false));
      RecordLedger.enqueuePurchase(c, order("sub-q", T0.plus(HOUR).plusSeconds(60), 1, false));
    }
    List<UsageRecord> purchases = ledger.commitPurchases(sku -> packageTerms(sku, packagePrice(T0, "USD", "5")), HOUR);

    assertThat(sink(JsonlSink.Format.RECORD).catchUp()).isEqualTo(7);

    assertThat(files(dataDir.resolve("billing"))).as("one file per commit and window, in name order").containsExactly(
        Map.entry("usage-20261201T1000Z-000000000001-000000000003.jsonl", lines(first)),
        Map.entry("usage-20261201T1000Z-000000000006-000000000006.jsonl", lines(purchases.subList(0, 1))),
        Map.entry("usage-20261201T1100Z-000000000004-000000000005.jsonl", lines(second)),
        Map.entry("usage-20261201T1100Z-000000000007-000000000007.jsonl", lines(purchases.subList(1, 2))));
    assertThat(sink(JsonlSink.Format.RECORD).catchUp()).as("nothing new").isZero();
    assertThat(files(dataDir.resolve("billing"))).hasSize(4);
  }

  @Test
  void adjustments_goToANewFile_andAFileOnceWrittenNeverChanges() throws Exception {
    JsonlSink sink = sink(JsonlSink.Format.RECORD);
    commit(W, 1, "sub-a", "sub-b");
    sink.catchUp();
    Map<String, String> before = files(sink.directory());

    List<UsageRecord> adjustments = commit(W, 2, "sub-a", "sub-b");
    sink.catchUp();

    Map<String, String> after = files(sink.directory());
    assertThat(after).as("the first file as it was").containsAllEntriesOf(before).hasSize(2);
    assertThat(after).containsEntry("usage-20261201T1000Z-000000000003-000000000004.jsonl", lines(adjustments));
  }

  @Test
  void crashBetweenRenameAndCursor_rewritesTheIdenticalFile() throws Exception {
    commit(W, 1, "sub-a", "sub-b");
    sink(JsonlSink.Format.RECORD).catchUp();
    Map<String, String> written = files(dataDir.resolve("billing"));
    // The crash: the file was renamed into place, the cursor never moved. An adjustment for the
    // same window commits before the sink runs again.
    TestDatabase.execute(db.dataSource(), "UPDATE billing_follower SET seq = 0");
    List<UsageRecord> adjustments = commit(W, 2, "sub-a");

    assertThat(sink(JsonlSink.Format.RECORD).catchUp()).isEqualTo(3);

    Map<String, String> after = files(dataDir.resolve("billing"));
    assertThat(after).as("the same file, byte for byte, and the adjustment in its own")
        .containsAllEntriesOf(written)
        .containsEntry("usage-20261201T1000Z-000000000003-000000000003.jsonl", lines(adjustments))
        .hasSize(2);
    List<String> ids = new ArrayList<>();
    for (String content : after.values()) {
      for (String line : content.split("\n")) {
        ids.add(RecordJson.MAPPER.readTree(line).get("id").asText());
      }
    }
    assertThat(ids).as("no record in two files").doesNotHaveDuplicates().hasSize(3);
  }

  @Test
  void cloudevents_wrapEachRecordInTheEnvelope() throws Exception {
    UsageRecord r = commit(W, 1, "sub-a").get(0);

    sink(JsonlSink.Format.CLOUDEVENTS).catchUp();

    String content = files(dataDir.resolve("billing")).get("usage-20261201T1000Z-000000000001-000000000001.jsonl");
    assertThat(content).endsWith("\n").hasLineCount(1);
    JsonNode event = RecordJson.MAPPER.readTree(content);
    assertThat(event.get("specversion").asText()).isEqualTo("1.0");
    assertThat(event.get("id").asText()).as("the record id, so consumers de-duplicate by it").isEqualTo(r.id());
    assertThat(event.get("source").asText()).isEqualTo("tollgate");
    assertThat(event.get("type").asText()).isEqualTo("io.tollgate.usage.record");
    assertThat(event.get("subject").asText()).isEqualTo("sub-a");
    assertThat(event.get("time").asText()).as("the window end").isEqualTo("2026-12-01T11:00:00Z");
    assertThat(event.get("datacontenttype").asText()).isEqualTo("application/json");
    assertThat(RecordJson.MAPPER.writeValueAsString(event.get("data")))
        .isEqualTo(RecordJson.MAPPER.writeValueAsString(RecordJson.record(r)));
  }

  @Test
  void formats_areSpelledAsInTheConfig() {
    assertThat(JsonlSink.Format.parse("record")).isEqualTo(JsonlSink.Format.RECORD);
    assertThat(JsonlSink.Format.parse("cloudevents")).isEqualTo(JsonlSink.Format.CLOUDEVENTS);
  }

  /**
   * A reader lists {@code *.jsonl} and reads each file while the sink writes large ones: every
   * file it sees must be whole (each line a record, as many as the name's seq range).
   */
  @Test
  void readersListingJsonl_neverSeeAPartialFile() throws Exception {
    String[] subs = new String[1000];
    for (int i = 0; i < subs.length; i++) {
      subs[i] = "sub-" + i;
    }
    for (int i = 0; i < 4; i++) {
      commit(ExportWindow.holding(T0.plus(HOUR.multipliedBy(i)), HOUR), 1, subs);
    }
    Path dir = dataDir.resolve("billing");
    Files.createDirectories(dir);
    ConcurrentLinkedQueue<String> partial = new ConcurrentLinkedQueue<>();
    AtomicInteger checked = new AtomicInteger();
    AtomicBoolean writing = new AtomicBoolean(true);
    ExecutorService reader = Executors.newSingleThreadExecutor();
    try {
      Future<?> reading = reader.submit(() -> {
        boolean finalPass;
        do {
          finalPass = !writing.get();
          try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, "*.jsonl")) {
            for (Path p : s) {
              String name = p.getFileName().toString();
              String[] seqs = name.substring(name.length() - "000000000001-000000000002.jsonl".length(),
                  name.length() - ".jsonl".length()).split("-");
              long expected = Long.parseLong(seqs[1]) - Long.parseLong(seqs[0]) + 1;
              String content;
              try {
                content = Files.readString(p, StandardCharsets.UTF_8);
              } catch (NoSuchFileException e) {
                continue; // replaced by the same file, between the listing and the read
              }
              if (!content.endsWith("\n") || content.lines().count() != expected) {
                partial.add(name + " had " + content.lines().count() + " lines of " + expected);
              }
              checked.incrementAndGet();
            }
          }
        } while (!finalPass);
        return null;
      });

      assertThat(sink(JsonlSink.Format.RECORD).catchUp()).isEqualTo(4_000);
      writing.set(false);
      reading.get(60, TimeUnit.SECONDS);
    } finally {
      reader.shutdownNow();
    }
    assertThat(checked.get()).as("the reader read files").isGreaterThanOrEqualTo(4);
    assertThat(partial).as("files a reader saw before they were complete").isEmpty();
  }

  @Test
  void aTemporaryFileLeftByACrash_isNeverListed_andIsRemoved() throws Exception {
    Path dir = Files.createDirectories(dataDir.resolve("billing"));
    // A crash mid-write. (The same file would be rewritten under the same temporary name; this
    // one is of a file no run writes again, e.g. from a ledger database since restored.)
    Path leftover = dir.resolve(".usage-20261201T1000Z-000000000001-000000000003.jsonl.tmp");
    Files.writeString(leftover, "{\"object\":\"usage_record\",\"id\":\"ur_");
    List<UsageRecord> records = commit(W, 1, "sub-a", "sub-b");

    assertThat(files(dir)).as("a reader lists *.jsonl; the half-written file is not one").isEmpty();
    sink(JsonlSink.Format.RECORD).catchUp();

    assertThat(leftover).doesNotExist();
    assertThat(files(dir)).containsExactly(
        Map.entry("usage-20261201T1000Z-000000000001-000000000002.jsonl", lines(records)));
  }

  @Test
  void aCommitLargerThanABatch_staysInOneFile() throws Exception {
    List<UsageRecord> first = commit(W, 1, "sub-a", "sub-b", "sub-c", "sub-d", "sub-e");
    List<UsageRecord> second = commit(W2, 1, "sub-a", "sub-b", "sub-c");

    new JsonlSink(ledger, dataDir, JsonlSink.Format.RECORD, /* batch= */ 2).catchUp();

    assertThat(files(dataDir.resolve("billing"))).containsExactly(
        Map.entry("usage-20261201T1000Z-000000000001-000000000005.jsonl", lines(first)),
        Map.entry("usage-20261201T1100Z-000000000006-000000000008.jsonl", lines(second)));
  }

  @Test
  void eachDataDir_keepsItsOwnCursor_andANewOneStartsFromTheFirstRecord() throws Exception {
    Path dirA = dataDir.resolve("a");
    Path dirB = dataDir.resolve("b");
    commit(W, 1, "sub-a");
    new JsonlSink(ledger, dirA, JsonlSink.Format.RECORD).catchUp();
    commit(W, 2, "sub-a");

    assertThat(new JsonlSink(ledger, dirB, JsonlSink.Format.RECORD).catchUp()).as("a new directory gets everything").isEqualTo(2);
    assertThat(new JsonlSink(ledger, dirA, JsonlSink.Format.RECORD).catchUp()).as("the old one only what is new").isOne();
    assertThat(files(dirB.resolve("billing"))).isEqualTo(files(dirA.resolve("billing"))).hasSize(2);
  }

  @Test
  void fileNames_sortByWindowThenExportOrder() {
    assertThat(JsonlSink.fileName(Instant.parse("2026-12-01T10:05:00Z"), 7, 12))
        .isEqualTo("usage-20261201T1005Z-000000000007-000000000012.jsonl");
    assertThat(JsonlSink.fileName(T0, 999_999_999_999L, 1_000_000_000_000L))
        .as("seqs past 12 digits still name the file").isEqualTo("usage-20261201T1000Z-999999999999-1000000000000.jsonl");
  }
}
