package io.tollgate.gateway.mock;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.function.Function;

/**
 * The mock's deterministic token counts: a pure function of the request body (and, for the custom
 * API, its query), so a test can predict what the upstream reports. See {@link
 * MockUpstream#expectedUsage} for the rules.
 */
final class UsageFormula {

  /** Per-message overhead, as real chat tokenizers add a few tokens of framing per message. */
  static final int TOKENS_PER_MESSAGE = 3;
  /** A requested output limit up to this is used as the completion length exactly. */
  static final int MAX_EXACT_LIMIT = 64;

  private UsageFormula() {}

  static MockUpstream.Usage usage(MockApi api, JsonNode body, Function<String, String> query) {
    int prompt = promptTokens(api, body, query);
    if (api == MockApi.EMBEDDINGS || api == MockApi.MODELS) {
      return new MockUpstream.Usage(prompt, 0);
    }
    int limit = limit(api, body, query);
    int completion = limit >= 1 && limit <= MAX_EXACT_LIMIT ? limit : 8 + prompt % 7;
    return new MockUpstream.Usage(prompt, completion);
  }

  /** True when the completion was cut at the requested limit (finish reason "length"). */
  static boolean hitLimit(MockApi api, JsonNode body, Function<String, String> query, int completion) {
    return completion > 0 && limit(api, body, query) == completion;
  }

  static int promptTokens(MockApi api, JsonNode body, Function<String, String> query) {
    switch (api) {
      case CHAT:
        return messages(body.path("messages"));
      case COMPLETIONS: {
        JsonNode prompt = body.path("prompt");
        if (prompt.isArray() && prompt.size() > 0 && !allNumbers(prompt)) {
          return messages(prompt);
        }
        return prompt.isMissingNode() || prompt.isNull() ? 0 : TOKENS_PER_MESSAGE + words(prompt);
      }
      case EMBEDDINGS:
        return words(body.path("input"));
      case RESPONSES: {
        int n = message(body.path("instructions"));
        JsonNode input = body.path("input");
        return n + (input.isArray() ? messages(input) : message(input));
      }
      case MESSAGES:
        return message(body.path("system")) + messages(body.path("messages"));
      case CUSTOM: {
        JsonNode input = body.isObject() ? body.path("input") : body;
        if (input.isMissingNode() || input.isNull()) {
          String q = query.apply("q");
          return TOKENS_PER_MESSAGE + (q == null ? 0 : words(q));
        }
        return TOKENS_PER_MESSAGE + words(input);
      }
      default:
        return 0;
    }
  }

  /** The output limit the request asks for, or 0 if none. */
  static int limit(MockApi api, JsonNode body, Function<String, String> query) {
    switch (api) {
      case CHAT: {
        int n = intField(body, "max_completion_tokens");
        return n > 0 ? n : intField(body, "max_tokens");
      }
      case COMPLETIONS:
      case MESSAGES:
        return intField(body, "max_tokens");
      case RESPONSES:
        return intField(body, "max_output_tokens");
      case CUSTOM: {
        int n = intField(body, "max_tokens");
        if (n > 0) {
          return n;
        }
        String q = query.apply("max_tokens");
        try {
          return q == null ? 0 : Integer.parseInt(q.trim());
        } catch (NumberFormatException e) {
          return 0;
        }
      }
      default:
        return 0;
    }
  }

  private static int intField(JsonNode body, String name) {
    JsonNode n = body.path(name);
    return n.canConvertToInt() && n.isIntegralNumber() ? n.intValue() : 0;
  }

  private static int messages(JsonNode array) {
    int n = 0;
    if (array.isArray()) {
      for (JsonNode m : array) {
        n += TOKENS_PER_MESSAGE + words(m);
      }
    }
    return n;
  }

  private static int message(JsonNode content) {
    return content.isMissingNode() || content.isNull() ? 0 : TOKENS_PER_MESSAGE + words(content);
  }

  private static boolean allNumbers(JsonNode array) {
    for (JsonNode n : array) {
      if (!n.isNumber()) {
        return false;
      }
    }
    return true;
  }

  /**
   * Words in a content value: a string's whitespace-separated words; an array's sum; an object's
   * {@code text} plus its {@code content} (OpenAI/Anthropic parts, tool results); a number (a
   * pre-tokenized input) counts one.
   */
  static int words(JsonNode n) {
    if (n.isTextual()) {
      return words(n.textValue());
    }
    if (n.isNumber()) {
      return 1;
    }
    int sum = 0;
    if (n.isArray()) {
      for (JsonNode e : n) {
        sum += words(e);
      }
    } else if (n.isObject()) {
      sum += words(n.path("text")) + words(n.path("content"));
    }
    return sum;
  }

  static int words(String s) {
    int count = 0;
    boolean inWord = false;
    for (int i = 0; i < s.length(); i++) {
      boolean space = Character.isWhitespace(s.charAt(i));
      if (!space && !inWord) {
        count++;
      }
      inWord = !space;
    }
    return count;
  }
}
