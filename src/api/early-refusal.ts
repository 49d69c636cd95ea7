import type { IncomingMessage, ServerResponse } from "node:http";
import { type AnyContract, procedureList, contract as runnerContract } from "../../contract/index.ts";
import { toHttpError } from "./http-error.ts";
import type { ApiServices } from "./services.ts";

/** Answers a request before the app sees it; true when it did. */
export type EarlyRefusal = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * Refuses an entity call at the door while the runner's entry bound (`MAX_INFLIGHT`) is reached:
 * 503 overloaded with `Retry-After`, as the app itself would, but before any of the request is
 * routed, read or validated. Under overload most arrivals are refused, so what a refusal costs is
 * what decides whether the admitted calls keep their throughput: through the app (a Fetch
 * request, middleware, routing, body, schema) it cost a fair part of what serving the call does.
 * Operational routes (health, metrics, admin, docs) are never refused here.
 */
export function earlyRefusal(services: ApiServices, contract: AnyContract = runnerContract): EarlyRefusal | undefined {
  const refusalNow = services.refusalNow;
  if (!refusalNow) return undefined;
  const entityProcedures = procedureList(contract).filter((p) => p.entity !== undefined);
  /** First path segments of entity routes (`/counter/{id}/…` → `counter`), and tRPC groups of entities. */
  const segments = new Set(entityProcedures.map((p) => p.procedure.path.split("/")[1] as string));
  const groups = new Set(entityProcedures.map((p) => p.group));
  return (req, res) => {
    const url = req.url ?? "/";
    const end = nextDelimiter(url, 1);
    const first = url.slice(1, end);
    const entityCall = first === "trpc" ? groups.has(url.slice(end + 1, nextDelimiter(url, end + 1, "."))) : segments.has(first);
    if (!entityCall) return false;
    const refusal = refusalNow();
    if (!refusal) return false;
    const started = performance.now();
    const http = toHttpError(refusal);
    const body = JSON.stringify(http.body());
    res.writeHead(http.status, { ...http.headers, "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
    services.observeRequest(req.method ?? "other", "refused", http.status, (performance.now() - started) / 1000);
    return true;
  };
}

/** Where the path segment starting at `from` ends: at `/`, `?`, `extra` or the end. */
function nextDelimiter(url: string, from: number, extra = "/"): number {
  for (let i = from; i < url.length; i++) {
    const c = url[i];
    if (c === "/" || c === "?" || c === extra) return i;
  }
  return url.length;
}
