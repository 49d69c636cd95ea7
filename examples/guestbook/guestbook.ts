import { z } from "zod";
import { badRequest, defineEntity } from "../../src/cluster/index.ts";
import { guestbook } from "./contract.ts";

/** A guestbook per id: one turn at a time, its state committed with each signature. */
export const Guestbook = defineEntity(guestbook, {
  state: z.object({ names: z.array(z.string()) }),
  initial: () => ({ names: [] }),
  handlers: {
    sign: (state, { name }) => {
      if (state.names.includes(name)) throw badRequest(`${name} has signed already`);
      state.names.push(name);
      return state.names.length;
    },
    names: (state) => state.names,
  },
});
