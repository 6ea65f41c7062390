import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

/**
 * The zod the Lambda code validates with: zod/mini, whose functional API tree-shakes (the
 * classic API bundles ~440 kB whatever a schema uses). Import it as a namespace
 * (`import * as z from './zod'`) and only call its members, so the bundler keeps just those.
 * zod/mini loads no locale, so its messages would all read "Invalid input": English is
 * registered here, the messages classic zod gives.
 */
config(en());

export * from 'zod/mini';
