import { Duration, Stack } from 'aws-cdk-lib';
import { ApiMapping, DomainName, type HttpApi, type HttpStage, type WebSocketApi, type WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import type { ICertificate } from 'aws-cdk-lib/aws-certificatemanager';
import { ARecord, HealthCheck, HealthCheckType, type IHostedZone, RecordTarget } from 'aws-cdk-lib/aws-route53';
import { ApiGatewayv2DomainProperties } from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';
import { HEALTH_PATH } from './regional-edge';

export interface RegionalDomainProps {
  readonly zone: IHostedZone;
  /** The latency-routed WebSocket name, the same in every region (e.g. ws.example.com). */
  readonly webSocketDomainName: string;
  /** Covers webSocketDomainName in this region. */
  readonly certificate: ICertificate;
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;
  /** The host Route 53 probes for this region's health: the regional edge's ALB or HTTPS API. */
  readonly healthCheckFqdn: string;
  /**
   * Port of the deep health endpoint (HTTPS).
   * @default 443
   */
  readonly healthCheckPort?: number;
  /**
   * The regional edge mode's HTTPS API, latency-routed under its own name (e.g. edge.example.com,
   * which the certificate must cover) with the same health check.
   * @default - none (the accelerator carries the edge name)
   */
  readonly edge?: { readonly api: HttpApi; readonly stage: HttpStage; readonly domainName: string };
}

/**
 * The regional custom domain of the WebSocket API and its Route 53 latency record. The record
 * carries a health check on the region's deep /health, so a failing or drained region drops
 * out of DNS and clients reconnect to the next-closest healthy region.
 */
export class RegionalDomain extends Construct {
  readonly domainName: DomainName;
  readonly healthCheck: HealthCheck;
  readonly record: ARecord;
  /** The edge's latency-routed name, when `edge` was given. */
  readonly edgeDomainName?: DomainName;

  constructor(scope: Construct, id: string, props: RegionalDomainProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    this.domainName = new DomainName(this, 'DomainName', {
      domainName: props.webSocketDomainName,
      certificate: props.certificate,
    });
    new ApiMapping(this, 'Mapping', { api: props.api, domainName: this.domainName, stage: props.stage });
    this.healthCheck = new HealthCheck(this, 'HealthCheck', {
      type: HealthCheckType.HTTPS,
      fqdn: props.healthCheckFqdn,
      port: props.healthCheckPort ?? 443,
      resourcePath: HEALTH_PATH,
      requestInterval: Duration.seconds(30),
      failureThreshold: 3,
    });
    this.record = new ARecord(this, 'LatencyRecord', {
      zone: props.zone,
      recordName: props.webSocketDomainName,
      target: RecordTarget.fromAlias(
        new ApiGatewayv2DomainProperties(this.domainName.regionalDomainName, this.domainName.regionalHostedZoneId),
      ),
      region,
      setIdentifier: region,
      healthCheck: this.healthCheck,
    });
    if (props.edge) {
      this.edgeDomainName = new DomainName(this, 'EdgeDomainName', { domainName: props.edge.domainName, certificate: props.certificate });
      new ApiMapping(this, 'EdgeMapping', { api: props.edge.api, stage: props.edge.stage, domainName: this.edgeDomainName });
      new ARecord(this, 'EdgeLatencyRecord', {
        zone: props.zone,
        recordName: props.edge.domainName,
        target: RecordTarget.fromAlias(
          new ApiGatewayv2DomainProperties(this.edgeDomainName.regionalDomainName, this.edgeDomainName.regionalHostedZoneId),
        ),
        region,
        setIdentifier: region,
        healthCheck: this.healthCheck,
      });
    }
  }
}
