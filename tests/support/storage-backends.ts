import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStorage, type Storage, silentLogger } from "../../src/cluster/index.ts";

/** Storage opened directly (no runner): PGlite in a temp dir, and Postgres when POSTGRES_URL is set. */
export interface StorageBackend {
  readonly name: "pglite" | "postgres";
  open(): Promise<{ storage: Storage; dispose: () => void }>;
}

export const STORAGE_BACKENDS: readonly StorageBackend[] = [
  {
    name: "pglite",
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), "storage-it-"));
      const storage = await openStorage({ postgresUrl: undefined, dataDir: dir, log: silentLogger });
      return { storage, dispose: () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  ...(process.env.POSTGRES_URL
    ? [
        {
          name: "postgres" as const,
          open: async () => ({
            storage: await openStorage({ postgresUrl: process.env.POSTGRES_URL, dataDir: "", log: silentLogger }),
            dispose: () => {},
          }),
        },
      ]
    : []),
];
