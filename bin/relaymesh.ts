#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { ConfigError } from '../lib/config';
import { addRelaymeshStacks, configFromContext } from '../lib/relaymesh-app';

const app = new App();
try {
  addRelaymeshStacks(app, configFromContext(app));
} catch (error) {
  // A config mistake is the user's to fix: say what is wrong in their words, without a stack trace.
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
app.synth();
