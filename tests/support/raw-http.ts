import { connect } from "node:net";

/** An HTTP/1.1 request written byte for byte: targets and bodies no URL or fetch API would let through. */
export interface RawRequest {
  readonly method: string;
  /** The request-target exactly as sent (may hold invalid UTF-8, `%00`, …). */
  readonly target: string | Buffer;
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: string | Buffer;
  /** A Content-Length to declare instead of the body's own (a client announcing more than it sends). */
  readonly contentLength?: number;
}

export interface RawResponse {
  readonly status: number;
  readonly body: string;
}

/** The server did not answer in time: the one outcome a hostile request must never cause. */
export class Hang extends Error {
  override readonly name = "Hang";
}

/**
 * Sends `request` to `host:port` on a fresh connection (`Connection: close`) and reads the whole
 * answer. Rejects with Hang after `timeoutMs`, and with an error if the connection closes without
 * a status line.
 */
export function rawRequest(host: string, port: number, request: RawRequest, timeoutMs: number): Promise<RawResponse> {
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  const head = [
    `${request.method} `,
    request.target,
    " HTTP/1.1\r\n",
    `Host: ${host}:${port}\r\nConnection: close\r\n`,
    ...(request.headers ?? []).map(([k, v]) => `${k}: ${v}\r\n`),
    body && !request.headers?.some(([k]) => k.toLowerCase() === "transfer-encoding")
      ? `Content-Length: ${request.contentLength ?? body.length}\r\n`
      : "",
    "\r\n",
  ];
  const bytes = Buffer.concat([
    ...head.map((part) => (typeof part === "string" ? Buffer.from(part, "latin1") : part)),
    body ?? Buffer.alloc(0),
  ]);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Hang(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    // No half-close: Node answers a client that already ended its side by closing without a reply.
    socket.on("connect", () => socket.write(bytes));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    // A server may answer early (413) and reset the connection while the body is still going out.
    let failure: Error | undefined;
    socket.on("error", (error) => {
      failure = error;
    });
    socket.on("close", () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      const split = raw.indexOf("\r\n\r\n");
      const head = (split < 0 ? raw : raw.subarray(0, split)).toString("latin1");
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (!match) return reject(failure ?? new Error(`connection closed without an HTTP answer (${JSON.stringify(head.slice(0, 80))})`));
      const rest = split < 0 ? Buffer.alloc(0) : raw.subarray(split + 4);
      const body = /^transfer-encoding:\s*chunked/im.test(head) ? dechunk(rest) : rest;
      resolve({ status: Number(match[1]), body: body.toString("utf8") });
    });
  });
}

/** The payload of a chunked body (sizes in hex, each chunk followed by CRLF, ended by size 0). */
function dechunk(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf("\r\n", at);
    const size = Number.parseInt(raw.subarray(at, eol).toString("latin1"), 16);
    if (eol < 0 || !(size > 0)) return Buffer.concat(parts);
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
