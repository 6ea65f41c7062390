/**
 * A function's sandbox in the local cloud: the worker thread function-thread.ts starts for one
 * function of one region, as Lambda starts an execution environment. Its bundle (function-bundles.ts)
 * holds that function's code only, loaded fresh, so no module state is shared with another
 * function; its runtime is built from the region's Lambda environment, with its own SDK clients.
 * It answers the invocations the cloud forwards, and reports with each answer what it counted:
 * the handler's Count metrics and the faults its AWS calls got.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { addCounts, type MetricsSink, type RuntimeOptions } from '../lambdas/core/runtime';
import { FunctionConfigSchema, received, SandboxRequestSchema, thrown, type Report, type SandboxReply } from './function-protocol';
import { HandlerFaults } from './handler-faults';
import { localFunction } from './lambda-function';

/**
 * Timeouts of the handlers' AWS clients on the local cloud (Lambda's are 1 s and 3 s:
 * lambdas/core/runtime.ts): on a loaded machine a socket waits in DynamoDB Local's accept queue,
 * and a request on its one JVM, for longer than that, waits AWS's endpoints do not make; timing
 * out there only adds retries to an overloaded emulator.
 */
const LOCAL_TIMEOUTS = { connectionTimeout: 5000, requestTimeout: 10_000 };

/** What a function's handler is built from. */
export interface FunctionSetup {
  /** The region's Lambda environment of this function. */
  readonly env: Record<string, string>;
  /** Its log and metrics, and its SDK clients' request handler, through the fault injection. */
  readonly runtimeOptions: RuntimeOptions & { readonly metrics: MetricsSink };
  /** The region's drain switch, for the edge (on AWS an SSM parameter). */
  readonly isDrained: () => Promise<boolean>;
}

/** Builds a function's handler, as its lambdas/<name>.ts does on Lambda. */
export type FunctionBuilder = (setup: FunctionSetup) => (event: never) => Promise<unknown>;

/** Runs the sandbox of the function `build` makes; the entry of every function bundle calls it. */
export function runSandbox(build: FunctionBuilder): void {
  const port = parentPort;
  if (!port) throw new Error('runSandbox runs in a worker thread started by function-thread.ts');
  const config = received(FunctionConfigSchema, workerData, 'function configuration');
  const faults = new HandlerFaults(config.faultSeed);
  const fn = localFunction(config);
  const metrics: Report['metrics'] = {};
  const drainSwitch = new Int32Array(config.drainSwitch);
  const handler = fn.invoke(
    build({
      env: config.env,
      runtimeOptions: {
        log: fn.log,
        metrics: (dimensions, measurements) => addCounts((metrics[[config.region, ...Object.values(dimensions)].join('/')] ??= {}), measurements),
        // Each client gets the HTTP options it has on Lambda, through the fault injection, but for the timeouts.
        requestHandler: (http) => faults.requestHandler({ ...http, ...LOCAL_TIMEOUTS }),
      },
      isDrained: async () => Atomics.load(drainSwitch, 0) === 1,
    }) as (event: unknown) => Promise<unknown>,
  );

  const reply = (message: SandboxReply) => port.postMessage(message);
  const report = (): Report => ({ metrics, faults: faults.stats() });
  port.on('message', (message: unknown) => {
    const request = received(SandboxRequestSchema, message, 'request to a function sandbox');
    if (request.type === 'faults') return faults.set(request.settings);
    const { id } = request;
    void handler(request.event).then(
      (value) => {
        try {
          reply({ type: 'result', id, value, report: report() });
        } catch (error) {
          // A result that cannot be cloned (a function, a socket) fails the invocation, as an unserializable Lambda response does.
          reply({ type: 'failure', id, error: thrown(error), report: report() });
        }
      },
      (error: unknown) => reply({ type: 'failure', id, error: thrown(error), report: report() }),
    );
  });
  reply({ type: 'ready' });
}
