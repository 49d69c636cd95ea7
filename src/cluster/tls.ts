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
  /**
   * The name peers' certificates are checked for, instead of the IP they are dialled at
   * (`CLUSTER_TLS_SERVER_NAME`): Deno's TLS refuses an IP address as the server name.
   */
  readonly serverName?: string | undefined;
}

/** How a runner reaches etcd: a CA to check the server by, a client certificate, a user. */
export interface EtcdSecurity {
  readonly credentials?: { readonly rootCertificate: Buffer; readonly certChain?: Buffer; readonly privateKey?: Buffer } | undefined;
  readonly auth?: { readonly username: string; readonly password: string } | undefined;
  /** The name etcd's certificate is checked for, instead of the endpoint's IP (`ETCD_TLS_SERVER_NAME`). */
  readonly serverName?: string | undefined;
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
