package io.tollgate.gateway.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

class AkskJwtTest {

  private static final long NOW = 1_760_000_000_000L;
  private static final Function<String, String> SECRETS =
      Map.of("ak-1", "sk-one", "ak-2", "sk-two")::get;
  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();

  @Test
  void signedToken_verifiesAsItsAccessKey() {
    String jwt = AkskJwt.sign("ak-1", "sk-one", NOW);

    assertThat(AkskJwt.verify(jwt, SECRETS, NOW + 1_000)).isEqualTo(new AkskJwt.Valid("ak-1"));
  }

  @Test
  void header_isExactlyTheDesignedBytes_andClaimsAreMilliseconds() throws Exception {
    String[] parts = AkskJwt.sign("ak-1", "sk-one", NOW).split("\\.");

    assertThat(parts).hasSize(3);
    assertThat(parts).allSatisfy(p -> assertThat(p).doesNotContain("=", "+", "/"));
    assertThat(new String(Base64.getUrlDecoder().decode(parts[0]), StandardCharsets.UTF_8))
        .isEqualTo("{\"alg\":\"HS256\",\"sign_type\":\"SIGN\"}");
    JsonNode claims = new ObjectMapper().readTree(Base64.getUrlDecoder().decode(parts[1]));
    assertThat(claims.get("api_key").asText()).isEqualTo("ak-1");
    assertThat(claims.get("timestamp").asLong()).as("timestamp in ms").isEqualTo(NOW);
    assertThat(claims.get("exp").asLong()).as("exp 5 minutes on, in ms").isEqualTo(NOW + 300_000);
  }

  @Test
  void signature_isHmacSha256OfHeaderDotClaims_withTheSecretKey() throws Exception {
    String jwt = AkskJwt.sign("ak-1", "sk-one", NOW);
    int lastDot = jwt.lastIndexOf('.');
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec("sk-one".getBytes(StandardCharsets.UTF_8), "HmacSHA256"));

    String expected =
        B64.encodeToString(mac.doFinal(jwt.substring(0, lastDot).getBytes(StandardCharsets.UTF_8)));

    assertThat(jwt.substring(lastDot + 1)).isEqualTo(expected);
  }

  @Test
  void signingWithAlternatingSecretsOnOneThread_usesTheRightKeyEachTime() {
    for (int i = 0; i < 4; i++) {
      assertThat(AkskJwt.verify(AkskJwt.sign("ak-1", "sk-one", NOW), SECRETS, NOW).isValid())
          .isTrue();
      assertThat(AkskJwt.verify(AkskJwt.sign("ak-2", "sk-two", NOW), SECRETS, NOW).isValid())
          .isTrue();
    }
  }

  @Test
  void bearerValue_isByteForByteTheReferenceToken_forEveryClaimsLength() throws Exception {
    Random random = new Random(7);
    for (int n = 1; n <= 40; n++) {
      StringBuilder ak = new StringBuilder();
      for (int i = 0; i < n; i++) {
        ak.append((char) (i % 7 == 3 ? 0xe9 : 'a' + random.nextInt(26))); // some non-ASCII too
      }
      String accessKey = ak.toString();
      long now = NOW + random.nextInt(1_000_000);
      String claims = "{\"api_key\":" + new ObjectMapper().writeValueAsString(accessKey) + ",\"exp\":" + (now + 300_000)
          + ",\"timestamp\":" + now + "}";
      String input = B64.encodeToString("{\"alg\":\"HS256\",\"sign_type\":\"SIGN\"}".getBytes(StandardCharsets.UTF_8))
          + "." + B64.encodeToString(claims.getBytes(StandardCharsets.UTF_8));
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(("sk-" + n).getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      String reference = input + "." + B64.encodeToString(mac.doFinal(input.getBytes(StandardCharsets.US_ASCII)));

      assertThat(AkskJwt.bearer(accessKey, "sk-" + n, now).toString()).as("access key of %d chars", n)
          .isEqualTo("Bearer " + reference);
      assertThat(AkskJwt.sign(accessKey, "sk-" + n, now)).isEqualTo(reference);
    }
  }

  @Test
  void accessKeyWithQuotes_isEscapedInTheClaims() {
    String jwt = AkskJwt.sign("a\"k\\1", "s", NOW);

    assertThat(AkskJwt.verify(jwt, k -> k.equals("a\"k\\1") ? "s" : null, NOW))
        .isEqualTo(new AkskJwt.Valid("a\"k\\1"));
  }

  @Test
  void tamperedSignature_isRejected() {
    String jwt = AkskJwt.sign("ak-1", "sk-one", NOW);
    char last = jwt.charAt(jwt.length() - 10);
    String tampered =
        jwt.substring(0, jwt.length() - 10)
            + (last == 'A' ? 'B' : 'A')
            + jwt.substring(jwt.length() - 9);

    assertThat(AkskJwt.verify(tampered, SECRETS, NOW)).isEqualTo(AkskJwt.Verdict.BAD_SIGNATURE);
  }

  @Test
  void tokenSignedWithAnotherSecret_isRejected() {
    String jwt = AkskJwt.sign("ak-1", "sk-two", NOW);

    assertThat(AkskJwt.verify(jwt, SECRETS, NOW)).isEqualTo(AkskJwt.Verdict.BAD_SIGNATURE);
  }

  @Test
  void tamperedClaims_areRejected() {
    String[] parts = AkskJwt.sign("ak-1", "sk-one", NOW).split("\\.");
    String forged =
        "{\"api_key\":\"ak-1\",\"exp\":" + (NOW + 10 * AkskJwt.TTL_MILLIS) + ",\"timestamp\":0}";
    String jwt =
        parts[0] + "." + B64.encodeToString(forged.getBytes(StandardCharsets.UTF_8)) + "." + parts[2];

    assertThat(AkskJwt.verify(jwt, SECRETS, NOW)).isEqualTo(AkskJwt.Verdict.BAD_SIGNATURE);
  }

  @Test
  void tokenAtOrAfterExp_isExpired() {
    String jwt = AkskJwt.sign("ak-1", "sk-one", NOW);

    assertThat(AkskJwt.verify(jwt, SECRETS, NOW + AkskJwt.TTL_MILLIS - 1).isValid()).isTrue();
    assertThat(AkskJwt.verify(jwt, SECRETS, NOW + AkskJwt.TTL_MILLIS))
        .isEqualTo(AkskJwt.Verdict.EXPIRED);
  }

  @Test
  void unknownAccessKey_isRejected() {
    String jwt = AkskJwt.sign("ak-9", "sk-one", NOW);

    assertThat(AkskJwt.verify(jwt, SECRETS, NOW)).isEqualTo(AkskJwt.Verdict.UNKNOWN_KEY);
  }

  @Test
  void otherHeaders_areRejected_evenWhenCorrectlySigned() throws Exception {
    for (String header :
        new String[] {
          "{\"alg\":\"none\",\"sign_type\":\"SIGN\"}",
          "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
          "{\"alg\":\"HS512\",\"sign_type\":\"SIGN\"}"
        }) {
      String claims =
          "{\"api_key\":\"ak-1\",\"exp\":" + (NOW + 1000) + ",\"timestamp\":" + NOW + "}";
      String input =
          B64.encodeToString(header.getBytes(StandardCharsets.UTF_8))
              + "."
              + B64.encodeToString(claims.getBytes(StandardCharsets.UTF_8));
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec("sk-one".getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      String jwt =
          input + "." + B64.encodeToString(mac.doFinal(input.getBytes(StandardCharsets.UTF_8)));

      assertThat(AkskJwt.verify(jwt, SECRETS, NOW)).as(header).isEqualTo(AkskJwt.Verdict.BAD_HEADER);
    }
  }

  @Test
  void garbage_isInvalid_andNeverThrows() {
    String valid = AkskJwt.sign("ak-1", "sk-one", NOW);
    String[] inputs = {
      null, "", ".", "..", "...", "a.b.c", "a.b", "!!!.###.$$$", valid + ".x", "é.é.é",
      valid.substring(0, valid.length() / 2), "e30.e30.e30", "bnVsbA.bnVsbA.", "W10.W10.W10"
    };
    for (String input : inputs) {
      assertThatCode(() -> assertThat(AkskJwt.verify(input, SECRETS, NOW).isValid()).isFalse())
          .as("input %s", input)
          .doesNotThrowAnyException();
    }
    Random random = new Random(42);
    for (int i = 0; i < 2_000; i++) {
      char[] chars = valid.toCharArray();
      for (int j = 0; j < 1 + random.nextInt(4); j++) {
        chars[random.nextInt(chars.length)] = (char) (32 + random.nextInt(96));
      }
      String mutated = new String(chars);
      assertThatCode(() -> AkskJwt.verify(mutated, SECRETS, NOW))
          .as("input %s", mutated)
          .doesNotThrowAnyException();
    }
  }

  @Test
  void signingWithoutKeys_isRefused() {
    assertThatThrownBy(() -> AkskJwt.sign("", "sk", NOW))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> AkskJwt.sign("ak", null, NOW))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
