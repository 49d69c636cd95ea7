import { z } from "zod";
import { entity, rpc } from "./entity.ts";
import { EntityId, Name, Null, Timestamp } from "./values.ts";

/** Most round trips one `ping-pong` call may ask for. */
export const MAX_PING_PONG = 1000;

export const Message = z.object({ from_entity: z.string(), content: z.string(), timestamp: Timestamp });
export type Message = z.infer<typeof Message>;

export const cross = entity("CrossEntity", "/cross/{id}", {
  send: rpc(
    "POST /send",
    {
      // Checked by the entity (only CrossEntity receives messages); the example keeps generated requests valid.
      target_type: Name.meta({ description: "the receiver's entity type: CrossEntity", examples: ["CrossEntity"] }),
      target_id: EntityId,
      message: z.string(),
    },
    Null,
  ),
  receive: rpc("POST /receive", { from: z.string(), message: z.string() }, Null),
  messages: rpc("GET /messages", {}, z.array(Message)),
  clear: rpc("POST /clear", {}, Null),
  pingPong: rpc(
    "POST /ping-pong",
    { partner_id: EntityId, count: z.number().int().min(0).max(MAX_PING_PONG, `count must be ≤ ${MAX_PING_PONG}`) },
    z.number().int(),
  ),
});
