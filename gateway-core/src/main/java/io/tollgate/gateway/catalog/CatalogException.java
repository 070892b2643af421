package io.tollgate.gateway.catalog;

/**
 * A catalog operation that cannot proceed for a reason the caller can act on. Invalid values are
 * {@link IllegalArgumentException}s from the records' constructors instead.
 *
 * <p>Messages name the object or field concerned and never carry a secret. A {@link #code()}, where
 * set, is the machine-readable reason the admin API answers with (e.g. {@value
 * #PRODUCT_NOT_LISTED}); without one it answers its kind's generic code.
 */
public final class CatalogException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  /** A listing action that does not apply to the product's status. */
  public static final String INVALID_TRANSITION = "invalid_transition";
  /** A product submitted without a SKU or without its merchant's support contact. */
  public static final String LISTING_INCOMPLETE = "listing_incomplete";
  /** A purchase or renewal of a product that is not listed. */
  public static final String PRODUCT_NOT_LISTED = "product_not_listed";

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
  private final String code;

  public CatalogException(Kind kind, String message) {
    this(kind, null, message, null);
  }

  public CatalogException(Kind kind, String message, Throwable cause) {
    this(kind, null, message, cause);
  }

  private CatalogException(Kind kind, String code, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.code = code;
  }

  public Kind kind() {
    return kind;
  }

  /** The specific reason ({@value #INVALID_TRANSITION}, ...), or null for the kind's generic one. */
  public String code() {
    return code;
  }

  static CatalogException notFound(String what, String id) {
    return new CatalogException(Kind.NOT_FOUND, what + " not found: " + id);
  }

  static CatalogException conflict(String message) {
    return new CatalogException(Kind.CONFLICT, message);
  }

  /** A CONFLICT with a specific {@code code}. */
  static CatalogException conflict(String code, String message) {
    return new CatalogException(Kind.CONFLICT, code, message, null);
  }
}
