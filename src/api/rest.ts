import type { Context, Hono } from "hono";
import { contract, type Method, type Procedure } from "../../contract/index.ts";
import { bodyInput } from "./body.ts";
import { HttpError } from "./http-error.ts";
import type { ApiContext } from "./services.ts";

/** Longest accepted `Idempotency-Key` header. */
const MAX_IDEMPOTENCY_KEY = 256;

type ProcedureCall = (input: Record<string, unknown>) => Promise<unknown>;
/** The tRPC caller, seen as `group → procedure → call`. */
export type Caller = Record<string, Record<string, ProcedureCall>>;

/** `/kv/{id}/get/{key}` → `/kv/:id/get/:key` */
function honoPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ":$1");
}

export function requestContext(c: Context): ApiContext {
  const key = c.req.header("idempotency-key");
  if (key !== undefined && (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY)) {
    throw new HttpError(400, `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY} characters`);
  }
  return { requestId: key };
}

/**
 * The path parameters, percent-decoded strictly from the raw URL: a malformed escape or invalid
 * UTF-8 is a 400. Hono's own decoding keeps such escapes as literal text, which would make
 * `/counter/%FF` and `/counter/%25FF` the same entity.
 */
function pathInput(c: Context, template: string): Record<string, string> {
  const raw = new URL(c.req.url).pathname.split("/");
  const params: Record<string, string> = {};
  template.split("/").forEach((segment, i) => {
    const name = /^\{(\w+)\}$/.exec(segment)?.[1];
    if (!name) return;
    try {
      params[name] = decodeURIComponent(raw[i] ?? "");
    } catch {
      throw new HttpError(400, `path parameter ${name} is not valid percent-encoded UTF-8`);
    }
  });
  return params;
}

/**
 * Mounts every procedure of the contract at its declared REST route. Path parameters, declared
 * query parameters and the mapped body form the procedure's input; the tRPC caller validates it and
 * runs the procedure, so REST and tRPC share one implementation.
 */
export function mountRest(app: Hono, caller: (ctx: ApiContext) => Caller): void {
  const methodsByPath = new Map<string, Method[]>();
  for (const [group, procedures] of Object.entries(contract)) {
    const entries: [string, Procedure][] = "rpcs" in procedures ? Object.entries(procedures.rpcs) : Object.entries(procedures);
    for (const [name, procedure] of entries) {
      const path = honoPath(procedure.path);
      methodsByPath.set(path, [...(methodsByPath.get(path) ?? []), procedure.method]);
      app.on(procedure.method, path, async (c) => {
        const query = Object.fromEntries(procedure.query.flatMap((q) => (c.req.query(q) === undefined ? [] : [[q, c.req.query(q)]])));
        const body = procedure.method === "GET" ? {} : bodyInput(await c.req.text(), procedure.body);
        const input = { ...body, ...query, ...pathInput(c, procedure.path) };
        const call = caller(requestContext(c))[group]?.[name];
        if (!call) throw new Error(`no procedure ${group}.${name}`);
        return c.json((await call(input)) ?? null);
      });
    }
  }
  // A known path with another method: 405 and the methods it does take.
  for (const [path, methods] of methodsByPath) {
    app.all(path, (c) => {
      throw new HttpError(405, `${c.req.method} is not allowed on ${c.req.path}; use ${methods.join(", ")}`, undefined, {
        Allow: methods.join(", "),
      });
    });
  }
}
