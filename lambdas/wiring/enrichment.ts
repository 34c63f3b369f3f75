import { LambdaClient } from '@aws-sdk/client-lambda';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { enrich, enricherOf, type Enrichers } from '../core/enrichment';
import type { Enrichment } from '../core/topic-fan-out';
import { ENRICHMENT_TIMEOUTS } from './clients';
import { connectionRows } from './tables';

/**
 * The stack's enrichment functions (prop `enrichers`) and the connections table through which the
 * users they name are reached. Built here, not in clients.ts, so that only the enriching fan-out's
 * bundle carries the Lambda client.
 */
export function lambdaEnrichment(db: DynamoDBDocumentClient, env: { ENRICHERS: unknown; CONNECTIONS_TABLE_NAME: string }): Enrichment {
  const enrichers = env.ENRICHERS as Enrichers;
  const lambda = new LambdaClient({ maxAttempts: 1, requestHandler: ENRICHMENT_TIMEOUTS });
  return {
    enricherOf: (topic) => {
      const functionArn = enricherOf(enrichers, topic);
      return functionArn === undefined ? undefined : (message) => enrich(functionArn, message, lambda);
    },
    connections: connectionRows(db, env),
  };
}
