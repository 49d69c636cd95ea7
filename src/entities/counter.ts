import { z } from "zod";
import { counter, SafeInt } from "../../contract/index.ts";
import { badRequest, defineEntity } from "../cluster/index.ts";

/** The exact sum, or a 400 rather than a rounded value. */
function add(value: number, amount: number): number {
  const sum = value + amount;
  if (!Number.isSafeInteger(sum)) throw badRequest(`counter would leave the exact integer range ±(2^53−1): ${value} + ${amount}`);
  return sum;
}

export const Counter = defineEntity(counter, {
  state: z.object({ value: SafeInt }),
  initial: () => ({ value: 0 }),
  handlers: {
    increment: (s, { amount }) => (s.value = add(s.value, amount)),
    decrement: (s, { amount }) => (s.value = add(s.value, -amount)),
    get: (s) => s.value,
    reset: (s) => {
      s.value = 0;
      return null;
    },
  },
});
