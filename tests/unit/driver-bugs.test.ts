import { test } from "uvu";
import * as assert from "uvu/assert";
import { isPostgresJsClosedSocketWrite } from "../../src/cluster/index.ts";

const withStack = (error: Error, stack: string) => Object.assign(error, { stack });

test("recognises postgres-js's write on a closed socket (regression: it killed a runner in a chaos run)", () => {
  const bug = withStack(
    new TypeError("Cannot read properties of null (reading 'write')"),
    "TypeError: Cannot read properties of null (reading 'write')\n    at Immediate.nextWrite (file:///x/node_modules/postgres/src/connection.js:255:22)\n    at process.processImmediate (node:internal/timers:483:21)",
  );
  assert.ok(isPostgresJsClosedSocketWrite(bug));
});

test("anything else still ends the process", () => {
  const ours = withStack(
    new TypeError("Cannot read properties of null (reading 'write')"),
    "TypeError\n    at Mailbox.commit (src/cluster/mailbox.ts:1:1)",
  );
  assert.not.ok(isPostgresJsClosedSocketWrite(ours));
  assert.not.ok(isPostgresJsClosedSocketWrite(new Error("boom")));
  assert.not.ok(isPostgresJsClosedSocketWrite("nextWrite postgres/src/connection.js reading 'write'"));
});

test.run();
