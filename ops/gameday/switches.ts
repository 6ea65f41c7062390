import { ListAcceleratorsCommand, ListEndpointGroupsCommand, ListListenersCommand, UpdateEndpointGroupCommand, type GlobalAcceleratorClient } from '@aws-sdk/client-global-accelerator';
import { PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { acceleratorName, drainParameterName } from '../../lib/edge-names';
import { OpsError } from '../cli-support';
import type { DownMode } from './plan';

/** How the drill takes a region down and brings it back. */
export interface RegionSwitch {
  takeDown(): Promise<void>;
  bringBack(): Promise<void>;
}

/**
 * The local cloud's game-day controls on its edge: POST /control/<region>/<drain|undrain|fail|restore>.
 * A cloud busy with the drill's own load answers slowly, hence the long timeout.
 */
export function localSwitch(edgeUrl: string, region: string, mode: DownMode): RegionSwitch {
  const post = async (action: string) => {
    const url = `${edgeUrl}/control/${encodeURIComponent(region)}/${action}`;
    const response = await fetch(url, { method: 'POST', signal: AbortSignal.timeout(30_000) }).catch((error: unknown) => {
      throw new OpsError(`The local cloud's edge does not answer POST ${url} (${String(error)}): is \`npm start\` still running?`);
    });
    if (!response.ok) {
      const body = (await response.json().catch(() => ({}))) as { message?: string };
      throw new OpsError(`POST ${url} answered HTTP ${response.status}${body.message ? `: ${body.message}` : ''} (a local cloud older than the game-day controls? restart \`npm start\`)`);
    }
  };
  return mode === 'drain' ? { takeDown: () => post('drain'), bringBack: () => post('undrain') } : { takeDown: () => post('fail'), bringBack: () => post('restore') };
}

/**
 * On AWS: `drain` sets the region's SSM drain flag, so its /health fails and Global Accelerator
 * (and Route 53) route new connects elsewhere; `fail` turns the region's endpoint group's
 * traffic dial to 0 %, so the accelerator sends it nothing, and back to 100 %.
 */
export function awsSwitch(
  clients: { ssm: (region: string) => SSMClient; globalAccelerator: () => GlobalAcceleratorClient },
  appName: string,
  region: string,
  mode: DownMode,
  endpointGroupArn: () => Promise<string>,
): RegionSwitch {
  if (mode === 'drain') {
    const flag = (value: 'true' | 'false') =>
      clients.ssm(region).send(new PutParameterCommand({ Name: drainParameterName(appName), Value: value, Type: 'String', Overwrite: true }));
    return { takeDown: async () => void (await flag('true')), bringBack: async () => void (await flag('false')) };
  }
  const dial = async (percent: number) =>
    void (await clients.globalAccelerator().send(new UpdateEndpointGroupCommand({ EndpointGroupArn: await endpointGroupArn(), TrafficDialPercentage: percent })));
  return { takeDown: () => dial(0), bringBack: () => dial(100) };
}

/** The endpoint group of `region` in the app's accelerator (named as the edge stack names it). */
export async function findEndpointGroupArn(globalAccelerator: GlobalAcceleratorClient, appName: string, region: string): Promise<string> {
  const name = acceleratorName(appName);
  const accelerators = [];
  let next: string | undefined;
  do {
    const page = await globalAccelerator.send(new ListAcceleratorsCommand({ MaxResults: 100, NextToken: next }));
    accelerators.push(...(page.Accelerators ?? []));
    next = page.NextToken;
  } while (next);
  const accelerator = accelerators.find((a) => a.Name === name);
  if (!accelerator?.AcceleratorArn) throw new OpsError(`No Global Accelerator named ${name} in this account: deploy the edge stack, or pass --endpoint-group-arn.`);
  const { Listeners = [] } = await globalAccelerator.send(new ListListenersCommand({ AcceleratorArn: accelerator.AcceleratorArn, MaxResults: 100 }));
  for (const listener of Listeners) {
    const { EndpointGroups = [] } = await globalAccelerator.send(new ListEndpointGroupsCommand({ ListenerArn: listener.ListenerArn, MaxResults: 100 }));
    const group = EndpointGroups.find((g) => g.EndpointGroupRegion === region);
    if (group?.EndpointGroupArn) return group.EndpointGroupArn;
  }
  throw new OpsError(`The accelerator ${name} has no endpoint group in ${region}: pass --endpoint-group-arn.`);
}
