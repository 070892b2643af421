package io.tollgate.metering.usage;

/**
 * Usage of a JSON (non-stream) body, read by a {@link JsonSkimmer} as the chunks pass.
 *
 * <p>Why a streaming reader rather than accumulating the body up to a bound: it keeps nothing but
 * its position and the few values it wants, so a 50 MB embeddings answer costs the same memory as
 * a 1 KB chat answer and never "gives up" at a size limit, which for metering would mean
 * estimating a call whose usage was right there.
 *
 * <p>The usage counts only once the body's JSON value is complete: a truncated or malformed body
 * reports nothing, so the gateway estimates it.
 */
final class JsonBodyUsageExtractor extends AbstractUsageExtractor {

  private final JsonSkimmer reader;
  private boolean applied;

  JsonBodyUsageExtractor(UsageShape shape, UsageAccumulator accumulator, CompletionText text) {
    super(accumulator, text);
    this.reader = new JsonSkimmer(shape, text);
  }

  @Override
  void read(byte[] bytes, int offset, int length) {
    if (applied || reader.failed()) {
      return; // anything after the one JSON value (whitespace, garbage) changes nothing
    }
    reader.feed(bytes, offset, length);
    if (reader.complete()) {
      reader.usages().forEach(accumulator::apply);
      applied = true;
    }
  }

  @Override
  public TokenUsage reported() {
    return applied ? accumulator.usage() : null;
  }
}
