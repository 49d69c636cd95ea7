import type { Logger } from "../log.ts";

/**
 * What every peer answers to `ask`, in peer order: a cluster-wide listing (active entities, traffic
 * samples) answered by whoever answers in time. A peer that fails or times out is logged and left out,
 * so one slow runner cannot hold a listing up.
 */
export async function fromPeers<T>(
  peers: readonly string[],
  ask: (peer: string) => Promise<readonly T[]>,
  what: string,
  log: Logger,
): Promise<T[]> {
  const answers = await Promise.all(
    peers.map((peer) =>
      ask(peer).catch((err: unknown) => {
        log.warn({ err, peer }, `peer did not send ${what}`);
        return [];
      }),
    ),
  );
  return answers.flat();
}
