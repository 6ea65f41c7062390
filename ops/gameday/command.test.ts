import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createProgram } from '../cli';
import { dryRunLine, relaymeshWithoutCredentials, useShopConfig } from '../cli-test-support';

const shop = useShopConfig();
const relaymesh = relaymeshWithoutCredentials;

/** The lines printed before the command rejected. */
async function refusal(...args: string[]): Promise<{ error: Error; printed: string[] }> {
  const printed: string[] = [];
  const error = await createProgram({ out: (text) => printed.push(text), err: (text) => printed.push(text) })
    .parseAsync(args, { from: 'user' })
    .then(
      () => undefined,
      (e: Error) => e,
    );
  if (!error) throw new Error(`relaymesh ${args.join(' ')} did not fail`);
  return { error, printed };
}

const call = dryRunLine;

describe('relaymesh gameday option checks', () => {
  it('refuses a --mode other than drain or fail, naming the choices', async () => {
    const { printed } = await refusal('gameday', '--down', 'eu-west-1', '--mode', 'sideways');
    expect(printed.join('\n')).toContain("argument 'sideways' is invalid. Allowed choices are drain, fail.");
  });

  it('refuses a down window that ends after the drill, before looking for a cloud', async () => {
    const { error } = await refusal('gameday', '--down', 'eu-west-1', '--at', '60', '--for', '40', '--duration', '90', '--state-file', join(shop.dir, 'none.json'));
    expect(error.message).toBe('--at 60 + --for 40 = 100 s is beyond --duration 90 s: the region must be back before publishing stops, so recovery is measured');
  });

  it('refuses fewer clients than channels', async () => {
    const { error } = await refusal('gameday', '--down', 'eu-west-1', '--clients', '2', '--channels', '3');
    expect(error.message).toBe('--clients 2 is fewer than --channels 3: every channel needs a subscriber');
  });

  it('refuses a --down region the target does not run', async () => {
    const { error } = await refusal('gameday', '--aws', '--dry-run', '--config', shop.config, '--down', 'ap-south-1');
    expect(error.message).toBe('--down ap-south-1: not one of the regions (us-east-1, eu-west-1).');
  });

  it('refuses a non-numeric --rate with the option named', async () => {
    const { printed } = await refusal('gameday', '--down', 'eu-west-1', '--rate', 'fast');
    expect(printed.join('\n')).toContain("option '--rate <messages/s>' argument 'fast' is invalid. must be a number");
  });

  it('needs --edge-url for the clients on AWS', async () => {
    const { error } = await refusal('gameday', '--aws', '--config', shop.config, '--down', 'eu-west-1');
    expect(error.message).toMatch(/^--aws: pass --edge-url/);
  });
});

describe('relaymesh gameday --aws --dry-run', () => {
  it('--mode fail prints the accelerator lookup and the traffic dial of the region to 0 % and back to 100 %, in us-west-2', async () => {
    const printed = await relaymesh('gameday', '--aws', '--dry-run', '--config', shop.config, '--down', 'eu-west-1', '--mode', 'fail', '--at', '10', '--for', '20', '--duration', '60');
    const accelerator = 'arn:aws:globalaccelerator::<account>:accelerator/<accelerator id>';
    const listener = `${accelerator}/listener/<listener id>`;
    const group = `${listener}/endpoint-group/<eu-west-1 group id>`;
    expect(printed).toEqual([
      'At 10 s: take eu-west-1 down (fail)',
      call('us-west-2', 'GlobalAccelerator.ListAccelerators', { MaxResults: 100 }),
      call('us-west-2', 'GlobalAccelerator.ListListeners', { AcceleratorArn: accelerator, MaxResults: 100 }),
      call('us-west-2', 'GlobalAccelerator.ListEndpointGroups', { ListenerArn: listener, MaxResults: 100 }),
      call('us-west-2', 'GlobalAccelerator.UpdateEndpointGroup', { EndpointGroupArn: group, TrafficDialPercentage: 0 }),
      'At 30 s: bring eu-west-1 back',
      call('us-west-2', 'GlobalAccelerator.UpdateEndpointGroup', { EndpointGroupArn: group, TrafficDialPercentage: 100 }),
      'Dry run: the calls above were printed, none was made; no client was started.',
    ]);
  });

  it('--endpoint-group-arn skips the lookup', async () => {
    const arn = 'arn:aws:globalaccelerator::123456789012:accelerator/a/listener/l/endpoint-group/g';
    const printed = await relaymesh('gameday', '--aws', '--dry-run', '--config', shop.config, '--down', 'eu-west-1', '--endpoint-group-arn', arn);
    expect(printed.filter((line) => line.startsWith('[dry run]'))).toEqual([
      call('us-west-2', 'GlobalAccelerator.UpdateEndpointGroup', { EndpointGroupArn: arn, TrafficDialPercentage: 0 }),
      call('us-west-2', 'GlobalAccelerator.UpdateEndpointGroup', { EndpointGroupArn: arn, TrafficDialPercentage: 100 }),
    ]);
  });

  it('--mode drain prints the SSM drain flag of the region set to true and back to false', async () => {
    const printed = await relaymesh('gameday', '--aws', '--dry-run', '--config', shop.config, '--down', 'eu-west-1', '--mode', 'drain');
    expect(printed.filter((line) => line.startsWith('[dry run]'))).toEqual([
      call('eu-west-1', 'SSM.PutParameter', { Name: '/shop/edge/drain', Value: 'true', Type: 'String', Overwrite: true }),
      call('eu-west-1', 'SSM.PutParameter', { Name: '/shop/edge/drain', Value: 'false', Type: 'String', Overwrite: true }),
    ]);
  });
});
