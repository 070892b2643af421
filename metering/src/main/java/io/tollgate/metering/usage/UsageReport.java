package io.tollgate.metering.usage;

/**
 * The counts of one usage object, as {@link UsageObjectReader} read them from its tokens: the
 * fields OpenAI, Anthropic and the custom protocol define, each {@link #ABSENT} (missing or JSON
 * null), {@link #INVALID} (not a whole number that fits a long: {@code 1.5}, {@code "12"}, {@code
 * true}, {@code 1e30}, an object) or the number, not yet checked against any bound. A property
 * given twice counts as it is given last, as in a JSON tree.
 *
 * <p>{@link UsageAccumulator} folds reports into the call's usage by the dialect's rules. Reused:
 * a reader keeps a few and {@link #clear}s one per usage object, so none is allocated per event.
 */
final class UsageReport {

  static final long ABSENT = Long.MIN_VALUE;
  static final long INVALID = Long.MIN_VALUE + 1;

  // Top-level counts.
  static final int PROMPT_TOKENS = 0;
  static final int INPUT_TOKENS = 1;
  static final int COMPLETION_TOKENS = 2;
  static final int OUTPUT_TOKENS = 3;
  static final int TOTAL_TOKENS = 4;
  static final int CACHE_CREATION_INPUT_TOKENS = 5;
  static final int CACHE_READ_INPUT_TOKENS = 6;
  static final int COUNTS = 7;

  /** {@code prompt_tokens_details} and {@code input_tokens_details}: OpenAI's cached tokens. */
  static final int PROMPT_DETAILS = 0;
  static final int INPUT_DETAILS = 1;

  final long[] counts = new long[COUNTS];
  /** Per details property: whether its value is an object, and that object's {@code cached_tokens}. */
  final boolean[] detailsObject = new boolean[2];
  final long[] detailsCached = new long[2];

  /**
   * Anthropic's {@code iterations} when it is a non-empty array: the sums of each iteration's
   * input, cache write, cache read and output (an absent one adds 0), and whether an element was
   * not an object or held a count that is invalid or out of {@code [0, maxPerField]}.
   */
  boolean iterations;
  boolean iterationsRejected;
  long iterationInput;
  long iterationCacheWrite;
  long iterationCacheRead;
  long iterationOutput;

  private long maxPerField;
  private final long[] iteration = new long[COUNTS]; // the element being read

  /** Starts a new usage object; iteration counts are checked against {@code maxPerField}. */
  void clear(long maxPerField) {
    this.maxPerField = maxPerField;
    java.util.Arrays.fill(counts, ABSENT);
    detailsObject[0] = false;
    detailsObject[1] = false;
    detailsCached[0] = ABSENT;
    detailsCached[1] = ABSENT;
    noIterations();
  }

  /** A details property begins: an object ({@code isObject}) or any other value. */
  void details(int which, boolean isObject) {
    detailsObject[which] = isObject;
    detailsCached[which] = ABSENT;
  }

  /** {@code iterations} is absent, empty or not an array (again: a later one replaces it). */
  void noIterations() {
    iterations = false;
    iterationsRejected = false;
    iterationInput = 0;
    iterationCacheWrite = 0;
    iterationCacheRead = 0;
    iterationOutput = 0;
  }

  /** An element of a non-empty {@code iterations} array begins; {@code isObject} or not. */
  void iterationStarts(boolean isObject) {
    iterations = true;
    iterationsRejected |= !isObject;
    java.util.Arrays.fill(iteration, ABSENT);
  }

  void iterationCount(int field, long value) {
    iteration[field] = value;
  }

  /** The object element ends: its counts join the sums. */
  void iterationEnds() {
    iterationInput += checked(iteration[INPUT_TOKENS]);
    iterationCacheWrite += checked(iteration[CACHE_CREATION_INPUT_TOKENS]);
    iterationCacheRead += checked(iteration[CACHE_READ_INPUT_TOKENS]);
    iterationOutput += checked(iteration[OUTPUT_TOKENS]);
  }

  /** The value to add for one count: 0 when absent, and 0 with the iterations rejected when bad. */
  private long checked(long value) {
    if (value == ABSENT) {
      return 0;
    }
    if (value == INVALID || value < 0 || value > maxPerField) {
      iterationsRejected = true;
      return 0;
    }
    return value;
  }
}
