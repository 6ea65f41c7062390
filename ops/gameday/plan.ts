import { z } from 'zod';
import { OpsError } from '../cli-support';

export const DOWN_MODES = ['drain', 'fail'] as const;
export type DownMode = (typeof DOWN_MODES)[number];
export const PUBLISH_CLASSES = ['critical', 'ephemeral'] as const;

/** What the drill does and when, in seconds from its start (the first publish). */
export interface DrillPlan {
  clients: number;
  channels: number;
  /** Messages a second, all channels together. */
  rate: number;
  eventClass: (typeof PUBLISH_CLASSES)[number];
  regions: readonly string[];
  down: string;
  mode: DownMode;
  atSeconds: number;
  forSeconds: number;
  durationSeconds: number;
  /** After the last publish: how long to wait for every subscriber to have every acknowledged message. */
  settleSeconds: number;
}

/** The plan's cross-option rules; each option's own form is checked by its parser. */
const DrillPlanSchema = z
  .object({
    clients: z.number(),
    channels: z.number(),
    rate: z.number(),
    eventClass: z.enum(PUBLISH_CLASSES),
    regions: z.array(z.string()).min(2, 'a failover drill needs at least two regions: one to take down, one to fail over to'),
    down: z.string(),
    mode: z.enum(DOWN_MODES),
    atSeconds: z.number(),
    forSeconds: z.number(),
    durationSeconds: z.number(),
    settleSeconds: z.number(),
  })
  .check((ctx) => {
    const plan = ctx.value;
    const issue = (message: string) => ctx.issues.push({ code: 'custom', message, input: plan });
    if (!plan.regions.includes(plan.down)) issue(`--down ${plan.down}: not one of the regions (${plan.regions.join(', ')})`);
    if (plan.atSeconds + plan.forSeconds > plan.durationSeconds) {
      issue(`--at ${plan.atSeconds} + --for ${plan.forSeconds} = ${plan.atSeconds + plan.forSeconds} s is beyond --duration ${plan.durationSeconds} s: the region must be back before the drill ends, so recovery is measured`);
    }
    if (plan.clients < plan.channels) issue(`--clients ${plan.clients} is fewer than --channels ${plan.channels}: every channel needs a subscriber`);
  });

/** The plan, or an OpsError naming the first rule it breaks. */
export function drillPlan(input: DrillPlan): DrillPlan {
  const parsed = DrillPlanSchema.safeParse(input);
  if (!parsed.success) throw new OpsError(parsed.error.issues[0]!.message);
  return parsed.data;
}

/** Client `index`'s channel and the region it plays a user near: every channel has subscribers in every region. */
export function placement(plan: Pick<DrillPlan, 'channels' | 'regions'>, index: number): { channel: number; near: string } {
  return { channel: index % plan.channels, near: plan.regions[Math.floor(index / plan.channels) % plan.regions.length]! };
}
