/**
 * Reproduces the Deno aborts of the chaos runs (README, "Chaos and hostile input"): Deno's
 * node:http2 (2.9.6) destroys a session from inside nghttp2's callback for a GOAWAY the session
 * received, when it has no stream left, and the process dies (nghttp2's assertion in
 * find_stream_on_goaway_func, glibc's `free(): invalid pointer`, SIGSEGV). Both sides meet it:
 *
 *  - client: Deno's sessions to a Node server that ends each one with a GOAWAY once its stream is
 *    done, Deno closing the session in its 'goaway' listener as @grpc/grpc-js does (a runner's
 *    sessions when etcd restarts, or when a peer shuts its server down);
 *  - server: a Node client opens a session to Deno's server, makes one request and closes the
 *    session, which sends a GOAWAY (a peer closing its channel to a runner; a paused runner reads
 *    its peers' GOAWAYs as it wakes).
 *
 *   node --import tsx scripts/repro/deno-goaway.ts [--sessions N] [--attempts K] [--case client|server]
 *
 * Each case runs a Deno process (node_modules/.bin/deno) through N such sessions (default 1,000),
 * first without the fix (src/cluster/deno-http2.ts), up to 2×K attempts (K: default 3) until one
 * dies (one in two does), then with it: K attempts of 3×N sessions each that must all live. Without
 * the fix a run of 3×N sessions lives one time in eight, so K = 3 of them all living by chance is
 * a 1-in-500 event. Checks: the runs with the fix; how the runs without it ended is reported beside
 * them (none dying means Deno may have fixed it). Ends with `N passed, N failed`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values: flags } = parseArgs({
  options: {
    role: { type: "string" },
    port: { type: "string" },
    sessions: { type: "string", default: "1000" },
    attempts: { type: "string", default: "3" },
    case: { type: "string" },
    fixed: { type: "boolean", default: false },
  },
});
const sessions = Number(flags.sessions);
const self = fileURLToPath(import.meta.url);
const repo = fileURLToPath(new URL("../..", import.meta.url));

type Case = "client" | "server";
interface Outcome {
  died: boolean;
  /** The exit code or signal, and the last line Deno printed (the assertion, glibc's message…). */
  how: string;
}

/** Under Deno: one side of a case. Prints "ready PORT" once serving (server) or "done" at the end. */
async function victim(role: Case): Promise<void> {
  if (flags.fixed) (await import("../../src/cluster/deno-http2.ts")).deferDestroyInGoaway();
  if (role === "server") {
    const server = await serve(false);
    console.log(`ready ${(server.address() as AddressInfo).port}`);
    return;
  }
  for (let i = 0; i < sessions; i++) {
    const session = http2.connect(`http://127.0.0.1:${flags.port}`);
    session.on("error", () => {});
    const closed = new Promise((resolve) => session.once("close", resolve));
    session.once("goaway", () => session.close());
    const stream = session.request({ ":path": "/" });
    stream.on("error", () => {});
    stream.resume();
    await closed;
  }
  console.log("done");
}

/** A server answering each stream "ok"; with `goaway`, it then closes the session (a GOAWAY). */
async function serve(goaway: boolean): Promise<http2.Http2Server> {
  const server = http2.createServer();
  server.on("session", (session) => {
    session.on("error", () => {});
    session.on("stream", (stream) => {
      stream.on("error", () => {});
      stream.respond({ ":status": 200 });
      stream.end("ok", () => goaway && setTimeout(() => session.close(), 5));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

/** Under Node: `count` sessions to `port`, each closed (a GOAWAY) after one request; stops early if `alive` turns false. */
async function closeSessions(port: number, count: number, alive: () => boolean): Promise<void> {
  for (let i = 0; i < count && alive(); i++) {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => {});
    const closed = new Promise((resolve) => session.once("close", resolve));
    const stream = session.request({ ":path": "/" });
    stream.on("error", () => {});
    stream.resume();
    await new Promise((resolve) => stream.once("close", resolve));
    session.close();
    await closed;
  }
}

/** A run's sessions: three times more with the fix, for its survival to prove something. */
const runSessions = (fixed: boolean) => (fixed ? 3 : 1) * sessions;

function startDeno(role: Case, fixed: boolean, port?: number): { child: ChildProcess; lines: string[]; exited: Promise<Outcome> } {
  const args = ["run", "-A", self, "--role", role, "--sessions", String(runSessions(fixed))];
  if (port !== undefined) args.push("--port", String(port));
  if (fixed) args.push("--fixed");
  // No core file from the runs meant to die (a Deno core is ~600 MB).
  const child = spawn("bash", ["-c", 'ulimit -c 0 && exec "$0" "$@"', `${repo}node_modules/.bin/deno`, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  if (child.stdout) createInterface({ input: child.stdout }).on("line", (line) => lines.push(line));
  if (child.stderr) createInterface({ input: child.stderr }).on("line", (line) => lines.push(line));
  const exited = new Promise<Outcome>((resolve) =>
    child.once("close", (code, signal) => {
      const last = lines.filter((l) => l !== "done" && !l.startsWith("ready")).at(-1);
      resolve({ died: code !== 0, how: `${signal ?? `exit ${code}`}${last ? `: ${last}` : ""}` });
    }),
  );
  return { child, lines, exited };
}

async function attempt(kind: Case, fixed: boolean): Promise<Outcome> {
  if (kind === "client") {
    const server = await serve(true);
    const { exited } = startDeno("client", fixed, (server.address() as AddressInfo).port);
    const outcome = await exited;
    server.close();
    return outcome;
  }
  const { child, lines, exited } = startDeno("server", fixed);
  let ended = false;
  void exited.then(() => (ended = true));
  const ready = await new Promise<string | undefined>((resolve) => {
    const timer = setInterval(() => {
      const line = lines.find((l) => l.startsWith("ready "));
      if (line || ended) {
        clearInterval(timer);
        resolve(line);
      }
    }, 20);
  });
  if (ready) await closeSessions(Number(ready.split(" ")[1]), runSessions(fixed), () => !ended);
  // Still there after the sessions: it lived (and is stopped here).
  const lived = !ended;
  if (lived) child.kill("SIGTERM");
  const outcome = await exited;
  return lived ? { died: false, how: "lived" } : outcome;
}

async function main(): Promise<void> {
  const attempts = Number(flags.attempts);
  const cases: Case[] = flags.case ? [flags.case as Case] : ["client", "server"];
  let passed = 0;
  let failed = 0;
  for (const kind of cases) {
    let reproduced: string | undefined;
    for (let i = 1; i <= 2 * attempts && !reproduced; i++) {
      const outcome = await attempt(kind, false);
      console.log(
        `${kind}, without the fix, attempt ${i}: ${outcome.died ? `died (${outcome.how})` : `lived through ${sessions} sessions`}`,
      );
      if (outcome.died) reproduced = outcome.how;
    }
    let survived = 0;
    for (let i = 1; i <= attempts; i++) {
      const outcome = await attempt(kind, true);
      console.log(
        `${kind}, with the fix, attempt ${i}: ${outcome.died ? `died (${outcome.how})` : `lived through ${runSessions(true)} sessions`}`,
      );
      if (!outcome.died) survived++;
    }
    const ok = survived === attempts;
    if (ok) passed++;
    else failed++;
    console.log(
      `${ok ? "PASS" : "FAIL"}: ${kind}: with the fix, ${survived} of ${attempts} runs lived through ${runSessions(true)} sessions`,
    );
    console.log(
      reproduced
        ? `  (without it: the abort reproduced, ${reproduced})`
        : `  (without it: no abort in ${2 * attempts} runs; has Deno fixed it? then the fix may go)`,
    );
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

if (flags.role === "client" || flags.role === "server") await victim(flags.role);
else await main();
