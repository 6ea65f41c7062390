/**
 * The subscriber process (forked by subscribers.ts): opens the sockets, subscribes them, and
 * records what each receives; the parent drives it over IPC.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { forEachWithConcurrency } from '../lambdas/core/concurrency';
import { DeliveryRecorder } from './recorder';
import { BenchSocket } from './socket';
import type { FromSubscribers, SubscriberPoolOptions, ToSubscribers } from './subscribers';

const SUBSCRIBE_ATTEMPTS = 3;
const PROGRESS_INTERVAL_MS = 500;

const send = (message: FromSubscribers): void => void process.send?.(message);

let sockets: BenchSocket[] = [];
let connecting: { subscribed: number; failed: number } | undefined;
let recorder: DeliveryRecorder | undefined;
const progress = setInterval(() => {
  if (recorder) send({ type: 'progress', delivered: recorder.delivered });
  else if (connecting) send({ type: 'connecting', ...connecting });
}, PROGRESS_INTERVAL_MS);

/** One subscriber: connect and subscribe, retrying a refused connect (e.g. a 429) or a refused subscribe. */
async function subscribeOne(options: SubscriberPoolOptions, index: number): Promise<BenchSocket> {
  const url = options.websocketUrls[index % options.websocketUrls.length]!;
  let lastError = '';
  for (let attempt = 1; attempt <= SUBSCRIBE_ATTEMPTS; attempt++) {
    let socket: BenchSocket | undefined;
    try {
      socket = await BenchSocket.open(url, options.token, options.timeoutMs);
      const answer = await socket.request({ action: 'subscribe', channel: options.channel }, options.timeoutMs);
      if (answer.type === 'ack') return socket;
      lastError = `subscribe answered ${JSON.stringify(answer)}`;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await socket?.close();
    await sleep(250 * attempt);
  }
  throw new Error(lastError);
}

async function start(options: SubscriberPoolOptions): Promise<void> {
  const started = Date.now();
  const opened: Array<BenchSocket | undefined> = new Array(options.count);
  connecting = { subscribed: 0, failed: 0 };
  let firstError: string | undefined;
  await forEachWithConcurrency(opened.keys(), options.concurrency, async (index) => {
    try {
      opened[index] = await subscribeOne(options, index);
      connecting!.subscribed++;
    } catch (error) {
      firstError ??= (error as Error).message;
      connecting!.failed++;
    }
  });
  sockets = opened.filter((s): s is BenchSocket => s !== undefined);
  const { regions } = options;
  // Sockets that failed leave no gap: a subscriber's index maps back to the URL it connected to.
  const urlIndex = opened.flatMap((socket, index) => (socket ? [index % options.websocketUrls.length] : []));
  recorder = new DeliveryRecorder(sockets.length, regions && ((subscriber) => regions[urlIndex[subscriber]!]!));
  sockets.forEach((socket, subscriber) => {
    socket.onFrame = (frame, receivedAt) => recorder?.record(subscriber, frame, receivedAt);
  });
  send({ type: 'ready', ...connecting, firstError, elapsedMs: Date.now() - started });
  connecting = undefined;
}

async function close(): Promise<void> {
  clearInterval(progress);
  recorder = undefined;
  await Promise.all(sockets.map((socket) => socket.close()));
  send({ type: 'closed' });
  process.disconnect();
}

process.on('message', (message: ToSubscribers) => {
  switch (message.type) {
    case 'start':
      void start(message);
      break;
    case 'phase':
      recorder?.beginPhase();
      break;
    case 'summarize':
      if (!recorder) throw new Error('summarize before the sockets are ready');
      send({
        type: 'summary',
        summary: recorder.summary(message.expectedKeys),
        memory: { rssBytes: process.memoryUsage.rss(), peakRssBytes: process.resourceUsage().maxRSS * 1024 },
      });
      break;
    case 'close':
      void close();
      break;
  }
});
// The parent is gone (it crashed or was killed): nothing left to report to.
process.on('disconnect', () => {
  clearInterval(progress);
  for (const socket of sockets) void socket.close();
});
