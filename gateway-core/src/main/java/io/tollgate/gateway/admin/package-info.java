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
 *   <li>A SKU's name, billing mode, currency, quota and period freeze at its product's first
 *       listing, or its first non-test subscription if that came first (409 naming the field);
 *       test subscriptions do not freeze it.
 *   <li>The listing review's actions are {@code POST /admin/v1/products/{id}/<action>}; the
 *       operator may submit for a merchant. {@code reject} and {@code delist} take {@code
 *       {"reason"}}, shown as the product's {@code reviewNote} until it is approved again.
 *   <li>A product name keeps passing a PUT that does not change it, even if it contains a word
 *       reserved after it was stored; a new or changed name is checked.
 *   <li>A merchant's support contact cannot be removed once set, only replaced ({@code null} in a
 *       PATCH is a 400), so a listed product never loses it.
 * </ul>
 */
package io.tollgate.gateway.admin;
