import { fork, type ChildProcess } from 'node:child_process';

type Typed = { type: string };

/**
 * A forked bench process driven over IPC: messages down, typed replies up. The child inherits
 * this process's execArgv, so under tsx it runs TypeScript too.
 */
export class BenchChild<To extends Typed, From extends Typed> {
  private exited?: string;
  private readonly child: ChildProcess;

  constructor(
    module: URL,
    private readonly name: string,
    options: { env?: NodeJS.ProcessEnv; execArgv?: string[] } = {},
  ) {
    this.child = fork(module, { stdio: 'inherit', ...options });
    this.child.once('exit', (code, signal) => {
      this.exited = `the ${name} exited (code ${code}, signal ${signal})`;
    });
  }

  /** Every message the child sends; returns the function that stops listening. */
  listen(listener: (message: From) => void): () => void {
    this.child.on('message', listener);
    return () => this.child.off('message', listener);
  }

  send(message: To): void {
    if (this.exited) throw new Error(this.exited);
    this.child.send(message);
  }

  /** Sends the message and resolves with the child's next message of the reply type. */
  request<T extends From['type']>(message: To, replyType: T): Promise<Extract<From, { type: T }>> {
    const reply = this.reply(replyType);
    this.send(message);
    return reply;
  }

  reply<T extends From['type']>(type: T): Promise<Extract<From, { type: T }>> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: From) => {
        if (message.type !== type) return;
        this.child.off('exit', onExit);
        this.child.off('message', onMessage);
        resolve(message as Extract<From, { type: T }>);
      };
      const onExit = () => {
        this.child.off('message', onMessage);
        reject(new Error(this.exited ?? `the ${this.name} exited`));
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
    });
  }

  /** Sends the close message (the child then ends itself) or kills a child that lost its channel, and waits for the exit. */
  async close(closeMessage: To): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    if (this.child.connected) this.send(closeMessage);
    else this.child.kill();
    await exited;
  }
}
