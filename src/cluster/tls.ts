/**
 * TLS material, read and checked at start-up (src/config.ts), for each link a runner has: the
 * cluster's own gRPC (mutual: both sides show a certificate of the cluster's CA), etcd, Postgres
 * and the HTTP API. Contents, not paths: nothing is read after start.
 */

/** Mutual TLS between runners: this runner's certificate and key, and the CA its peers' must come from. */
export interface ClusterTls {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** How a runner reaches etcd: a CA to check the server by, a client certificate, a user. */
export interface EtcdSecurity {
  readonly credentials?: { readonly rootCertificate: Buffer; readonly certChain?: Buffer; readonly privateKey?: Buffer } | undefined;
  readonly auth?: { readonly username: string; readonly password: string } | undefined;
}

/**
 * Postgres TLS as postgres-js takes it: `require` encrypts without checking the server (libpq's
 * meaning), an object checks it against `ca` (and its name too, unless `checkServerIdentity` says
 * otherwise: libpq's verify-ca).
 */
export type PostgresSsl =
  | "require"
  | { readonly ca?: Buffer; readonly rejectUnauthorized: true; readonly checkServerIdentity?: () => undefined }
  | undefined;

/** HTTPS for the API. */
export interface HttpTls {
  readonly cert: Buffer;
  readonly key: Buffer;
}
