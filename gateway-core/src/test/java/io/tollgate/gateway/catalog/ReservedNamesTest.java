package io.tollgate.gateway.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class ReservedNamesTest {

  @Test
  void byDefault_huaweiAndItsChineseName_areReserved_inAnyCaseAndWidth() {
    ReservedNames r = ReservedNames.DEFAULT;
    for (String name : List.of("Huawei Chat", "HUAWEI", "my-huawei-bot", "ＨＵＡＷＥＩ Cloud", "ｈｕａｗｅｉ",
        "Hua\u200Bwei", "Hua\u00ADwei", "华为云", "Agent 华为")) {
      assertThat(r.findIn(name)).as(name).isPresent();
    }
    assertThat(r.findIn("ＨＵＡＷＥＩ Cloud")).contains("huawei");
    assertThat(r.findIn("华为云")).contains("华为");
    for (String name : List.of("Acme Chat", "Hua wei", "Huawe", "华 为", "Hawaii")) {
      assertThat(r.findIn(name)).as(name).isEmpty();
    }
  }

  @Test
  void configuredWords_areFoldedToo() {
    ReservedNames r = new ReservedNames(List.of("ＡＣＭＥ", "Straße"));

    assertThat(r.findIn("acme tools")).contains("ＡＣＭＥ");
    assertThat(r.findIn("STRASSE")).as("lower-casing is not full case folding: ß stays ß").isEmpty();
    assertThat(r.findIn("die straße")).contains("Straße");
    assertThat(ReservedNames.NONE.findIn("Huawei")).isEmpty();
  }

  @Test
  void fold_isNfkcThenLowerCase_withoutFormatCharacters() {
    assertThat(ReservedNames.fold("ＨＵＡＷＥＩ")).isEqualTo("huawei");
    assertThat(ReservedNames.fold("ﬁle")).isEqualTo("file");
    assertThat(ReservedNames.fold("Ⅻ")).isEqualTo("xii");
    assertThat(ReservedNames.fold("a\u200Db\uFEFFc")).isEqualTo("abc");
  }

  @Test
  void aBlankWord_isRefused() {
    assertThatThrownBy(() -> new ReservedNames(List.of("huawei", " ")))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new ReservedNames(List.of("\u200B")))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
