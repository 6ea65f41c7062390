// $disconnect route: removes the connection and its subscriptions.
import { createDisconnectHandler } from './core/handlers';
import { runtimeFromEnv } from './core/runtime';

export const handler = createDisconnectHandler(runtimeFromEnv(process.env));
