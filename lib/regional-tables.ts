import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { REGIONAL_TABLES, type TableLayout } from '../lambdas/core/tables';
import { tableProps } from './global-tables';

export interface RegionalTablesProps {
  /** Prefix of the physical table names, the same as the global tables' (naming.ts `dataNamePrefix`). */
  readonly namePrefix: string;
}

/**
 * This region's own tables: those lambdas/core/tables.ts places `regional` (connections and
 * subscriptions), which only the region that owns a socket reads or writes. Not replicated, so a
 * connect, a subscribe or a rate-limited frame is written once, not once per region. Their items
 * live as long as a socket (at most two hours on API Gateway), so they are neither retained nor
 * backed up: after `cdk destroy` nothing of them is worth keeping, and their names are free again.
 */
export class RegionalTables extends Construct {
  readonly tables: ReadonlyMap<TableLayout['name'], TableV2>;

  constructor(scope: Construct, id: string, props: RegionalTablesProps) {
    super(scope, id);
    this.tables = new Map(
      REGIONAL_TABLES.map((layout) => {
        const table = new TableV2(this, layout.name, { ...tableProps(props.namePrefix, layout), removalPolicy: RemovalPolicy.DESTROY });
        Validations.of(table).acknowledge({
          id: 'AwsSolutions-DDB3',
          reason: 'Socket state that lives at most as long as a WebSocket connection (2 h): a point-in-time restore would bring back connections API Gateway has already closed.',
        });
        return [layout.name, table] as const;
      }),
    );
  }
}
