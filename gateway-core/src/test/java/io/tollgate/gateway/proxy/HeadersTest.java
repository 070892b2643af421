package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaders;
import org.junit.jupiter.api.Test;

/** The buyer's key as read from its headers, and the forwarded body's length as written. */
class HeadersTest {

  /** Unvalidated, so values with the spaces a decoder would have trimmed can be tried too. */
  static HttpHeaders headers(String authorization, String xApiKey) {
    HttpHeaders h = DefaultHttpHeadersFactory.headersFactory().withValidation(false).newHeaders();
    if (authorization != null) {
      h.add("Authorization", authorization);
    }
    if (xApiKey != null) {
      h.add("x-api-key", xApiKey);
    }
    return h;
  }

  @Test
  void apiKey_isTheBearerCredential_elseXApiKey_trimmed() {
    String[][] cases = {
        {"Bearer tg-key-1", null, "tg-key-1"},
        {"bearer   tg-key-1  ", null, "tg-key-1"},
        {"Bearer tg-key-1", "tg-other", "tg-key-1"},
        {"Bearer    ", "tg-other", "tg-other"},
        {"Basic dXNlcg==", " tg-other ", "tg-other"},
        {"Bearer", "tg-other", "tg-other"},
        {null, "Bearer tg-key-2", "Bearer tg-key-2"},
        {null, "   ", null},
        {"Token tg-key-1", null, null},
        {null, null, null},
    };
    for (String[] c : cases) {
      HttpHeaders h = headers(c[0], c[1]);
      assertThat(Headers.apiKey(h)).as("%s / %s", c[0], c[1]).isEqualTo(c[2]);
      assertThat(Headers.apiKey(h, "tg-key-9")).as("another known key of the same length").isEqualTo(c[2]);
      assertThat(Headers.apiKey(h, "tg")).as("a known key of another length").isEqualTo(c[2]);
    }
  }

  @Test
  void apiKey_equalToTheConnectionsLastKey_isThatVeryString() {
    String known = new String("tg-key-1");
    assertThat(Headers.apiKey(headers("Bearer  tg-key-1 ", null), known)).isSameAs(known);
    assertThat(Headers.apiKey(headers(null, "tg-key-1"), known)).isSameAs(known);
    assertThat(Headers.apiKey(headers("Bearer tg-key-2", null), known)).isEqualTo("tg-key-2").isNotSameAs(known);
    assertThat(Headers.apiKey(headers("Bearer TG-KEY-1", null), known)).as("keys are case-sensitive")
        .isEqualTo("TG-KEY-1");
  }

  @Test
  void contentLength_isTheBuyersOwnValue_onlyWhenItIsExactlyTheLengthInPlainDecimal() {
    String declared = new String("42");
    assertThat(Headers.contentLength(declared, 42)).isSameAs(declared);
    String zero = new String("0");
    assertThat(Headers.contentLength(zero, 0)).isSameAs(zero);
    assertThat(Headers.contentLength("43", 42)).isEqualTo("42");
    assertThat(Headers.contentLength("042", 42)).isEqualTo("42");
    assertThat(Headers.contentLength("00", 0)).isEqualTo("0");
    assertThat(Headers.contentLength("+42", 42)).isEqualTo("42");
    assertThat(Headers.contentLength(" 42", 42)).isEqualTo("42");
    assertThat(Headers.contentLength("42 ", 42)).isEqualTo("42");
    assertThat(Headers.contentLength("4_2", 42)).isEqualTo("42");
    assertThat(Headers.contentLength("", 0)).isEqualTo("0");
    assertThat(Headers.contentLength(null, 7)).isEqualTo("7");
    // A new value is the thread's cached string while the same length recurs.
    assertThat(Headers.contentLength("43", 1234567)).isEqualTo("1234567")
        .isSameAs(Headers.contentLength(null, 1234567));
    assertThat(Headers.contentLength(null, Integer.MAX_VALUE)).isEqualTo(Integer.toString(Integer.MAX_VALUE));
    assertThat(Headers.contentLength("4294967338", 42)).as("42 plus 2^32").isEqualTo("42");
    assertThat(Headers.contentLength("99999999999999999999", 42)).isEqualTo("42");
    assertThat(Headers.contentLength("2147483647", Integer.MAX_VALUE)).isEqualTo("2147483647");
  }
}
