import { z } from "zod";
import type { ClusterMode, LogLevel } from "./cluster/index.ts";

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface Config {
  readonly mode: ClusterMode;
  readonly listen: HostPort;
  readonly postgresUrl: string | undefined;
  readonly etcdEndpoints: readonly string[];
  readonly runnerAddress: string | undefined;
  /** Where the gRPC server binds, when not on `runnerAddress` itself (e.g. behind a proxy). */
  readonly grpcListen: string | undefined;
  /** JSON-lines file receiving this runner's shard ownership intervals, when set. */
  readonly ownershipLog: string | undefined;
  readonly logLevel: LogLevel;
  readonly shardCount: number;
  readonly leaseTtlMs: number;
  readonly entityIdleMs: number;
  /** Test-only: the cron test singleton's schedule. */
  readonly cronTestSchedule: string;
  readonly dataDir: string;
  readonly etcdPrefix: string;
  readonly clusterSecret: string | undefined;
  readonly maxBodyBytes: number;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const hostPort = z.string().transform((value, ctx): HostPort => {
  const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port > 65_535) {
    ctx.addIssue({ code: "custom", message: `expected host:port, got "${value}"` });
    return z.NEVER;
  }
  return { host: (match[1] as string).replace(/^\[|\]$/g, ""), port };
});

function formatHostPort({ host, port }: HostPort): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

const int = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** `RUST_LOG` syntax: `info`, `warn,my_crate=debug`, `my_crate=debug`; the bare level wins. */
function rustLogLevel(value: string): string {
  const directives = value.split(",").map((d) => d.trim().toLowerCase());
  const bare = directives.find((d) => d && !d.includes("="));
  const level = bare ?? directives[0]?.split("=")[1] ?? "info";
  return ({ off: "silent", warning: "warn" } as Record<string, string>)[level] ?? level;
}

const Env = z.object({
  LISTEN_ADDR: hostPort.default({ host: "0.0.0.0", port: 8080 }),
  POSTGRES_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "expected a postgres:// or postgresql:// URL")
    .optional(),
  ETCD_ENDPOINTS: z
    .string()
    .transform((s) =>
      s
        .split(",")
        .map((e) => e.trim())
        .filter(Boolean),
    )
    .optional(),
  RUNNER_ADDRESS: hostPort.optional(),
  GRPC_LISTEN_ADDR: hostPort.optional(),
  OWNERSHIP_LOG: z.string().optional(),
  LOG_LEVEL: z.enum(LEVELS).optional(),
  RUST_LOG: z.string().transform(rustLogLevel).pipe(z.enum(LEVELS)).optional(),
  SHARD_COUNT: int(1, 65_536, 300),
  LEASE_TTL_MS: int(1_000, 600_000, 5_000),
  ENTITY_IDLE_MS: int(10, 86_400_000, 60_000),
  DATA_DIR: z.string().default("./.data"),
  ETCD_PREFIX: z.string().default("/entity-cluster/"),
  CLUSTER_SECRET: z.string().optional(),
  MAX_BODY_BYTES: int(1_024, 1_073_741_824, 8 * 1024 * 1024),
  /** Test-only: the cron test singleton's schedule (every minute by default; tests use seconds, e.g. `*\/2 * * * * *`). */
  CRON_TEST_SCHEDULE: z.string().default("* * * * *"),
});

/** Reads the configuration from `env`; throws a ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty variable means "unset", as in most deployment tools.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = Env.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  const etcdEndpoints = e.ETCD_ENDPOINTS ?? [];
  if (etcdEndpoints.length > 0 && !e.POSTGRES_URL) {
    throw new ConfigError("invalid configuration: ETCD_ENDPOINTS is set but POSTGRES_URL is not; cluster mode needs both");
  }
  if (etcdEndpoints.length > 0 && !e.RUNNER_ADDRESS) {
    throw new ConfigError("invalid configuration: RUNNER_ADDRESS (host:port of this runner's gRPC server) is required in cluster mode");
  }
  const mode: ClusterMode = etcdEndpoints.length > 0 ? "cluster" : e.POSTGRES_URL ? "single" : "embedded";
  return {
    mode,
    listen: e.LISTEN_ADDR,
    postgresUrl: e.POSTGRES_URL,
    etcdEndpoints,
    runnerAddress: e.RUNNER_ADDRESS ? formatHostPort(e.RUNNER_ADDRESS) : undefined,
    grpcListen: e.GRPC_LISTEN_ADDR ? formatHostPort(e.GRPC_LISTEN_ADDR) : undefined,
    ownershipLog: e.OWNERSHIP_LOG,
    logLevel: e.LOG_LEVEL ?? e.RUST_LOG ?? "info",
    shardCount: e.SHARD_COUNT,
    leaseTtlMs: e.LEASE_TTL_MS,
    entityIdleMs: e.ENTITY_IDLE_MS,
    cronTestSchedule: e.CRON_TEST_SCHEDULE,
    dataDir: e.DATA_DIR,
    etcdPrefix: e.ETCD_PREFIX.endsWith("/") ? e.ETCD_PREFIX : `${e.ETCD_PREFIX}/`,
    clusterSecret: e.CLUSTER_SECRET,
    maxBodyBytes: e.MAX_BODY_BYTES,
  };
}
