package io.tollgate.gateway.admin;

import io.tollgate.gateway.api.ApiError;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tollgate.billing.RecordJson;
import io.tollgate.billing.RecordKind;
import io.tollgate.billing.RecordLedger;
import io.tollgate.billing.RecordPage;
import io.tollgate.billing.RecordQuery;
import io.tollgate.billing.UnknownRecordException;
import io.tollgate.billing.UsageRecord;
import io.tollgate.gateway.admin.AdminHttp.Reply;
import io.tollgate.gateway.admin.AdminHttp.Request;
import io.vertx.ext.web.RoutingContext;
import java.time.Instant;
import java.util.List;

/** {@code GET /billing/v1/records}: the billing pull API over the record ledger. */
final class RecordRoutes {

  private final RecordLedger records;

  RecordRoutes(RecordLedger records) {
    this.records = records;
  }

  void mount(AdminHttp http) {
    http.guard("/billing/v1/*");
    http.router().get(RECORDS_PATH).handler(ctx -> {
      String repeated = firstRepeated(ctx);
      if (repeated != null) {
        AdminHttp.sendError(ctx, ApiError.invalid(repeated + " is given more than once"));
      } else {
        http.execute(ctx, this::records);
      }
    });
  }

  private static final String RECORDS_PATH = "/billing/v1/records";
  private static final List<String> RECORD_PARAMS =
      List.of("after", "limit", "merchantId", "subscriptionId", "productId", "from", "to", "kind");

  /**
   * {@code GET /billing/v1/records?after=&limit=&merchantId=&subscriptionId=&productId=&from=&to=&kind=}:
   * one page of the ledger in export order, in the OpenAI list shape. The ledger numbers records
   * in commit order, so a billing job that pages with {@code after=<last_id>} never misses a
   * record committed while it reads.
   *
   * <p>A merchant reads its own records only: its scope is part of the query, so another
   * merchant's {@code after} id is unknown (400, as for an id that does not exist), and a {@code
   * merchantId} naming any other merchant is 403, whether that merchant exists or not. Filters by
   * another merchant's subscription or product find nothing. Unknown, empty or repeated
   * parameters are 400 naming the parameter: a typo in a filter must not read as "every record".
   */
  private Reply records(Request r) {
    for (String name : r.query().keySet()) {
      if (!RECORD_PARAMS.contains(name)) {
        throw ApiError.invalid(name + " is not a parameter of " + RECORDS_PATH + "; use one of "
            + String.join(", ", RECORD_PARAMS));
      }
      if (r.query().get(name).isEmpty()) {
        throw ApiError.invalid(name + " must not be empty");
      }
    }
    String merchantId = r.query().get("merchantId");
    if (!r.caller().isOperator()) {
      if (merchantId != null && !merchantId.equals(r.caller().merchantId())) {
        throw ApiError.forbidden("merchantId must be your own merchant id, or omitted: a merchant reads its own"
            + " records only");
      }
      merchantId = r.caller().merchantId();
    }
    int limit = Lists.limit(r, RecordQuery.DEFAULT_LIMIT, RecordQuery.MAX_LIMIT);
    Instant from = r.instant("from", null);
    Instant to = r.instant("to", null);
    if (from != null && to != null && !from.isBefore(to)) {
      throw ApiError.invalid("from must be before to (both compare the window start; from is inclusive, to"
          + " exclusive)");
    }
    RecordKind kind = null;
    String k = r.query().get("kind");
    if (k != null) {
      kind = RecordKind.parse(k);
      if (kind == null) {
        throw ApiError.invalid("kind must be usage, adjustment or purchase: " + k);
      }
    }
    String after = r.query().get("after");
    var query = new RecordQuery(merchantId, r.query().get("subscriptionId"), r.query().get("productId"), from, to, kind,
        after, limit);
    RecordPage page;
    try {
      page = records.page(query);
    } catch (UnknownRecordException e) {
      throw ApiError.invalid("after names no record you can read: " + after);
    }
    ObjectNode o = JsonInput.JSON.createObjectNode();
    o.put("object", "list");
    var data = o.putArray("data");
    for (UsageRecord rec : page.records()) {
      data.add(RecordJson.record(rec));
    }
    o.put("has_more", page.hasMore());
    o.put("first_id", page.firstId());
    o.put("last_id", page.lastId());
    return Reply.ok(o);
  }

  /** The first query parameter given more than once; null if none is. */
  private static String firstRepeated(RoutingContext ctx) {
    for (String name : ctx.queryParams().names()) {
      if (ctx.queryParams().getAll(name).size() > 1) {
        return name;
      }
    }
    return null;
  }
}
