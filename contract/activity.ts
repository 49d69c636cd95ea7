import { z } from "zod";
import { entity, rpc } from "./entity.ts";
import { Name, Timestamp } from "./values.ts";

export const ActivityRecord = z.object({ id: z.string(), action: z.string(), timestamp: Timestamp });
export type ActivityRecord = z.infer<typeof ActivityRecord>;

export const activity = entity("ActivityTest", "/activity/{id}", {
  run: rpc("POST /run", { exec_id: Name }, z.array(z.string())),
  log: rpc("GET /log", {}, z.array(ActivityRecord)),
});
