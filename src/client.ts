/**
 * A typed client for the runner's API, derived from the contract: every procedure of the contract
 * is a method here, with the contract's input and output types. It speaks either the REST routes
 * (what the bash suite uses) or `/trpc`.
 */
import {
  type AnyContract,
  type Contract,
  type EntityContract,
  type InputOf,
  type OutputOf,
  type Procedure,
  pathParams,
  procedureList,
  contract as runnerContract,
} from "../contract/index.ts";

/** Per-request options of the HTTP client. */
export interface RequestOptions {
  /** Sent as `Idempotency-Key`: a retried call with the same key applies once. */
  readonly idempotencyKey?: string;
  /** Sent as the W3C `traceparent`: the call joins that trace (its log lines carry its trace id). */
  readonly traceparent?: string;
  /**
   * Sent as `Request-Timeout`: how long the cluster works on the call (entity-to-entity calls it
   * makes included) before answering 504 TIMEOUT. The cluster's default (30 s) when absent.
   */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Bearer token for this call (the client's adminToken, for the operator API). */
  readonly token?: string | undefined;
}

type Method<P> = (input: InputOf<P>, options?: RequestOptions) => Promise<OutputOf<P>>;
/** The RPCs of an entity group that have a route (internal ones are for runners only). */
type Routed<R> = { [K in keyof R]: R[K] extends Procedure ? K : never }[keyof R];
type Group<G> = G extends EntityContract
  ? { readonly [K in Routed<G["rpcs"]>]: Method<G["rpcs"][K]> }
  : { readonly [K in keyof G]: Method<G[K]> };

/** A method per routed procedure of contract `C`, grouped as the contract groups them. */
export type Client<C extends AnyContract = Contract> = { readonly [G in keyof C]: Group<C[G]> };

export type Transport = "rest" | "trpc";

/** A non-2xx answer (or a 202, which has no result yet): the HTTP status and the JSON body. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

export interface ClientOptions<C extends AnyContract> {
  readonly transport?: Transport;
  readonly fetch?: typeof fetch;
  /** The contract the server serves (the runner's by default). */
  readonly contract?: C;
  /** Sent as `Authorization: Bearer …` on the operator API's calls (the runner's ADMIN_TOKEN). */
  readonly adminToken?: string;
}

export function createClient<C extends AnyContract = Contract>(baseUrl: string, options: ClientOptions<C> = {}): Client<C> {
  const base = baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;
  // Pages and assets are REST only, whichever transport the client speaks.
  const sendVia = options.transport === "trpc" ? trpcCall : restCall;
  const send: typeof restCall = (f, b, n, p, i, o) => (p.content === "json" ? sendVia : restCall)(f, b, n, p, i, o);
  const client: Record<string, Record<string, Method<Procedure>>> = {};
  for (const { group, name, procedure } of procedureList(options.contract ?? runnerContract)) {
    client[group] ??= {};
    const token = group === "admin" ? options.adminToken : undefined;
    client[group][name] = (input: unknown, callOptions: RequestOptions = {}) =>
      send(doFetch, base, `${group}.${name}`, procedure, (input ?? {}) as Record<string, unknown>, { token, ...callOptions });
  }
  return client as unknown as Client<C>;
}

function headers(options: RequestOptions, json: boolean): Record<string, string> {
  const h: Record<string, string> = json ? { "content-type": "application/json" } : {};
  if (options.idempotencyKey) h["idempotency-key"] = options.idempotencyKey;
  if (options.token) h.authorization = `Bearer ${options.token}`;
  if (options.traceparent) h.traceparent = options.traceparent;
  if (options.timeoutMs !== undefined) h["request-timeout"] = String(options.timeoutMs);
  return h;
}

async function restCall(
  doFetch: typeof fetch,
  base: string,
  _name: string,
  procedure: Procedure,
  input: Record<string, unknown>,
  options: RequestOptions,
): Promise<never> {
  const inPath = pathParams(procedure.path);
  const path = procedure.path.replace(/\{(\w+)\}/g, (_, p: string) => encodeURIComponent(String(input[p])));
  const query = new URLSearchParams(procedure.query.flatMap((q) => (input[q] === undefined ? [] : [[q, String(input[q])]])));
  let body: string | undefined;
  const mapping = procedure.body;
  if (mapping === "object") {
    body = JSON.stringify(Object.fromEntries(Object.entries(input).filter(([k]) => !inPath.includes(k) && !procedure.query.includes(k))));
  } else if (mapping !== "none") {
    body = JSON.stringify(input[mapping.field]);
  }
  const url = `${base}${path}${query.size > 0 ? `?${query}` : ""}`;
  const response = await doFetch(url, {
    method: procedure.method,
    headers: headers(options, body !== undefined),
    body,
    signal: options.signal,
  });
  const text = await response.text();
  // Pages answer their HTML; assets their content type and text (see ResponseContent).
  if (response.ok && procedure.content === "html") return text as never;
  if (response.ok && procedure.content === "raw") return { content_type: response.headers.get("content-type") ?? "", body: text } as never;
  const parsed: unknown = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, (parsed as { error?: string } | null)?.error ?? response.statusText, parsed);
  // 202: a workflow suspended on a durable wait; it has no result yet (and goes on by itself).
  if (response.status === 202) throw new ApiError(202, (parsed as { accepted?: string } | null)?.accepted ?? "accepted", parsed);
  return parsed as never;
}

async function trpcCall(
  doFetch: typeof fetch,
  base: string,
  name: string,
  procedure: Procedure,
  input: Record<string, unknown>,
  options: RequestOptions,
): Promise<never> {
  const encoded = JSON.stringify(input);
  const response =
    procedure.kind === "query"
      ? await doFetch(`${base}/trpc/${name}?input=${encodeURIComponent(encoded)}`, {
          headers: headers(options, false),
          signal: options.signal,
        })
      : await doFetch(`${base}/trpc/${name}`, { method: "POST", headers: headers(options, true), body: encoded, signal: options.signal });
  const parsed = (await response.json()) as { result?: { data: unknown }; error?: { message: string } };
  if (!response.ok || parsed.error) throw new ApiError(response.status, parsed.error?.message ?? response.statusText, parsed);
  return (parsed.result?.data ?? null) as never;
}
