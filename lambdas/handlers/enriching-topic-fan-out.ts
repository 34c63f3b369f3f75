import { LambdaClient } from '@aws-sdk/client-lambda';
import { ENRICHMENT_TIMEOUTS } from '../wiring/clients';
import { readConfig } from '../wiring/config';
import { ConnectionTable } from '../core/connections';
import { enrich, enricherOf, type Enrichers } from '../core/enrichment';
import { topicFanOutHandler } from '../transport/topic-fan-out';

/** The Publish queue, in a stack with enrichment functions (construct prop `enrichers`): they may name a user, reached through the connection table. */
export const handler = topicFanOutHandler((db) => {
  const config = readConfig('ENRICHERS', 'CONNECTIONS_TABLE_NAME');
  const enrichers = JSON.parse(config.ENRICHERS) as Enrichers;
  // Built here, not in clients.ts, so that only this bundle carries the Lambda client.
  const lambda = new LambdaClient({ maxAttempts: 1, requestHandler: ENRICHMENT_TIMEOUTS });
  return {
    enricherOf: (topic) => {
      const functionArn = enricherOf(enrichers, topic);
      return functionArn === undefined ? undefined : (message) => enrich(functionArn, message, lambda);
    },
    connections: new ConnectionTable(db, config.CONNECTIONS_TABLE_NAME),
  };
});
