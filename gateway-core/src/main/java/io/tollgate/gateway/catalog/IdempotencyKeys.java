package io.tollgate.gateway.catalog;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * The answers of requests sent with an {@code Idempotency-Key}, so that a retried purchase or
 * renewal gets the first answer instead of a second subscription or period.
 *
 * <ul>
 *   <li>A key is scoped to its caller and route ({@link Scope}): the same key from another caller,
 *       or to another route, is another key.
 *   <li>The first request {@link #claim claims} the key with its SHA-256, a row inserted in its own
 *       commit under a primary key: of two concurrent first requests exactly one is {@link
 *       Granted}; the other is told the key is {@link InUse} (or, once the first has answered,
 *       gets its {@link Replay}). A request with the key but another SHA-256 is {@link Reused}.
 *   <li>Only a success is kept ({@link #answer}); a failed request {@link #release}s the key, so a
 *       corrected retry runs (nothing was written: a failure rolled its transaction back).
 *   <li>A key is kept {@link #RETENTION} (24 hours) from its claim; older rows are ignored and
 *       deleted by the next claim. A claim left unanswered for {@link #ABANDONED_AFTER} (its
 *       process died mid-request) may be taken over by a retry, which runs the request again.
 * </ul>
 *
 * <p><b>The stored answer is a secret.</b> A purchase's answer holds the API key it issued (shown
 * once); the retry of that purchase must get that same key, so the answer is stored as sent, in
 * the catalog database (which holds merchants' upstream secrets already), for 24 hours, and
 * never logged. Nothing else reads it.
 *
 * <p>Every method blocks on JDBC: call it from a worker thread, never an event loop.
 */
public final class IdempotencyKeys {

  /** How long a key's answer is kept. */
  public static final Duration RETENTION = Duration.ofHours(24);

  /**
   * How long a claim may stay unanswered before a retry may take it over: far longer than an
   * admin request can run (each query gives up after 30 s; a purchase makes a handful).
   */
  public static final Duration ABANDONED_AFTER = Duration.ofMinutes(5);

  /** Longest key accepted. */
  public static final int MAX_KEY_LENGTH = 255;

  private final CatalogDatabase db;
  private final Clock clock;

  /** Keys stored in {@code dataSource}, migrated with the catalog; the caller keeps ownership of it. */
  public IdempotencyKeys(DataSource dataSource, Clock clock) {
    this.db = new CatalogDatabase(dataSource);
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /**
   * A key as one caller sent it to one route.
   *
   * @param callerId who sent it (the operator or a merchant id)
   * @param route the route's method and path pattern, e.g. {@code POST /admin/v1/subscriptions}
   * @param key the header's value: 1 to {@value #MAX_KEY_LENGTH} printable ASCII characters
   */
  public record Scope(String callerId, String route, String key) {
    public Scope {
      Objects.requireNonNull(callerId, "callerId");
      Objects.requireNonNull(route, "route");
      if (!isValidKey(key)) {
        throw new IllegalArgumentException("an idempotency key is 1 to " + MAX_KEY_LENGTH
            + " printable ASCII characters");
      }
    }
  }

  /** Whether {@code key} is 1 to {@value #MAX_KEY_LENGTH} printable ASCII characters. */
  public static boolean isValidKey(String key) {
    if (key == null || key.isEmpty() || key.length() > MAX_KEY_LENGTH) {
      return false;
    }
    for (int i = 0; i < key.length(); i++) {
      char ch = key.charAt(i);
      if (ch < 0x20 || ch > 0x7e) {
        return false;
      }
    }
    return true;
  }

  /** What a claim found. */
  public sealed interface Claim permits Granted, Replay, InUse, Reused {}

  /** The key is this request's: run it, then {@link #answer} or {@link #release}. */
  public record Granted() implements Claim {
    public static final Granted INSTANCE = new Granted();
  }

  /** The first request with this key and this SHA-256 answered so; send it again. */
  public record Replay(int status, String response) implements Claim {
    /** Never prints the response: it may hold an API key. */
    @Override
    public String toString() {
      return "Replay[status=" + status + ", response=****]";
    }
  }

  /** The first request with this key is still running. */
  public record InUse() implements Claim {
    public static final InUse INSTANCE = new InUse();
  }

  /** The key was first sent with another request. */
  public record Reused() implements Claim {
    public static final Reused INSTANCE = new Reused();
  }

  /**
   * Claims {@code scope}'s key for a request whose SHA-256 is {@code requestSha256}, first deleting
   * every key past its {@link #RETENTION}.
   */
  public Claim claim(Scope scope, String requestSha256) {
    Objects.requireNonNull(requestSha256, "requestSha256");
    Instant now = Jdbc.micros(clock.instant());
    return db.read(c -> {
      IdempotencyStore.deleteCreatedBefore(c, now.minus(RETENTION));
      // Two rounds: a row seen missing after a failed insert was released or swept meanwhile.
      for (int round = 0; round < 2; round++) {
        if (IdempotencyStore.insert(c, scope.callerId(), scope.route(), scope.key(), requestSha256, now)) {
          return Granted.INSTANCE;
        }
        Optional<IdempotencyStore.Row> found = IdempotencyStore.find(c, scope.callerId(), scope.route(), scope.key());
        if (found.isEmpty()) {
          continue;
        }
        IdempotencyStore.Row row = found.get();
        if (!row.requestSha256().equals(requestSha256)) {
          return Reused.INSTANCE;
        }
        if (row.status() != null) {
          return new Replay(row.status(), row.response());
        }
        if (!row.createdAt().isAfter(now.minus(ABANDONED_AFTER))
            && IdempotencyStore.restart(c, scope.callerId(), scope.route(), scope.key(), row.createdAt(), now)) {
          return Granted.INSTANCE;
        }
        return InUse.INSTANCE;
      }
      return InUse.INSTANCE;
    });
  }

  /** Keeps the answer of a {@link Granted} request: its retries get {@code status} and {@code response}. */
  public void answer(Scope scope, int status, String response) {
    Objects.requireNonNull(response, "response");
    db.read(c -> {
      IdempotencyStore.answer(c, scope.callerId(), scope.route(), scope.key(), status, response);
      return null;
    });
  }

  /** Gives up a {@link Granted} key whose request failed, so that a retry runs it. */
  public void release(Scope scope) {
    db.read(c -> {
      IdempotencyStore.deleteUnanswered(c, scope.callerId(), scope.route(), scope.key());
      return null;
    });
  }
}
