// HTTP edge behind Global Accelerator (ALB target): /health, /v1/connect, /v1/publish.
import { createEdgeHandler } from './core/handlers';
import { runtimeFromEnv } from './core/runtime';

export const handler = createEdgeHandler(runtimeFromEnv(process.env));
