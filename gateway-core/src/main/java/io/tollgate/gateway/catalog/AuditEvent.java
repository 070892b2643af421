package io.tollgate.gateway.catalog;

import java.time.Instant;

/**
 * One admin write: who made it ({@code operator}, {@code merchant:<id>}), the action (method and
 * route, e.g. {@code POST /admin/v1/products/:id/submit}), the object it wrote, the merchant that
 * owns that object (null for the operator's own objects), and what changed as JSON text with every
 * secret masked.
 */
public record AuditEvent(String id, Instant createdAt, String actor, String action, String objectId,
    String merchantId, String changes) {}
