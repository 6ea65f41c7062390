/**
 * The entry of the SNS/SQS server's thread (messaging.ts starts it): fauxqs listening, its port
 * posted back once it does. The thread ends when the cloud terminates it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startFauxqsServer } from './fauxqs-server';
import type { MessagingThreadReply } from './messaging-thread-protocol';

const reply = (message: MessagingThreadReply) => parentPort!.postMessage(message);

startFauxqsServer(workerData).then(
  ({ port }) => reply({ port }),
  (error: unknown) => reply({ error: error instanceof Error ? error.message : String(error) }),
);
