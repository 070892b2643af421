package io.tollgate.gateway.admin;

import io.tollgate.gateway.api.ApiError;
import com.fasterxml.jackson.core.JsonProcessingException;
import io.tollgate.gateway.admin.AdminHttp.Reply;
import io.tollgate.gateway.admin.AdminHttp.Request;
import io.tollgate.gateway.admin.AdminServer.Caller;
import io.tollgate.gateway.auth.CatalogChange;
import io.tollgate.gateway.catalog.IdempotencyKeys;
import io.tollgate.gateway.catalog.IdempotencyKeys.Claim;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code Idempotency-Key} header of the admin port's purchase and renewal routes (the rules
 * are {@link IdempotencyKeys}'): a request with a key the same caller already sent to the same
 * route with the same path and body gets the first answer again, status and body, with {@code
 * Idempotent-Replayed: true}, and changes nothing. The same key with another request is 409 {@code
 * idempotency_key_reused}; while the first request runs, 409 {@code idempotency_key_in_use}. A key
 * that is not 1 to 255 printable ASCII characters is 400 naming the header. Without the header a
 * request runs as always.
 *
 * <p>Stored answers (a purchase's holds its API key) are never logged.
 */
final class Idempotency {

  private static final Logger log = LoggerFactory.getLogger(Idempotency.class);
  static final String HEADER = "Idempotency-Key";
  static final String REPLAYED = "Idempotent-Replayed";
  private static final String OPERATOR_ID = "operator";

  private final IdempotencyKeys keys;

  Idempotency(IdempotencyKeys keys) {
    this.keys = keys;
  }

  /** {@code action} answering retries of its requests on {@code route} (method and path pattern) from their key. */
  Function<Request, Reply> on(String route, Function<Request, Reply> action) {
    return r -> {
      String key = r.header("idempotency-key");
      if (key == null) {
        return action.apply(r);
      }
      if (!IdempotencyKeys.isValidKey(key)) {
        throw ApiError.invalid(HEADER + " must be 1 to " + IdempotencyKeys.MAX_KEY_LENGTH
            + " printable ASCII characters");
      }
      // Merchant ids carry a prefix ("mer_"), so no merchant is "operator".
      var scope = new IdempotencyKeys.Scope(r.caller().isOperator() ? OPERATOR_ID : r.caller().merchantId(), route,
          key);
      Claim claim = keys.claim(scope, requestSha256(route, r));
      if (claim instanceof IdempotencyKeys.Replay replay) {
        return new Reply(replay.status(), parse(replay.response()), CatalogChange.NONE, Map.of(REPLAYED, "true"));
      }
      if (claim instanceof IdempotencyKeys.Reused) {
        throw new ApiError(409, "invalid_request_error", "idempotency_key_reused", HEADER
            + " was already used with a different request; send a new key for a new request");
      }
      if (claim instanceof IdempotencyKeys.InUse) {
        throw new ApiError(409, "invalid_request_error", "idempotency_key_in_use", "a request with this "
            + HEADER + " is still being processed; retry shortly to get its answer");
      }
      Reply reply;
      try {
        reply = action.apply(r);
      } catch (RuntimeException e) {
        release(scope, e);
        throw e;
      }
      if (reply.status() / 100 != 2) {
        release(scope, null);
        return reply;
      }
      try {
        keys.answer(scope, reply.status(), JsonInput.JSON.writeValueAsString(reply.body()));
      } catch (JsonProcessingException | RuntimeException e) {
        // The write committed: the caller gets its answer. A retry is told the key is in use
        // until the claim counts as abandoned, then runs again. Only the failure's class is
        // logged: a driver's message may quote the answer, which may hold an API key.
        log.warn("could not keep the answer of an idempotent request on {}: {}", route, e.getClass().getName());
      }
      return reply;
    };
  }

  private void release(IdempotencyKeys.Scope scope, RuntimeException failure) {
    try {
      keys.release(scope);
    } catch (RuntimeException e) {
      if (failure != null) {
        failure.addSuppressed(e);
      } else {
        throw e;
      }
    }
  }

  /** The request's SHA-256: its route, path parameters and body bytes. */
  static String requestSha256(String route, Request r) {
    MessageDigest d;
    try {
      d = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    d.update(route.getBytes(StandardCharsets.UTF_8));
    for (var p : new TreeMap<>(r.params()).entrySet()) {
      d.update((byte) 0);
      d.update((p.getKey() + "=" + p.getValue()).getBytes(StandardCharsets.UTF_8));
    }
    d.update((byte) 0);
    d.update(r.body());
    return HexFormat.of().formatHex(d.digest());
  }

  private static com.fasterxml.jackson.databind.JsonNode parse(String response) {
    try {
      return JsonInput.JSON.readTree(response);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a stored idempotent answer is not JSON", e);
    }
  }
}
