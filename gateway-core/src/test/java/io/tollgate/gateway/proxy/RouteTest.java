package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class RouteTest {

  static final String KEY = "tg-Ab9_x";

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
      "/p                                      | /p",
      "/p?                                     | /p?",
      "/p?q=1&b=%2F+x                          | /p?q=1&b=%2F+x",
      "/p?api_key=tg-Ab9_x                     | /p",
      "/p?key=tg-Ab9_x&q=1                     | /p?q=1",
      "/p?q=1&key=tg-Ab9_x                     | /p?q=1",
      "/p?q=1&key=tg-Ab9_x&r=2                 | /p?q=1&r=2",
      "/p?&key=tg-Ab9_x&r=2                    | /p?&r=2",
      "/p?q=1&key=tg-Ab9_x&                    | /p?q=1&",
      "/p?Token=tg%2DAb9%5fx&q                 | /p?q",
      "/p?key=tg-Ab9_xy&key=tg-Ab9_&key=       | /p?key=tg-Ab9_xy&key=tg-Ab9_&key=",
      "/p?key=%zz&k=%                          | /p?key=%zz&k=%",
      "/tg-Ab9_x?key=other                     | /tg-Ab9_x?key=other",
      "/p?key=tg-Ab9_x&api_key=tg-Ab9_x        | /p",
  })
  void withoutKey_removesOnlyParametersHoldingTheCallersKey(String uri, String forwarded) {
    assertThat(Route.withoutKey(uri, KEY)).isEqualTo(forwarded);
  }

  @ParameterizedTest
  @ValueSource(strings = {"/v1/x?a=\u0001", "/v1/x?a=\u007f", "/v1/\u0000", "/v1/x?a=b c", "/v1/x\t"})
  void controlBytes_areFound(String uri) {
    assertThat(Route.hasControlBytes(uri)).isTrue();
  }

  @ParameterizedTest
  @ValueSource(strings = {"/v1/x?a=%01", "/v1/x?a=~!$'()*+;:@/?", "/v1/caf\u00e9"})
  void printableTargets_haveNone(String uri) {
    assertThat(Route.hasControlBytes(uri)).isFalse();
  }
}
