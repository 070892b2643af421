package io.tollgate.gateway.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class SupportContactTest {

  @Test
  void phones_digitsWithOptionalPlusSpacesDashesAndParentheses_5To32Chars_atLeast5Digits() {
    for (String ok : List.of("+1 (555) 010-0100", "12345", "+86 400-830-8300", "0049 30 1234567",
        "+" + "1".repeat(31))) {
      assertThat(new SupportContact(ok, null).phone()).as(ok).isEqualTo(ok);
    }
    for (String bad : List.of("1234", "+1234", "(12) 3", "+1 555 CALL-NOW", "555.0100", "++15550100",
        "1-5-5-5", "1".repeat(33), "", "+1 555 0100 ext. 2", "１２３４５")) {
      assertThatThrownBy(() -> new SupportContact(bad, null)).as(bad)
          .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("supportPhone ");
    }
  }

  @Test
  void emails_localAtDomainDotTld_atMost254Chars() {
    for (String ok : List.of("support@acme.example", "first.last+tag@mail.acme.co.uk", "a@b.io")) {
      assertThat(new SupportContact(null, ok).email()).as(ok).isEqualTo(ok);
    }
    String tooLong = "a".repeat(60) + "@" + (("b".repeat(63) + ".").repeat(3)) + "com";
    assertThat(tooLong).hasSize(256);
    for (String bad : List.of("support", "support@", "@acme.example", "support@acme", "a b@acme.example",
        "support@acme..example", "support@-acme.example", ".support@acme.example", "support@acme.example.",
        "a".repeat(65) + "@acme.example", tooLong, "")) {
      assertThatThrownBy(() -> new SupportContact(null, bad)).as(bad)
          .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("supportEmail ");
    }
  }

  @Test
  void surroundingBlanks_areStripped_andMissingPartsNamed() {
    var c = new SupportContact("  +1 555 0100 ", " support@acme.example\n");

    assertThat(c).isEqualTo(new SupportContact("+1 555 0100", "support@acme.example"));
    assertThat(c.missing()).isEmpty();
    assertThat(SupportContact.NONE.missing()).containsExactly("supportPhone", "supportEmail");
    assertThat(c.with(null, "help@acme.example")).isEqualTo(new SupportContact("+1 555 0100", "help@acme.example"));
  }
}
