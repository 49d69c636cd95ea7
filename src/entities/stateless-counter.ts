import { eq } from "drizzle-orm";
import { statelessCounter } from "../../contract/index.ts";
import { badRequest, defineStatelessEntity, type EntityContext } from "../cluster/index.ts";
import { statelessCounters as counters } from "./schema.ts";

/** The stored value, 0 for an id never written. */
const read = (ctx: EntityContext) =>
  ctx.sql(async (tx) => (await tx.select({ value: counters.value }).from(counters).where(eq(counters.id, ctx.self.id)))[0]?.value ?? 0);

/** Adds exactly, or refuses (400) a result beyond ±(2^53−1), like Counter. */
async function add(ctx: EntityContext, amount: number): Promise<number> {
  const value = await read(ctx);
  const sum = value + amount;
  if (!Number.isSafeInteger(sum)) throw badRequest(`counter would leave the exact integer range ±(2^53−1): ${value} + ${amount}`);
  const row = { id: ctx.self.id, value: sum };
  await ctx.sql((tx) =>
    tx
      .insert(counters)
      .values(row)
      .onConflictDoUpdate({ target: counters.id, set: { value: sum } }),
  );
  return sum;
}

/** Counter without framework state: the value is a row of the application's `stateless_counters`. */
export const StatelessCounter = defineStatelessEntity(statelessCounter, {
  handlers: {
    increment: ({ amount }, ctx) => add(ctx, amount),
    decrement: ({ amount }, ctx) => add(ctx, -amount),
    get: (_a, ctx) => read(ctx),
    reset: async (_a, ctx) => {
      await ctx.sql((tx) => tx.delete(counters).where(eq(counters.id, ctx.self.id)));
      return null;
    },
  },
});
