package io.tollgate.billing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Usage records on the wire: the pull API's items and the JSONL lines. Times are ISO-8601 UTC,
 * quantities are numbers, {@code amount} is a decimal string in plain notation ({@link
 * Pricing#plain}) so that no JSON reader turns it into a float.
 */
public final class RecordJson {

  /** Writes the nodes of this class; thread-safe. */
  static final ObjectMapper MAPPER = new ObjectMapper();

  private RecordJson() {}

  /** The record: {@code {"object":"usage_record","id",...,"exportedAt"}}. */
  public static ObjectNode record(UsageRecord r) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("object", "usage_record");
    o.put("id", r.id());
    o.put("subscriptionId", r.subscriptionId());
    o.put("buyerId", r.buyerId());
    o.put("merchantId", r.merchantId());
    o.put("productId", r.productId());
    o.put("skuId", r.skuId());
    o.put("windowStart", r.windowStart().toString());
    o.put("windowEnd", r.windowEnd().toString());
    o.put("calls", r.calls());
    o.put("inputTokens", r.inputTokens());
    o.put("cachedInputTokens", r.cachedInputTokens());
    o.put("outputTokens", r.outputTokens());
    o.put("estimatedTokens", r.estimatedTokens());
    o.put("billingMode", r.billingMode().name());
    o.put("amount", r.amountText());
    o.put("currency", r.currency());
    o.put("test", r.test());
    o.put("kind", r.kind().wireName());
    o.put("revision", r.revision());
    o.put("exportedAt", r.exportedAt().toString());
    return o;
  }

  /**
   * The record in a CloudEvents 1.0 envelope (structured mode): {@code id} is the record id, so a
   * consumer that de-duplicates events by id keeps one per record; {@code time} is the window end.
   */
  public static ObjectNode cloudEvent(UsageRecord r) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("specversion", "1.0");
    o.put("id", r.id());
    o.put("source", "tollgate");
    o.put("type", "io.tollgate.usage.record");
    o.put("subject", r.subscriptionId());
    o.put("time", r.windowEnd().toString());
    o.put("datacontenttype", "application/json");
    o.set("data", record(r));
    return o;
  }
}
