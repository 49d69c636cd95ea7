import { z } from "zod";
import { TimerFire, timer } from "../../contract/index.ts";
import { defineEntity } from "../cluster/index.ts";

/** Records every fire of its timers; the timers themselves are the framework's (`ctx.timers`). */
export const TimerTest = defineEntity(timer, {
  state: z.object({ timer_fires: z.array(TimerFire) }),
  initial: () => ({ timer_fires: [] }),
  handlers: {
    schedule: (_s, { timer_id, delay_ms }, ctx) => {
      ctx.timers.schedule(timer_id, delay_ms);
      return null;
    },
    cancel: (_s, { timer_id }, ctx) => ctx.timers.cancel(timer_id),
    fires: (s) => s.timer_fires,
    clearFires: (s) => {
      s.timer_fires = [];
      return null;
    },
    pending: (_s, _args, ctx) => ctx.timers.pending(),
  },
  onTimer: (s, { timer_id, scheduled_at, fired_at }) => {
    s.timer_fires.push({ timer_id, scheduled_at, fired_at });
  },
});
