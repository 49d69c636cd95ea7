/**
 * Patches postgres-js 3.4.9 (run by `npm ci` as the postinstall step; idempotent). Its connection
 * batches small writes with setImmediate, and when Postgres closes the connection in between
 * (a restart), two things go wrong:
 *  - `closed()` cancels the pending immediate but leaves its handle and the unsent bytes in place:
 *    after the reconnect the startup message is appended to those bytes and, the handle being
 *    non-null, never flushed, so every query on that connection waits for `connect_timeout` (30 s)
 *    and fails, again and again;
 *  - a write scheduled after the close runs against the nulled socket and throws outside any
 *    promise, leaving the same stuck state (and the query never settled).
 * Found by the chaos harness (scripts/chaos/): a runner whose shard acquisition waited on such a
 * connection stopped taking shards. Fails loudly if the driver changed: check whether upstream fixed it.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const MARK = "patched by scripts/patches/postgres-js.mjs";
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "node_modules", "postgres");
const edits = [
  [
    `  function nextWrite(fn) {
    const x = socket.write(chunk, fn)
    nextWriteTimer !== null && clearImmediate(nextWriteTimer)
    chunk = nextWriteTimer = null
    return x
  }`,
    `  function nextWrite(fn) { // ${MARK}
    const data = chunk
    nextWriteTimer !== null && clearImmediate(nextWriteTimer)
    chunk = nextWriteTimer = null
    if (!socket)
      return error(Errors.connection('CONNECTION_CLOSED', options)), false
    return socket.write(data, fn)
  }`,
  ],
  [
    `    incomings = null
    clearImmediate(nextWriteTimer)
    socket.removeListener('data', data)`,
    `    incomings = null
    clearImmediate(nextWriteTimer)
    nextWriteTimer = chunk = null // ${MARK}: unsent bytes belong to the dead connection
    socket.removeListener('data', data)`,
  ],
];

for (const file of ["src/connection.js", "cjs/src/connection.js", "cf/src/connection.js"].map((f) => join(root, f))) {
  if (!existsSync(file)) continue;
  let text = readFileSync(file, "utf8");
  if (text.includes(MARK)) continue;
  for (const [from, to] of edits) {
    if (!text.includes(from)) throw new Error(`${file}: the code to patch is not there (postgres-js changed?)`);
    text = text.replace(from, to);
  }
  writeFileSync(file, text);
}
