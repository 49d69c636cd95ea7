import { count, eq } from "drizzle-orm";
import { z } from "zod";
import { NonNegativeInt, sqlActivity } from "../../contract/index.ts";
import { badRequest, defineEntity, type EntityContext } from "../cluster/index.ts";
import { transfers } from "./schema.ts";

const Account = z.object({ transfer_count: NonNegativeInt, total_transferred: NonNegativeInt });
type Transfer = { to_entity: string; amount: number };

/** The activity: the account's state and a `transfers` row, in the turn's one transaction. */
async function apply(s: z.infer<typeof Account>, { to_entity, amount }: Transfer, ctx: EntityContext): Promise<number> {
  const total = s.total_transferred + amount;
  if (!Number.isSafeInteger(total)) throw badRequest(`total would leave the exact integer range: ${s.total_transferred} + ${amount}`);
  s.transfer_count += 1;
  s.total_transferred = total;
  await ctx.sql((tx) => tx.insert(transfers).values({ account: ctx.self.id, recipient: to_entity, amount, createdAt: ctx.now }));
  return s.transfer_count;
}

/** One execution per (account, recipient, amount): the same transfer sent twice applies once. */
const execId = (kind: string) => (a: Transfer) => `${kind}:${JSON.stringify([a.to_entity, a.amount])}`;

export const SqlActivityTest = defineEntity(sqlActivity, {
  state: Account,
  initial: () => ({ transfer_count: 0, total_transferred: 0 }),
  handlers: {
    state: (s, _a, ctx) => ({ account_id: ctx.self.id, ...s }),
    sqlCount: (_s, _a, ctx) =>
      ctx.sql(async (tx) => (await tx.select({ n: count() }).from(transfers).where(eq(transfers.account, ctx.self.id)))[0]?.n ?? 0),
  },
  workflows: {
    transfer: { execId: execId("transfer"), run: (wf, a) => wf.activity("apply_transfer", (s, ctx) => apply(s, a, ctx)) },
    failingTransfer: {
      execId: execId("failing"),
      run: (wf, a) =>
        wf.activity("apply_transfer", async (s, ctx) => {
          await apply(s, a, ctx);
          throw new Error("injected failure after the state change and the insert");
        }),
    },
  },
});
