package io.tollgate.metering.usage;

import com.fasterxml.jackson.core.JsonPointer;
import java.util.List;

/**
 * What a product may tune about usage extraction. {@link #DEFAULTS} fits OpenAI, Anthropic and the
 * custom protocol as documented; a product whose usage sits elsewhere adds pointers.
 *
 * @param usagePointers extra JSON pointers (RFC 6901, e.g. {@code /meta/usage}) at which a usage
 *     object may appear, in the body or in a stream event, read with the dialect's field names.
 *     Defaults to none: the dialect's own locations are always read.
 * @param maxTokensPerField the largest token count trusted in one field; a larger or negative one
 *     makes the call's reported usage untrusted ({@link UsageExtractor#rejected()}). Defaults to
 *     10,000,000, ten times the largest context window on sale.
 * @param maxCompletionChars how much delivered completion text to keep for estimation; 0 keeps
 *     none. Defaults to 1 Mi chars (see {@link UsageExtractor#completionText()}).
 */
public record ExtractorOptions(
    List<String> usagePointers, long maxTokensPerField, int maxCompletionChars) {

  public static final ExtractorOptions DEFAULTS =
      new ExtractorOptions(List.of(), 10_000_000L, 1 << 20);

  public ExtractorOptions {
    usagePointers = List.copyOf(usagePointers);
    for (String pointer : usagePointers) {
      JsonPointer compiled = JsonPointer.compile(pointer); // IllegalArgumentException if malformed
      if (compiled.matches()) {
        throw new IllegalArgumentException("a usage pointer must not be the root: '" + pointer + "'");
      }
    }
    if (maxTokensPerField <= 0) {
      throw new IllegalArgumentException("maxTokensPerField must be positive: " + maxTokensPerField);
    }
    if (maxCompletionChars < 0) {
      throw new IllegalArgumentException(
          "maxCompletionChars must not be negative: " + maxCompletionChars);
    }
  }

  public ExtractorOptions withUsagePointers(String... pointers) {
    return new ExtractorOptions(List.of(pointers), maxTokensPerField, maxCompletionChars);
  }

  public ExtractorOptions withMaxTokensPerField(long max) {
    return new ExtractorOptions(usagePointers, max, maxCompletionChars);
  }

  public ExtractorOptions withMaxCompletionChars(int max) {
    return new ExtractorOptions(usagePointers, maxTokensPerField, max);
  }
}
