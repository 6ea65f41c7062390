#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { addRelaymeshStacks, configFromContext } from '../lib/relaymesh-app';

const app = new App();
addRelaymeshStacks(app, configFromContext(app));
app.synth();
