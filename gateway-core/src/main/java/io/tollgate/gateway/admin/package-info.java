/**
 * The admin port: {@link io.tollgate.gateway.admin.AdminServer} serves DESIGN.md's admin API over
 * the catalog repository.
 *
 * <p>Choices the design left open, fixed here:
 *
 * <ul>
 *   <li>Timeouts are whole milliseconds, {@code "timeouts":{"connectMs","responseMs"}}; the health
 *       check is {@code "healthCheck":{"path"}}.
 *   <li>Unknown request fields are a 400 (a misspelt field must not be silently dropped); the
 *       read-only fields of a GET ({@code id}, {@code object}, {@code createdAt}, ...) are accepted
 *       so a GET body can be edited and PUT back. PUT replaces the whole object.
 *   <li>Statuses are lower case ({@code active}, {@code suspended}, {@code expired}, {@code
 *       cancelled}); billing modes and periods upper case as in DESIGN.md; lists are {@code
 *       {"object":"list","data":[...]}}.
 *   <li>A merchant may read subscriptions of its own SKUs, create test subscriptions on them, and
 *       run lifecycle actions on its test subscriptions only (403 for its buyers'); the operator
 *       creates products by naming {@code merchantId}.
 *   <li>A SKU's name, billing mode, currency, quota and period freeze at its first non-test
 *       subscription (409 naming the field); test subscriptions do not freeze it.
 * </ul>
 */
package io.tollgate.gateway.admin;
