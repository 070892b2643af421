package io.tollgate.metering.usage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class TokenEstimatorTest {

  private static final TokenEstimator O200K = TokenEstimator.forEncoding("o200k_base");
  private static final TokenEstimator CL100K = TokenEstimator.forEncoding("cl100k_base");

  @Test
  void encodings_areSharedInstances() {
    assertThat(TokenEstimator.forEncoding("o200k_base")).isSameAs(O200K);
    assertThat(TokenEstimator.forDialect(Dialect.OPENAI)).isSameAs(O200K);
    assertThat(TokenEstimator.forDialect(Dialect.ANTHROPIC)).isSameAs(CL100K);
    assertThat(CL100K.encoding()).isEqualTo("cl100k_base");
  }

  @Test
  void unknownEncoding_failsFast() {
    assertThatThrownBy(() -> TokenEstimator.forEncoding("p50k"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void completionTokens_countWithTheTokenizer() {
    // "hello world" is two tokens in both encodings ("hello", " world")
    assertThat(CL100K.completionTokens("hello world")).isEqualTo(2);
    assertThat(O200K.completionTokens("hello world")).isEqualTo(2);
    assertThat(O200K.completionTokens("")).isZero();
    assertThat(O200K.completionTokens("<|endoftext|>"))
        .as("special tokens in text are ordinary text, not an error")
        .isGreaterThan(1);
  }

  @Test
  void openAiMessages_countContentPlusFraming() {
    long bare = O200K.completionTokens("hello world") + O200K.completionTokens("be brief");
    String body =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
            + "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hello world\"},"
            + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AAAA\"}}]}]}";
    assertThat(O200K.promptTokens(Dialect.OPENAI, bytes(body)))
        .as("content text, 3 per message, 3 to prime the reply; the image is not text")
        .isEqualTo(bare + 2 * 3 + 3);
  }

  @Test
  void anthropicSystemAndMessages_areCounted() {
    String body =
        "{\"system\":[{\"type\":\"text\",\"text\":\"be brief\"}],"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"hello world\"}],\"max_tokens\":100}";
    assertThat(CL100K.promptTokens(Dialect.ANTHROPIC, bytes(body)))
        .isEqualTo(CL100K.completionTokens("be brief") + CL100K.completionTokens("hello world"));
  }

  @Test
  void promptAndInputFields_areCounted() {
    assertThat(O200K.promptTokens(Dialect.OPENAI, bytes("{\"prompt\":\"hello world\"}"))).isEqualTo(2);
    assertThat(O200K.promptTokens(Dialect.OPENAI, bytes("{\"input\":[\"hello world\",\"hello world\"]}")))
        .isEqualTo(O200K.completionTokens("hello world\nhello world"));
  }

  @Test
  void unknownShapeOrNotJson_countsTheWholeBody() {
    String body = "{\"question\":\"what is the capital of France?\"}";
    assertThat(O200K.promptTokens(Dialect.CUSTOM, bytes(body))).isEqualTo(O200K.completionTokens(body));
    assertThat(O200K.promptTokens(Dialect.CUSTOM, bytes("plain text"))).isEqualTo(2);
  }

  @Test
  void estimate_isMarkedEstimated() {
    TokenUsage usage =
        O200K.estimate(Dialect.OPENAI, bytes("{\"prompt\":\"hello world\"}"), "hello world");
    assertThat(usage).isEqualTo(new TokenUsage(2, 0, 2, /* estimated= */ true));
  }

  @Test
  void abortedStream_isEstimatedFromDeliveredText() {
    UsageExtractor extractor = UsageExtractors.create(Dialect.OPENAI, true);
    byte[] stream = Fixtures.bytes("openai-chat-stream-no-usage.sse");
    Chunks.feed(extractor, Chunks.split(stream, java.util.List.of(stream.length / 2)).subList(0, 1), false);
    assertThat(extractor.reported()).isNull();
    TokenUsage usage =
        O200K.estimate(Dialect.OPENAI, bytes("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"),
            extractor.completionText());
    assertThat(usage.estimated()).isTrue();
    assertThat(usage.outputTokens()).as("half the answer was delivered").isPositive();
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
