package io.tollgate.billing;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.math.BigDecimal;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class RecordJsonTest {

  static UsageRecord record(String amount, String buyerId) {
    return new UsageRecord("ur_x", "sub-1", buyerId, "mer-1", "prod-1", "sku-1",
        Instant.parse("2026-12-01T10:00:00Z"), Instant.parse("2026-12-01T11:00:00Z"), 3, 1200, 200, 300, 40,
        BillingMode.PER_TOKEN, new BigDecimal(amount), "USD", false, RecordKind.ADJUSTMENT, 2,
        Instant.parse("2026-12-01T11:02:00.123Z"));
  }

  static String json(Object node) throws JsonProcessingException {
    return RecordJson.MAPPER.writeValueAsString(node);
  }

  @Test
  void record_isTheWireShape() throws JsonProcessingException {
    assertThat(json(RecordJson.record(record("0.00039", "buyer-1")))).isEqualTo("{\"object\":\"usage_record\","
        + "\"id\":\"ur_x\",\"subscriptionId\":\"sub-1\",\"buyerId\":\"buyer-1\",\"merchantId\":\"mer-1\","
        + "\"productId\":\"prod-1\",\"skuId\":\"sku-1\",\"windowStart\":\"2026-12-01T10:00:00Z\","
        + "\"windowEnd\":\"2026-12-01T11:00:00Z\",\"calls\":3,\"inputTokens\":1200,\"cachedInputTokens\":200,"
        + "\"outputTokens\":300,\"estimatedTokens\":40,\"billingMode\":\"PER_TOKEN\",\"amount\":\"0.00039\","
        + "\"currency\":\"USD\",\"test\":false,\"kind\":\"adjustment\",\"revision\":2,"
        + "\"exportedAt\":\"2026-12-01T11:02:00.123Z\"}");
  }

  @Test
  void amount_isAPlainDecimalString_neverANumberOrAnExponent() {
    assertThat(RecordJson.record(record("1.5E-7", "b")).get("amount").isTextual()).as("a JSON number may become a float").isTrue();
    assertThat(RecordJson.record(record("1.5E-7", "b")).get("amount").asText()).isEqualTo("0.00000015");
    assertThat(RecordJson.record(record("1E+3", "b")).get("amount").asText()).isEqualTo("1000");
    assertThat(RecordJson.record(record("0.000", "b")).get("amount").asText()).isEqualTo("0");
  }

  @Test
  void aRecordWithoutBuyer_hasANullBuyerId() {
    assertThat(RecordJson.record(record("0", null)).get("buyerId").isNull()).isTrue();
  }

  @Test
  void cloudEvent_wrapsTheRecord_identifiedByIt_atTheWindowEnd() throws JsonProcessingException {
    UsageRecord r = record("0.00039", "buyer-1");

    assertThat(json(RecordJson.cloudEvent(r))).isEqualTo("{\"specversion\":\"1.0\",\"id\":\"ur_x\","
        + "\"source\":\"tollgate\",\"type\":\"io.tollgate.usage.record\",\"subject\":\"sub-1\","
        + "\"time\":\"2026-12-01T11:00:00Z\",\"datacontenttype\":\"application/json\",\"data\":"
        + json(RecordJson.record(r)) + "}");
  }
}
