// $connect route: registers the connection.
import { createConnectHandler } from './core/handlers';
import { runtimeFromEnv } from './core/runtime';

export const handler = createConnectHandler(runtimeFromEnv(process.env));
