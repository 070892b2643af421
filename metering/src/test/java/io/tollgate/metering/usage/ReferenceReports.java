package io.tollgate.metering.usage;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * What a {@link UsageReport} must hold for a usage object, computed the plain way from the
 * object's Jackson tree ({@link JsonEventReader}), with {@code JsonNode}'s rules for a count: the
 * way the usage was read before it was read from tokens. Both sides are rendered as text, so a
 * failing comparison shows every field.
 */
final class ReferenceReports {

  private static final String[] COUNTS = {
    "prompt_tokens", "input_tokens", "completion_tokens", "output_tokens", "total_tokens",
    "cache_creation_input_tokens", "cache_read_input_tokens"};
  private static final String[] DETAILS = {"prompt_tokens_details", "input_tokens_details"};
  private static final String[] ITERATION_COUNTS = {
    "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens"};

  private ReferenceReports() {}

  /** The reports a skimmer read from its document, rendered. */
  static List<String> of(JsonSkimmer skimmer) {
    List<String> out = new ArrayList<>();
    for (int k = 0; k < skimmer.reportCount(); k++) {
      out.add(render(skimmer.report(k)));
    }
    return out;
  }

  static String render(UsageReport r) {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < COUNTS.length; i++) {
      s.append(COUNTS[i]).append('=').append(value(r.counts[i])).append(' ');
    }
    for (int i = 0; i < DETAILS.length; i++) {
      s.append(DETAILS[i]).append('=').append(r.detailsObject[i] ? value(r.detailsCached[i]) : "not-an-object").append(' ');
    }
    if (r.iterations) {
      s.append("iterations=").append(r.iterationsRejected ? "rejected" : "ok").append(" sums=")
          .append(r.iterationInput).append(',').append(r.iterationCacheWrite).append(',')
          .append(r.iterationCacheRead).append(',').append(r.iterationOutput);
    } else {
      s.append("iterations=none");
    }
    return s.toString();
  }

  /** The reports the trees must give, rendered; counts in iterations are checked against {@code max}. */
  static List<String> expected(List<JsonNode> usages, long max) {
    return usages.stream().map(u -> expected(u, max)).toList();
  }

  static String expected(JsonNode usage, long max) {
    StringBuilder s = new StringBuilder();
    for (String name : COUNTS) {
      s.append(name).append('=').append(value(count(usage, name))).append(' ');
    }
    for (String name : DETAILS) {
      JsonNode details = usage.get(name);
      s.append(name).append('=')
          .append(details != null && details.isObject() ? value(count(details, "cached_tokens")) : "not-an-object")
          .append(' ');
    }
    JsonNode iterations = usage.get("iterations");
    if (iterations == null || !iterations.isArray() || iterations.isEmpty()) {
      return s.append("iterations=none").toString();
    }
    boolean rejected = false;
    long[] sums = new long[ITERATION_COUNTS.length];
    for (JsonNode iteration : iterations) {
      if (!iteration.isObject()) {
        rejected = true;
        continue;
      }
      for (int i = 0; i < ITERATION_COUNTS.length; i++) {
        long v = count(iteration, ITERATION_COUNTS[i]);
        if (v == UsageReport.ABSENT) {
          continue;
        }
        if (v == UsageReport.INVALID || v < 0 || v > max) {
          rejected = true;
        } else {
          sums[i] += v;
        }
      }
    }
    return s.append("iterations=").append(rejected ? "rejected" : "ok").append(" sums=")
        .append(sums[0]).append(',').append(sums[1]).append(',').append(sums[2]).append(',').append(sums[3])
        .toString();
  }

  /** A count by JsonNode's rules: absent or null, a whole number that fits a long, or invalid. */
  static long count(JsonNode parent, String name) {
    JsonNode value = parent.get(name);
    if (value == null || value.isNull()) {
      return UsageReport.ABSENT;
    }
    if (!value.isNumber() || !value.canConvertToExactIntegral() || !value.canConvertToLong()) {
      return UsageReport.INVALID;
    }
    long v = value.longValue();
    // the reader's two sentinels are negative counts, rejected either way
    return v == UsageReport.ABSENT ? UsageReport.INVALID : v;
  }

  private static String value(long v) {
    return v == UsageReport.ABSENT ? "absent" : v == UsageReport.INVALID ? "invalid" : Long.toString(v);
  }
}
