package io.tollgate.metering.usage;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * The text keeps Latin-1 in bytes and moves to chars at the first char past it; reused, it goes
 * back to bytes. Whatever the mix of appends, marks, rollbacks and reuse, it must hold what a
 * plain StringBuilder clipped at the bound holds.
 */
class CompletionTextTest {

  private static final String[] PIECES = {"plain ascii ", "caf\u00e9 ", "\u4e2d\u6587", "\ud83d\ude00", "\u00ff\u0100", ""};

  @Property(tries = 300)
  void anyMixOfAppendsRollbacksAndReuse_holdsWhatAClippedStringBuilderHolds(@ForAll long seed) {
    Random random = new Random(seed);
    int max = 1 + random.nextInt(200);
    CompletionText text = new CompletionText(max);
    StringBuilder expected = new StringBuilder();
    int mark = 0;
    for (int op = 0; op < 60; op++) {
      switch (random.nextInt(8)) {
        case 0, 1, 2 -> { // ASCII bytes as they lie in a body
          byte[] bytes = ("x" + random.nextInt(100_000) + " ").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
          byte[] padded = new byte[bytes.length + 4];
          System.arraycopy(bytes, 0, padded, 2, bytes.length);
          text.appendAscii(padded, 2, bytes.length);
          append(expected, new String(bytes, java.nio.charset.StandardCharsets.US_ASCII), max);
        }
        case 3, 4 -> {
          char[] chars = ("<" + PIECES[random.nextInt(PIECES.length)] + ">").toCharArray();
          text.append(chars, 1, chars.length - 2);
          append(expected, new String(chars, 1, chars.length - 2), max);
        }
        case 5 -> {
          mark = text.mark();
          assertThat(mark).isEqualTo(expected.length());
        }
        case 6 -> {
          if (mark <= expected.length()) {
            text.rollback(mark);
            expected.setLength(mark);
          }
        }
        default -> {
          if (random.nextInt(4) == 0) {
            max = 1 + random.nextInt(200);
            text.clear(max);
            expected.setLength(0);
            mark = 0;
          }
        }
      }
      assertThat(text.toString()).isEqualTo(expected.toString());
      assertThat(text.length()).isEqualTo(expected.length());
      assertThat(text.full()).isEqualTo(expected.length() >= max);
      assertThat(text.room()).isEqualTo(Math.max(0, max - expected.length()));
      if (expected.length() > 0) {
        int at = random.nextInt(expected.length());
        assertThat(text.charAt(at)).isEqualTo(expected.charAt(at));
        assertThat(text.subSequence(at, expected.length()).toString()).isEqualTo(expected.substring(at));
      }
    }
  }

  private static void append(StringBuilder expected, String s, int max) {
    expected.append(s, 0, Math.min(s.length(), Math.max(0, max - expected.length())));
  }
}
