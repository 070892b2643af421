package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.tollgate.gateway.api.ApiError;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The values of the buyer's headers and the two error shapes, as clients parse them. */
class AnswerHeadersTest {

  @Test
  void requestId_isTheUuidsCanonicalText() {
    for (int i = 0; i < 1000; i++) {
      UUID id = UUID.randomUUID();
      assertThat(AnswerHeaders.requestId(id).toString()).isEqualTo(id.toString());
    }
    UUID edges = new UUID(-1L, 0L);
    assertThat(AnswerHeaders.requestId(edges).toString()).isEqualTo(edges.toString());
  }

  @Test
  void duration_isOpenAisFormat_roundedUpToSecondsFromOneSecond() {
    assertThat(AnswerHeaders.duration(0).toString()).isEqualTo("0s");
    assertThat(AnswerHeaders.duration(-5).toString()).isEqualTo("0s");
    assertThat(AnswerHeaders.duration(250).toString()).isEqualTo("250ms");
    assertThat(AnswerHeaders.duration(1000).toString()).isEqualTo("1s");
    assertThat(AnswerHeaders.duration(1001).toString()).as("never earlier than the reset").isEqualTo("2s");
    assertThat(AnswerHeaders.duration(59_500).toString()).isEqualTo("1m0s");
    assertThat(AnswerHeaders.duration(90_000).toString()).isEqualTo("1m30s");
    assertThat(AnswerHeaders.duration(120_000).toString()).isEqualTo("2m0s");
    assertThat(AnswerHeaders.duration(360_000).toString()).isEqualTo("6m0s");
    assertThat(AnswerHeaders.duration(3_723_000).toString()).isEqualTo("1h2m3s");
  }

  @Test
  void rfc3339_isAnInstantInUtc_roundedUpToTheSecond_andStableAcrossCacheSlots() {
    long minute = Instant.parse("2025-03-01T10:02:00Z").toEpochMilli();
    assertThat(AnswerHeaders.rfc3339(minute).toString()).isEqualTo("2025-03-01T10:02:00Z");
    assertThat(AnswerHeaders.rfc3339(minute + 1).toString()).isEqualTo("2025-03-01T10:02:01Z");
    for (int s = 0; s < 40; s++) {
      long at = minute + s * 60_000L;
      assertThat(Instant.parse(AnswerHeaders.rfc3339(at).toString())).isEqualTo(Instant.ofEpochMilli(at));
    }
  }

  @Test
  void number_isDecimal_whateverTheCacheHolds() {
    for (long n : new long[] {0, 1, 511, 512, 1024, 99_999, 100_000, Long.MAX_VALUE}) {
      assertThat(AnswerHeaders.number(n).toString()).isEqualTo(Long.toString(n));
      assertThat(AnswerHeaders.number(n).toString()).isEqualTo(Long.toString(n));
    }
  }

  @Test
  void sanitizeResponse_dropsTheMerchantsAccountHeaders_inAnyCase_andKeepsTheRest() {
    HttpHeaders h = new DefaultHttpHeaders()
        .add("X-RateLimit-Limit-Requests", "10000")
        .add("x-ratelimit-remaining-tokens", "1")
        .add("anthropic-ratelimit-requests-reset", "2025-01-01T00:00:00Z")
        .add("Anthropic-RateLimit-Input-Tokens-Limit", "5")
        .add("OpenAI-Organization", "org-merchant")
        .add("openai-project", "proj_merchant")
        .add("anthropic-organization-id", "merchant")
        .add("openai-processing-ms", "12")
        .add("x-ratelimit", "not a prefix match")
        .add("content-type", "application/json")
        .add("connection", "keep-alive");

    Headers.sanitizeResponse(h);

    assertThat(h.names()).containsExactlyInAnyOrder("openai-processing-ms", "x-ratelimit", "content-type");
  }

  @Test
  void anthropicShape_followsTheStatus_asAnthropicDocumentsIt() {
    assertThat(anthropic(ApiError.missingKey())).isEqualTo(
        "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\""
            + ApiError.missingKey().message() + "\"}}");
    assertThat(ErrorResponses.anthropicType(400)).isEqualTo("invalid_request_error");
    assertThat(ErrorResponses.anthropicType(403)).isEqualTo("permission_error");
    assertThat(ErrorResponses.anthropicType(404)).isEqualTo("not_found_error");
    assertThat(ErrorResponses.anthropicType(405)).isEqualTo("invalid_request_error");
    assertThat(ErrorResponses.anthropicType(413)).isEqualTo("request_too_large");
    assertThat(ErrorResponses.anthropicType(429)).isEqualTo("rate_limit_error");
    assertThat(ErrorResponses.anthropicType(500)).isEqualTo("api_error");
    assertThat(ErrorResponses.anthropicType(502)).isEqualTo("api_error");
    assertThat(ErrorResponses.anthropicType(503)).isEqualTo("overloaded_error");
    assertThat(ErrorResponses.anthropicType(504)).isEqualTo("api_error");
    assertThat(anthropic(ApiError.modelNotFound("x\"y"))).as("a message is JSON-escaped")
        .contains("\"message\":\"The model 'x\\\"y' does not exist");
  }

  @Test
  void openAiShape_isUnchanged_forConstantAndBuiltErrors() {
    assertThat(openAi(ApiError.invalidKey())).isEqualTo(
        "{\"error\":{\"message\":\"Incorrect API key provided.\",\"type\":\"invalid_request_error\","
            + "\"code\":\"invalid_api_key\"}}");
    assertThat(openAi(ApiError.tooLarge(10))).isEqualTo(
        "{\"error\":{\"message\":\"Request body exceeds the limit of 10 bytes.\",\"type\":\"invalid_request_error\","
            + "\"code\":\"request_too_large\"}}");
  }

  private static String anthropic(ApiError e) {
    return body(e, true);
  }

  private static String openAi(ApiError e) {
    return body(e, false);
  }

  private static String body(ApiError e, boolean anthropic) {
    var r = ErrorResponses.response(e, anthropic, io.netty.buffer.UnpooledByteBufAllocator.DEFAULT);
    try {
      assertThat(r.headers().getInt("content-length")).isEqualTo(r.content().readableBytes());
      return r.content().toString(StandardCharsets.UTF_8);
    } finally {
      r.release();
    }
  }
}
