// Talking to the runner that served the page: same origin, the admin token (when one is needed)
// in an Authorization header, kept in sessionStorage so it ends with the tab.
const TOKEN_KEY = "entity-cluster.admin-token";

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(token = storedToken()) {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function send(method, path, token) {
  const res = await fetch(path, { method, headers: headers(token), cache: "no-store" });
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!res.ok) throw new HttpError(res.status, body?.error ?? `${method} ${path}: HTTP ${res.status}`);
  return body;
}

export const get = (path) => send("GET", path);
export const post = (path) => send("POST", path);

/**
 * Whether the runner wants a token and whether `token` is the one. It answers 200 either way, so a
 * wrong token never costs a refused request (which the browser would log as an error).
 */
export async function session(token = storedToken()) {
  const res = await fetch("/dashboard/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(token ? { token } : {}),
    cache: "no-store",
  });
  if (!res.ok) throw new HttpError(res.status, `POST /dashboard/session: HTTP ${res.status}`);
  return res.json();
}

/** `/a/{b}` with each parameter percent-encoded. */
export function path(template, params) {
  return template.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(params[name]));
}
