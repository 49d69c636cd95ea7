import { test } from "uvu";
import * as assert from "uvu/assert";
import { TurnSql } from "../../src/cluster/entity/turn-sql.ts";
import { ClusterError } from "../../src/cluster/index.ts";
import type { StateStore } from "../../src/cluster/storage/entity-state/store.ts";
import { isTransientDatabaseError } from "../../src/cluster/storage/failures.ts";

const codeError = (code: string) => Object.assign(new Error(`failed (${code})`), { code });

test("lost connections, shutdowns, serialization failures and deadlocks are transient; refused statements are not", () => {
  for (const code of ["CONNECTION_CLOSED", "ECONNRESET", "08006", "57P01", "40001", "40P01"]) {
    assert.ok(isTransientDatabaseError(codeError(code)), code);
  }
  for (const code of ["23505", "42601", "22003", "57014"]) assert.not.ok(isTransientDatabaseError(codeError(code)), code);
  assert.not.ok(isTransientDatabaseError(new Error("no code")));
  // Drizzle's "Failed query: …" carries the driver's error as its cause.
  const wrapped = (code: string) => new Error("Failed query: savepoint turn_call", { cause: codeError(code) });
  assert.ok(isTransientDatabaseError(wrapped("CONNECTION_CLOSED")));
  assert.not.ok(isTransientDatabaseError(wrapped("23505")));
  assert.not.ok(isTransientDatabaseError("text"));
});

/** A turn's SQL over a store whose transaction opens; the statements are the test's. */
const turnSql = () => new TurnSql({ begin: async () => ({ tx: {}, mark: async () => {}, undo: async () => {} }) } as unknown as StateStore);
const failing = (error: Error) => () =>
  turnSql()
    .run(async () => {
      throw error;
    })
    .catch((e: unknown) => e);

test("ctx.sql: a lost connection fails the turn UNAVAILABLE (retried whole); a refused statement stays the handler's error", async () => {
  const lost = await failing(codeError("CONNECTION_CLOSED"))();
  assert.instance(lost, ClusterError);
  assert.is((lost as ClusterError).code, "UNAVAILABLE");
  const refused = codeError("23505");
  assert.is(await failing(refused)(), refused);
});

test.run();
