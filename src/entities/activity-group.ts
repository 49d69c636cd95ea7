import { z } from "zod";
import { activityGroup } from "../../contract/index.ts";
import { defineEntity } from "../cluster/index.ts";
import { Inventory, Payments, readSteps, recordStep } from "./order-activities.ts";

/** ActivityGroupTest, keyed by order id: a workflow made of two mixed-in groups and one local activity. */
export const ActivityGroupTest = defineEntity(activityGroup, {
  state: z.object({}),
  initial: () => ({}),
  activityGroups: [Inventory, Payments],
  handlers: {
    orderSteps: (_s, _a, ctx) => readSteps(ctx),
  },
  workflows: {
    processOrder: {
      execId: () => "process-order",
      run: async (wf, { item_count, amount }) => {
        const order = wf.self.id;
        const inventory = wf.use(Inventory);
        const reservation_id = await inventory.reserve_items({ order, item_count });
        const transaction_id = await wf.use(Payments).charge_payment({ order, amount });
        const confirmation = await inventory.confirm_reservation({ reservation: reservation_id });
        const text = `order=${order},res=${reservation_id},tx=${transaction_id}`;
        const summary = await wf.activity("summarize", (_s, ctx) => recordStep(ctx, "summary", text));
        return { order_id: order, reservation_id, transaction_id, confirmation, summary };
      },
    },
  },
});
