import { CfnOutput, CrossStackReferences, ReferenceStrength, Stack, type StackProps } from 'aws-cdk-lib';
import { Accelerator, ConnectionProtocol } from 'aws-cdk-lib/aws-globalaccelerator';
import { ApplicationLoadBalancerEndpoint } from 'aws-cdk-lib/aws-globalaccelerator-endpoints';
import { ARecord, HostedZone, RecordTarget } from 'aws-cdk-lib/aws-route53';
import { GlobalAcceleratorTarget } from 'aws-cdk-lib/aws-route53-targets';
import type { Construct } from 'constructs';
import type { RelaymeshConfig } from './config';
import type { RegionalEdge } from './regional-edge';
import { acceleratorName, GLOBAL_ACCELERATOR_REGION } from './edge-names';
import { edgeDomainName } from './naming';

export { GLOBAL_ACCELERATOR_REGION };

export interface EdgeStackProps extends StackProps {
  readonly config: RelaymeshConfig;
  /** Every region's HTTP edge, in config.regions order. */
  readonly edges: readonly RegionalEdge[];
}

/**
 * One Global Accelerator in front of every region's HTTP edge ALB (it cannot front an API
 * Gateway WebSocket API). The ALB ARNs are weak cross-stack references: CloudFormation's
 * `Fn::GetStackOutput` reads each region stack's output at deploy time, across regions,
 * with no custom resource (crossRegionReferences would add an SSM writer/reader Lambda pair)
 * and no export lock, so a region stack stays deployable on its own. A replaced ALB reaches
 * the accelerator on the edge stack's next deploy (`cdk deploy --all` orders it after the regions).
 */
export class EdgeStack extends Stack {
  readonly accelerator: Accelerator;

  constructor(scope: Construct, id: string, props: EdgeStackProps) {
    super(scope, id, props);
    CrossStackReferences.of(this).consume(ReferenceStrength.WEAK);
    const { config, edges } = props;
    if (edges.length === 0) throw new Error('EdgeStack: edges must hold at least one regional edge');
    const port = edges[0].port;
    if (edges.some((e) => e.port !== port)) throw new Error('EdgeStack: every regional edge must listen on the same port');

    this.accelerator = new Accelerator(this, 'Accelerator', { acceleratorName: acceleratorName(config.appName) });
    const listener = this.accelerator.addListener('Listener', {
      portRanges: [{ fromPort: port }],
      protocol: ConnectionProtocol.TCP,
    });
    for (const edge of edges) {
      if (!edge.loadBalancer) throw new Error(`EdgeStack: the edge of ${Stack.of(edge).region} has no load balancer for the accelerator`);
      // No health-check settings: for ALB endpoints Global Accelerator ignores them and follows the
      // ALB's target health (RegionalEdge's /health checks), so they would only mislead.
      listener.addEndpointGroup(Stack.of(edge).region, {
        endpoints: [new ApplicationLoadBalancerEndpoint(edge.loadBalancer, { preserveClientIp: true })],
        trafficDialPercentage: 100,
      });
    }

    const scheme = port === 443 ? 'https' : 'http';
    new CfnOutput(this, 'AcceleratorDnsName', { value: this.accelerator.dnsName, description: 'Global Accelerator DNS name (anycast IPs).' });
    new CfnOutput(this, 'EdgeUrl', { value: `${scheme}://${this.accelerator.dnsName}`, description: 'Ask GET /v1/connect here for the best region\'s WebSocket URL.' });
    if (config.hostedZoneId && config.domainName) {
      const zone = HostedZone.fromHostedZoneAttributes(this, 'Zone', { hostedZoneId: config.hostedZoneId, zoneName: config.domainName });
      new ARecord(this, 'EdgeAlias', {
        zone,
        recordName: edgeDomainName(config.domainName),
        target: RecordTarget.fromAlias(new GlobalAcceleratorTarget(this.accelerator)),
      });
      new CfnOutput(this, 'EdgeDomainUrl', { value: `https://${edgeDomainName(config.domainName)}`, description: 'The accelerator under your domain.' });
    }
  }
}
