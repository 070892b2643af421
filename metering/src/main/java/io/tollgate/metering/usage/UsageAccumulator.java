package io.tollgate.metering.usage;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Folds the usage objects an upstream reports, in order, into the one usage of the call, the way
 * the dialect defines it, and refuses values that cannot be real.
 *
 * <p>Once a value is refused the whole call's usage is untrusted ({@link #rejected()}) and stays
 * so: a later plausible object does not make an upstream that lied once trustworthy again, and the
 * gateway estimates instead.
 */
abstract sealed class UsageAccumulator
    permits UsageAccumulator.LastReported, UsageAccumulator.Cumulative {

  static final long ABSENT = -1;

  final long maxPerField;
  boolean rejected;

  UsageAccumulator(long maxPerField) {
    this.maxPerField = maxPerField;
  }

  static UsageAccumulator forDialect(Dialect dialect, long maxPerField) {
    return dialect == Dialect.ANTHROPIC ? new Cumulative(maxPerField) : new LastReported(maxPerField);
  }

  /** Applies one reported usage object (never a JSON null). */
  abstract void apply(JsonNode usage);

  /** The usage so far, or null if nothing (trusted) was reported. */
  abstract TokenUsage usage();

  /** A copy to try a tentative event on without changing this one. */
  abstract UsageAccumulator copy();

  final boolean rejected() {
    return rejected;
  }

  /**
   * The field's value, {@link #ABSENT} when missing or null; marks the call rejected (and returns
   * ABSENT) when the value is not a whole number in {@code [0, maxPerField]}.
   */
  final long field(JsonNode parent, String name) {
    JsonNode value = parent.get(name);
    if (value == null || value.isNull()) {
      return ABSENT;
    }
    // 12.0 is a whole number some providers write; 12.5 or "12" is not a token count.
    if (!value.isNumber() || !value.canConvertToExactIntegral() || !value.canConvertToLong()) {
      rejected = true;
      return ABSENT;
    }
    return checked(value.longValue());
  }

  final long checked(long value) {
    if (value < 0 || value > maxPerField) {
      rejected = true;
      return ABSENT;
    }
    return value;
  }

  static long orZero(long value) {
    return value == ABSENT ? 0 : value;
  }

  /**
   * OpenAI and the custom protocol: each usage object is the whole usage; the last one reported
   * wins (a later {@code "usage":null} never reaches {@link #apply}).
   */
  static final class LastReported extends UsageAccumulator {
    private static final String[] DETAILS = {"prompt_tokens_details", "input_tokens_details"};
    private TokenUsage last;

    LastReported(long maxPerField) {
      super(maxPerField);
    }

    @Override
    void apply(JsonNode usage) {
      long input = first(field(usage, "prompt_tokens"), field(usage, "input_tokens"));
      long output = first(field(usage, "completion_tokens"), field(usage, "output_tokens"));
      long total = field(usage, "total_tokens");
      long cached = ABSENT;
      for (String details : DETAILS) {
        JsonNode node = usage.get(details);
        if (node != null && node.isObject()) {
          cached = first(cached, field(node, "cached_tokens"));
        }
      }
      if (input == ABSENT && total != ABSENT) {
        input = checked(total - orZero(output));
      } else if (output == ABSENT && total != ABSENT && input != ABSENT) {
        output = checked(total - input);
      }
      if (input == ABSENT && output == ABSENT) {
        return; // an object without counts, e.g. {"cost":0.1}: nothing reported
      }
      if (orZero(cached) > orZero(input)) {
        rejected = true;
      }
      if (!rejected) {
        last = new TokenUsage(orZero(input), orZero(cached), orZero(output), /* estimated= */ false);
      }
    }

    private static long first(long a, long b) {
      return a != ABSENT ? a : b;
    }

    @Override
    TokenUsage usage() {
      return rejected ? null : last;
    }

    @Override
    UsageAccumulator copy() {
      LastReported copy = new LastReported(maxPerField);
      copy.last = last;
      copy.rejected = rejected;
      return copy;
    }
  }

  /**
   * Anthropic: {@code message_start} reports a first usage, each {@code message_delta} a
   * cumulative one that wins field by field where present. Where {@code iterations} is present
   * (context compaction ran several sampling passes) the billed usage is their sum.
   */
  static final class Cumulative extends UsageAccumulator {
    private long input = ABSENT;
    private long cacheWrite = ABSENT;
    private long cacheRead = ABSENT;
    private long output = ABSENT;

    Cumulative(long maxPerField) {
      super(maxPerField);
    }

    @Override
    void apply(JsonNode usage) {
      JsonNode iterations = usage.get("iterations");
      if (iterations != null && iterations.isArray() && !iterations.isEmpty()) {
        long in = 0;
        long write = 0;
        long read = 0;
        long out = 0;
        for (JsonNode iteration : iterations) {
          if (!iteration.isObject()) {
            rejected = true;
            return;
          }
          in += orZero(field(iteration, "input_tokens"));
          write += orZero(field(iteration, "cache_creation_input_tokens"));
          read += orZero(field(iteration, "cache_read_input_tokens"));
          out += orZero(field(iteration, "output_tokens"));
        }
        input = checked(in);
        cacheWrite = checked(write);
        cacheRead = checked(read);
        output = checked(out);
      } else {
        input = winner(field(usage, "input_tokens"), input);
        cacheWrite = winner(field(usage, "cache_creation_input_tokens"), cacheWrite);
        cacheRead = winner(field(usage, "cache_read_input_tokens"), cacheRead);
        output = winner(field(usage, "output_tokens"), output);
      }
      // Each part plausible but their sum, tollgate's inputTokens, not: untrusted as well.
      checked(orZero(input) + orZero(cacheWrite) + orZero(cacheRead));
    }

    private static long winner(long reported, long before) {
      return reported != ABSENT ? reported : before;
    }

    @Override
    TokenUsage usage() {
      if (rejected || (input == ABSENT && output == ABSENT)) {
        return null;
      }
      long allInput = orZero(input) + orZero(cacheWrite) + orZero(cacheRead);
      return new TokenUsage(allInput, orZero(cacheRead), orZero(output), /* estimated= */ false);
    }

    @Override
    UsageAccumulator copy() {
      Cumulative copy = new Cumulative(maxPerField);
      copy.input = input;
      copy.cacheWrite = cacheWrite;
      copy.cacheRead = cacheRead;
      copy.output = output;
      copy.rejected = rejected;
      return copy;
    }
  }
}
