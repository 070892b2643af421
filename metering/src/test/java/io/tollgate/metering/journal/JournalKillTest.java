package io.tollgate.metering.journal;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.metering.usage.UsageEvent;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DESIGN.md, Invariants: a call's usage reaches the journal before its last byte leaves, so no
 * crash loses it. Appends are stores into a shared mapping with no system call, so this is the
 * page cache's promise: a process SIGKILLed mid-append ({@link AppendingProcess}, a JVM of its
 * own, appending, rolling and syncing) has every append that returned on disk, in order.
 */
class JournalKillTest {

  @TempDir Path dir;

  @Test
  void processKilledWhileAppending_everyAppendThatReturnedIsRecovered_inOrder() throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process process = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
        AppendingProcess.class.getName(), dir.toString())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    int returned = 0;
    try (BufferedReader out = new BufferedReader(
        new InputStreamReader(process.getInputStream(), StandardCharsets.US_ASCII))) {
      String line;
      while (returned < 30_000 && (line = out.readLine()) != null) {
        returned = Integer.parseInt(line.trim());
      }
      process.destroyForcibly(); // SIGKILL: no shutdown hook, no seal, no sync
      assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    } finally {
      process.destroyForcibly();
    }
    assertThat(process.exitValue()).as("128 + SIGKILL").isEqualTo(137);
    assertThat(returned).as("the process appended before it was killed").isGreaterThanOrEqualTo(30_000);

    UsageJournal journal = UsageJournal.open(dir, AppendingProcess.config(), Clock.systemUTC(),
        new SimpleMeterRegistry());
    try {
      List<UsageEvent> recovered = journal.recovered().stream()
          .flatMap(r -> r.events().stream()).toList();
      assertThat(recovered.size()).as("every append that returned before the kill")
          .isGreaterThanOrEqualTo(returned);
      assertThat(recovered).as("exactly the appended events, in order, none garbled")
          .isEqualTo(IntStream.range(0, recovered.size()).mapToObj(AppendingProcess::event).toList());
      assertThat(journal.recovered()).as("segments rolled while appending").hasSizeGreaterThan(3);
    } finally {
      journal.abandon();
    }
  }
}
