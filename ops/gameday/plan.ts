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

export type DrillSchedule = Omit<DrillPlan, 'regions' | 'down'>;

/** The rules between the options that need no cloud to check. */
const DrillScheduleSchema = z
  .object({
    clients: z.number(),
    channels: z.number(),
    rate: z.number(),
    eventClass: z.enum(PUBLISH_CLASSES),
    mode: z.enum(DOWN_MODES),
    atSeconds: z.number(),
    forSeconds: z.number(),
    durationSeconds: z.number(),
    settleSeconds: z.number(),
  })
  .check((ctx) => {
    const plan = ctx.value;
    const issue = (message: string) => ctx.issues.push({ code: 'custom', message, input: plan });
    if (plan.atSeconds + plan.forSeconds > plan.durationSeconds) {
      issue(`--at ${plan.atSeconds} + --for ${plan.forSeconds} = ${plan.atSeconds + plan.forSeconds} s is beyond --duration ${plan.durationSeconds} s: the region must be back before publishing stops, so recovery is measured`);
    }
    if (plan.clients < plan.channels) issue(`--clients ${plan.clients} is fewer than --channels ${plan.channels}: every channel needs a subscriber`);
  });

const firstIssue = (error: z.ZodError) => new OpsError(error.issues[0]!.message);

/** The schedule, or an OpsError naming the first rule it breaks: checked before any cloud is asked. */
export function drillSchedule(input: DrillSchedule): DrillSchedule {
  const parsed = DrillScheduleSchema.safeParse(input);
  if (!parsed.success) throw firstIssue(parsed.error);
  return parsed.data;
}

/** The plan for the target's regions, or an OpsError naming the first rule it breaks. */
export function drillPlan(schedule: DrillSchedule, regions: readonly string[], down: string): DrillPlan {
  if (regions.length < 2) throw new OpsError(`A failover drill needs at least two regions, one to take down and one to fail over to; the target has ${regions.join(', ')}.`);
  if (!regions.includes(down)) throw new OpsError(`--down ${down}: not one of the regions (${regions.join(', ')}).`);
  return { ...drillSchedule(schedule), regions, down };
}

/** Client `index`'s channel and the region it plays a user near: every channel has subscribers in every region. */
export function placement(plan: Pick<DrillPlan, 'channels' | 'regions'>, index: number): { channel: number; near: string } {
  return { channel: index % plan.channels, near: plan.regions[Math.floor(index / plan.channels) % plan.regions.length]! };
}
