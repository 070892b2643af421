package io.tollgate.gateway.admin;

import io.tollgate.gateway.api.ApiError;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tollgate.gateway.admin.AdminHttp.Request;
import io.tollgate.gateway.catalog.Page;
import io.tollgate.gateway.catalog.PageQuery;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * The list endpoints' common parts: {@code ?after=<id>&limit=<1..100>} (default {@value
 * PageQuery#DEFAULT_LIMIT}) next to each list's own filters, and the OpenAI list shape {@code
 * {"object":"list","data":[...],"has_more","first_id","last_id"}}. An unknown or empty parameter,
 * or a limit out of range, is 400 naming it: a typo in a filter must not read as "everything".
 */
final class Lists {

  private Lists() {}

  /**
   * The page {@code r} asks for, after checking that it names only {@code filters}, {@code after}
   * and {@code limit}.
   */
  static PageQuery pageOf(Request r, Set<String> filters) {
    for (var e : r.query().entrySet()) {
      String name = e.getKey();
      if (!filters.contains(name) && !name.equals("after") && !name.equals("limit")) {
        var known = new TreeSet<>(filters);
        known.add("after");
        known.add("limit");
        throw ApiError.invalid(name + " is not a parameter of this list; use one of " + String.join(", ", known));
      }
      if (e.getValue().isEmpty()) {
        throw ApiError.invalid(name + " must not be empty");
      }
    }
    int limit = limit(r, PageQuery.DEFAULT_LIMIT, PageQuery.MAX_LIMIT);
    return new PageQuery(r.query().get("after"), limit);
  }

  /** {@code ?limit=}: {@code dflt} when absent; 400 naming it unless an integer from 1 to {@code max}. */
  static int limit(Request r, int dflt, int max) {
    String l = r.query().get("limit");
    if (l == null) {
      return dflt;
    }
    int limit;
    try {
      limit = Integer.parseInt(l);
    } catch (NumberFormatException e) {
      limit = -1;
    }
    if (limit < 1 || limit > max) {
      throw ApiError.invalid("limit must be an integer from 1 to " + max + ": " + l);
    }
    return limit;
  }

  /** A page in the OpenAI list shape; {@code first_id} and {@code last_id} are null when it is empty. */
  static <T> ObjectNode render(Page<T> page, Function<T, ObjectNode> render, Function<T, String> id) {
    ObjectNode o = JsonInput.JSON.createObjectNode();
    o.put("object", "list");
    var data = o.putArray("data");
    page.items().forEach(item -> data.add(render.apply(item)));
    o.put("has_more", page.hasMore());
    o.put("first_id", page.items().isEmpty() ? null : id.apply(page.items().get(0)));
    o.put("last_id", page.items().isEmpty() ? null : id.apply(page.items().get(page.items().size() - 1)));
    return o;
  }
}
