/**
 * Runs `task` over every item with at most `limit` in flight, preserving nothing but the
 * bound: the delivery worker's fan-out must not open thousands of sockets to API Gateway at
 * once, nor wait for one slow connection before starting the next.
 */
export async function forEachWithConcurrency<T>(items: Iterable<T>, limit: number, task: (item: T) => Promise<void>): Promise<void> {
  const iterator = items[Symbol.iterator]();
  const worker = async () => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) await task(next.value);
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
}
