// Per-key serialization inside one process. A quota that is counted and then created (rooms, reports,
// ingest streams per user) holds against one user's concurrent requests, which would otherwise all pass
// the count together (across processes a race can still overshoot by one per process); a channel's
// messages publish in arrival order whatever order their inference finishes in.

export class KeyedSerializer {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `task` after every earlier task of `key` has settled; tasks of other keys run freely. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    // The map holds only keys with work pending: the last task of a key removes it.
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
