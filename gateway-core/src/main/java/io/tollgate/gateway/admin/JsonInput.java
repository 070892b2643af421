package io.tollgate.gateway.admin;

import io.tollgate.gateway.api.ApiError;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A JSON object of an admin request, read field by field. Every failure is a 400 {@link ApiError}
 * whose message names the field by its full path ({@code billing.inputPricePerMillion},
 * {@code endpoints[0].url}). JSON {@code null} counts as absent.
 */
final class JsonInput {

  static final ObjectMapper JSON = new ObjectMapper();

  /** A non-negative decimal without exponent: what money looks like on the wire. */
  private static final Pattern DECIMAL = Pattern.compile("\\d{1,20}(\\.\\d{1,18})?");

  private final ObjectNode node;
  private final String prefix;

  private JsonInput(ObjectNode node, String prefix) {
    this.node = node;
    this.prefix = prefix;
  }

  /** Parses a request body, which must be one JSON object. */
  static JsonInput parse(byte[] body) {
    if (body == null || body.length == 0) {
      throw ApiError.invalid("the request body must be a JSON object");
    }
    JsonNode tree;
    try {
      tree = JSON.readTree(body);
    } catch (JacksonException e) {
      throw ApiError.malformedJson("malformed JSON: " + e.getOriginalMessage());
    } catch (java.io.IOException e) {
      throw ApiError.malformedJson("malformed JSON");
    }
    if (tree == null || !tree.isObject()) {
      throw ApiError.invalid("the request body must be a JSON object");
    }
    return new JsonInput((ObjectNode) tree, "");
  }

  /** The full path of a field of this object, as used in messages. */
  String path(String field) {
    return prefix + field;
  }

  /** The raw JSON object, for a field whose shape depends on the others. */
  ObjectNode node() {
    return node;
  }

  boolean has(String field) {
    JsonNode v = node.get(field);
    return v != null && !v.isNull();
  }

  /** Refuses fields outside {@code known}: a misspelt field must not be silently ignored. */
  void allowOnly(Set<String> known) {
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String f = it.next();
      if (!known.contains(f)) {
        throw ApiError.invalid(path(f) + " is not a known field");
      }
    }
  }

  String requiredText(String field) {
    String s = optionalText(field);
    if (s == null || s.isBlank()) {
      throw ApiError.invalid(path(field) + " is required");
    }
    return s;
  }

  String optionalText(String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isTextual()) {
      throw ApiError.invalid(path(field) + " must be a string");
    }
    return v.asText();
  }

  Boolean optionalBoolean(String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isBoolean()) {
      throw ApiError.invalid(path(field) + " must be true or false");
    }
    return v.booleanValue();
  }

  /** A positive integer (JSON number without fraction), or null when absent. */
  Long optionalPositiveLong(String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() <= 0) {
      throw ApiError.invalid(path(field) + " must be a positive integer");
    }
    return v.longValue();
  }

  Integer optionalPositiveInt(String field) {
    Long v = optionalPositiveLong(field);
    if (v != null && v > Integer.MAX_VALUE) {
      throw ApiError.invalid(path(field) + " must be at most " + Integer.MAX_VALUE);
    }
    return v == null ? null : v.intValue();
  }

  /** A non-negative integer (for ranges that may start at 0). */
  long requiredNonNegativeLong(String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      throw ApiError.invalid(path(field) + " is required");
    }
    if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
      throw ApiError.invalid(path(field) + " must be a non-negative integer");
    }
    return v.longValue();
  }

  /**
   * Money: a decimal string such as {@code "0.15"}, never a JSON number (floats lose cents).
   * At most 20 integer and 18 fractional digits, as stored.
   */
  BigDecimal optionalMoney(String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isTextual() || !DECIMAL.matcher(v.asText()).matches()) {
      throw ApiError.invalid(
          path(field)
              + " must be a decimal string such as \"0.15\" (at most 20 integer and 18 fractional"
              + " digits, not negative)");
    }
    return new BigDecimal(v.asText());
  }

  BigDecimal requiredMoney(String field) {
    BigDecimal m = optionalMoney(field);
    if (m == null) {
      throw ApiError.invalid(path(field) + " is required");
    }
    return m;
  }

  /** A nested object, or null when absent. */
  JsonInput optionalObject(String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isObject()) {
      throw ApiError.invalid(path(field) + " must be an object");
    }
    return new JsonInput((ObjectNode) v, path(field) + ".");
  }

  JsonInput requiredObject(String field) {
    JsonInput o = optionalObject(field);
    if (o == null) {
      throw ApiError.invalid(path(field) + " is required");
    }
    return o;
  }

  /** The objects of an array field, each reading with {@code field[i].} paths; null if absent. */
  List<JsonInput> optionalObjects(String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isArray()) {
      throw ApiError.invalid(path(field) + " must be an array");
    }
    var out = new ArrayList<JsonInput>();
    for (int i = 0; i < v.size(); i++) {
      JsonNode e = v.get(i);
      if (!e.isObject()) {
        throw ApiError.invalid(path(field) + "[" + i + "] must be an object");
      }
      out.add(new JsonInput((ObjectNode) e, path(field) + "[" + i + "]."));
    }
    return out;
  }

  /** An array of non-blank strings, or null when absent. */
  List<String> optionalStrings(String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isArray()) {
      throw ApiError.invalid(path(field) + " must be an array of strings");
    }
    var out = new ArrayList<String>();
    for (int i = 0; i < v.size(); i++) {
      JsonNode e = v.get(i);
      if (!e.isTextual() || e.asText().isBlank()) {
        throw ApiError.invalid(path(field) + "[" + i + "] must be a non-blank string");
      }
      out.add(e.asText());
    }
    return out;
  }

  /** An object whose values are strings, in order, or null when absent. */
  Map<String, String> optionalStringMap(String field) {
    JsonInput o = optionalObject(field);
    if (o == null) {
      return null;
    }
    var out = new LinkedHashMap<String, String>();
    for (var e : o.node.properties()) {
      if (!e.getValue().isTextual()) {
        throw ApiError.invalid(o.path(e.getKey()) + " must be a string");
      }
      out.put(e.getKey(), e.getValue().asText());
    }
    return out;
  }

  /** The field names of this object, in order. */
  List<String> fieldNames() {
    var out = new ArrayList<String>();
    node.fieldNames().forEachRemaining(out::add);
    return out;
  }
}
