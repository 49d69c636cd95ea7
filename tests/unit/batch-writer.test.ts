import { EventEmitter } from "node:events";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BatchWriter } from "../../src/cluster/transport/batch-writer.ts";

/** A stream stand-in that records messages and reports backpressure while `full`. */
class Sink extends EventEmitter {
  readonly messages: string[][] = [];
  full = false;
  ended = false;
  write(message: string[]): boolean {
    this.messages.push(message);
    return !this.full;
  }
  end(): void {
    this.ended = true;
  }
}

const nextTick = () => new Promise((resolve) => setImmediate(resolve));
const writer = (sink: Sink, budget?: number) =>
  new BatchWriter<string, string[]>(
    sink,
    (items) => items,
    (item) => item.length,
    budget,
  );

test("items pushed in one tick leave as one message, after the tick", async () => {
  const sink = new Sink();
  const w = writer(sink);
  for (let i = 0; i < 100; i++) w.push(String(i));
  assert.is(sink.messages.length, 0, "nothing is written synchronously");
  await nextTick();
  assert.equal(sink.messages, [Array.from({ length: 100 }, (_, i) => String(i))]);
  w.push("next");
  await nextTick();
  assert.equal(sink.messages.at(-1), ["next"]);
});

test("a message is cut once it holds the byte budget", async () => {
  const sink = new Sink();
  const w = writer(sink, 10);
  for (const item of ["aaaa", "bbbb", "cccc", "dd", "e"]) w.push(item);
  await nextTick();
  assert.equal(sink.messages, [
    ["aaaa", "bbbb", "cccc"],
    ["dd", "e"],
  ]);
});

test("while the stream pushes back, items wait for 'drain' and then leave together", async () => {
  const sink = new Sink();
  const w = writer(sink);
  sink.full = true;
  w.push("a");
  await nextTick();
  assert.equal(sink.messages, [["a"]]);
  w.push("b");
  w.push("c");
  await nextTick();
  w.push("d");
  await nextTick();
  assert.equal(sink.messages, [["a"]], "nothing written before drain");
  sink.full = false;
  sink.emit("drain");
  assert.equal(sink.messages, [["a"], ["b", "c", "d"]]);
});

test("end() writes what is queued even under backpressure, then ends; close() drops it", async () => {
  const sink = new Sink();
  const w = writer(sink);
  sink.full = true;
  w.push("a");
  await nextTick();
  w.push("b");
  w.end();
  assert.equal(sink.messages, [["a"], ["b"]]);
  assert.ok(sink.ended);
  w.push("late");
  await nextTick();
  assert.equal(sink.messages, [["a"], ["b"]]);

  const other = new Sink();
  const v = writer(other);
  v.push("x");
  v.close();
  await nextTick();
  v.end();
  assert.equal(other.messages, []);
  assert.not.ok(other.ended);
});

test.run();
