package io.tollgate.gateway.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link OpenApiValidator} against the admin document: what it accepts and, above all, what it
 * refuses, so that the admin tests that call it cannot pass on an answer the document does not
 * describe.
 */
class OpenApiValidatorTest {

  static final OpenApiValidator V = OpenApiValidator.ADMIN;
  static final Map<String, String> JSON = Map.of("Content-Type", "application/json");

  static final String PRICES =
      "{\"object\":\"sku.prices\",\"currency\":\"USD\",\"inputPricePerMillion\":\"0.15\","
          + "\"outputPricePerMillion\":\"0.6\",\"effectiveFrom\":\"2025-03-01T00:00:00Z\"}";
  static final String ERROR =
      "{\"error\":{\"message\":\"no such endpoint\",\"type\":\"invalid_request_error\",\"code\":\"not_found\"}}";
  static final String MERCHANT =
      "{\"id\":\"mer_1\",\"object\":\"merchant\",\"name\":\"acme\",\"token\":\"tgm-abc\",\"supportPhone\":null,\"supportEmail\":null,"
          + "\"createdAt\":\"2025-03-01T00:00:00.123456Z\"}";

  static List<String> problems(String method, String path, int status, Map<String, String> headers, String body) {
    return V.problems(method, path, status, headers, body);
  }

  @Test
  void aDocumentedAnswer_isValid_atAConcretePathOfATemplate() {
    assertThat(problems("GET", "/admin/v1/skus/sku_abc/prices?at=2025-03-01T00:00:00Z", 200, JSON, PRICES)).isEmpty();
    assertThat(problems("GET", "/admin/v1/skus/sku_abc/prices", 200, JSON,
        "{\"object\":\"list\",\"data\":[" + PRICES + "]}")).isEmpty();
    assertThat(problems("POST", "/admin/v1/merchants", 201, JSON, MERCHANT)).isEmpty();
  }

  @Test
  void theSameBody_onAnotherOperation_isInvalid() {
    assertThat(problems("GET", "/admin/v1/skus/sku_abc", 200, JSON, PRICES))
        .as("a price entry is not a SKU").isNotEmpty();
  }

  @Test
  void anUndocumentedField_aWrongType_aMissingField_orABadTimestamp_isInvalid() {
    assertThat(problems("POST", "/admin/v1/merchants", 201, JSON, MERCHANT.replace("}", ",\"secret\":\"x\"}")))
        .anySatisfy(p -> assertThat(p).contains("secret"));
    assertThat(problems("POST", "/admin/v1/merchants", 201, JSON, MERCHANT.replace("\"acme\"", "42")))
        .anySatisfy(p -> assertThat(p).contains("/name"));
    assertThat(problems("POST", "/admin/v1/merchants", 201, JSON, MERCHANT.replace(",\"token\":\"tgm-abc\"", "")))
        .as("the token is shown on creation").anySatisfy(p -> assertThat(p).contains("token"));
    assertThat(problems("POST", "/admin/v1/merchants", 201, JSON, MERCHANT.replace("2025-03-01T00:00:00.123456Z", "today")))
        .anySatisfy(p -> assertThat(p).contains("createdAt"));
    assertThat(problems("GET", "/admin/v1/skus/s/prices", 200, JSON, PRICES.replace("\"0.15\"", "0.15")))
        .as("money is never a JSON number").isNotEmpty();
  }

  @Test
  void anUndocumentedStatus_isInvalid() {
    assertThat(problems("GET", "/admin/v1/products/p1", 418, JSON, ERROR))
        .anySatisfy(p -> assertThat(p).contains("status 418 is not documented"));
    assertThat(problems("POST", "/admin/v1/merchants", 200, JSON, MERCHANT)).as("creation answers 201").isNotEmpty();
  }

  @Test
  void anError_mustBeInTheErrorShape() {
    assertThat(problems("GET", "/admin/v1/products/p1", 404, JSON, ERROR)).isEmpty();
    assertThat(problems("GET", "/admin/v1/products/p1", 404, JSON, "{\"error\":\"not found\"}")).isNotEmpty();
    assertThat(problems("GET", "/admin/v1/products/p1", 404, JSON,
        ERROR.replace("invalid_request_error", "whatever_error"))).isNotEmpty();
  }

  @Test
  void requiredResponseHeaders_mustBeThere() {
    String unauthorized = ERROR;
    String throttled = ERROR.replace("invalid_request_error", "rate_limit_exceeded");

    assertThat(problems("GET", "/admin/v1/products", 401, JSON, unauthorized))
        .anySatisfy(p -> assertThat(p).contains("WWW-Authenticate"));
    assertThat(problems("GET", "/admin/v1/products", 401,
        Map.of("content-type", "application/json", "www-authenticate", "Bearer"), unauthorized)).isEmpty();
    assertThat(problems("GET", "/admin/v1/products", 429, JSON, throttled))
        .anySatisfy(p -> assertThat(p).contains("Retry-After"));
    assertThat(problems("GET", "/admin/v1/products", 429,
        Map.of("content-type", "application/json", "retry-after", "soon"), throttled))
        .anySatisfy(p -> assertThat(p).contains("must be an integer"));
  }

  @Test
  void anUndocumentedPath_mayOnlyAnswer404_andAnUndocumentedMethodOnly405() {
    String notAllowed = ERROR.replace("not_found", "method_not_allowed");

    assertThat(problems("GET", "/admin/v1/nothing-here", 404, JSON, ERROR)).isEmpty();
    assertThat(problems("GET", "/admin/v1/nothing-here", 200, JSON, "{}"))
        .anySatisfy(p -> assertThat(p).contains("is not documented"));
    assertThat(problems("DELETE", "/admin/v1/products/p1", 405, JSON, notAllowed)).isEmpty();
    assertThat(problems("DELETE", "/admin/v1/products/p1", 200, JSON, "{}"))
        .anySatisfy(p -> assertThat(p).contains("DELETE is not documented"));
    assertThat(problems("GET", "/admin/v1/nothing-here", 404, Map.of("content-type", "text/plain"), "Not Found"))
        .as("even an unknown path answers in the error shape").isNotEmpty();
  }

  @Test
  void theContentType_mustBeDocumented_andTheBodyJson() {
    assertThat(problems("GET", "/admin/v1/skus/s/prices", 200, Map.of("content-type", "text/html"), PRICES))
        .anySatisfy(p -> assertThat(p).contains("content type"));
    assertThat(problems("GET", "/admin/v1/skus/s/prices", 200, JSON, "<html>"))
        .anySatisfy(p -> assertThat(p).contains("not JSON"));
    assertThat(problems("GET", "/admin/v1/skus/s/prices", 200,
        Map.of("content-type", "application/json; charset=utf-8"), PRICES)).as("parameters of the type are fine").isEmpty();
  }

  @Test
  void aSuccess_toAnUndocumentedQueryParameter_isInvalid() {
    assertThat(problems("GET", "/admin/v1/skus/s/prices?when=now", 200, JSON, PRICES))
        .anySatisfy(p -> assertThat(p).contains("query parameter when"));
    assertThat(problems("GET", "/admin/v1/skus/s/prices?when=now", 400, JSON,
        ERROR.replace("not_found", "invalid_value"))).as("refusing it is fine").isEmpty();
  }

  @Test
  void assertValid_failsWithEveryProblem() {
    assertThatThrownBy(() -> V.assertValid("GET", "/admin/v1/skus/s", 200, JSON, PRICES))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("GET /admin/v1/skus/s")
        .hasMessageContaining("required property 'id'");
  }
}
