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
 * connection stopped taking shards.
 *
 * And a transaction (`sql.begin`) keeps sending its queries to its connection object after that
 * connection closed, though the transaction itself has failed: the pool reconnects the same object
 * for other queries, so a late query of the dead transaction ran outside any transaction on a new
 * session, or, sent while Postgres still refused connections, never settled at all (an entity whose
 * handler awaited it stopped answering for good, in CI's chaos run). Patched: once the connection
 * closed, the transaction's queries are refused at once (tests/integration/reconnect.test.ts).
 *
 * And queries that neither a connection's close nor its transaction's failure ever settled:
 *  - a connection reset (ECONNRESET) reports the socket's error first and its close a moment
 *    later, and the close fails pending queries only when it came without an error: a query sent
 *    in between (the rollback to a turn's savepoint, right after its query failed) waited for ever;
 *  - a transaction's query held back in the transaction's own queue, while its connection was busy
 *    with a statement the driver describes first (one with parameters), was never sent nor failed
 *    when that connection closed.
 * An entity whose turn awaited one stopped answering for good (chaos run, Postgres restarts, seed
 * 1). Patched: the close fails whatever is still pending, and the transaction's queued queries with
 * it (tests/integration/turn-sql-reset.test.ts).
 *
 * Fails loudly if the driver changed: check whether upstream fixed it.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const MARK = "patched by scripts/patches/postgres-js.mjs";
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "node_modules", "postgres");
const connectionEdits = [
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
  [
    `    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))`,
    `    // ${MARK}: after an error too, as queries may have been sent between the socket's error and its close
    ;(query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))`,
  ],
];

const transactionEdits = [
  [
    `        new Promise((_, reject) => connection.onclose = reject)`,
    `        new Promise((_, reject) => connection.onclose = e => { // ${MARK}
          gone = e
          // Queries held back while the connection was busy (behind a statement described first) would wait for it for ever.
          while (queries.length)
            queries.shift().reject(e)
          reject(e)
        })`,
    // What an earlier version of this script made of the same code: edited again, not refused.
    `        new Promise((_, reject) => connection.onclose = e => reject(gone = e)) // ${MARK}`,
  ],
  [
    `    let savepoints = 0
      , connection`,
    `    let savepoints = 0
      , gone = null // ${MARK}: the error that closed the transaction's connection
      , connection`,
  ],
  [
    `      function handler(q) {
        q.catch(e => uncaughtError || (uncaughtError = e))`,
    `      function handler(q) {
        if (gone) // ${MARK}: the connection this transaction lived on is gone, and so is the transaction
          return q.reject(gone)
        q.catch(e => uncaughtError || (uncaughtError = e))`,
  ],
];

const files = ["src", "cjs/src", "cf/src"].flatMap((dir) => [
  [join(root, dir, "connection.js"), connectionEdits],
  [join(root, dir, "index.js"), transactionEdits],
]);
// Edit by edit: an install patched by an older version of this script gets the edits added since
// (and the earlier forms of edits changed since). Nothing is written unless every file's edits apply.
const patched = [];
for (const [file, edits] of files) {
  if (!existsSync(file)) continue;
  const before = readFileSync(file, "utf8");
  let text = before;
  for (const [from, to, ...earlier] of edits) {
    if (text.includes(to)) continue;
    const found = [from, ...earlier].find((code) => text.includes(code));
    if (found === undefined) throw new Error(`${file}: the code to patch is not there (postgres-js changed?)`);
    text = text.replace(found, to);
  }
  if (text !== before) patched.push([file, text]);
}
for (const [file, text] of patched) writeFileSync(file, text);
