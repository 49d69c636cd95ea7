import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { makeCerts } from "../support/certs.ts";

test("defaults: embedded mode on 0.0.0.0:8080", () => {
  const c = loadConfig({});
  assert.is(c.mode, "embedded");
  assert.equal(c.listen, { host: "0.0.0.0", port: 8080 });
  assert.is(c.shardCount, 300);
  assert.is(c.dataDir, "./.data");
  assert.is(c.logLevel, "info");
  assert.is(c.etcdPrefix, "/entity-cluster/");
});

test("modes follow POSTGRES_URL and ETCD_ENDPOINTS", () => {
  assert.is(loadConfig({ POSTGRES_URL: "postgres://u@h:5432/db" }).mode, "single");
  const cluster = loadConfig({
    POSTGRES_URL: "postgres://u@h/db",
    ETCD_ENDPOINTS: "http://a:2379, http://b:2379",
    RUNNER_ADDRESS: "127.0.0.1:9000",
  });
  assert.is(cluster.mode, "cluster");
  assert.equal(cluster.etcdEndpoints, ["http://a:2379", "http://b:2379"]);
  assert.is(cluster.runnerAddress, "127.0.0.1:9000");
});

test("ETCD_ENDPOINTS without POSTGRES_URL is an error naming both", () => {
  assert.throws(
    () => loadConfig({ ETCD_ENDPOINTS: "http://a:2379" }),
    (e: unknown) => e instanceof ConfigError && /ETCD_ENDPOINTS.*POSTGRES_URL/.test(e.message),
  );
});

test("a bad variable is named in the error", () => {
  for (const [name, value] of [
    ["SHARD_COUNT", "zero"],
    ["SHARD_COUNT", "0"],
    ["LISTEN_ADDR", "8080"],
    ["LEASE_TTL_MS", "-5"],
    ["POSTGRES_URL", "mysql://x"],
    ["LOG_LEVEL", "loud"],
  ] as const) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (e: unknown) => e instanceof ConfigError && e.message.includes(name),
      `${name}=${value}`,
    );
  }
});

test("RUST_LOG is an alias of LOG_LEVEL; LOG_LEVEL wins", () => {
  assert.is(loadConfig({ RUST_LOG: "debug" }).logLevel, "debug");
  assert.is(loadConfig({ RUST_LOG: "my_crate=trace,warn" }).logLevel, "warn");
  assert.is(loadConfig({ RUST_LOG: "off" }).logLevel, "silent");
  assert.is(loadConfig({ RUST_LOG: "debug", LOG_LEVEL: "error" }).logLevel, "error");
});

test("empty variables count as unset; IPv6 listen addresses parse", () => {
  assert.is(loadConfig({ POSTGRES_URL: "", SHARD_COUNT: "" }).mode, "embedded");
  assert.equal(loadConfig({ LISTEN_ADDR: "[::1]:9999" }).listen, { host: "::1", port: 9999 });
});

test.run();

test("TLS files: read and checked at start; a bad or missing one is a ConfigError naming its variable", () => {
  const certs = makeCerts();
  try {
    const ok = loadConfig({
      CLUSTER_TLS_CERT: certs.path("runner.crt"),
      CLUSTER_TLS_KEY: certs.path("runner.key"),
      CLUSTER_TLS_CA: certs.path("ca.crt"),
      TLS_CERT: certs.path("http.crt"),
      TLS_KEY: certs.path("http.key"),
      ETCD_CA: certs.path("ca.crt"),
      ETCD_CERT: certs.path("runner.crt"),
      ETCD_KEY: certs.path("runner.key"),
      ETCD_USERNAME: "root",
      ETCD_PASSWORD: "secret",
    });
    assert.ok(ok.clusterTls && ok.httpTls && ok.etcdSecurity.credentials?.certChain && ok.etcdSecurity.auth?.username === "root");
    const cases: [Record<string, string>, RegExp][] = [
      [{ TLS_CERT: certs.path("nope.crt"), TLS_KEY: certs.path("http.key") }, /TLS_CERT: cannot read/],
      [{ TLS_CERT: certs.path("http.key"), TLS_KEY: certs.path("http.key") }, /TLS_CERT: .* is not a PEM certificate/],
      [{ TLS_CERT: certs.path("http.crt"), TLS_KEY: certs.path("http.crt") }, /TLS_KEY: .* is not a PEM private key/],
      [{ TLS_CERT: certs.path("http.crt") }, /TLS_CERT set without TLS_KEY/],
      [{ CLUSTER_TLS_CERT: certs.path("runner.crt"), CLUSTER_TLS_KEY: certs.path("runner.key") }, /without CLUSTER_TLS_CA/],
      [
        { CLUSTER_TLS_CERT: certs.path("runner.crt"), CLUSTER_TLS_KEY: certs.path("runner.key"), CLUSTER_TLS_CA: "/nonexistent/ca.crt" },
        /CLUSTER_TLS_CA: cannot read/,
      ],
      [{ ETCD_CA: certs.path("ca.crt"), ETCD_CERT: certs.path("runner.crt") }, /ETCD_CERT set without ETCD_KEY/],
      [{ ETCD_CERT: certs.path("runner.crt"), ETCD_KEY: certs.path("runner.key") }, /ETCD_CERT needs ETCD_CA/],
      [{ ETCD_USERNAME: "root" }, /ETCD_USERNAME set without ETCD_PASSWORD/],
      [{ POSTGRES_URL: "postgres://h/db?sslmode=sometimes" }, /POSTGRES_URL: sslmode must be one of/],
      [{ POSTGRES_URL: "postgres://h/db", POSTGRES_CA: certs.path("ca.crt") }, /POSTGRES_CA needs sslmode/],
      [
        { POSTGRES_URL: "postgres://h/db?sslmode=verify-full", POSTGRES_CA: certs.path("ca.key") },
        /POSTGRES_CA: .* is not a PEM certificate/,
      ],
    ];
    for (const [env, pattern] of cases) {
      assert.throws(
        () => loadConfig(env),
        (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
        `${JSON.stringify(env)} → ${pattern}`,
      );
    }
    assert.is(loadConfig({ POSTGRES_URL: "postgres://h/db?sslmode=require" }).postgresSsl, "require");
    const full = loadConfig({ POSTGRES_URL: "postgres://h/db?sslmode=verify-full", POSTGRES_CA: certs.path("ca.crt") }).postgresSsl;
    assert.ok(typeof full === "object" && full.rejectUnauthorized && full.ca && !full.checkServerIdentity);
  } finally {
    certs.dispose();
  }
});
