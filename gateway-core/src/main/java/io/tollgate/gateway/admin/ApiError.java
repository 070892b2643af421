package io.tollgate.gateway.admin;

/**
 * An admin request that fails with a status and a message for the caller, rendered in the OpenAI
 * error shape {@code {"error":{"message","type","code"}}}. Messages name the offending field and
 * never carry a secret.
 */
final class ApiError extends RuntimeException {

  private static final long serialVersionUID = 1L;

  final int status;
  final String type;
  final String code;

  ApiError(int status, String type, String code, String message) {
    super(message, null, false, false);
    this.status = status;
    this.type = type;
    this.code = code;
  }

  static ApiError invalid(String message) {
    return new ApiError(400, "invalid_request_error", "invalid_value", message);
  }

  static ApiError malformedJson(String message) {
    return new ApiError(400, "invalid_request_error", "invalid_json", message);
  }

  static ApiError unauthorized(String message) {
    return new ApiError(401, "authentication_error", "invalid_api_key", message);
  }

  static ApiError forbidden(String message) {
    return new ApiError(403, "permission_error", "forbidden", message);
  }

  static ApiError notFound(String message) {
    return new ApiError(404, "invalid_request_error", "not_found", message);
  }

  static ApiError conflict(String message) {
    return new ApiError(409, "invalid_request_error", "conflict", message);
  }
}
