import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ApiError, createClient } from "../../src/client.ts";
import { contract } from "./contract.ts";
import { serveGuestbook } from "./serve.ts";

// The README's "Writing an entity" walks through this example; this test keeps it honest.
const dataDir = mkdtempSync(join(tmpdir(), "guestbook-"));
const service = await serveGuestbook(dataDir);

test.after(async () => {
  await service.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test("signing through REST counts the signatures, in order", async () => {
  const sign = (name: string) => fetch(`${service.url}/guestbook/lobby/sign`, { method: "POST", body: JSON.stringify({ name }) });
  assert.is(await (await sign("Ada")).json(), 1);
  assert.is(await (await sign("Grace")).json(), 2);
  const names = await fetch(`${service.url}/guestbook/lobby/names`);
  assert.equal(await names.json(), ["Ada", "Grace"]);
});

test("the typed client speaks the same contract, over REST and tRPC", async () => {
  for (const transport of ["rest", "trpc"] as const) {
    const client = createClient(service.url, { contract, transport });
    const id = `hall-${transport}`;
    assert.is(await client.guestbook.sign({ id, name: "Linus" }), 1);
    assert.equal(await client.guestbook.names({ id }), ["Linus"]);
    const health = await client.system.health({});
    assert.is(health.mode, "embedded");
  }
});

test("a handler's error and bad input are 400 JSON, and change nothing", async () => {
  const client = createClient(service.url, { contract });
  const again = await client.guestbook.sign({ id: "lobby", name: "Ada" }).catch((e: unknown) => e);
  assert.instance(again, ApiError);
  assert.is((again as ApiError).status, 400);
  const bad = await fetch(`${service.url}/guestbook/lobby/sign`, { method: "POST", body: '{"name": 7}' });
  assert.is(bad.status, 400);
  assert.equal(await client.guestbook.names({ id: "lobby" }), ["Ada", "Grace"]);
});

test.run();
