// The admin API with the signed-in caller's token. The token lives in sessionStorage only: never
// in a URL, a cookie or localStorage, and it is gone when the tab closes.
const KEY = 'tollgate.token';

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(t) {
  sessionStorage.setItem(KEY, t);
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
}

/** An error answer of the admin API: status, code and message from {"error":{...}}. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = () => {};

/** What to do when a signed-in token stops working (revoked, rotated). */
export function whenUnauthorized(f) {
  onUnauthorized = f;
}

/** Calls the admin API; resolves to the parsed JSON answer, rejects with an ApiError. */
export async function api(method, path, body, tok = token()) {
  // Signed out while a view was still loading: nothing to ask, and no unauthenticated request.
  if (!tok) throw new ApiError(401, 'signed_out', 'You are signed out.');
  const headers = { accept: 'application/json', authorization: 'Bearer ' + tok };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let r;
  try {
    r = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'tollgate cannot be reached: ' + e.message);
  }
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (e) {
    json = null;
  }
  if (!r.ok) {
    const err = json && json.error ? json.error : {};
    const e = new ApiError(r.status, err.code || String(r.status),
      err.message || r.status + ' ' + r.statusText);
    if (r.status === 401 && tok === token()) onUnauthorized(e);
    throw e;
  }
  return json;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body === undefined ? {} : body);

/** Every page of a list endpoint ({"object":"list","data","has_more","last_id"}), up to max items. */
export async function all(path, max = 10000) {
  const out = [];
  let after = null;
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await get(path + sep + 'limit=100' + (after ? '&after=' + encodeURIComponent(after) : ''));
    out.push(...page.data);
    if (!page.has_more || out.length >= max || !page.last_id) return out;
    after = page.last_id;
  }
}

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? '?' + s : '';
}
