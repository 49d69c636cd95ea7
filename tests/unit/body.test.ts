import { test } from "uvu";
import * as assert from "uvu/assert";
import { bodyInput, parseJson } from "../../src/api/body.ts";
import { HttpError } from "../../src/api/http-error.ts";

const status = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof HttpError ? e.status : -1;
  }
  return 0;
};

test("integers beyond ±(2^53−1) anywhere in a body are rejected, not rounded", () => {
  assert.is(parseJson("9007199254740991"), 9007199254740991);
  assert.is(parseJson("-9007199254740991"), -9007199254740991);
  for (const text of [
    "9007199254740992",
    "9007199254740993",
    "-9007199254740993",
    '{"a":[1,{"b":1e20}]}',
    "123456789012345678901234567890",
  ]) {
    assert.is(
      status(() => parseJson(text)),
      400,
      text,
    );
  }
  assert.is(parseJson("1.5"), 1.5);
});

test("body mappings: none, object, field", () => {
  for (const text of ["", "  ", "{}", "null"]) assert.equal(bodyInput(text, "none"), {});
  assert.is(
    status(() => bodyInput("[]", "none")),
    400,
  );
  assert.equal(bodyInput('{"key":"a","value":[1]}', "object"), { key: "a", value: [1] });
  for (const text of ["[1]", "null", "5", '"s"', ""])
    assert.is(
      status(() => bodyInput(text, "object")),
      400,
      text,
    );
  assert.equal(bodyInput("5", { field: "amount" }), { amount: 5 });
  assert.equal(bodyInput('"abc"', { field: "amount" }), { amount: "abc" });
  assert.is(
    status(() => bodyInput("", { field: "amount" })),
    400,
  );
});

test("nesting is capped", () => {
  assert.is(
    status(() => parseJson(`${"[".repeat(100)}${"]".repeat(100)}`)),
    400,
  );
  assert.equal(parseJson(`${"[".repeat(10)}${"]".repeat(10)}`), [[[[[[[[[[]]]]]]]]]]);
});

test.run();
