import { z } from "zod";
import { JsonValue, kv } from "../../contract/index.ts";
import { defineEntity, dictionary } from "../cluster/index.ts";

export const KVStore = defineEntity(kv, {
  // A null-prototype record: keys like `__proto__` are plain keys here, also once reloaded.
  state: z.object({ data: dictionary(JsonValue) }),
  initial: () => ({ data: Object.create(null) as Record<string, JsonValue> }),
  handlers: {
    set: (s, { key, value }) => {
      s.data[key] = value;
      return null;
    },
    get: (s, { key }) => (Object.hasOwn(s.data, key) ? (s.data[key] as JsonValue) : null),
    delete: (s, { key }) => Object.hasOwn(s.data, key) && delete s.data[key],
    keys: (s) => Object.keys(s.data).sort(),
    clear: (s) => {
      s.data = Object.create(null);
      return null;
    },
  },
});
