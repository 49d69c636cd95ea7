import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import {
  type ClusterMode,
  type ClusterTls,
  type EtcdSecurity,
  type HttpTls,
  type LogLevel,
  limits,
  type PostgresSsl,
} from "./cluster/index.ts";

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
  /** Bearer token every /admin route requires; unset, the routes are open (and the runner says so at start). */
  readonly adminToken: string | undefined;
  /** Instrumentation on (GET /metrics) or off (no-op instruments, for comparison). */
  readonly metrics: boolean;
  /** Most calls queued in one entity's mailbox; more are refused with 503 overloaded. */
  readonly mailboxLimit: number;
  /** Most calls this runner applies at once; more are refused with 503 overloaded. */
  readonly maxInflight: number;
  /** Mutual TLS between runners (`CLUSTER_TLS_*`). */
  readonly clusterTls: ClusterTls | undefined;
  /** TLS and user for etcd (`ETCD_CA`, `ETCD_CERT`, `ETCD_KEY`, `ETCD_USERNAME`, `ETCD_PASSWORD`). */
  readonly etcdSecurity: EtcdSecurity;
  /** Postgres TLS (`sslmode` in POSTGRES_URL, `POSTGRES_CA`). */
  readonly postgresSsl: PostgresSsl;
  /** HTTPS for the API (`TLS_CERT`, `TLS_KEY`). */
  readonly httpTls: HttpTls | undefined;
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
  ADMIN_TOKEN: z.string().optional(),
  MAX_BODY_BYTES: int(1_024, 1_073_741_824, 8 * 1024 * 1024),
  METRICS: z.enum(["on", "off"]).default("on"),
  MAILBOX_LIMIT: int(1, 10_000_000, limits.mailboxLimit),
  MAX_INFLIGHT: int(1, 10_000_000, limits.maxInflight),
  /** Test-only: the cron test singleton's schedule (every minute by default; tests use seconds, e.g. `*\/2 * * * * *`). */
  CRON_TEST_SCHEDULE: z.string().default("* * * * *"),
});

type Env = Record<string, string | undefined>;

/** The PEM file a variable names, checked to hold what it should; a ConfigError names the variable. */
function pemFile(env: Env, variable: string, kind: "certificate" | "key"): Buffer | undefined {
  const path = env[variable];
  if (!path) return undefined;
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${variable}: cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    if (kind === "certificate") new X509Certificate(pem);
    else createPrivateKey(pem);
  } catch {
    throw new ConfigError(`invalid configuration: ${variable}: ${path} is not a PEM ${kind === "key" ? "private key" : "certificate"}`);
  }
  return pem;
}

/** All of `variables` or none of them. */
function together(env: Env, variables: readonly string[]): void {
  const set = variables.filter((v) => env[v]);
  if (set.length > 0 && set.length < variables.length) {
    const missing = variables.filter((v) => !env[v]);
    throw new ConfigError(`invalid configuration: ${set.join(", ")} set without ${missing.join(", ")}; they go together`);
  }
}

function clusterTls(env: Env): ClusterTls | undefined {
  together(env, ["CLUSTER_TLS_CERT", "CLUSTER_TLS_KEY", "CLUSTER_TLS_CA"]);
  const cert = pemFile(env, "CLUSTER_TLS_CERT", "certificate");
  const key = pemFile(env, "CLUSTER_TLS_KEY", "key");
  const ca = pemFile(env, "CLUSTER_TLS_CA", "certificate");
  return cert && key && ca ? { cert, key, ca, serverName: env.CLUSTER_TLS_SERVER_NAME } : undefined;
}

function etcdSecurity(env: Env): EtcdSecurity {
  together(env, ["ETCD_CERT", "ETCD_KEY"]);
  together(env, ["ETCD_USERNAME", "ETCD_PASSWORD"]);
  if (env.ETCD_CERT && !env.ETCD_CA)
    throw new ConfigError("invalid configuration: ETCD_CERT needs ETCD_CA (the CA etcd's certificate comes from)");
  const rootCertificate = pemFile(env, "ETCD_CA", "certificate");
  const certChain = pemFile(env, "ETCD_CERT", "certificate");
  const privateKey = pemFile(env, "ETCD_KEY", "key");
  const { ETCD_USERNAME: username, ETCD_PASSWORD: password } = env;
  return {
    credentials: rootCertificate ? { rootCertificate, ...(certChain && privateKey ? { certChain, privateKey } : {}) } : undefined,
    auth: username && password ? { username, password } : undefined,
    serverName: env.ETCD_TLS_SERVER_NAME,
  };
}

const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;

function postgresSsl(env: Env): PostgresSsl {
  const url = env.POSTGRES_URL;
  const ca = pemFile(env, "POSTGRES_CA", "certificate");
  const mode = url ? (new URL(url).searchParams.get("sslmode") ?? undefined) : undefined;
  if (mode !== undefined && !(SSL_MODES as readonly string[]).includes(mode)) {
    throw new ConfigError(`invalid configuration: POSTGRES_URL: sslmode must be one of ${SSL_MODES.join(", ")}, got "${mode}"`);
  }
  if (ca && (mode === undefined || mode === "disable" || mode === "allow" || mode === "prefer")) {
    throw new ConfigError("invalid configuration: POSTGRES_CA needs sslmode=require, verify-ca or verify-full in POSTGRES_URL");
  }
  if (mode === "verify-full") return { rejectUnauthorized: true, ...(ca ? { ca } : {}) };
  // libpq: require with a root certificate checks the chain, as verify-ca does, but not the name.
  if (mode === "verify-ca" || (mode === "require" && ca))
    return { rejectUnauthorized: true, ...(ca ? { ca } : {}), checkServerIdentity: () => undefined };
  if (mode === "require") return "require";
  // disable, allow, prefer: postgres-js reads them from the URL itself.
  return undefined;
}

function httpTls(env: Env): HttpTls | undefined {
  together(env, ["TLS_CERT", "TLS_KEY"]);
  const cert = pemFile(env, "TLS_CERT", "certificate");
  const key = pemFile(env, "TLS_KEY", "key");
  return cert && key ? { cert, key } : undefined;
}

/** Reads the configuration from `env`; throws a ConfigError naming each bad variable. */
export function loadConfig(env: Env = process.env): Config {
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
    adminToken: e.ADMIN_TOKEN,
    metrics: e.METRICS === "on",
    mailboxLimit: e.MAILBOX_LIMIT,
    maxInflight: e.MAX_INFLIGHT,
    clusterTls: clusterTls(present),
    etcdSecurity: etcdSecurity(present),
    postgresSsl: postgresSsl(present),
    httpTls: httpTls(present),
  };
}
