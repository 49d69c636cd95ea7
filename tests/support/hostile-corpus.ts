import { MAX_ID_LENGTH, MAX_NAME_LENGTH, type Method, type Procedure, pathParams, procedureList } from "../../contract/index.ts";
import type { RawRequest } from "./raw-http.ts";

/**
 * A request a hostile or broken client might send, and what the API must do with it:
 * - `reject`: answer 4xx, change nothing;
 * - `read`: a valid read whose input only looks hostile (SQL-ish ids, `%2F`, emoji): 200 and `body`.
 */
export interface HostileCase {
  readonly name: string;
  readonly request: RawRequest;
  readonly expect: { readonly kind: "reject" } | { readonly kind: "read"; readonly body: unknown };
}

/** The entities whose state must not change, whatever the corpus sends at them. */
export interface Targets {
  readonly counter: string;
  readonly kv: string;
  readonly kvKey: string;
  readonly cross: string;
  /** Id for the entity groups that have no seeded state. */
  readonly other: string;
  /** A suffix making the hostile-but-valid ids of this run fresh. */
  readonly suffix: string;
  /**
   * The runners' ADMIN_TOKEN: sent with every /admin case, so that they reach the route's own
   * checks rather than stopping at the 401 (the admin tests check the 401s).
   */
  readonly adminToken?: string | undefined;
}

const JSON_TYPE: [string, string] = ["Content-Type", "application/json"];
const enc = encodeURIComponent;

/** A valid body for each mutation, so that a case with one bad part fails on that part alone. */
const VALID_BODY: Record<string, string> = {
  "counter.increment": "1",
  "counter.decrement": "1",
  "kv.set": '{"key":"fuzz","value":1}',
  "workflow.runSimple": '{"exec_id":"e"}',
  "workflow.runFailing": '{"exec_id":"e","fail_at":1}',
  "workflow.runLong": '{"exec_id":"e","steps":1}',
  "activity.run": '{"exec_id":"e"}',
  "trait.update": '{"data":"d"}',
  "timer.schedule": '{"timer_id":"t","delay_ms":1}',
  "timer.cancel": '{"timer_id":"t"}',
  "cross.send": '{"target_type":"CrossEntity","target_id":"x","message":"m"}',
  "cross.receive": '{"from":"x","message":"m"}',
  "cross.pingPong": '{"partner_id":"x","count":1}',
  "sqlActivity.transfer": '{"to_entity":"b","amount":1}',
  "sqlActivity.failingTransfer": '{"to_entity":"b","amount":1}',
  "activityGroup.processOrder": '{"item_count":1,"amount":1}',
  "statelessCounter.increment": "1",
  "statelessCounter.decrement": "1",
  "approval.start": '{"exec_id":"e","delay_ms":1,"timeout_ms":1,"fail_times":0}',
  "approval.signal": '{"exec_id":"e","approve":true}',
  "system.signal": '{"payload":{"approve":true}}',
};

interface Route {
  readonly name: string;
  readonly group: string;
  readonly procedure: Procedure;
}

function routes(): Route[] {
  return procedureList().map(({ group, name, procedure }) => ({ name: `${group}.${name}`, group, procedure }));
}

/**
 * Path segments that are not a valid encoding of any id or name. (`%2E` and `%2E%2E` are not among
 * them: URL parsing resolves them as dot segments, which turns the request into another, valid one.)
 */
function badSegments(maxLength: number): (string | Buffer)[] {
  return [
    "%00",
    "a%00b",
    "%FF",
    "a%FEb",
    "%C0%AF", // overlong "/"
    "%ED%A0%80", // a UTF-16 surrogate, encoded as if it were a character
    "%E2%82", // truncated sequence
    "%",
    "%zz",
    "a%2",
    "x".repeat(maxLength + 1),
    Buffer.from([0x61, 0xff, 0x62]), // raw invalid UTF-8, not even percent-encoded
  ];
}

/** Ids that look like attacks but are valid: they must be treated as plain strings. */
const HOSTILE_IDS = [
  "'; DROP TABLE entity_state; --",
  "1 OR 1=1",
  '" OR ""="',
  "a/b",
  "../../etc/passwd",
  "%FF",
  "<script>alert(1)</script>",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4j-style lookup, literally
  "${jndi:ldap://127.0.0.1/x}",
  "ünïcødé-日本-🙂",
  "\u202etxt.exe",
  " ",
  "__proto__",
  "constructor",
];

/** Bodies no route accepts, whatever it expects. */
const BAD_BODIES: (string | Buffer)[] = [
  "{",
  "[1,",
  "tru",
  "'x'",
  "NaN",
  "undefined",
  "[]",
  "[5]",
  '"5"',
  "true",
  "5.5",
  "9007199254740993",
  "-9007199254740993",
  "1e309",
  "123456789012345678901234567890",
  `${"[".repeat(100_000)}${"]".repeat(100_000)}`,
  `${'{"a":'.repeat(5_000)}1${"}".repeat(5_000)}`,
  Buffer.from([0x35, 0xff]),
  "amount=5",
  "<a/>",
];

/** Object bodies that are wrong for the route's fields (missing, mistyped, NUL, lone surrogates, …). */
const BAD_OBJECT_BODIES = [
  "{}",
  '{"__proto__":{"key":"k","value":1}}',
  '{"key":5,"value":1}',
  '{"key":"","value":1}',
  '{"key":["a"],"value":1}',
  '{"key":"a\\u0000b","value":1}',
  '{"key":"\\ud800","value":1}',
  `{"key":"${"k".repeat(MAX_NAME_LENGTH + 1)}","value":1}`,
  '{"key":"k","value":9007199254740993}',
  '{"exec_id":"\\u0000"}',
  '{"timer_id":"t","delay_ms":-1}',
  '{"timer_id":"t","delay_ms":1e20}',
  '{"partner_id":"x","count":100000}',
  '{"target_type":"Counter","target_id":"x","message":"m"}',
  '{"data":5}',
  '{"from":{},"message":[]}',
  '{"to_entity":"b","amount":1.5}',
  '{"to_entity":"b","amount":0}',
  '{"to_entity":"b","amount":-1}',
  '{"to_entity":"b","amount":9007199254740993}',
  '{"to_entity":"b","amount":"1"}',
  '{"to_entity":"","amount":1}',
  '{"to_entity":"a\\u0000b","amount":1}',
  '{"to_entity":"\\ud800","amount":1}',
  `{"to_entity":"${"x".repeat(MAX_ID_LENGTH + 1)}","amount":1}`,
  '{"to_entity":"b"}',
  '{"amount":1}',
  '{"item_count":0,"amount":1}',
  '{"item_count":1,"amount":-1}',
  '{"item_count":1.5,"amount":1}',
];

/** The route's path with its parameters filled in: the targets' ids, or `override` (raw bytes as given). */
function fill(route: Route, targets: Targets, override: Record<string, string | Buffer> = {}): Buffer {
  const { procedure, group } = route;
  const id = group === "counter" ? targets.counter : group === "kv" ? targets.kv : group === "cross" ? targets.cross : targets.other;
  const values: Record<string, string> = { id: enc(id), key: enc(targets.kvKey), exec_id: "e" };
  const pieces = procedure.path.split(/(\{\w+\})/).map((part) => {
    const param = /^\{(\w+)\}$/.exec(part)?.[1];
    const value = param ? (override[param] ?? values[param] ?? "x") : part;
    return typeof value === "string" ? Buffer.from(value, "latin1") : value;
  });
  return Buffer.concat(pieces);
}

/** Whether the route would accept `body` (the generic bad bodies are not bad for every route). */
function acceptedBy(route: Route, body: string | Buffer): boolean {
  let value: unknown;
  try {
    value = JSON.parse(typeof body === "string" ? body : new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    return false;
  }
  const mapping = route.procedure.body;
  const isObject = typeof value === "object" && value !== null && !Array.isArray(value);
  if (mapping === "none") return value === null || (isObject && Object.keys(value as object).length === 0);
  if (mapping === "object" && !isObject) return false;
  const params = Object.fromEntries(pathParams(route.procedure.path).map((p) => [p, "x"]));
  const input = mapping === "object" ? (value as object) : { [mapping.field]: value };
  return route.procedure.input.safeParse({ ...input, ...params }).success;
}

function bodyFor(route: Route): string | undefined {
  if (route.procedure.method === "GET") return undefined;
  return VALID_BODY[route.name] ?? "";
}

/** The whole corpus: several hundred requests over every route of the contract, plus the tRPC endpoint. */
export function hostileCorpus(targets: Targets): HostileCase[] {
  const cases: HostileCase[] = [];
  const reject = (name: string, request: RawRequest) => cases.push({ name, request, expect: { kind: "reject" } });
  const all = routes();

  // Wrong methods on every path.
  const methods = new Map<string, { route: Route; allowed: Method[] }>();
  for (const route of all) {
    const entry = methods.get(route.procedure.path) ?? { route, allowed: [] };
    entry.allowed.push(route.procedure.method);
    methods.set(route.procedure.path, entry);
  }
  for (const { route, allowed } of methods.values()) {
    for (const method of ["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "TRACE", "BREW"]) {
      if (!(allowed as string[]).includes(method)) reject(`${method} ${route.procedure.path}`, { method, target: fill(route, targets) });
    }
  }

  for (const route of all) {
    const { procedure } = route;
    const body = bodyFor(route);
    const headers = body === undefined ? [] : [JSON_TYPE];
    // Hostile path parameters, each with an otherwise valid request.
    for (const param of pathParams(procedure.path)) {
      for (const segment of badSegments(param === "id" ? MAX_ID_LENGTH : MAX_NAME_LENGTH)) {
        const shown = typeof segment === "string" ? segment.slice(0, 20) : `bytes ${segment.toString("hex")}`;
        reject(`${route.name} with ${param}=${shown}`, {
          method: procedure.method,
          target: fill(route, targets, { [param]: segment }),
          headers,
          body,
        });
      }
    }
    if (body === undefined) continue;
    // Bodies that are wrong for this route.
    const badBodies = procedure.body === "object" ? [...BAD_BODIES, ...BAD_OBJECT_BODIES] : BAD_BODIES;
    for (const bad of badBodies.filter((b) => !acceptedBy(route, b))) {
      const shown = typeof bad === "string" ? bad.slice(0, 24) : `bytes ${bad.toString("hex")}`;
      reject(`${route.name} with body ${shown}`, { method: procedure.method, target: fill(route, targets), headers, body: bad });
    }
    for (const [type, bad] of [
      ["application/x-www-form-urlencoded", "amount=5&key=k"],
      ["multipart/form-data; boundary=x", '--x\r\nContent-Disposition: form-data; name="amount"\r\n\r\n5\r\n--x--'],
      ["text/xml", "<amount>5</amount>"],
    ] as const) {
      reject(`${route.name} as ${type}`, {
        method: procedure.method,
        target: fill(route, targets),
        headers: [["Content-Type", type]],
        body: bad,
      });
    }
    reject(`${route.name} with an empty Idempotency-Key`, {
      method: procedure.method,
      target: fill(route, targets),
      headers: [...headers, ["Idempotency-Key", ""]],
      body,
    });
    reject(`${route.name} with an oversized Idempotency-Key`, {
      method: procedure.method,
      target: fill(route, targets),
      headers: [...headers, ["Idempotency-Key", "k".repeat(257)]],
      body,
    });
  }

  // Bodies beyond MAX_BODY_BYTES (default 8 MiB), malformed chunking, oversized headers.
  const counterIncrement = `/counter/${enc(targets.counter)}/increment`;
  const kvSet = `/kv/${enc(targets.kv)}/set`;
  for (const target of [counterIncrement, kvSet, "/trpc/counter.increment"]) {
    // Announced, not sent: the answer must come from the header alone, without waiting for 9 MiB.
    reject(`9 MiB body to ${target}`, { method: "POST", target, headers: [JSON_TYPE], body: '"xxxx', contentLength: 9 * 1024 * 1024 });
    reject(`bad chunked body to ${target}`, {
      method: "POST",
      target,
      headers: [JSON_TYPE, ["Transfer-Encoding", "chunked"]],
      body: "zz\r\nabc\r\n0\r\n\r\n",
    });
    reject(`20 KiB header to ${target}`, { method: "POST", target, headers: [JSON_TYPE, ["X-Filler", "f".repeat(20_000)]], body: "1" });
  }

  // The tRPC endpoint: the same procedures, other ways in.
  const trpc = (name: string, path: string, method: string, body?: string | Buffer, headers: [string, string][] = [JSON_TYPE]) =>
    reject(`tRPC ${name}`, { method, target: path, headers, body });
  const counterInput = (id: string) => `{"id":${id},"amount":1}`;
  trpc("id with NUL", "/trpc/counter.increment", "POST", counterInput('"a\\u0000b"'));
  trpc("id with a lone surrogate", "/trpc/counter.increment", "POST", counterInput('"\\ud800"'));
  trpc("id too long", "/trpc/counter.increment", "POST", counterInput(`"${"x".repeat(MAX_ID_LENGTH + 1)}"`));
  trpc("id of the wrong type", "/trpc/counter.increment", "POST", counterInput("5"));
  trpc("kv key with a lone surrogate", "/trpc/kv.set", "POST", `{"id":${JSON.stringify(targets.kv)},"key":"\\udc00","value":1}`);
  trpc("invalid JSON", "/trpc/counter.increment", "POST", "{");
  trpc("deep JSON", "/trpc/counter.increment", "POST", `${"[".repeat(100_000)}${"]".repeat(100_000)}`);
  trpc("no input", "/trpc/counter.increment", "POST", "");
  trpc("unknown procedure", "/trpc/counter.explode", "POST", counterInput('"x"'));
  trpc("query sent as a mutation", `/trpc/counter.get`, "POST", `{"id":${JSON.stringify(targets.counter)}}`);
  trpc("mutation sent as a query", `/trpc/counter.increment?input=${enc(counterInput(JSON.stringify(targets.counter)))}`, "GET");
  trpc("malformed batch", `/trpc/counter.get,counter.get?batch=1&input=${enc('{"0":{"id":5}}')}`, "GET");
  trpc("batch input that is not JSON", "/trpc/counter.get?batch=1&input=%7B", "GET");
  trpc("empty Idempotency-Key", "/trpc/counter.increment", "POST", counterInput(JSON.stringify(targets.counter)), [
    JSON_TYPE,
    ["Idempotency-Key", ""],
  ]);
  trpc("oversized Idempotency-Key", "/trpc/counter.increment", "POST", counterInput(JSON.stringify(targets.counter)), [
    JSON_TYPE,
    ["Idempotency-Key", "k".repeat(257)],
  ]);
  trpc(
    "invalid UTF-8 in a string",
    "/trpc/kv.set",
    "POST",
    Buffer.concat([Buffer.from(`{"id":${JSON.stringify(targets.kv)},"key":"`), Buffer.from([0xff, 0xfe]), Buffer.from('","value":1}')]),
  );
  reject("REST invalid UTF-8 in a string", {
    method: "POST",
    target: kvSet,
    headers: [JSON_TYPE],
    body: Buffer.concat([Buffer.from('{"key":"'), Buffer.from([0xc3, 0x28]), Buffer.from('","value":1}')]),
  });

  // Paths that are no route at all, and queries that are wrong.
  for (const target of [
    "/",
    "/nope",
    "/counter",
    "/counter/",
    `/counter/${enc(targets.counter)}/nope`,
    `/counter/${enc(targets.counter)}/increment/extra`,
    "//counter//increment",
    "/%2e%2e/%2e%2e/etc/passwd",
    `/${"a/".repeat(5_000)}`,
    "*",
    "/debug/entities?local=maybe",
    "/debug/entities?local=",
  ]) {
    reject(`GET ${target.slice(0, 40)}`, { method: "GET", target });
  }

  // Valid reads whose ids and keys only look hostile.
  for (const raw of HOSTILE_IDS) {
    const id = `${raw}${targets.suffix}`;
    const read = (target: string, body: unknown) =>
      cases.push({ name: `GET ${target.slice(0, 60)}`, request: { method: "GET", target }, expect: { kind: "read", body } });
    read(`/counter/${enc(id)}`, 0);
    read(`/kv/${enc(id)}/keys`, []);
    read(`/kv/${enc(id)}/get/${enc(id)}`, null);
    read(`/kv/${enc(targets.kv)}/get/${enc(id)}`, null);
    read(`/stateless-counter/${enc(id)}`, 0);
    read(`/activity-group/${enc(id)}/order-steps`, []);
    read(`/sql-activity/${enc(id)}/sql-count`, 0);
    read(`/sql-activity/${enc(id)}/state`, { account_id: id, transfer_count: 0, total_transferred: 0 });
  }
  // The operator API's own bad input: filters, cursors, unknown runners and executions.
  for (const target of [
    "/admin/workflows?status=bogus",
    "/admin/workflows?status=",
    "/admin/workflows?cursor=zzz",
    `/admin/workflows?cursor=${Buffer.from('{"startedAt":"x","type":"a","id":"b","execId":"c"}').toString("base64url")}`,
    "/admin/workflows?limit=0",
    "/admin/workflows?limit=-1",
    "/admin/workflows?limit=1e3",
    "/admin/workflows?limit=100000",
    "/admin/workflows?since=yesterday",
    "/admin/timers?due_before=soon",
    "/admin/timers?limit=abc",
    `/admin/workflows/WorkflowTest/${enc(targets.other)}/no-such-exec`,
  ]) {
    reject(`GET ${target.slice(0, 60)}`, { method: "GET", target });
  }
  for (const target of [
    "/admin/runners/127.0.0.1:1/drain",
    "/admin/runners/127.0.0.1:1/undrain",
    `/admin/workflows/WorkflowTest/${enc(targets.other)}/no-such-exec/cancel`,
    `/admin/workflows/WorkflowTest/${enc(targets.other)}/no-such-exec/resume`,
    `/admin/workflows/NoSuchType/${enc(targets.other)}/e/cancel`,
    // A cancel is a turn at the entity's owner: unknown executions of a durable workflow type and
    // of a type without workflows, and an exec id no execution could have.
    `/admin/workflows/ApprovalTest/${enc(targets.other)}/no-such-exec/cancel`,
    `/admin/workflows/Counter/${enc(targets.counter)}/no-such-exec/cancel`,
    `/admin/workflows/ApprovalTest/${enc(targets.other)}/${"x".repeat(4_000)}/cancel`,
    `/admin/workflows/ApprovalTest/${enc(targets.other)}/%00/cancel`,
    `/admin/timers/TimerTest/${enc(targets.other)}/no-such-timer/cancel`,
    `/admin/timers/NoSuchType/${enc(targets.other)}/t/cancel`,
  ]) {
    reject(`POST ${target.slice(0, 60)}`, { method: "POST", target });
  }
  reject("GET /docs/assets of a file outside the page", { method: "GET", target: "/docs/assets/package.json" });
  reject("GET /docs/assets with a path escape", { method: "GET", target: "/docs/assets/..%2F..%2Fpackage.json" });

  // The absolute form of a request-target (RFC 9112 §3.2.2): the authority in it is not ours to check.
  cases.push({
    name: "GET in absolute form",
    request: { method: "GET", target: `http://127.0.0.1:1/counter/${enc(`absolute${targets.suffix}`)}` },
    expect: { kind: "read", body: 0 },
  });
  const token = targets.adminToken;
  if (!token) return cases;
  const isAdmin = (target: string | Buffer) => Buffer.from(target).toString("latin1").startsWith("/admin");
  return cases.map((c) =>
    isAdmin(c.request.target)
      ? { ...c, request: { ...c.request, headers: [...(c.request.headers ?? []), ["Authorization", `Bearer ${token}`] as const] } }
      : c,
  );
}
