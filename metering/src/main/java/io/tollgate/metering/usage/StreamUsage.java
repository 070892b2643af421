package io.tollgate.metering.usage;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import java.io.IOException;

/**
 * The request side of "a streamed OpenAI call always reports usage": when a buyer streams a chat
 * or completions request without {@code stream_options.include_usage}, the gateway asks the
 * upstream for it ({@link #includeUsage}) and removes the extra usage chunk from the answer with
 * an {@link SseUsageChunkFilter}, so the buyer sees exactly the stream it asked for.
 */
public final class StreamUsage {

  // Floats as BigDecimal so "temperature":0.70 is not rewritten as a double; key order is kept.
  private static final ObjectMapper MAPPER =
      JsonMapper.builder()
          .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
          .disable(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES)
          .build();

  private StreamUsage() {}

  /**
   * A request body after {@link #includeUsage}.
   *
   * @param body the body to send upstream; the input array itself when nothing was added
   * @param usageAdded whether tollgate set {@code include_usage}, so the answer must go through an
   *     {@link SseUsageChunkFilter}
   */
  public record Rewrite(byte[] body, boolean usageAdded) {}

  /**
   * Sets {@code "stream_options":{"include_usage":true}} on a streamed ({@code "stream":true})
   * OpenAI chat/completions request, merged into existing {@code stream_options} and keeping every
   * other field and its order. A body that does not stream, already includes usage, or is not a
   * JSON object with an object {@code stream_options} is returned unchanged: the upstream answers
   * it as the buyer sent it, and usage is then estimated if the upstream reports none.
   */
  public static Rewrite includeUsage(byte[] requestBody) {
    JsonNode root;
    try {
      root = MAPPER.readTree(requestBody);
    } catch (IOException e) {
      return new Rewrite(requestBody, /* usageAdded= */ false);
    }
    if (!(root instanceof ObjectNode request) || !request.path("stream").asBoolean(false)
        || !request.get("stream").isBoolean()) {
      return new Rewrite(requestBody, /* usageAdded= */ false);
    }
    JsonNode options = request.get("stream_options");
    if (options == null || options.isNull()) {
      request.putObject("stream_options").put("include_usage", true);
    } else if (options instanceof ObjectNode object) {
      JsonNode include = object.get("include_usage");
      if (include != null && include.isBoolean() && include.booleanValue()) {
        return new Rewrite(requestBody, /* usageAdded= */ false);
      }
      object.put("include_usage", true);
    } else {
      return new Rewrite(requestBody, /* usageAdded= */ false);
    }
    try {
      return new Rewrite(MAPPER.writeValueAsBytes(request), /* usageAdded= */ true);
    } catch (JsonProcessingException e) {
      return new Rewrite(requestBody, /* usageAdded= */ false);
    }
  }

  /** {@link #includeUsage(byte[])} of the readable bytes; does not move indices or release. */
  public static Rewrite includeUsage(ByteBuf requestBody) {
    return includeUsage(ByteBufUtil.getBytes(requestBody));
  }
}
