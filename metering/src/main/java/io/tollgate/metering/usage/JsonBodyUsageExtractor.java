package io.tollgate.metering.usage;

/**
 * Usage of a JSON (non-stream) body, read by Jackson's non-blocking parser as the chunks pass.
 *
 * <p>Why the non-blocking parser rather than accumulating the body up to a bound: it keeps nothing
 * but the parser's state, so a 50 MB embeddings answer costs the same memory as a 1 KB chat answer
 * and never "gives up" at a size limit, which for metering would mean estimating a call whose
 * usage was right there. The price is tokenizing every byte, which Jackson does at several hundred
 * MB/s, far above what one connection delivers.
 *
 * <p>The usage counts only once the body's JSON value is complete: a truncated or malformed body
 * reports nothing, so the gateway estimates it.
 */
final class JsonBodyUsageExtractor extends AbstractUsageExtractor {

  private final JsonEventReader reader;
  private boolean applied;

  JsonBodyUsageExtractor(UsageShape shape, UsageAccumulator accumulator, CompletionText text) {
    super(accumulator, text);
    this.reader = new JsonEventReader(shape.usagePaths(), shape.textPaths(), text);
    reader.begin();
  }

  @Override
  void read(byte[] bytes, int offset, int length) {
    if (applied || reader.failed()) {
      return; // anything after the one JSON value (whitespace, garbage) changes nothing
    }
    reader.feed(bytes, offset, length);
    if (reader.complete()) {
      reader.end();
      reader.usages().forEach(accumulator::apply);
      applied = true;
    }
  }

  @Override
  public TokenUsage reported() {
    return applied ? accumulator.usage() : null;
  }
}
