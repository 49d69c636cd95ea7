import * as assert from "uvu/assert";
import { ApiError } from "../../src/client.ts";

/** Asserts the call fails with an API error of `status` whose message matches `pattern`. */
export async function rejects(call: () => Promise<unknown>, status: number, pattern?: RegExp): Promise<ApiError> {
  try {
    await call();
  } catch (error) {
    assert.instance(error, ApiError);
    const apiError = error as ApiError;
    assert.is(apiError.status, status, `status of "${apiError.message}"`);
    if (pattern) assert.match(apiError.message, pattern);
    return apiError;
  }
  assert.unreachable(`expected HTTP ${status}, but the call succeeded`);
  throw new Error("unreachable");
}
