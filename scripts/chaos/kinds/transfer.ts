import type { Random } from "../random.ts";
import { type Endpoints, EntityWorkload, type Operation, type Verdict } from "../workload.ts";

interface Transfer {
  readonly account: string;
  readonly to: string;
  readonly amount: number;
  acknowledged: boolean;
}

/**
 * SqlActivityTest transfers, each to a recipient of its own (its execution is keyed by account,
 * recipient and amount, so a retry is the same transfer). Afterwards the unacknowledged ones are
 * sent again, then every account's state and its rows in the application's `transfers` table
 * must both count each transfer exactly once.
 */
export class TransferWorkload extends EntityWorkload {
  private readonly transfers: Transfer[] = [];

  constructor(run: string, loops: number, accounts: number) {
    super("transfer", run, loops, accounts);
  }

  next(_loop: number, random: Random): Operation {
    const transfer: Transfer = {
      account: random.pick(this.ids),
      to: `r-${this.transfers.length}`,
      amount: 1 + (this.transfers.length % 9),
      acknowledged: false,
    };
    this.transfers.push(transfer);
    return operation(transfer);
  }

  async verify(cluster: Endpoints): Promise<Verdict> {
    const anomalies: string[] = [];
    for (const t of this.transfers) {
      if (!t.acknowledged && !(await cluster.settle(operation(t), 30_000))) anomalies.push(`transfer ${t.account}→${t.to} never settled`);
    }
    let lost = 0;
    let duplicated = 0;
    for (const account of this.ids) {
      const sent = this.transfers.filter((t) => t.account === account);
      const total = sent.reduce((sum, t) => sum + t.amount, 0);
      const state = await cluster.read((api) => api.sqlActivity.state({ id: account }));
      const rows = await cluster.read((api) => api.sqlActivity.sqlCount({ id: account }));
      for (const [what, n] of [
        ["state", state.transfer_count],
        ["rows", rows],
      ] as const) {
        lost += Math.max(0, sent.length - n);
        duplicated += Math.max(0, n - sent.length);
        if (n !== sent.length) anomalies.push(`${account}: ${what} count ${n}, but ${sent.length} transfers were sent`);
      }
      if (state.total_transferred !== total) anomalies.push(`${account}: total ${state.total_transferred}, expected ${total}`);
    }
    return { lost, duplicated, anomalies };
  }
}

function operation(t: Transfer): Operation {
  return {
    key: `${t.account}:${t.to}`,
    send: (api, signal) => api.sqlActivity.transfer({ id: t.account, to_entity: t.to, amount: t.amount }, { signal }),
    acknowledged: () => {
      t.acknowledged = true;
    },
  };
}
