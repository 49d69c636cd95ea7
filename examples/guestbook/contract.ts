import { z } from "zod";
import { entity, Name, NonNegativeInt, rpc, system } from "../../contract/index.ts";

/** The RPCs of a guestbook, each with its REST route: declared once, here. */
export const guestbook = entity("Guestbook", "/guestbook/{id}", {
  // POST /guestbook/{id}/sign {"name": "Ada"} → how many have signed
  sign: rpc("POST /sign", { name: Name }, NonNegativeInt),
  // GET /guestbook/{id}/names → who signed, in order
  names: rpc("GET /names", {}, z.array(z.string())),
});

/** What this service serves: the guestbook, plus /health and /debug/* from the runner. */
export const contract = { guestbook, system };
