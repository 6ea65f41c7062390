// $default route: subscribe, unsubscribe, publish, ping.
import { createMessageRouterHandler } from './core/handlers';
import { runtimeFromEnv } from './core/runtime';

export const handler = createMessageRouterHandler(runtimeFromEnv(process.env));
