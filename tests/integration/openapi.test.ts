/**
 * GET /openapi.json and GET /docs on an embedded runner: the document is valid OpenAPI 3.1 (an
 * independent validator says so), names every contract procedure exactly once, and a minimal
 * request built from each operation's own schemas is accepted by its route (never a 400).
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { procedureList } from "../../contract/index.ts";
import type { Runner } from "../../src/runner.ts";
import { BACKENDS } from "../support/backends.ts";

type Schema = Record<string, unknown>;
interface Operation {
  operationId: string;
  parameters: { name: string; in: "path" | "query"; required: boolean; schema: Schema }[];
  requestBody?: { content: { "application/json": { schema: Schema } } };
  security?: unknown[];
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

const TOKEN = "openapi-test-token";
const backend = BACKENDS[0];
if (!backend) throw new Error("no backend");
const it = suite<{ runner?: Runner; doc?: Document }>("OpenAPI document and API reference");

it.before(async (ctx) => {
  ctx.runner = await backend.start({ ADMIN_TOKEN: TOKEN });
  ctx.doc = (await (await fetch(`${ctx.runner.url}/openapi.json`)).json()) as Document;
});
it.after(async (ctx) => {
  await ctx.runner?.stop();
});

/** A minimal value the schema accepts: required properties only, the least of every range. */
function example(schema: Schema, doc: Document): unknown {
  if (typeof schema.$ref === "string") {
    return example(doc.components.schemas[schema.$ref.replace("#/components/schemas/", "")] as Schema, doc);
  }
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.examples)) return schema.examples[0];
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const union = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (union) return example(union.find((s) => s.type !== "null") ?? (union[0] as Schema), doc);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  switch (type) {
    case "string":
      return schema.format === "date-time" ? new Date().toISOString() : "a".repeat(Math.max(1, Number(schema.minLength ?? 1)));
    case "integer":
    case "number":
      return Math.max(typeof schema.minimum === "number" ? schema.minimum : 1, 1);
    case "boolean":
      return true;
    case "null":
      return null;
    case "array":
      return [];
    case "object": {
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      return Object.fromEntries(((schema.required ?? []) as string[]).map((k) => [k, example(props[k] as Schema, doc)]));
    }
    default:
      return null;
  }
}

it("an OpenAPI validator accepts the document", async (ctx) => {
  const result = await new Validator().validate(ctx.doc as unknown as Parameters<Validator["validate"]>[0]);
  assert.ok(result.valid, JSON.stringify(result.errors, null, 1)?.slice(0, 2_000));
  assert.is((ctx.doc as unknown as { openapi: string }).openapi, "3.1.0");
});

it("every contract procedure appears exactly once, at its route", (ctx) => {
  const doc = ctx.doc as Document;
  const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ id: op.operationId, route: `${method.toUpperCase()} ${path}` })),
  );
  const expected = procedureList().map((p) => ({ id: `${p.group}.${p.name}`, route: `${p.procedure.method} ${p.procedure.path}` }));
  assert.is(operations.length, expected.length);
  assert.equal(
    operations.sort((a, b) => (a.id < b.id ? -1 : 1)),
    expected.sort((a, b) => (a.id < b.id ? -1 : 1)),
  );
  for (const { id } of operations.filter((o) => o.id.startsWith("admin."))) {
    const op = Object.values(doc.paths)
      .flatMap((m) => Object.values(m))
      .find((o) => o.operationId === id);
    assert.ok(op?.security, `${id} declares the admin token`);
  }
});

it("a minimal request built from each operation's schemas is accepted by its route (no 400)", async (ctx) => {
  const doc = ctx.doc as Document;
  const runner = ctx.runner as Runner;
  const answers: string[] = [];
  for (const [template, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      let path = template;
      const query = new URLSearchParams();
      for (const p of op.parameters) {
        if (p.in === "path") path = path.replace(`{${p.name}}`, encodeURIComponent(String(example(p.schema, doc))));
        else if (p.required) query.set(p.name, String(example(p.schema, doc)));
      }
      const schema = op.requestBody?.content["application/json"].schema;
      const body = schema === undefined ? undefined : JSON.stringify(example(schema, doc));
      const response = await fetch(`${runner.url}${path}${query.size > 0 ? `?${query}` : ""}`, {
        method: method.toUpperCase(),
        headers: { "content-type": "application/json", ...(op.security ? { authorization: `Bearer ${TOKEN}` } : {}) },
        body,
      });
      const text = await response.text();
      answers.push(`${op.operationId} ${response.status}`);
      assert.ok(
        response.status !== 400 && response.status < 500,
        `${method.toUpperCase()} ${path} ${body ?? ""} → ${response.status} ${text.slice(0, 300)}`,
      );
    }
  }
  assert.ok(answers.length >= procedureList().length);
});

it("GET /docs is an HTML page whose assets the runner serves itself (no CDN)", async (ctx) => {
  const url = (ctx.runner as Runner).url;
  const page = await fetch(`${url}/docs`);
  assert.is(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /text\/html/);
  const html = await page.text();
  assert.not.match(html, /https?:\/\//, "no external URL in the page");
  const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
  assert.equal(assets.sort(), ["docs/assets/swagger-ui-bundle.js", "docs/assets/swagger-ui.css"]);
  for (const asset of assets) {
    const response = await fetch(`${url}/${asset}`);
    assert.is(response.status, 200, asset);
    assert.match(response.headers.get("content-type") ?? "", asset.endsWith(".js") ? /javascript/ : /text\/css/);
    assert.ok((await response.text()).length > 10_000, `${asset} is the real file`);
  }
});

it.run();
