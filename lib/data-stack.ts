import { Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { RelaymeshConfig } from './config';
import { GlobalTables } from './global-tables';
import { dataNamePrefix, jwtSecretName } from './naming';

export interface DataStackProps extends StackProps {
  readonly config: RelaymeshConfig;
}

/**
 * The global state, defined once in the primary region: the global tables with a replica
 * in every other region, and the JWT signing secret replicated the same way, so a token
 * issued for one region is valid in all.
 */
export class DataStack extends Stack {
  readonly tables: GlobalTables;
  readonly jwtSecret: Secret;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { config } = props;
    const replicaRegions = config.regions.filter((r) => r !== this.region);
    const prefix = dataNamePrefix(config);
    this.tables = new GlobalTables(this, 'Tables', {
      namePrefix: prefix,
      replicaRegions,
      deletionProtection: config.deletionProtection,
    });
    this.jwtSecret = new Secret(this, 'JwtSecret', {
      secretName: jwtSecretName(prefix),
      description: 'HS256 key that signs Relaymesh client JWTs; replicated to every region.',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      replicaRegions: replicaRegions.map((region) => ({ region })),
    });
    Validations.of(this.jwtSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Rotating an HS256 signing key invalidates every issued token at once; operators rotate it deliberately (README), not on a schedule.',
    });
  }
}
