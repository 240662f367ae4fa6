// Override writes on this instance, one at a time: staff changes (AdminService), the prober's activations and the scanner's launches.

/** Runs `task` after every task handed in before it has settled; its result (or error) is the caller's. */
export type Serially = <T>(task: () => Promise<T>) => Promise<T>;

/**
 * One queue per instance: read, audit and write of one change never interleave with another's, so a change is
 * never undone by one computed before it, and the audit log's order is the order of writes.
 */
export function serialWrites(): Serially {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const run = tail.then(task);
    tail = run.catch(() => undefined);
    return run;
  };
}
