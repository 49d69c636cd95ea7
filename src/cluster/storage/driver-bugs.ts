/**
 * postgres-js 3.4.9 schedules a socket write with setImmediate and, when the connection closes in
 * between (Postgres restarting, say), that write runs against a socket it has already set to null:
 * `TypeError: Cannot read properties of null (reading 'write')` thrown from `nextWrite`, outside any
 * promise, so it would end the process. The queries on that connection have already been failed by
 * the close and the pool reconnects, so the error is safe to drop. Found by the chaos harness.
 */
export function isPostgresJsClosedSocketWrite(error: unknown): boolean {
  return (
    error instanceof TypeError &&
    error.message.includes("reading 'write'") &&
    /postgres[\\/]src[\\/]connection\.js/.test(error.stack ?? "") &&
    /\bnextWrite\b/.test(error.stack ?? "")
  );
}
