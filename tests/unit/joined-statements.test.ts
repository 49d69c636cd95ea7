/**
 * `joinStatements`: statements of one set form in a commit become one, where that moves no
 * statement ahead of another touching the same thing; each member still gets its own rows.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { joinStatements } from "../../src/cluster/storage/joined-statements.ts";
import type { Statement, StatementRow } from "../../src/cluster/storage/statement.ts";

/** A statement of kind `kind` touching `thing`, on entity E/1 unless another is given. */
const of = (kind: string, thing: string, rows?: (rows: readonly StatementRow[]) => void, id = "1"): Statement => ({
  text: `${kind} ${thing}`,
  params: [thing],
  ...(rows ? { rows } : {}),
  many: { text: `SET ${kind}`, entity: ["E", id], row: { x: thing }, touches: thing },
});
const plain: Statement = { text: "CAS", params: [] };

/** Each output statement as its kind and the things it covers. */
const shape = (statements: readonly Statement[]) =>
  statements.map((s) =>
    s.text.startsWith("SET ") ? `${s.text.slice(4)}[${JSON.parse(String(s.params[2])).map((r: { x: string }) => r.x)}]` : s.text,
  );

test("the statements of one kind join into one, where the first of them was", () => {
  const batch = [plain, of("wake", "a"), of("journal", "a"), of("wake", "b"), of("journal", "b"), of("wake", "c")];
  assert.equal(shape(joinStatements(batch)), ["CAS", "wake[a,b,c]", "journal[a,b]"]);
});

test("a statement alone of its kind, or a batch with one set form, stays as it was", () => {
  const batch = [plain, of("wake", "a")];
  assert.is(joinStatements(batch), batch);
  const mixed = [of("wake", "a"), of("journal", "b")];
  assert.equal(
    joinStatements(mixed).map((s) => s.text),
    ["wake a", "journal b"],
  );
});

test("a statement does not move ahead of one touching the same thing", () => {
  // wake a, suspend a, wake a: the second wake must follow the suspend.
  const batch = [of("wake", "a"), of("suspend", "a"), of("wake", "a"), of("wake", "b")];
  assert.equal(shape(joinStatements(batch)), ["wake a", "suspend a", "wake[a,b]"]);
});

test("a thing is not touched twice by one joined statement", () => {
  assert.equal(shape(joinStatements([of("timer", "t"), of("timer", "t"), of("timer", "u")])), ["timer t", "timer[t,u]"]);
});

test("a statement without a set form is a barrier", () => {
  const batch = [of("wake", "a"), of("wake", "b"), plain, of("wake", "c"), of("wake", "d")];
  assert.equal(shape(joinStatements(batch)), ["wake[a,b]", "CAS", "wake[c,d]"]);
});

test("statements of another entity are another kind, and their things other things", () => {
  const batch = [of("wake", "a"), of("wake", "a", undefined, "2"), of("wake", "b")];
  assert.equal(shape(joinStatements(batch)), ["wake[a,b]", "wake a"]);
});

test("each member of a joined statement gets the rows with its own index, none when it has none", () => {
  const got: Record<string, readonly StatementRow[]> = {};
  const member = (thing: string) => of("read", thing, (rows) => (got[thing] = rows));
  const [joined] = joinStatements([member("a"), member("b"), member("c")]);
  assert.ok(joined?.rows);
  assert.equal(JSON.parse(String(joined.params[2])), [
    { x: "a", i: 0 },
    { x: "b", i: 1 },
    { x: "c", i: 2 },
  ]);
  joined.rows([
    { i: 2, v: "c1" },
    { i: 0, v: "a1" },
    { i: 2, v: "c2" },
  ]);
  assert.equal(got, {
    a: [{ i: 0, v: "a1" }],
    b: [],
    c: [
      { i: 2, v: "c1" },
      { i: 2, v: "c2" },
    ],
  });
});

test.run();
