package io.tollgate.metering.usage;

/**
 * Folds the usage objects an upstream reports, in order, into the one usage of the call, the way
 * the dialect defines it, and refuses values that cannot be real.
 *
 * <p>Once a value is refused the whole call's usage is untrusted ({@link #rejected()}) and stays
 * so: a later plausible object does not make an upstream that lied once trustworthy again, and the
 * gateway estimates instead.
 *
 * <p>Reusable: {@link #reset} readies it for the next call.
 */
abstract sealed class UsageAccumulator
    permits UsageAccumulator.LastReported, UsageAccumulator.Cumulative {

  static final long ABSENT = -1;

  long maxPerField;
  boolean rejected;

  UsageAccumulator(long maxPerField) {
    this.maxPerField = maxPerField;
  }

  /** Forgets everything reported, for the next call. */
  void reset(long maxPerField) {
    this.maxPerField = maxPerField;
    rejected = false;
  }

  /** Applies one reported usage object (never a JSON null). */
  abstract void apply(UsageReport usage);

  /** The usage so far, or null if nothing (trusted) was reported. */
  abstract TokenUsage usage();

  /** A copy to try a tentative event on without changing this one. */
  abstract UsageAccumulator copy();

  final boolean rejected() {
    return rejected;
  }

  /**
   * The count's value, {@link #ABSENT} when missing or null; marks the call rejected (and returns
   * ABSENT) when the value is not a whole number in {@code [0, maxPerField]}.
   */
  final long field(long reported) {
    if (reported == UsageReport.ABSENT) {
      return ABSENT;
    }
    // 12.0 is a whole number some providers write; 12.5 or "12" is not a token count.
    if (reported == UsageReport.INVALID) {
      rejected = true;
      return ABSENT;
    }
    return checked(reported);
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
    private TokenUsage last;

    LastReported(long maxPerField) {
      super(maxPerField);
    }

    @Override
    void reset(long maxPerField) {
      super.reset(maxPerField);
      last = null;
    }

    @Override
    void apply(UsageReport usage) {
      long[] counts = usage.counts;
      long input = first(field(counts[UsageReport.PROMPT_TOKENS]), field(counts[UsageReport.INPUT_TOKENS]));
      long output = first(field(counts[UsageReport.COMPLETION_TOKENS]), field(counts[UsageReport.OUTPUT_TOKENS]));
      long total = field(counts[UsageReport.TOTAL_TOKENS]);
      long cached = ABSENT;
      for (int details = 0; details < usage.detailsObject.length; details++) {
        if (usage.detailsObject[details]) {
          cached = first(cached, field(usage.detailsCached[details]));
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
    /** What {@link #usage()} returned, until the counts change: asked for more than once per call. */
    private TokenUsage usage;

    Cumulative(long maxPerField) {
      super(maxPerField);
    }

    @Override
    void reset(long maxPerField) {
      super.reset(maxPerField);
      input = ABSENT;
      cacheWrite = ABSENT;
      cacheRead = ABSENT;
      output = ABSENT;
      usage = null;
    }

    @Override
    void apply(UsageReport report) {
      usage = null;
      if (report.iterations) {
        // an element that is not an object, or a count that is not believable
        rejected |= report.iterationsRejected;
        input = checked(report.iterationInput);
        cacheWrite = checked(report.iterationCacheWrite);
        cacheRead = checked(report.iterationCacheRead);
        output = checked(report.iterationOutput);
      } else {
        long[] counts = report.counts;
        input = winner(field(counts[UsageReport.INPUT_TOKENS]), input);
        cacheWrite = winner(field(counts[UsageReport.CACHE_CREATION_INPUT_TOKENS]), cacheWrite);
        cacheRead = winner(field(counts[UsageReport.CACHE_READ_INPUT_TOKENS]), cacheRead);
        output = winner(field(counts[UsageReport.OUTPUT_TOKENS]), output);
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
      if (usage == null) {
        long allInput = orZero(input) + orZero(cacheWrite) + orZero(cacheRead);
        usage = new TokenUsage(allInput, orZero(cacheRead), orZero(output), /* estimated= */ false);
      }
      return usage;
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
