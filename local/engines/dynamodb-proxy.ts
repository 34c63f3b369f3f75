import type { IncomingHttpHeaders } from 'node:http';
import type { Faults } from '../dev-endpoints/faults';
import { LoopbackProxy } from '../http/loopback-proxy';

/**
 * The tables a DynamoDB (JSON protocol) request names: `TableName`, the keys of a batch's
 * `RequestItems`, and each item of a `TransactItems`.
 */
export function tableNamesOf(body: unknown): string[] {
  if (typeof body !== 'object' || body === null) return [];
  const request = body as { TableName?: unknown; RequestItems?: unknown; TransactItems?: unknown };
  const names: unknown[] = [request.TableName];
  if (typeof request.RequestItems === 'object' && request.RequestItems !== null) names.push(...Object.keys(request.RequestItems));
  if (Array.isArray(request.TransactItems)) {
    for (const item of request.TransactItems as Record<string, { TableName?: unknown } | undefined>[]) {
      names.push(...Object.values(item ?? {}).map((operation) => operation?.TableName));
    }
  }
  return names.filter((name): name is string => typeof name === 'string');
}

/** DynamoDB's throttling answer, which SDK v3 raises as `ProvisionedThroughputExceededException` and retries. */
const THROTTLED = JSON.stringify({
  __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
  message: 'The table is paused (injected fault)',
});

/**
 * DynamoDB Local itself, which no web page may reach: it cannot refuse a foreign `Host`, so it runs
 * without `-sharedDb` and keys its databases by the access key and region a request's credential
 * names. Only the proxies below know the database's access key, a random one.
 */
export interface DynamoDbDatabase {
  /** DynamoDB Local's own port (it listens on every interface: it has no option to listen on one). */
  endpoint: string;
  /** The access key of the one database the proxies use; letters and digits, as DynamoDB Local requires. */
  accessKeyId: string;
  region: string;
}

/**
 * The request's headers with its SigV4 credential scope naming the database's access key and region,
 * whatever key and region the client signed with (DynamoDB Local does not check signatures); so that
 * every client of a proxy, whatever its credentials, uses one database, as `-sharedDb` would.
 */
export function withDatabaseCredential(headers: IncomingHttpHeaders, database: DynamoDbDatabase): IncomingHttpHeaders {
  const authorization = headers.authorization?.replace(/Credential=[^/,\s]*\/(\d{8})\/[^/,\s]*\//, `Credential=${database.accessKeyId}/$1/${database.region}/`);
  return authorization === undefined ? headers : { ...headers, authorization };
}

/**
 * A DynamoDB endpoint onto the database: a {@link LoopbackProxy} (it refuses a foreign `Host`) that
 * names the database's credential. With `faults` (the functions' endpoint), while a fault pauses a
 * table, a request naming it is answered as DynamoDB answers a throttled one. Clients outside the
 * functions (tests, the CLI) use one without faults, outputs.json's `DynamoDbEndpoint`.
 */
export function startDynamoDbProxy(database: DynamoDbDatabase, faults?: Faults): Promise<LoopbackProxy> {
  const { hostname: host, port } = new URL(database.endpoint);
  return LoopbackProxy.start(
    { host, port: Number(port) },
    {
      name: 'DynamoDB Local',
      headers: (headers) => withDatabaseCredential(headers, database),
      ...(faults && {
        intercept: {
          // The body is read only while a table is paused: otherwise it streams through.
          active: () => faults.pausesTables,
          answer: (body: Buffer) =>
            faults.refusesTableRequest(tableNamesOf(parsedOrUndefined(body))) ? { status: 400, contentType: 'application/x-amz-json-1.0', body: THROTTLED } : undefined,
        },
      }),
    },
  );
}

function parsedOrUndefined(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
