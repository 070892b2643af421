package io.tollgate.gateway.mock;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * One successful answer of the mock, as a JSON body or as SSE events, in the shapes the real APIs
 * send (see {@code fixtures/}): key order, {@code "usage":null} on OpenAI chunks only when
 * {@code include_usage} is set, Anthropic's {@code event:}/{@code data:} pairs, no {@code [DONE]}
 * after Anthropic, Responses or custom streams.
 *
 * <p>The content is exactly {@code completionTokens} words {@code tok1 tok2 ...}; a stream sends
 * one word per delta event.
 *
 * @param reportUsage false when {@code x-mock-no-usage} asked to omit usage everywhere
 * @param includeUsage an OpenAI stream request set {@code stream_options.include_usage}
 * @param cachedTokens prompt tokens reported as read from a cache (part of the prompt tokens)
 */
record MockReply(
    MockApi api,
    String id,
    long created,
    String model,
    MockUpstream.Usage usage,
    int cachedTokens,
    boolean reportUsage,
    boolean includeUsage,
    boolean hitLimit,
    JsonNode request) {

  static final String DONE = "data: [DONE]\n\n";

  String word(int i) {
    return i == 0 ? "tok1" : " tok" + (i + 1);
  }

  String text() {
    StringBuilder sb = new StringBuilder(usage.completionTokens() * 6);
    for (int i = 0; i < usage.completionTokens(); i++) {
      sb.append(word(i));
    }
    return sb.toString();
  }

  String json() {
    return switch (api) {
      case CHAT -> chatJson();
      case COMPLETIONS -> completionJson();
      case EMBEDDINGS -> embeddingsJson();
      case RESPONSES -> response("completed").toString();
      case MESSAGES -> messageJson();
      case MODELS -> modelsJson();
      case CUSTOM -> customJson(new StringBuilder()).toString();
    };
  }

  List<String> events() {
    return switch (api) {
      case CHAT -> chatEvents();
      case COMPLETIONS -> completionEvents();
      case RESPONSES -> responseEvents();
      case MESSAGES -> messageEvents();
      case CUSTOM -> customEvents();
      case EMBEDDINGS, MODELS -> throw new IllegalStateException(api + " does not stream");
    };
  }

  // ---- OpenAI chat and completions

  private String finishReason() {
    return hitLimit ? "length" : "stop";
  }

  private StringBuilder openAiUsage(StringBuilder sb, boolean details) {
    sb.append("{\"prompt_tokens\":").append(usage.promptTokens())
        .append(",\"completion_tokens\":").append(usage.completionTokens())
        .append(",\"total_tokens\":").append(usage.totalTokens());
    if (details) {
      sb.append(",\"prompt_tokens_details\":{\"cached_tokens\":").append(cachedTokens)
          .append(",\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0,"
              + "\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
              + "\"rejected_prediction_tokens\":0}");
    }
    return sb.append('}');
  }

  private StringBuilder head(StringBuilder sb, String object) {
    sb.append("{\"id\":");
    JsonText.quote(sb, id).append(",\"object\":\"").append(object)
        .append("\",\"created\":").append(created).append(",\"model\":");
    return JsonText.quote(sb, model);
  }

  private String chatJson() {
    StringBuilder sb = head(new StringBuilder(256), "chat.completion");
    sb.append(",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
    JsonText.quote(sb, text()).append(",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,"
        + "\"finish_reason\":\"").append(finishReason()).append("\"}]");
    if (reportUsage) {
      openAiUsage(sb.append(",\"usage\":"), true);
    }
    return sb.append(",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\"}").toString();
  }

  private String chatChunk(String choices) {
    StringBuilder sb = head(new StringBuilder(200), "chat.completion.chunk");
    sb.append(",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\",\"choices\":")
        .append(choices);
    if (includeUsage && reportUsage) {
      sb.append(",\"usage\":null");
    }
    return "data: " + sb.append('}') + "\n\n";
  }

  private List<String> chatEvents() {
    List<String> events = new ArrayList<>(usage.completionTokens() + 4);
    events.add(chatChunk("[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
        + "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}]"));
    for (int i = 0; i < usage.completionTokens(); i++) {
      StringBuilder c = new StringBuilder("[{\"index\":0,\"delta\":{\"content\":");
      JsonText.quote(c, word(i)).append("},\"logprobs\":null,\"finish_reason\":null}]");
      events.add(chatChunk(c.toString()));
    }
    events.add(chatChunk("[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\""
        + finishReason() + "\"}]"));
    if (includeUsage && reportUsage) {
      StringBuilder sb = head(new StringBuilder(300), "chat.completion.chunk");
      sb.append(",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\","
          + "\"choices\":[],\"usage\":");
      events.add("data: " + openAiUsage(sb, true).append('}') + "\n\n");
    }
    events.add(DONE);
    return events;
  }

  private String completionJson() {
    StringBuilder sb = head(new StringBuilder(256), "text_completion");
    sb.append(",\"choices\":[{\"text\":");
    JsonText.quote(sb, text()).append(",\"index\":0,\"logprobs\":null,\"finish_reason\":\"")
        .append(finishReason()).append("\"}]");
    if (reportUsage) {
      openAiUsage(sb.append(",\"usage\":"), false);
    }
    return sb.append(",\"system_fingerprint\":\"fp_mock\"}").toString();
  }

  private String completionChunk(String text, String finish, boolean usageChunk) {
    StringBuilder sb = head(new StringBuilder(200), "text_completion");
    if (usageChunk) {
      openAiUsage(sb.append(",\"choices\":[],\"usage\":"), false);
    } else {
      sb.append(",\"choices\":[{\"text\":");
      JsonText.quote(sb, text).append(",\"index\":0,\"logprobs\":null,\"finish_reason\":")
          .append(finish == null ? "null" : "\"" + finish + "\"").append("}]");
      if (includeUsage && reportUsage) {
        sb.append(",\"usage\":null");
      }
    }
    return "data: " + sb.append(",\"system_fingerprint\":\"fp_mock\"}") + "\n\n";
  }

  private List<String> completionEvents() {
    List<String> events = new ArrayList<>(usage.completionTokens() + 3);
    for (int i = 0; i < usage.completionTokens(); i++) {
      events.add(completionChunk(word(i), null, false));
    }
    events.add(completionChunk("", finishReason(), false));
    if (includeUsage && reportUsage) {
      events.add(completionChunk(null, null, true));
    }
    events.add(DONE);
    return events;
  }

  // ---- OpenAI embeddings and models

  private String embeddingsJson() {
    JsonNode input = request.path("input");
    int items = input.isArray() && input.size() > 0 && !input.get(0).isNumber() ? input.size() : 1;
    int dims = request.path("dimensions").canConvertToInt() ? request.path("dimensions").intValue() : 8;
    dims = Math.max(1, Math.min(dims, 4096));
    boolean base64 = "base64".equals(request.path("encoding_format").asText(""));
    StringBuilder sb = new StringBuilder(64 + items * dims * 12).append("{\"object\":\"list\",\"data\":[");
    for (int i = 0; i < items; i++) {
      sb.append(i == 0 ? "" : ",").append("{\"object\":\"embedding\",\"index\":").append(i)
          .append(",\"embedding\":");
      ByteBuffer floats = ByteBuffer.allocate(dims * 4).order(ByteOrder.LITTLE_ENDIAN);
      if (!base64) {
        sb.append('[');
      }
      for (int d = 0; d < dims; d++) {
        float v = (float) Math.sin(i * 31 + d + 1) / 4;
        if (base64) {
          floats.putFloat(v);
        } else {
          sb.append(d == 0 ? "" : ",").append(v);
        }
      }
      sb.append(base64 ? "\"" + Base64.getEncoder().encodeToString(floats.array()) + "\"" : "]")
          .append('}');
    }
    sb.append("],\"model\":");
    JsonText.quote(sb, model);
    if (reportUsage) {
      sb.append(",\"usage\":{\"prompt_tokens\":").append(usage.promptTokens())
          .append(",\"total_tokens\":").append(usage.promptTokens()).append('}');
    }
    return sb.append('}').toString();
  }

  private String modelsJson() {
    StringBuilder sb = new StringBuilder("{\"object\":\"list\",\"data\":[");
    String[] ids = MockUpstream.MODELS.toArray(String[]::new);
    for (int i = 0; i < ids.length; i++) {
      sb.append(i == 0 ? "" : ",").append("{\"id\":");
      JsonText.quote(sb, ids[i]).append(",\"object\":\"model\",\"created\":").append(created)
          .append(",\"owned_by\":\"tollgate-mock\"}");
    }
    return sb.append("]}").toString();
  }

  // ---- OpenAI Responses

  private StringBuilder response(String status) {
    boolean done = !"in_progress".equals(status);
    boolean incomplete = done && hitLimit;
    StringBuilder sb = new StringBuilder(512).append("{\"id\":");
    JsonText.quote(sb, id).append(",\"object\":\"response\",\"created_at\":").append(created)
        .append(",\"status\":\"").append(incomplete ? "incomplete" : status)
        .append("\",\"error\":null,\"incomplete_details\":")
        .append(incomplete ? "{\"reason\":\"max_output_tokens\"}" : "null")
        .append(",\"instructions\":");
    JsonNode instructions = request.path("instructions");
    if (instructions.isTextual()) {
      JsonText.quote(sb, instructions.textValue());
    } else {
      sb.append("null");
    }
    int limit = UsageFormula.limit(MockApi.RESPONSES, request, q -> null);
    sb.append(",\"max_output_tokens\":").append(limit > 0 ? String.valueOf(limit) : "null")
        .append(",\"model\":");
    JsonText.quote(sb, model).append(",\"output\":[");
    if (done) {
      outputItem(sb, true);
    }
    sb.append("],\"parallel_tool_calls\":true,\"previous_response_id\":null,\"store\":false,"
        + "\"temperature\":1.0,\"text\":{\"format\":{\"type\":\"text\"}},\"tool_choice\":\"auto\","
        + "\"tools\":[],\"top_p\":1.0,\"truncation\":\"disabled\",\"usage\":");
    if (done && reportUsage) {
      sb.append("{\"input_tokens\":").append(usage.promptTokens())
          .append(",\"input_tokens_details\":{\"cached_tokens\":").append(cachedTokens)
          .append("},\"output_tokens\":").append(usage.completionTokens())
          .append(",\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":")
          .append(usage.totalTokens()).append('}');
    } else {
      sb.append("null");
    }
    return sb.append(",\"user\":null,\"metadata\":{}}");
  }

  private String messageId() {
    return "msg_" + id.substring(id.indexOf('_') + 1);
  }

  private StringBuilder outputItem(StringBuilder sb, boolean done) {
    sb.append("{\"id\":\"").append(messageId()).append("\",\"type\":\"message\",\"status\":\"")
        .append(done ? "completed" : "in_progress").append("\",\"content\":[");
    if (done) {
      outputText(sb, text());
    }
    return sb.append("],\"role\":\"assistant\"}");
  }

  private static StringBuilder outputText(StringBuilder sb, String text) {
    sb.append("{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],\"text\":");
    return JsonText.quote(sb, text).append('}');
  }

  private static String event(String type, CharSequence data) {
    return "event: " + type + "\ndata: " + data + "\n\n";
  }

  private List<String> responseEvents() {
    List<String> events = new ArrayList<>(usage.completionTokens() + 9);
    int seq = 0;
    String created = response("in_progress").toString();
    events.add(event("response.created", "{\"type\":\"response.created\",\"sequence_number\":"
        + seq++ + ",\"response\":" + created + "}"));
    events.add(event("response.in_progress", "{\"type\":\"response.in_progress\","
        + "\"sequence_number\":" + seq++ + ",\"response\":" + created + "}"));
    events.add(event("response.output_item.added", "{\"type\":\"response.output_item.added\","
        + "\"sequence_number\":" + seq++ + ",\"output_index\":0,\"item\":"
        + outputItem(new StringBuilder(), false) + "}"));
    String part = "\"item_id\":\"" + messageId() + "\",\"output_index\":0,\"content_index\":0";
    events.add(event("response.content_part.added", "{\"type\":\"response.content_part.added\","
        + "\"sequence_number\":" + seq++ + "," + part + ",\"part\":"
        + outputText(new StringBuilder(), "") + "}"));
    for (int i = 0; i < usage.completionTokens(); i++) {
      StringBuilder d = new StringBuilder("{\"type\":\"response.output_text.delta\",\"sequence_number\":")
          .append(seq++).append(',').append(part).append(",\"delta\":");
      JsonText.quote(d, word(i)).append(",\"logprobs\":[]}");
      events.add(event("response.output_text.delta", d));
    }
    StringBuilder done = new StringBuilder("{\"type\":\"response.output_text.done\",\"sequence_number\":")
        .append(seq++).append(',').append(part).append(",\"text\":");
    JsonText.quote(done, text()).append(",\"logprobs\":[]}");
    events.add(event("response.output_text.done", done));
    events.add(event("response.content_part.done", "{\"type\":\"response.content_part.done\","
        + "\"sequence_number\":" + seq++ + "," + part + ",\"part\":"
        + outputText(new StringBuilder(), text()) + "}"));
    events.add(event("response.output_item.done", "{\"type\":\"response.output_item.done\","
        + "\"sequence_number\":" + seq++ + ",\"output_index\":0,\"item\":"
        + outputItem(new StringBuilder(), true) + "}"));
    String type = hitLimit ? "response.incomplete" : "response.completed";
    events.add(event(type, "{\"type\":\"" + type + "\",\"sequence_number\":" + seq
        + ",\"response\":" + response("completed") + "}"));
    return events;
  }

  // ---- Anthropic messages

  private String stopReason() {
    return hitLimit ? "max_tokens" : "end_turn";
  }

  private StringBuilder anthropicUsage(StringBuilder sb, int outputTokens) {
    return sb.append("{\"input_tokens\":").append(usage.promptTokens() - cachedTokens)
        .append(",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":")
        .append(cachedTokens).append(",\"output_tokens\":").append(outputTokens)
        .append(",\"service_tier\":\"standard\"}");
  }

  private String messageJson() {
    StringBuilder sb = new StringBuilder(256).append("{\"id\":");
    JsonText.quote(sb, id).append(",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    JsonText.quote(sb, model).append(",\"content\":[{\"type\":\"text\",\"text\":");
    JsonText.quote(sb, text()).append("}],\"stop_reason\":\"").append(stopReason())
        .append("\",\"stop_sequence\":null");
    if (reportUsage) {
      anthropicUsage(sb.append(",\"usage\":"), usage.completionTokens());
    }
    return sb.append('}').toString();
  }

  private List<String> messageEvents() {
    List<String> events = new ArrayList<>(usage.completionTokens() + 6);
    StringBuilder start = new StringBuilder(300).append("{\"type\":\"message_start\",\"message\":{\"id\":");
    JsonText.quote(start, id).append(",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    JsonText.quote(start, model).append(",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null");
    if (reportUsage) {
      anthropicUsage(start.append(",\"usage\":"), 1);
    }
    events.add(event("message_start", start.append("}}")));
    events.add(event("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,"
        + "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"));
    events.add(event("ping", "{\"type\": \"ping\"}"));
    for (int i = 0; i < usage.completionTokens(); i++) {
      StringBuilder d = new StringBuilder("{\"type\":\"content_block_delta\",\"index\":0,"
          + "\"delta\":{\"type\":\"text_delta\",\"text\":");
      events.add(event("content_block_delta", JsonText.quote(d, word(i)).append("}}")));
    }
    events.add(event("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}"));
    StringBuilder delta = new StringBuilder("{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"")
        .append(stopReason()).append("\",\"stop_sequence\":null}");
    if (reportUsage) {
      anthropicUsage(delta.append(",\"usage\":"), usage.completionTokens());
    }
    events.add(event("message_delta", delta.append('}')));
    events.add(event("message_stop", "{\"type\":\"message_stop\"}"));
    return events;
  }

  // ---- custom Agents API

  private StringBuilder customJson(StringBuilder sb) {
    sb.append("{\"id\":");
    JsonText.quote(sb, id).append(",\"output\":");
    JsonText.quote(sb, text());
    if (reportUsage) {
      openAiUsage(sb.append(",\"usage\":"), false);
    }
    return sb.append('}');
  }

  private List<String> customEvents() {
    List<String> events = new ArrayList<>(usage.completionTokens() + 1);
    for (int i = 0; i < usage.completionTokens(); i++) {
      StringBuilder d = new StringBuilder("data: {\"delta\":");
      events.add(JsonText.quote(d, word(i)).append("}\n\n").toString());
    }
    events.add("data: " + customJson(new StringBuilder()) + "\n\n");
    return events;
  }
}
