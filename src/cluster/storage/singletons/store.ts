/**
 * Every run of a singleton, with its interval (started, last seen alive, stopped), so that
 * "never two at once" can be checked after the fact.
 */
export interface SingletonRunStore {
  /** Records that `runner` started the singleton `name` at `at`; the run's id. */
  started(name: string, runner: string, at: Date): Promise<number>;
  /** The run was alive at `at` (its host still owned the singleton's shard). */
  seen(runId: number, at: Date): Promise<void>;
  stopped(runId: number, at: Date): Promise<void>;
}
