// HTTP edge behind Global Accelerator (ALB target): /health, /v1/connect, /v1/publish.
import { createEdgeHandler } from './core/handlers';
import { runtimeFromEnv } from './core/runtime';
import { traceClients, traced } from './tracing';

export const handler = traced('edge', createEdgeHandler(traceClients(runtimeFromEnv(process.env))));
