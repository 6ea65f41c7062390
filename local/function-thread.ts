/**
 * One function of one region of the local cloud, run in a worker thread of its own (its sandbox:
 * function-sandbox.ts), as Lambda runs each function in execution environments of its own: the
 * cloud's emulators keep the main thread, the functions' work spreads over every core, and no
 * function shares module state or SDK clients with another. Invocations cross as messages: the
 * event in, the result or the error out, so a thrown handler error still fails the invocation
 * with its name and message.
 */
import { Worker } from 'node:worker_threads';
import { noFaultsInjected, type FaultStats, type HandlerFaultSettings } from './handler-faults';
import type { HandlerFaultsTarget } from './faults';
import { received, rethrown, SandboxReplySchema, type FunctionConfig, type Report, type SandboxRequest } from './function-protocol';

export interface FunctionThread<E = never, R = unknown> extends HandlerFaultsTarget {
  /** One invocation: resolves with what the handler returned, rejects with what it threw. */
  invoke(event: E): Promise<R>;
  /** The Count metrics its handler reported so far, by `<region>/<dimension values>`. */
  metrics(): Report['metrics'];
  /** Ends the thread; invocations still running fail. */
  stop(): Promise<void>;
}

export interface FunctionThreadOptions {
  /** Its bundle (function-bundles.ts). */
  readonly file: string;
  readonly config: FunctionConfig;
  /** Told when the sandbox dies while the cloud runs (an uncaught error in the function's code); its invocations fail from then on. */
  readonly onCrash: (error: Error) => void;
}

/** Starts a function's sandbox; resolves once its handler is built, rejects with what failed its init. */
export async function startFunctionThread<E, R>(options: FunctionThreadOptions): Promise<FunctionThread<E, R>> {
  const { region, name } = options.config;
  const worker = new Worker(options.file, {
    workerData: options.config,
    // No loader: the bundle is plain JavaScript, and tsx's (npm start) would only slow the thread's start.
    execArgv: [],
    // The SDK's warning about this Node version came once on the main thread; not again from every sandbox.
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    name: `${region}/${name}`,
  });
  const pending = new Map<number, { resolve: (value: R) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let latest: Report = { metrics: {}, faults: noFaultsInjected() };
  /** Why it no longer takes invocations: set when it dies or is stopped. */
  let ended: Error | undefined;

  const end = (reason: Error) => {
    ended ??= reason;
    for (const { reject } of pending.values()) reject(reason);
    pending.clear();
  };
  const send = (request: SandboxRequest) => worker.postMessage(request);

  let ready = false;
  let startupSettled: { resolve: () => void; reject: (error: Error) => void } | undefined;
  const started = new Promise<void>((resolve, reject) => (startupSettled = { resolve, reject }));
  const failedToStart = (error: Error) => {
    startupSettled!.reject(new Error(`Function ${name} (${region}) failed to start: ${error.message}`, { cause: error }));
    void worker.terminate();
  };

  const crashed = (error: Error) => {
    const crash = new Error(`Function ${name} (${region}) crashed: ${error.message}`, { cause: error });
    end(crash);
    options.onCrash(crash);
    void worker.terminate();
  };

  worker.on('message', (message: unknown) => {
    let reply;
    try {
      reply = received(SandboxReplySchema, message, `reply of function ${name} (${region})`);
    } catch (error) {
      return ready ? crashed(error as Error) : failedToStart(error as Error);
    }
    if (reply.type === 'ready') {
      ready = true;
      return startupSettled!.resolve();
    }
    latest = reply.report;
    const waiting = pending.get(reply.id);
    pending.delete(reply.id);
    if (reply.type === 'result') waiting?.resolve(reply.value as R);
    else waiting?.reject(rethrown(reply.error));
  });
  worker.on('error', (error) => (ready ? crashed(error) : failedToStart(error)));
  worker.on('exit', (code) => {
    failedToStart(new Error(`its thread exited with code ${code}`));
    end(new Error(`Function ${name} (${region}) is stopped`));
  });
  await started;

  return {
    invoke: (event) =>
      new Promise<R>((resolve, reject) => {
        if (ended) return reject(ended);
        const id = nextId++;
        pending.set(id, { resolve, reject });
        try {
          send({ type: 'invoke', id, event });
        } catch (error) {
          // An event that cannot be cloned never reaches the function.
          pending.delete(id);
          reject(error as Error);
        }
      }),
    set: (settings: HandlerFaultSettings) => {
      if (!ended) send({ type: 'faults', settings: { ...settings, dynamodbOperations: [...settings.dynamodbOperations] } });
    },
    stats: (): FaultStats => ({ ...latest.faults }),
    metrics: () => structuredClone(latest.metrics),
    stop: async () => {
      end(new Error(`Function ${name} (${region}) is stopped`));
      await worker.terminate();
    },
  };
}
