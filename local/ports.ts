import { createServer } from 'node:net';

/** A port the local cloud wants, and who wants it: what to tell the user when it is taken. */
export interface WantedPort {
  port: number;
  component: string;
  /** The `npm start` flag that moves it. */
  flag: string;
}

/** Whether something already listens on host:port (a bind attempt says so, nothing is left bound). */
export function portTaken(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', () => resolve(true));
    probe.listen(port, host, () => probe.close(() => resolve(false)));
  });
}

/**
 * Checks every wanted port before anything starts, so a second `npm start`, or a JVM left
 * behind by an earlier one, is named with its component and flag instead of surfacing as a
 * bare EADDRINUSE (or, for DynamoDB Local, as another process's database silently shared).
 */
export async function assertPortsFree(wanted: readonly WantedPort[], host = '127.0.0.1'): Promise<void> {
  const taken: WantedPort[] = [];
  for (const entry of wanted) if (entry.port !== 0 && (await portTaken(entry.port, host))) taken.push(entry);
  if (taken.length === 0) return;
  const lines = taken.map((t) => `  - ${t.port} (${t.component}; move it with ${t.flag})`);
  throw new Error(
    `These ports are in use:\n${lines.join('\n')}\n` +
      'Most likely another `npm start` is running, or an earlier one left a process behind ' +
      `(find it with \`lsof -i :${taken[0]!.port}\` or \`ss -ltnp\`). Stop it, or choose other ports.`,
  );
}
