package io.tollgate.metering.usage;

import io.tollgate.metering.testing.SharedFixtures;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The recorded upstream responses in {@code fixtures/} and the usage its README says each
 * must yield. The table below is copied from that README, not computed.
 */
final class Fixtures {

  /** What a fixture must yield; {@code usage == null} means "nothing reported". */
  record Expected(Dialect dialect, boolean stream, TokenUsage usage) {}

  static final Map<String, Expected> EXPECTED =
      Map.ofEntries(
          json("openai-chat.json", Dialect.OPENAI, usage(16, 0, 363)),
          json("azure-openai-chat.json", Dialect.OPENAI, usage(8, 0, 271)),
          json("openai-responses.json", Dialect.OPENAI, usage(1349, 1024, 10)),
          json("openai-embeddings.json", Dialect.OPENAI, usage(5, 0, 0)),
          // input 3 + cache write 418 + cache read 1111
          json("anthropic-messages.json", Dialect.ANTHROPIC, usage(3 + 418 + 1111, 1111, 33)),
          sse("openai-chat-stream-include-usage.sse", Dialect.OPENAI, usage(12, 0, 100)),
          sse("openai-chat-stream-no-usage.sse", Dialect.OPENAI, null),
          sse("openai-chat-stream-tool-calls.sse", Dialect.OPENAI, usage(53, 0, 15)),
          sse("openai-chat-stream-parallel-tool-calls.sse", Dialect.OPENAI, usage(149, 0, 60)),
          sse("openai-chat-stream-usage-then-moderation.sse", Dialect.OPENAI, usage(13, 0, 11)),
          sse("azure-openai-chat-stream.sse", Dialect.OPENAI, usage(15, 0, 78)),
          sse("openrouter-chat-stream-sse-comments.sse", Dialect.OPENAI, usage(254, 0, 5)),
          sse("openai-responses-stream.sse", Dialect.OPENAI, usage(9463, 8320, 582)),
          sse("openai-responses-stream-error.sse", Dialect.OPENAI, null),
          sse("anthropic-messages-stream.sse", Dialect.ANTHROPIC, usage(20, 0, 5)),
          sse("anthropic-messages-stream-tool-use.sse", Dialect.ANTHROPIC, usage(377, 0, 65)),
          sse("anthropic-messages-stream-thinking.sse", Dialect.ANTHROPIC, usage(43, 0, 282)),
          // the last message_delta wins: input 6 + cache write 3337 + cache read 6289
          sse(
              "anthropic-messages-stream-cache.sse",
              Dialect.ANTHROPIC,
              usage(6 + 3337 + 6289, 6289, 198)),
          // summed iterations: input 100 + 181, cache read 55096, output 83 + 8
          sse(
              "anthropic-messages-stream-compaction-cache.sse",
              Dialect.ANTHROPIC,
              usage(281 + 55096, 55096, 91)),
          sse(
              "anthropic-compatible-stream-delta-input-tokens.sse",
              Dialect.ANTHROPIC,
              usage(61, 0, 2)));

  private static final Path DIR = SharedFixtures.dir();

  private Fixtures() {}

  static Path dir() {
    return DIR;
  }

  static byte[] bytes(String name) {
    try {
      return Files.readAllBytes(DIR.resolve(name));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Every response file in the fixtures directory (all but the README). */
  static List<String> names() {
    try (Stream<Path> files = Files.list(DIR)) {
      return files
          .map(p -> p.getFileName().toString())
          .filter(n -> !n.equals("README.md"))
          .sorted()
          .toList();
    }  catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static TokenUsage usage(long input, long cached, long output) {
    return new TokenUsage(input, cached, output, /* estimated= */ false);
  }

  private static Map.Entry<String, Expected> json(String name, Dialect dialect, TokenUsage usage) {
    return Map.entry(name, new Expected(dialect, /* stream= */ false, usage));
  }

  private static Map.Entry<String, Expected> sse(String name, Dialect dialect, TokenUsage usage) {
    return Map.entry(name, new Expected(dialect, /* stream= */ true, usage));
  }
}
