import { asc, eq } from "drizzle-orm";
import { defineActivityGroup, type EntityContext } from "../cluster/index.ts";
import { orderSteps } from "./schema.ts";

/** Records one step of the order (the entity's id) in the activity's own transaction; returns its detail. */
export async function recordStep(ctx: EntityContext, step: string, detail: string): Promise<string> {
  await ctx.sql((tx) => tx.insert(orderSteps).values({ orderId: ctx.self.id, step, detail, createdAt: ctx.now }));
  return detail;
}

export const readSteps = (ctx: EntityContext) =>
  ctx.sql(async (tx) =>
    (
      await tx
        .select({ step: orderSteps.step, detail: orderSteps.detail, createdAt: orderSteps.createdAt })
        .from(orderSteps)
        .where(eq(orderSteps.orderId, ctx.self.id))
        .orderBy(asc(orderSteps.id))
    ).map((r) => ({ step: r.step, detail: r.detail, created_at: r.createdAt.toISOString() })),
  );

/** Reusable activity groups, written once: any entity's workflows may mix them in. */
export const Inventory = defineActivityGroup("Inventory", {
  reserve_items: ({ order, item_count }: { order: string; item_count: number }, ctx) =>
    recordStep(ctx, "reserve", `res-${order}-${item_count}`),
  confirm_reservation: ({ reservation }: { reservation: string }, ctx) => recordStep(ctx, "confirm", `confirmed-${reservation}`),
});

export const Payments = defineActivityGroup("Payments", {
  charge_payment: ({ order, amount }: { order: string; amount: number }, ctx) => recordStep(ctx, "charge", `tx-${order}-${amount}`),
});
