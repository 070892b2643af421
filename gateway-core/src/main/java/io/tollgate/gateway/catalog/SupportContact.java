package io.tollgate.gateway.catalog;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * How buyers reach a merchant's support, shown with every subscription to its products. Either part
 * may be missing on a merchant, but a product is submitted for review only when both are set (see
 * {@link ListingRules#requireComplete}). Values are stripped of surrounding blanks.
 *
 * <ul>
 *   <li>{@code phone}: an optional leading {@code +}, then digits, spaces, dashes and parentheses;
 *       {@value #PHONE_MIN} to {@value #PHONE_MAX} characters with at least {@value #PHONE_MIN}
 *       digits.
 *   <li>{@code email}: {@code local@domain.tld}, at most {@value #EMAIL_MAX} characters: the
 *       common shape, not every address RFC 5322 allows (no quoted local parts, no IP literals).
 * </ul>
 *
 * @throws IllegalArgumentException naming {@code supportPhone} or {@code supportEmail}, the fields
 *     of the admin API, when a value is malformed
 */
public record SupportContact(String phone, String email) {

  public static final SupportContact NONE = new SupportContact(null, null);

  static final int PHONE_MIN = 5;
  static final int PHONE_MAX = 32;
  static final int EMAIL_MAX = 254;

  private static final Pattern PHONE = Pattern.compile("\\+?[0-9 ()\\-]+");
  private static final Pattern EMAIL = Pattern.compile(
      "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
          + "@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}");

  public SupportContact {
    phone = phone == null ? null : phone.strip();
    email = email == null ? null : email.strip();
    if (phone != null && !validPhone(phone)) {
      throw new IllegalArgumentException("supportPhone must be a phone number: an optional leading +, then digits,"
          + " spaces, dashes or parentheses, " + PHONE_MIN + " to " + PHONE_MAX + " characters with at least "
          + PHONE_MIN + " digits");
    }
    if (email != null && (email.length() > EMAIL_MAX || email.indexOf('@') > 64 || !EMAIL.matcher(email).matches())) {
      throw new IllegalArgumentException("supportEmail must be an email address such as support@example.com, at most "
          + EMAIL_MAX + " characters");
    }
  }

  private static boolean validPhone(String phone) {
    if (phone.length() < PHONE_MIN || phone.length() > PHONE_MAX || !PHONE.matcher(phone).matches()) {
      return false;
    }
    return phone.chars().filter(ch -> ch >= '0' && ch <= '9').count() >= PHONE_MIN;
  }

  /** This contact with the given parts replaced; a null argument keeps the part. */
  public SupportContact with(String newPhone, String newEmail) {
    return new SupportContact(newPhone == null ? phone : newPhone, newEmail == null ? email : newEmail);
  }

  /** The admin API's names of the parts not set: {@code supportPhone}, {@code supportEmail}. */
  public List<String> missing() {
    var out = new ArrayList<String>(2);
    if (phone == null) {
      out.add("supportPhone");
    }
    if (email == null) {
      out.add("supportEmail");
    }
    return out;
  }
}
