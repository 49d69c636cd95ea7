import { z } from "zod";
import { cross, Message } from "../../contract/index.ts";
import { badRequest, defineEntity, type EntityContext } from "../cluster/index.ts";

/** Delivers `message` to the CrossEntity `to`, from the entity handling `ctx`. */
function deliver(ctx: EntityContext, to: string, message: string) {
  return ctx.call(cross, to, "receive", { from: ctx.self.id, message });
}

export const CrossEntity = defineEntity(cross, {
  state: z.object({ received_messages: z.array(Message) }),
  initial: () => ({ received_messages: [] }),
  handlers: {
    send: async (_, { target_type, target_id, message }, ctx) => {
      // Only CrossEntity has a `receive`; any other type is a caller's mistake.
      if (target_type !== cross.type) throw badRequest(`target_type must be ${cross.type}, the entity type that can receive messages`);
      await deliver(ctx, target_id, message);
      return null;
    },
    receive: (s, { from, message }, ctx) => {
      s.received_messages.push({ from_entity: from, content: message, timestamp: ctx.now.toISOString() });
      return null;
    },
    messages: (s) => s.received_messages,
    clear: (s) => {
      s.received_messages = [];
      return null;
    },
    // Each round: a ping to the partner, then the partner sends a pong back into this entity
    // while this turn is still running (a reentrant call along the chain this → partner → this).
    pingPong: async (_, { partner_id, count }, ctx) => {
      for (let round = 1; round <= count; round++) {
        await deliver(ctx, partner_id, `ping ${round}`);
        await ctx.call(cross, partner_id, "send", { target_type: cross.type, target_id: ctx.self.id, message: `pong ${round}` });
      }
      return 2 * count;
    },
  },
});
