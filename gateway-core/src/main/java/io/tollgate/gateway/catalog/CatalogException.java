package io.tollgate.gateway.catalog;

/**
 * A catalog operation that cannot proceed for a reason the caller can act on. Invalid values are
 * {@link IllegalArgumentException}s from the records' constructors instead.
 *
 * <p>Messages name the object or field concerned and never carry a secret.
 */
public final class CatalogException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  /** Why the operation failed; the admin API maps each to a status. */
  public enum Kind {
    /** No such object (404). */
    NOT_FOUND,
    /** The object's state forbids the change (409), e.g. a subscribed SKU's billing mode. */
    CONFLICT,
    /** The database cannot be reached or refused the operation (503). */
    UNAVAILABLE
  }

  private final Kind kind;

  public CatalogException(Kind kind, String message) {
    super(message);
    this.kind = kind;
  }

  public CatalogException(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }

  static CatalogException notFound(String what, String id) {
    return new CatalogException(Kind.NOT_FOUND, what + " not found: " + id);
  }

  static CatalogException conflict(String message) {
    return new CatalogException(Kind.CONFLICT, message);
  }
}
