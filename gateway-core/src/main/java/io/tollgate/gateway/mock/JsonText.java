package io.tollgate.gateway.mock;

import com.fasterxml.jackson.core.io.JsonStringEncoder;

/** Writes JSON string literals; the mock builds its bodies by hand to fix key order and speed. */
final class JsonText {

  private JsonText() {}

  static StringBuilder quote(StringBuilder sb, String s) {
    sb.append('"');
    JsonStringEncoder.getInstance().quoteAsString(s, sb);
    return sb.append('"');
  }

  static String quote(String s) {
    return quote(new StringBuilder(s.length() + 2), s).toString();
  }
}
