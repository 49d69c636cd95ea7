import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { TraceContext } from "../cluster/index.ts";
import { HttpError } from "./http-error.ts";

/** What the API's handlers find in their context: the request body, read once and checked, and the request's span. */
export type ApiEnv = { Variables: { body: string; trace: TraceContext } };

/**
 * Reads the request body once, within `maxBytes`, and refuses bytes that are not UTF-8 (they
 * would be decoded to U+FFFD and silently stored as something else). The text is left in the
 * context as `body`.
 *
 * A body with a declared length is read straight from the connection: on Node, touching the
 * Fetch `Request` (as Hono's bodyLimit does) builds a web stream, an AbortSignal and more per
 * request, a large share of a small call's CPU. Only a body without a declared length is counted
 * while it streams, by bodyLimit.
 */
export function readBody(maxBytes: number): MiddlewareHandler<ApiEnv> {
  const tooLarge = (c: Context<ApiEnv>) => c.json({ error: `request body larger than ${maxBytes} bytes` }, 413);
  const streamed = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const read = async (c: Context<ApiEnv>) => {
    const bytes = await c.req.arrayBuffer();
    try {
      c.set("body", utf8.decode(bytes));
    } catch {
      throw new HttpError(400, "request body is not valid UTF-8");
    }
  };
  return async (c, next) => {
    if (c.req.method === "GET" || c.req.method === "HEAD") {
      c.set("body", "");
      return next();
    }
    const declared = c.req.header("content-length");
    if (declared === undefined || c.req.header("transfer-encoding") !== undefined) {
      return streamed(c, async () => {
        await read(c);
        await next();
      });
    }
    if (Number(declared) > maxBytes) return tooLarge(c);
    await read(c);
    await next();
  };
}
