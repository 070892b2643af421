package io.tollgate.metering.usage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Estimates a call's tokens with a real BPE tokenizer (jtokkit) when the upstream reported none,
 * or the buyer cut the answer short: prompt tokens from the request body, completion tokens from
 * the text delivered ({@link UsageExtractor#completionText()}). The result says {@code
 * estimated}.
 *
 * <p>The prompt is the text the model reads: OpenAI {@code messages[].content} (a string or parts
 * with {@code text}), {@code prompt}, {@code input} and {@code instructions}; Anthropic {@code
 * system} and {@code messages}. A body with none of these (or not JSON) counts as text whole,
 * which over- rather than under-counts. OpenAI chat adds its documented framing of 3 tokens per
 * message and 3 to prime the reply. Images, audio and files are not counted.
 *
 * <p>Encodings take a few hundred milliseconds and some megabytes to load, so each loads once, on
 * first use, into a static field; an instance is immutable and thread-safe.
 */
public final class TokenEstimator {

  private static final EncodingRegistry REGISTRY = Encodings.newLazyEncodingRegistry();
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final int TOKENS_PER_MESSAGE = 3;
  private static final int TOKENS_PRIMING_REPLY = 3;

  private final Encoding encoding;

  private TokenEstimator(Encoding encoding) {
    this.encoding = encoding;
  }

  private static final class Cl100k {
    static final TokenEstimator INSTANCE = of("cl100k_base");
  }

  private static final class O200k {
    static final TokenEstimator INSTANCE = of("o200k_base");
  }

  private static TokenEstimator of(String name) {
    return new TokenEstimator(
        REGISTRY
            .getEncoding(name)
            .orElseThrow(() -> new IllegalArgumentException("unknown encoding: " + name)));
  }

  /** The estimator for an encoding by name: {@code cl100k_base} or {@code o200k_base}. */
  public static TokenEstimator forEncoding(String name) {
    return switch (name) {
      case "cl100k_base" -> Cl100k.INSTANCE;
      case "o200k_base" -> O200k.INSTANCE;
      default -> throw new IllegalArgumentException(
          "unsupported encoding '" + name + "'; use cl100k_base or o200k_base");
    };
  }

  /**
   * The default for a dialect: {@code o200k_base} (GPT-4o and later) for OpenAI and the custom
   * protocol, {@code cl100k_base} for Anthropic, whose tokenizer is not public; both are estimates.
   */
  public static TokenEstimator forDialect(Dialect dialect) {
    return dialect == Dialect.ANTHROPIC ? Cl100k.INSTANCE : O200k.INSTANCE;
  }

  /** The encoding's name, e.g. {@code o200k_base}. */
  public String encoding() {
    return encoding.getName();
  }

  /** Estimated usage of a call: prompt from the request body, completion from delivered text. */
  public TokenUsage estimate(Dialect dialect, byte[] requestBody, CharSequence completionText) {
    return new TokenUsage(
        promptTokens(dialect, requestBody),
        0,
        completionTokens(completionText),
        /* estimated= */ true);
  }

  /** As {@link #estimate(Dialect, byte[], CharSequence)}; reads without moving indices. */
  public TokenUsage estimate(Dialect dialect, ByteBuf requestBody, CharSequence completionText) {
    return estimate(dialect, ByteBufUtil.getBytes(requestBody), completionText);
  }

  public long completionTokens(CharSequence text) {
    return text.length() == 0 ? 0 : encoding.countTokensOrdinary(text.toString());
  }

  public long promptTokens(Dialect dialect, byte[] requestBody) {
    JsonNode request;
    try {
      request = MAPPER.readTree(requestBody);
    } catch (IOException e) {
      request = null;
    }
    if (request == null || !request.isObject()) {
      return count(new String(requestBody, StandardCharsets.UTF_8));
    }
    long tokens = 0;
    boolean found = false;
    JsonNode messages = request.get("messages");
    if (messages != null && messages.isArray()) {
      found = true;
      for (JsonNode message : messages) {
        tokens += count(text(message.get("content")));
        if (dialect != Dialect.ANTHROPIC) {
          tokens += TOKENS_PER_MESSAGE;
        }
      }
      if (dialect != Dialect.ANTHROPIC) {
        tokens += TOKENS_PRIMING_REPLY;
      }
    }
    for (String field : new String[] {"system", "instructions", "prompt", "input"}) {
      JsonNode value = request.get(field);
      if (value != null && !value.isNull()) {
        found = true;
        tokens += count(text(value));
      }
    }
    return found ? tokens : count(new String(requestBody, StandardCharsets.UTF_8));
  }

  private long count(String text) {
    return text.isEmpty() ? 0 : encoding.countTokensOrdinary(text);
  }

  /**
   * The text of a content value: a string; an array of strings or of parts with {@code text} (or,
   * for Responses API input items and tool results, nested {@code content}).
   */
  private static String text(JsonNode content) {
    if (content == null || content.isNull()) {
      return "";
    }
    if (content.isTextual()) {
      return content.textValue();
    }
    StringBuilder text = new StringBuilder();
    appendText(content, text, 0);
    return text.toString();
  }

  private static void appendText(JsonNode node, StringBuilder text, int depth) {
    if (depth > 8) {
      return;
    }
    if (node.isTextual()) {
      separate(text).append(node.textValue());
    } else if (node.isArray()) {
      for (JsonNode element : node) {
        appendText(element, text, depth + 1);
      }
    } else if (node.isObject()) {
      JsonNode partText = node.get("text");
      if (partText != null && partText.isTextual()) {
        separate(text).append(partText.textValue());
      }
      JsonNode nested = node.get("content");
      if (nested != null) {
        appendText(nested, text, depth + 1);
      }
    }
  }

  private static StringBuilder separate(StringBuilder text) {
    return text.isEmpty() ? text : text.append('\n');
  }
}
