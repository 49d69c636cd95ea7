import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";

/** An error answered as JSON: `{ error, issues? }` with an HTTP status. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly status: number,
    message: string,
    readonly issues?: readonly unknown[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body(): { error: string; issues?: readonly unknown[] } {
    return this.issues ? { error: this.message, issues: this.issues } : { error: this.message };
  }
}

interface Issue {
  readonly path?: readonly PropertyKey[];
  readonly message: string;
}

function validationIssues(cause: unknown): readonly Issue[] | undefined {
  const issues = (cause as { issues?: unknown } | undefined)?.issues;
  return Array.isArray(issues) ? (issues as Issue[]) : undefined;
}

/** A readable one-line summary: `amount: Invalid input: expected number, received string`. */
function describe(issues: readonly Issue[]): string {
  return issues.map((i) => (i.path && i.path.length > 0 ? `${i.path.map(String).join(".")}: ${i.message}` : i.message)).join("; ");
}

/** A 400 listing the schema's complaints. */
export function invalidInput(issues: readonly Issue[]): HttpError {
  const simple = issues.map((i) => ({ path: (i.path ?? []).map(String), message: i.message }));
  return new HttpError(400, `invalid input: ${describe(issues)}`, simple);
}

/** Any error → the HTTP answer for it. Validation failures list their issues. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof TRPCError) {
    const status = getHTTPStatusCodeFromError(error);
    const issues = validationIssues(error.cause);
    if (issues) return invalidInput(issues);
    return new HttpError(status, status === 500 ? "internal error" : error.message);
  }
  return new HttpError(500, "internal error");
}
