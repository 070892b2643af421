package io.tollgate.metering.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.metering.usage.TokenUsage;
import io.tollgate.metering.usage.UsageEvent;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.zip.CRC32C;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The journal's segments on disk: pre-sized, memory-mapped files whose entries must all come back
 * after a crash, whatever the sync thread did or did not do before it.
 */
class UsageJournalTest {

  static final Duration NEVER = Duration.ofHours(1);

  @TempDir Path dir;
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  final List<UsageJournal> opened = new ArrayList<>();
  int next;

  @AfterEach
  void closeAll() {
    opened.forEach(UsageJournal::abandon);
  }

  UsageJournal open(Duration syncInterval, long segmentBytes) {
    return open(syncInterval, segmentBytes, registry);
  }

  UsageJournal open(Duration syncInterval, long segmentBytes, SimpleMeterRegistry r) {
    UsageJournal j = UsageJournal.open(dir, new UsageJournal.Config(syncInterval, segmentBytes, 1L << 40),
        Clock.systemUTC(), r);
    opened.add(j);
    return j;
  }

  /** The journal a restarted process opens on the same directory. */
  List<RecoveredSegment> recoverAfterCrash() {
    return open(NEVER, 1 << 20, new SimpleMeterRegistry()).recovered();
  }

  private final Map<List<String>, EncodedIds> encodedIds = new HashMap<>();

  UsageEvent event() {
    int i = next++;
    return new UsageEvent(new UUID(7, i), "sub_" + (i % 13), "sku_" + (i % 3), "prod_1", "mer_1",
        "buyer_" + (i % 13), 1_740_824_100_000L + i, 200, UsageEvent.Outcome.COMPLETED,
        new TokenUsage(100 + i, i % 50, 20 + i % 300, /* estimated= */ i % 5 == 0), /* test= */ false);
  }

  List<UsageEvent> append(Segment s, int n) {
    return append(s, n, false);
  }

  /**
   * Appends {@code n} events, {@code held} ({@link Segment#appendHeld}) or published at once, each
   * with the {@link EncodedIds} of its ids kept across appends and segments, as the aggregator's
   * cells keep them: a segment's first event with a set of ids writes their entry too.
   */
  List<UsageEvent> append(Segment s, int n, boolean held) {
    List<UsageEvent> written = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      UsageEvent e = event();
      EncodedIds ids = encodedIds.computeIfAbsent(
          List.of(e.subscriptionId(), e.skuId(), e.buyerId()), k -> EncodedIds.of(e));
      if (held) {
        s.appendHeld(e, ids);
      } else {
        s.append(e, ids);
      }
      written.add(e);
    }
    return written;
  }

  static List<UsageEvent> events(List<RecoveredSegment> recovered) {
    return recovered.stream().flatMap(r -> r.events().stream()).toList();
  }

  double counter(String name) {
    return registry.get(name).counter().count();
  }

  @Test
  void appendedEvents_surviveACrashBeforeAnySync_inAPresizedSegment() throws IOException {
    UsageJournal journal = open(NEVER, 1 << 20);
    Segment s = journal.newSegment();
    List<UsageEvent> written = append(s, 500);
    journal.abandon();

    assertThat(Files.size(s.path())).as("the file is pre-sized beyond its entries").isGreaterThan(s.bytes());
    List<RecoveredSegment> recovered = recoverAfterCrash();
    assertThat(recovered).hasSize(1);
    RecoveredSegment r = recovered.get(0);
    assertThat(r.events()).as("every append that returned is in the page cache, so on disk after a crash")
        .isEqualTo(written);
    assertThat(r.tornTail()).as("the zero tail of a pre-sized file is not a tear").isFalse();
    assertThat(r.segment().batchId()).isEqualTo(s.batchId());
    assertThat(r.segment().bytes()).isEqualTo(s.bytes());
  }

  @Test
  void idsThatAreNullOrNotAscii_comeBackAsWritten() {
    UsageJournal journal = open(NEVER, 1 << 20);
    Segment s = journal.newSegment();
    List<UsageEvent> written = new ArrayList<>(append(s, 3));
    for (String id : new String[] {"abonné-ü", "订阅-7", "emoji-\uD83D\uDE00", null}) {
      UsageEvent e = new UsageEvent(new UUID(3, written.size()), "sub_" + id, "sku_1", id, id, id,
          1_740_824_100_000L, 200, UsageEvent.Outcome.BUYER_ABORTED, new TokenUsage(9, 3, 4, true), true);
      s.append(e, EncodedIds.of(e));
      written.add(e);
    }
    written.addAll(append(s, 3));
    journal.abandon();

    assertThat(events(recoverAfterCrash())).isEqualTo(written);
  }

  @Test
  void payloadWrittenButLengthNot_isATornTail_andWholeEntriesBeforeItCount() throws IOException {
    UsageJournal journal = open(NEVER, 1 << 20);
    Segment s = journal.newSegment();
    List<UsageEvent> written = append(s, 40);
    journal.abandon();
    // A crash between writing an entry's payload and its length, which goes last.
    writeAt(s.path(), s.bytes() + Segment.ENTRY_HEADER_BYTES, new byte[] {1, 0, 0, 0, 9, 9, 9});

    RecoveredSegment r = recoverAfterCrash().get(0);
    assertThat(r.events()).isEqualTo(written);
    assertThat(r.tornTail()).isTrue();
  }

  @Test
  void lengthWrittenOverAPayloadCutShort_failsItsCheck_andWholeEntriesBeforeItCount() throws IOException {
    UsageJournal journal = open(NEVER, 1 << 20);
    Segment s = journal.newSegment();
    List<UsageEvent> written = append(s, 40);
    journal.abandon();
    // A length that promises 90 bytes, a CRC, and only 20 bytes of the payload before the zeros.
    ByteBuffer torn = ByteBuffer.allocate(28).putInt(90).putInt(12345).put(new byte[20]);
    torn.put(8, (byte) 1);
    writeAt(s.path(), s.bytes(), torn.array());

    RecoveredSegment r = recoverAfterCrash().get(0);
    assertThat(r.events()).isEqualTo(written);
    assertThat(r.tornTail()).isTrue();
  }

  /** What a crash now would leave of {@code s}: the whole entries its file holds. */
  static List<UsageEvent> onDisk(Segment s) throws IOException {
    List<UsageEvent> events = new ArrayList<>();
    UsageJournal.readEntries(Files.readAllBytes(s.path()), events);
    return events;
  }

  @Test
  void heldEntries_areInNoCrashUntilPublished_thenAllOfThemAtOnce() throws IOException {
    UsageJournal journal = open(NEVER, 1 << 20);
    Segment s = journal.newSegment();
    List<UsageEvent> published = append(s, 10);
    long publishedBytes = s.bytes();
    List<UsageEvent> held = append(s, 7, true);

    assertThat(onDisk(s)).as("a crash before the publication finds none of the held entries").isEqualTo(published);
    s.sync();
    assertThat(s.forced()).as("the sync thread forces published entries only").isEqualTo((int) publishedBytes);

    s.publish();
    List<UsageEvent> all = new ArrayList<>(published);
    all.addAll(held);
    assertThat(onDisk(s)).as("one store publishes every held entry").isEqualTo(all);
    s.sync();
    assertThat(s.forced()).as("and the sync thread then forces them").isEqualTo((int) s.bytes());
    s.publish(); // nothing held: nothing changes
    assertThat(onDisk(s)).isEqualTo(all);
  }

  @Test
  void plainAppendOrSeal_publishesWhatWasHeldBeforeIt() throws IOException {
    UsageJournal journal = open(NEVER, 1 << 20);
    Segment s = journal.newSegment();
    List<UsageEvent> all = new ArrayList<>(append(s, 3, true));
    all.addAll(append(s, 1)); // another caller's call, written at once: it must not wait behind them
    assertThat(onDisk(s)).isEqualTo(all);

    all.addAll(append(s, 2, true));
    s.seal();
    assertThat(onDisk(s)).as("a sealed segment holds every entry appended to it").isEqualTo(all);
    assertThat(s.forced()).isEqualTo((int) s.bytes());
  }

  static void writeAt(Path file, long position, byte[] bytes) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(bytes), position);
    }
  }

  @Test
  void idsAreWrittenOncePerSegment_andEachEventNamesThem() throws IOException {
    UsageJournal journal = open(NEVER, 1 << 20);
    Segment s = journal.newSegment();
    UsageEvent e = layoutEvent();
    UsageEvent again = new UsageEvent(new UUID(3, 4), "sub_7", "sku_é", null, "mer_1", "buyer_9",
        1_740_824_100_456L, 200, UsageEvent.Outcome.COMPLETED, new TokenUsage(7, 0, 8, false), false);
    EncodedIds ids = EncodedIds.of(e);
    s.append(e, ids);
    s.append(again, ids);
    journal.abandon();

    ByteBuffer idsEntry = ByteBuffer.allocate(128).put((byte) 2).putInt(0);
    putIds(idsEntry, "sub_7", "sku_é", null, "mer_1", "buyer_9");
    ByteBuffer first = ByteBuffer.allocate(45).put((byte) 3)
        .putLong(0x0102030405060708L).putLong(0x1112131415161718L).putInt(0)
        .putLong(1_740_824_100_123L).putShort((short) 201).put((byte) 1).put((byte) 3)
        .putInt(300).putInt(200).putInt(40);
    ByteBuffer second = ByteBuffer.allocate(45).put((byte) 3).putLong(3).putLong(4).putInt(0)
        .putLong(1_740_824_100_456L).putShort((short) 200).put((byte) 0).put((byte) 0)
        .putInt(7).putInt(0).putInt(8);
    ByteBuffer want = ByteBuffer.allocate(512).putInt(Segment.MAGIC).putInt(0);
    for (ByteBuffer payload : List.of(idsEntry, first, second)) {
      want.put(entry(payload.flip()));
    }
    want.flip();
    byte[] file = Files.readAllBytes(s.path());
    assertThat(s.bytes()).as("one ids entry, then two events of 8 + 45 bytes").isEqualTo(want.remaining());
    assertThat(Arrays.copyOf(file, want.remaining()))
        .as("the ids once, then each event naming them by number, byte for byte")
        .isEqualTo(Arrays.copyOf(want.array(), want.remaining()));
    assertThat(events(recoverAfterCrash())).containsExactly(e, again);
  }

  @Test
  void aNewSegmentWritesTheIdsAgain_soEachSegmentReplaysOnItsOwn() throws IOException {
    UsageJournal journal = open(NEVER, 1 << 20);
    UsageEvent e = event();
    EncodedIds ids = EncodedIds.of(e); // as a cell keeps them across its stripe's segments
    Segment first = journal.newSegment();
    first.append(e, ids);
    first.append(e, ids);
    Segment second = journal.rollSegment();
    first.seal();
    second.append(e, ids);
    journal.abandon();

    assertThat(first.bytes()).as("the second event named the ids").isEqualTo(second.bytes() + 8 + 45);
    List<RecoveredSegment> recovered = recoverAfterCrash();
    assertThat(recovered).hasSize(2);
    assertThat(recovered.get(0).events()).containsExactly(e, e);
    assertThat(recovered.get(1).events()).containsExactly(e);
  }

  @Test
  void tokenCountsBeyondAnInt_takeTheWideEntry_andComeBackWhole() {
    UsageJournal journal = open(NEVER, 1 << 20);
    Segment s = journal.newSegment();
    UsageEvent narrow = event();
    EncodedIds ids = EncodedIds.of(narrow);
    UsageEvent huge = new UsageEvent(new UUID(9, 9), narrow.subscriptionId(), narrow.skuId(),
        narrow.productId(), narrow.merchantId(), narrow.buyerId(), 1_740_824_100_000L, 200,
        UsageEvent.Outcome.COMPLETED, new TokenUsage(1L << 33, Integer.MAX_VALUE, 5, false), false);
    UsageEvent edge = new UsageEvent(new UUID(9, 10), narrow.subscriptionId(), narrow.skuId(),
        narrow.productId(), narrow.merchantId(), narrow.buyerId(), 1_740_824_100_000L, 200,
        UsageEvent.Outcome.COMPLETED, new TokenUsage(1L << 31, 0, 1L << 31, true), false);
    s.append(narrow, ids);
    long before = s.bytes();
    s.append(huge, ids);
    assertThat(s.bytes() - before).as("a count past an int: longs").isEqualTo(8 + 57);
    s.append(edge, ids);
    journal.abandon();

    assertThat(events(recoverAfterCrash())).containsExactly(narrow, huge, edge);
  }

  @Test
  void version1Entries_earlierJournalsHold_areStillReplayed() throws IOException {
    UsageJournal journal = open(NEVER, 1 << 20);
    Segment s = journal.newSegment();
    List<UsageEvent> written = append(s, 3);
    journal.abandon();
    UsageEvent old = layoutEvent();
    // Version 1's layout: the ids inline in the event's entry.
    ByteBuffer v1 = ByteBuffer.allocate(128).put((byte) 1)
        .putLong(0x0102030405060708L).putLong(0x1112131415161718L);
    putIds(v1, "sub_7", "sku_é", null, "mer_1", "buyer_9");
    v1.putLong(1_740_824_100_123L).putShort((short) 201).put((byte) 1)
        .putLong(300).putLong(200).putLong(40).put((byte) 3).flip();
    writeAt(s.path(), s.bytes(), entry(v1));
    written.add(old);

    RecoveredSegment r = recoverAfterCrash().get(0);
    assertThat(r.events()).isEqualTo(written);
    assertThat(r.tornTail()).isFalse();
  }

  /** The event whose bytes the layout tests spell out: a null id, a non-ASCII one, every flag. */
  static UsageEvent layoutEvent() {
    return new UsageEvent(new UUID(0x0102030405060708L, 0x1112131415161718L), "sub_7",
        "sku_é", null, "mer_1", "buyer_9", 1_740_824_100_123L, 201, UsageEvent.Outcome.BUYER_ABORTED,
        new TokenUsage(300, 200, 40, /* estimated= */ true), /* test= */ true);
  }

  private static void putIds(ByteBuffer out, String... ids) {
    for (String id : ids) {
      byte[] utf8 = id == null ? new byte[0] : id.getBytes(StandardCharsets.UTF_8);
      out.putShort((short) (id == null ? -1 : utf8.length)).put(utf8);
    }
  }

  /** {@code payload} as a journal entry: length, CRC-32C, payload. */
  private static byte[] entry(ByteBuffer payload) {
    byte[] bytes = new byte[payload.remaining()];
    payload.get(bytes);
    CRC32C crc = new CRC32C();
    crc.update(bytes);
    return ByteBuffer.allocate(8 + bytes.length).putInt(bytes.length).putInt((int) crc.getValue())
        .put(bytes).array();
  }

  @Test
  void refusedEvent_leavesNoTrace() {
    UsageJournal journal = open(NEVER, 1 << 20);
    Segment s = journal.newSegment();
    List<UsageEvent> written = append(s, 10);
    long bytes = s.bytes();
    String tooLong = "a".repeat(100) + "é".repeat(20_000);
    UsageEvent refused = new UsageEvent(new UUID(1, 1), tooLong, "sku", null, null, null,
        1_740_824_100_000L, 200, UsageEvent.Outcome.COMPLETED, new TokenUsage(1, 0, 1, false), false);

    assertThatThrownBy(() -> s.append(refused, EncodedIds.of(refused)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(s.bytes()).isEqualTo(bytes);
    written.addAll(append(s, 10));
    journal.abandon();

    RecoveredSegment r = recoverAfterCrash().get(0);
    assertThat(r.events()).isEqualTo(written);
    assertThat(r.tornTail()).as("the refused event wrote nothing").isFalse();
  }

  @Test
  void segmentTakesTheEventThatCrossesSegmentBytes_evenTheLargest_thenRefusesMore() {
    UsageJournal journal = open(NEVER, 4096);
    List<UsageEvent> written = new ArrayList<>();
    Segment first = journal.newSegment();
    while (first.bytes() < 4096) { // the aggregator's rule: append until segmentBytes, then roll
      written.addAll(append(first, 1));
    }
    assertThat(first.bytes()).as("the crossing event fit").isGreaterThan(4096);

    Segment second = journal.rollSegment(); // the roll
    first.seal();
    while (second.bytes() < 4000) {
      written.addAll(append(second, 1));
    }
    String longest = "x".repeat(Short.MAX_VALUE);
    UsageEvent largest = new UsageEvent(new UUID(2, 2), longest, longest, longest, longest, longest,
        1_740_824_100_000L, 200, UsageEvent.Outcome.COMPLETED, new TokenUsage(5, 0, 5, false), false);
    second.append(largest, EncodedIds.of(largest));
    written.add(largest);
    assertThat(second.bytes()).isGreaterThan(5L * Short.MAX_VALUE);
    long full = second.bytes();
    UsageEvent more = event();
    assertThatThrownBy(() -> second.append(more, EncodedIds.of(more)))
        .as("a segment past segmentBytes takes nothing more: its writer must roll")
        .isInstanceOf(IllegalStateException.class);
    assertThat(second.bytes()).isEqualTo(full);
    journal.abandon();

    List<RecoveredSegment> recovered = recoverAfterCrash();
    assertThat(recovered).hasSize(2);
    assertThat(events(recovered)).isEqualTo(written);
    assertThat(recovered).noneMatch(RecoveredSegment::tornTail);
  }

  @Test
  void syncThread_forcesOnlyWhatWasAppended_andNothingWhenIdle() throws InterruptedException {
    UsageJournal journal = open(Duration.ofMillis(10), 1 << 20);
    Segment s = journal.newSegment();
    append(s, 100);
    Awaitility.await().atMost(Duration.ofSeconds(5))
        .until(() -> counter("tollgate.journal.synced.bytes") == s.bytes());
    long forces = registry.get("tollgate.journal.sync").timer().count();

    Thread.sleep(200); // some twenty sync runs with nothing appended
    assertThat(registry.get("tollgate.journal.sync").timer().count())
        .as("an idle segment is not forced again").isEqualTo(forces);

    append(s, 100);
    Awaitility.await().atMost(Duration.ofSeconds(5))
        .until(() -> counter("tollgate.journal.synced.bytes") == s.bytes());
    s.seal();
    assertThat(counter("tollgate.journal.synced.bytes"))
        .as("each appended byte is forced once, the zero tail never").isEqualTo(s.bytes());
    assertThat(s.forced()).isEqualTo(s.bytes());
  }

  @Test
  void sealForcesWhatTheSyncThreadHasNotYet() {
    UsageJournal journal = open(NEVER, 1 << 20);
    Segment s = journal.newSegment();
    append(s, 30);
    assertThat(s.forced()).isZero();
    s.seal();
    assertThat(s.forced()).isEqualTo(s.bytes());
    assertThat(counter("tollgate.journal.synced.bytes")).isEqualTo(s.bytes());
  }

  @Test
  void preparer_reservesBlocksAheadOfTheAppender_soAppendsMakeNoSystemCall() {
    UsageJournal journal = open(Duration.ofMillis(10), 16 << 20);
    Segment s = journal.newSegment();
    append(s, 100);
    Awaitility.await().atMost(Duration.ofSeconds(5))
        .until(() -> s.allocated() - s.bytes() >= Segment.MIN_AHEAD);

    long end = s.allocated();
    while (s.bytes() < end - 1024) {
      append(s, 1);
    }
    assertThat(counter("tollgate.journal.inline.allocations"))
        .as("appends within the reservation reserve nothing themselves").isZero();
  }

  @Test
  void burstThatOutrunsThePreparer_reservesInline_andLosesNothing() {
    UsageJournal journal = open(NEVER, 16 << 20);
    Segment s = journal.newSegment();
    List<UsageEvent> written = append(s, 5000); // ~600 KB: well past the first 64 KiB reserved
    assertThat(counter("tollgate.journal.inline.allocations"))
        .as("an inline reservation takes a step ahead: a few, not one per page")
        .isBetween(1.0, (double) s.bytes() / Segment.INLINE_AHEAD + 1);
    journal.abandon();

    assertThat(events(recoverAfterCrash())).isEqualTo(written);
  }

  @Test
  void deletedSegment_isUnmapped_andItsFileGone() throws IOException {
    UsageJournal journal = open(NEVER, 1 << 20);
    Segment s = journal.newSegment();
    append(s, 10);
    s.seal();
    String name = s.path().getFileName().toString();
    assertThat(Files.readString(Path.of("/proc/self/maps"))).contains(name);

    journal.delete(s);

    assertThat(s.path()).doesNotExist();
    assertThat(Files.readString(Path.of("/proc/self/maps")))
        .as("a deleted file's blocks are freed only once it is unmapped").doesNotContain(name);
    assertThat(journal.bytes()).isZero();
  }

  List<Path> segmentFiles() throws IOException {
    try (var files = Files.list(dir)) {
      return files.filter(p -> p.getFileName().toString().endsWith(".tgj")).sorted().toList();
    }
  }

  @Test
  void rollOnceTheSpareIsReady_takesIt_andCreatesNoFile() throws IOException {
    UsageJournal journal = open(Duration.ofMillis(10), 64 << 10);
    Segment first = journal.newSegment();
    List<UsageEvent> written = new ArrayList<>();
    while (first.bytes() < 64 << 10) {
      written.addAll(append(first, 1));
    }
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(journal::spareReady);
    List<Path> before = segmentFiles();
    double inline = counter("tollgate.journal.inline.segments");

    Segment second = journal.rollSegment(); // the roll of a full segment, as an event loop does it
    first.seal();

    assertThat(counter("tollgate.journal.inline.segments"))
        .as("the roll took the spare: no segment created on the rolling thread").isEqualTo(inline);
    assertThat(before).as("the spare's file existed before the roll").contains(second.path());
    assertThat(second.sequence()).as("handed out after the first, numbered after it")
        .isGreaterThan(first.sequence());
    assertThat(second.allocated()).as("its first blocks reserved off the rolling thread")
        .isGreaterThanOrEqualTo(Segment.MIN_AHEAD);
    written.addAll(append(second, 100));
    journal.abandon();

    assertThat(events(recoverAfterCrash())).isEqualTo(written);
  }

  @Test
  void crashWithAPreparedSpare_recoversEveryEventOnce_andTheSpareAsNothing() throws IOException {
    UsageJournal journal = open(Duration.ofMillis(10), 8 << 10);
    List<UsageEvent> written = new ArrayList<>();
    List<Segment> used = new ArrayList<>();
    Segment open = journal.newSegment();
    used.add(open);
    for (int roll = 0; roll < 4; roll++) {
      while (open.bytes() < 8 << 10) {
        written.addAll(append(open, 1));
      }
      Awaitility.await().atMost(Duration.ofSeconds(5)).until(journal::spareReady);
      Segment next = journal.rollSegment();
      open.seal();
      open = next;
      used.add(open);
    }
    written.addAll(append(open, 10));
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(journal::spareReady);
    journal.abandon();
    List<Path> spares = new ArrayList<>(segmentFiles());
    spares.removeAll(used.stream().map(Segment::path).toList());
    assertThat(spares).as("the crash left the prepared spare, with a header and no entry").hasSize(1);

    List<RecoveredSegment> recovered = recoverAfterCrash();

    assertThat(events(recovered)).as("every event once, in the order appended").isEqualTo(written);
    assertThat(recovered).extracting(r -> r.segment().batchId())
        .as("the segments appended to, under the names their batches were sent with")
        .containsExactlyElementsOf(used.stream().map(Segment::batchId).toList());
    assertThat(recovered).noneMatch(RecoveredSegment::tornTail);
    assertThat(spares.get(0)).as("an empty spare replays as nothing and is deleted").doesNotExist();
  }

  @Test
  void rollsFasterThanSparesArePrepared_keepTheAppendOrder_andCloseLeavesNoEmptySegment()
      throws IOException {
    UsageJournal journal = open(Duration.ofMillis(10), 4096);
    List<UsageEvent> written = new ArrayList<>();
    Segment open = journal.newSegment();
    int rolls = 0;
    while (written.size() < 5000) { // as AppendingProcess: spares taken, raced, or not ready
      if (open.bytes() >= 4096) {
        Segment next = journal.rollSegment();
        open.seal();
        open = next;
        rolls++;
      }
      written.addAll(append(open, 1));
    }
    journal.close();

    assertThat(segmentFiles()).as("one file per segment appended to: spares unused are deleted")
        .hasSize(rolls + 1);
    assertThat(events(recoverAfterCrash()))
        .as("segment names order the events as appended, whichever segments were spares")
        .isEqualTo(written);
  }

  @Test
  void appendAllocatesNothing() {
    UsageJournal journal = open(Duration.ofMillis(10), 16 << 20);
    Segment s = journal.newSegment();
    UsageEvent[] events = new UsageEvent[64];
    EncodedIds[] ids = new EncodedIds[64]; // as the aggregator's cells hold them
    for (int i = 0; i < events.length; i++) {
      events[i] = event();
      ids[i] = EncodedIds.of(events[i]);
    }
    var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    for (int i = 0; i < 20_000; i++) {
      s.append(events[i & 63], ids[i & 63]);
    }
    long before = threads.getCurrentThreadAllocatedBytes();
    for (int i = 0; i < 20_000; i++) {
      s.append(events[i & 63], ids[i & 63]);
    }
    long allocated = threads.getCurrentThreadAllocatedBytes() - before;
    assertThat(allocated).as("bytes allocated by 20,000 appends").isLessThan(20_000);
  }
}
