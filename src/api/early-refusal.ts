import type { IncomingMessage, ServerResponse } from "node:http";
import { type AnyContract, procedureList, contract as runnerContract } from "../../contract/index.ts";
import { formatTraceparent, parseTraceparent, startSpan } from "../cluster/index.ts";
import { methodLabel } from "./app.ts";
import { toHttpError } from "./http-error.ts";
import type { ApiServices } from "./services.ts";

/** Answers a request before the app sees it; true when it did. */
export type EarlyRefusal = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * Refuses a REST entity call at the door while the runner's entry bound (`MAX_INFLIGHT`) is
 * reached: 503 overloaded with `Retry-After` and `traceresponse`, as the app itself would answer,
 * but before any of the request is routed, read or validated. Under overload most arrivals are
 * refused, so what a refusal costs decides whether the admitted calls keep their throughput:
 * through the app (a Fetch request, middleware, routing, body, schema) it cost a fair part of what
 * serving the call does. Operational routes (health, metrics, admin, docs) are never refused here,
 * nor `/trpc` (its clients expect tRPC's own error shape: the app's admission refuses those), nor
 * a method no entity route takes.
 *
 * A request whose body it does not read (Node drains it to keep the connection) gets
 * `Connection: close` when the body may be large: more than `maxBodyBytes`, or chunked.
 */
export function earlyRefusal(
  services: ApiServices,
  maxBodyBytes: number,
  contract: AnyContract = runnerContract,
): EarlyRefusal | undefined {
  const refusalNow = services.refusalNow;
  if (!refusalNow) return undefined;
  /** The methods of entity routes by their first path segment (`/counter/{id}/…` → `counter`). */
  const methods = new Map<string, Set<string>>();
  for (const { entity, procedure } of procedureList(contract)) {
    if (entity === undefined) continue;
    const segment = procedure.path.split("/")[1] as string;
    methods.set(segment, (methods.get(segment) ?? new Set()).add(procedure.method));
  }
  return (req, res) => {
    const url = req.url ?? "/";
    // A method no entity route takes is bad input, not a call: the app answers it 4xx, overload or not.
    if (!methods.get(url.slice(1, segmentEnd(url)))?.has(req.method ?? "")) return false;
    const refusal = refusalNow();
    if (!refusal) return false;
    const started = performance.now();
    const http = toHttpError(refusal);
    const body = JSON.stringify(http.body());
    const declared = req.headers["content-length"];
    const unbounded = req.headers["transfer-encoding"] !== undefined || (declared !== undefined && !(Number(declared) <= maxBodyBytes));
    const traceparent = req.headers.traceparent;
    const trace = startSpan(parseTraceparent(typeof traceparent === "string" ? traceparent : undefined));
    res.writeHead(http.status, {
      ...http.headers,
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      traceresponse: formatTraceparent(trace),
      ...(unbounded ? { connection: "close" } : {}),
    });
    res.end(body);
    services.observeRequest(methodLabel(req.method), "refused", http.status, (performance.now() - started) / 1000);
    return true;
  };
}

/** Where the first path segment of `url` ends: at `/`, `?` or the end. */
function segmentEnd(url: string): number {
  for (let i = 1; i < url.length; i++) {
    const c = url[i];
    if (c === "/" || c === "?") return i;
  }
  return url.length;
}
