import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Throw-away TLS material from scripts/certs.sh: a CA and leaves, and an impostor from another CA. */
export interface TestCerts {
  readonly dir: string;
  /** Path of DIR/NAME (e.g. "ca.crt", "runner.key"). */
  path(name: string): string;
  read(name: string): Buffer;
  dispose(): void;
}

export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "certs-"));
  execFileSync("bash", [join(import.meta.dirname, "..", "..", "scripts", "certs.sh"), dir, "runner", "peer", "http"], { stdio: "ignore" });
  return {
    dir,
    path: (name) => join(dir, name),
    read: (name) => readFileSync(join(dir, name)),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
