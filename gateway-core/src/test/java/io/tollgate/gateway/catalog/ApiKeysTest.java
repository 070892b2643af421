package io.tollgate.gateway.catalog;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import org.junit.jupiter.api.Test;

class ApiKeysTest {

  @Test
  void keys_carry256RandomBits_behindTheirPrefix() {
    var seen = new HashSet<String>();
    for (int i = 0; i < 1000; i++) {
      String buyer = ApiKeys.newBuyerKey();
      String merchant = ApiKeys.newMerchantToken();
      assertThat(buyer).matches("tg-[A-Za-z0-9_-]{43}");
      assertThat(merchant).matches("tgm-[A-Za-z0-9_-]{43}");
      assertThat(seen.add(buyer) && seen.add(merchant)).as("keys never repeat").isTrue();
    }
  }

  @Test
  void sha256Hex_isLowerCaseHexOfUtf8() {
    assertThat(ApiKeys.sha256Hex("abc"))
        .isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }

  @Test
  void constantTimeEquals_matchesOnlyTheSameSecret() {
    assertThat(ApiKeys.constantTimeEquals("secret", "secret")).isTrue();
    assertThat(ApiKeys.constantTimeEquals("secret", "secreT")).isFalse();
    assertThat(ApiKeys.constantTimeEquals("secret", "secret-longer")).isFalse();
    assertThat(ApiKeys.constantTimeEquals("secret", null)).isFalse();
  }

  @Test
  void ids_havePrefixAndRandomTail() {
    assertThat(ApiKeys.newId("sub")).matches("sub_[0-9a-z]{20}");
    assertThat(ApiKeys.newId("sub")).isNotEqualTo(ApiKeys.newId("sub"));
  }
}
