#!/usr/bin/env node
// `relaymesh`: the operations CLI (ops/), run from its TypeScript sources through tsx's loader,
// so it needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../ops/main.ts');
