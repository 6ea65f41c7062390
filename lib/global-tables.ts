import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AttributeType, Billing, TableV2, type TablePropsV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { GLOBAL_TABLES, physicalTableName, type TableLayout } from '../lambdas/core/tables';

export interface GlobalTablesProps {
  /**
   * Prefix of the physical table names (lambdas/core/tables.ts `physicalTableName`): the app
   * name, plus the config's nameSuffix (naming.ts `dataNamePrefix`).
   */
  readonly namePrefix: string;
  /** Regions that get a replica; the stack's own region holds the primary and is skipped if listed. */
  readonly replicaRegions: readonly string[];
  /**
   * Protect the tables from deletion (and retain them when the stack goes).
   * @default true
   */
  readonly deletionProtection?: boolean;
}

/** Name, keys, TTL and on-demand billing of a table as lambdas/core/tables.ts lays it out. */
export function tableProps(namePrefix: string, layout: TableLayout): TablePropsV2 {
  return {
    tableName: physicalTableName(namePrefix, layout),
    partitionKey: { name: layout.partitionKey, type: AttributeType.STRING },
    sortKey: layout.sortKey && {
      name: layout.sortKey.name,
      type: layout.sortKey.type === 'N' ? AttributeType.NUMBER : AttributeType.STRING,
    },
    timeToLiveAttribute: layout.timeToLiveAttribute,
    billing: Billing.onDemand(),
  };
}

/**
 * The Relaymesh global tables (DynamoDB TableV2 with a replica per region): the tables
 * lambdas/core/tables.ts places `global`, with point-in-time recovery.
 */
export class GlobalTables extends Construct {
  readonly tables: ReadonlyMap<TableLayout['name'], TableV2>;

  constructor(scope: Construct, id: string, props: GlobalTablesProps) {
    super(scope, id);
    const primaryRegion = Stack.of(this).region;
    const replicaRegions = props.replicaRegions.filter((r) => r !== primaryRegion);
    if (replicaRegions.length === 0) {
      throw new Error(`GlobalTables: replicaRegions must name at least one region besides the primary ${primaryRegion}`);
    }
    const deletionProtection = props.deletionProtection ?? true;
    this.tables = new Map(
      GLOBAL_TABLES.map((layout) => {
        const table = new TableV2(this, layout.name, {
          ...tableProps(props.namePrefix, layout),
          pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
          deletionProtection,
          removalPolicy: deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
          replicas: replicaRegions.map((region) => ({ region })),
        });
        return [layout.name, table] as const;
      }),
    );
  }
}
