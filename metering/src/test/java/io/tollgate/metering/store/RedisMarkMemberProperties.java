package io.tollgate.metering.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.WithNull;

/** A Redis mark's member holds any ids and gives them back exactly. */
class RedisMarkMemberProperties {

  @Property(tries = 1000)
  void anyIds_comeBackExactly_soDistinctMarksNeverShareAMember(
      @ForAll String sub,
      @ForAll String sku,
      @ForAll @WithNull(0.3) String product,
      @ForAll @WithNull(0.3) String merchant,
      @ForAll @WithNull(0.3) String buyer,
      @ForAll boolean test,
      @ForAll long version) {
    String member = RedisMeterStore.member(sub, sku, product, merchant, buyer, test);

    assertThat(RedisMeterStore.parseMember(member, version))
        .isEqualTo(new TouchedKey(sub, sku, product, merchant, buyer, test, version));
  }

  @Example
  void idsThatLookLikeTheEncoding_stayIds() {
    String member = RedisMeterStore.member("1:-", "-", "", "0:", null, true);

    assertThat(RedisMeterStore.parseMember(member, 7))
        .isEqualTo(new TouchedKey("1:-", "-", "", "0:", null, true, 7));
  }

  @Example
  void anythingTheEncoderDoesNotWrite_isRefused() {
    for (String bad : new String[] {"", "1", "s1\tk1", "2:s1-----0", "-1:a-----1", "9:abc", "1:a1:b---2"}) {
      assertThatThrownBy(() -> RedisMeterStore.parseMember(bad, 1)).as(bad)
          .isInstanceOf(MeterStoreException.class);
    }
  }
}
