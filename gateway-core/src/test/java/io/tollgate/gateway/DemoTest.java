package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.math.BigDecimal;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's first command ends in {@code demo}: it must run and exit 0, and the records it
 * prints must add up to the usage it printed, per subscription.
 */
class DemoTest {

  private static final Pattern USAGE = Pattern.compile("usage of .+? (sub_\\w+) (\\{.*?\\}), remaining");
  private static final Pattern RECORD = Pattern.compile(
      "record (usage|adjustment|purchase) +(sub_\\w+) (sku_\\w+): (\\d+) calls, (\\d+) input \\+ (\\d+) output tokens,"
          + " ([0-9.]+) (\\w+)");

  @TempDir Path dir;

  @Test
  void demo_runsEveryStep_exitsZero_andPrintsRecordsThatAddUpToItsUsage() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), "demo", "--config",
        "../config/tollgate.yaml", "--data-dir", dir.resolve("demo").toString());
    assertThat(code).as("demo exit status; stdout: %s%nstderr: %s", out, err).isZero();

    Map<String, long[]> usage = new HashMap<>();
    Map<String, BigDecimal> usageAmount = new HashMap<>();
    Matcher u = USAGE.matcher(out.toString());
    while (u.find()) {
      JsonObject json = new JsonObject(u.group(2));
      usage.put(u.group(1), new long[] {json.getLong("calls"), json.getLong("inputTokens"),
          json.getLong("outputTokens")});
      usageAmount.put(u.group(1), new BigDecimal(json.getString("amount")));
    }
    Map<String, long[]> records = new HashMap<>();
    Map<String, BigDecimal> recordAmount = new HashMap<>();
    Map<String, Integer> kinds = new HashMap<>();
    Matcher r = RECORD.matcher(out.toString());
    while (r.find()) {
      long[] sum = records.computeIfAbsent(r.group(2), k -> new long[3]);
      for (int i = 0; i < 3; i++) {
        sum[i] += Long.parseLong(r.group(4 + i));
      }
      kinds.merge(r.group(1), 1, Integer::sum);
      assertThat(r.group(8)).isEqualTo("USD");
      if (r.group(1).equals("purchase")) {
        assertThat(r.group(7)).as("the package's price").isEqualTo("9.9");
      } else {
        recordAmount.merge(r.group(2), new BigDecimal(r.group(7)), BigDecimal::add);
      }
    }
    assertThat(usage).as("two subscriptions' usage printed:%n%s", out).hasSize(2);
    assertThat(usage.values()).allSatisfy(c -> assertThat(c[0]).isEqualTo(2));
    assertThat(kinds).as("a usage record per subscription (two if a minute ended between the calls), the"
        + " package's purchase:%n%s", out).containsEntry("purchase", 1).doesNotContainKey("adjustment");
    assertThat(kinds.get("usage")).isBetween(2, 4);
    assertThat(records.keySet()).isEqualTo(usage.keySet());
    for (String sub : usage.keySet()) {
      assertThat(records.get(sub)).as("records of %s add up to the usage the demo printed:%n%s", sub, out)
          .isEqualTo(usage.get(sub));
      assertThat(recordAmount.get(sub)).as("amount of %s's usage records", sub).isEqualByComparingTo(usageAmount.get(sub));
    }
    assertThat(usageAmount.values()).as("the PER_TOKEN subscription costs something").anySatisfy(a ->
        assertThat(a).isPositive());
  }
}
