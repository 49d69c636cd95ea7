import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import type { ApiEnv } from "./request-body.ts";

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * The admin token check: `Authorization: Bearer <token>`, compared as SHA-256 digests in constant
 * time, so neither the token's bytes nor its length leak by timing. Refusals are 401 JSON.
 */
export function adminGuard(token: string) {
  const expected = digest(token);
  const allowed = (c: Context<ApiEnv>) => {
    const given = /^Bearer (.+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
    return given !== undefined && timingSafeEqual(digest(given), expected);
  };
  const refuse = (c: Context<ApiEnv>) =>
    c.json({ error: "the operator API needs Authorization: Bearer <ADMIN_TOKEN>" }, 401, { "WWW-Authenticate": "Bearer" });
  /** For /admin/*. */
  const rest: MiddlewareHandler<ApiEnv> = async (c, next) => (allowed(c) ? next() : refuse(c));
  /** For /trpc/*: only calls naming an admin procedure (`/trpc/admin.runners`, or in a batch) need the token. */
  const trpc: MiddlewareHandler<ApiEnv> = async (c, next) => {
    const names = decodeURIComponent(c.req.path.slice("/trpc/".length)).split(",");
    return names.some((n) => n.startsWith("admin.")) && !allowed(c) ? refuse(c) : next();
  };
  return { rest, trpc };
}
