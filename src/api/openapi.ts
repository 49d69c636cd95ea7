import { z } from "zod";
import { type AnyContract, type Procedure, pathParams, procedureList } from "../../contract/index.ts";

type Schema = Record<string, unknown>;

/** The error answers every route may give, as `{error, issues?}` (see http-error.ts). */
const ERRORS: Readonly<Record<string, string>> = {
  "400": "Invalid input (the schema's complaints are in `issues`), or malformed JSON",
  "404": "No such route, entity data or record",
  "405": "The path exists with other methods (see the Allow header)",
  "409": "Conflict: an exec id taken by other arguments, a cancelled execution, a state that forbids the operation",
  "413": "Request body larger than MAX_BODY_BYTES",
  "422": "The workflow failed (running its exec id again resumes it)",
  "501": "This runner does not host the entity type",
  "503": "No runner serves the shard right now, or storage is unavailable; retry",
};

const ErrorBody: Schema = {
  type: "object",
  required: ["error"],
  properties: {
    error: { type: "string" },
    issues: {
      type: "array",
      items: {
        type: "object",
        required: ["path", "message"],
        properties: { path: { type: "array", items: { type: "string" } }, message: { type: "string" } },
      },
    },
  },
};

/**
 * The OpenAPI 3.1 document of `contract`, generated from its zod schemas (z.toJSONSchema): every
 * REST route with its path and query parameters, its body as the route maps it, its response and
 * its error answers. Schemas' own `$defs` (recursive JSON values) move to components.schemas.
 */
export function openApiDocument(contract: AnyContract, info: { title: string; version: string }): Schema {
  const components: Record<string, Schema> = { Error: ErrorBody };
  const paths: Record<string, Record<string, Schema>> = {};
  for (const { group, name, procedure } of procedureList(contract)) {
    const id = `${group}.${name}`;
    const convert = (schema: z.ZodType, io: "input" | "output") => hoist(jsonSchema(schema, io), components, id.replace(/\W/g, "_"));
    const operation: Schema = {
      operationId: id,
      tags: [group],
      parameters: parameters(procedure, (s) => convert(s, "input")),
      responses: responses(procedure, convert(procedure.output, "output"), group === "admin"),
    };
    if (group === "admin") operation.security = [{ adminToken: [] }];
    const body = requestBody(procedure);
    if (body) operation.requestBody = { required: true, content: { "application/json": { schema: convert(body, "input") } } };
    paths[procedure.path] ??= {};
    (paths[procedure.path] as Record<string, Schema>)[procedure.method.toLowerCase()] = operation;
  }
  return {
    openapi: "3.1.0",
    info: { ...info, description: "Generated from contract/ (REST routes; the same procedures are served over tRPC at /trpc)." },
    paths,
    components: {
      schemas: components,
      responses: Object.fromEntries(
        Object.entries({ ...ERRORS, "401": "Missing or wrong `Authorization: Bearer $ADMIN_TOKEN`" }).map(([status, description]) => [
          `E${status}`,
          { description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
        ]),
      ),
      securitySchemes: { adminToken: { type: "http", scheme: "bearer", description: "ADMIN_TOKEN (when the runner has one)" } },
    },
  };
}

function jsonSchema(schema: z.ZodType, io: "input" | "output"): Schema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" }) as Schema;
  return rest;
}

/** Moves a schema's `$defs` into the document's components (renamed per operation) and rewrites the refs. */
function hoist(schema: Schema, components: Record<string, Schema>, prefix: string): Schema {
  const defs = (schema.$defs ?? {}) as Record<string, Schema>;
  delete schema.$defs;
  const rename = (ref: string) => ref.replace(/^#\/\$defs\/(.+)$/, (_, d: string) => `#/components/schemas/${prefix}_${d}`);
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value === null || typeof value !== "object") return value;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === "$ref" && typeof v === "string" ? rename(v) : rewrite(v)]));
  };
  for (const [name, def] of Object.entries(defs)) components[`${prefix}_${name}`] = rewrite(def) as Schema;
  return rewrite(schema) as Schema;
}

function parameters(procedure: Procedure, convert: (schema: z.ZodType) => Schema): Schema[] {
  const shape = procedure.input.shape as Record<string, z.ZodType>;
  const param = (name: string, where: "path" | "query"): Schema => {
    const field = shape[name] ?? z.string();
    return { name, in: where, required: where === "path" || !field.safeParse(undefined).success, schema: convert(field) };
  };
  return [...pathParams(procedure.path).map((p) => param(p, "path")), ...procedure.query.map((q) => param(q, "query"))];
}

/** The schema of the body, as the route maps it onto the input (none, the other fields, or one field). */
function requestBody(procedure: Procedure): z.ZodType | undefined {
  const { body, input } = procedure;
  if (body === "none" || procedure.method === "GET") return undefined;
  if (body !== "object") return (input.shape as Record<string, z.ZodType>)[body.field];
  const outside = new Set([...pathParams(procedure.path), ...procedure.query]);
  const fields = Object.fromEntries(Object.entries(input.shape as Record<string, z.ZodType>).filter(([k]) => !outside.has(k)));
  return z.object(fields);
}

function responses(procedure: Procedure, output: Schema, admin: boolean): Schema {
  const ok =
    procedure.content === "json"
      ? { "application/json": { schema: output } }
      : procedure.content === "html"
        ? { "text/html": { schema: { type: "string" } } }
        : { "*/*": { schema: { type: "string" } } };
  const statuses = admin ? ["401", ...Object.keys(ERRORS)] : Object.keys(ERRORS);
  return {
    "200": { description: "OK", content: ok },
    ...Object.fromEntries(statuses.map((s) => [s, { $ref: `#/components/responses/E${s}` }])),
  };
}
