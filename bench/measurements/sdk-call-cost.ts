// What one AWS SDK call costs the CPU on its own, with and without `cacheMiddleware: true` (the SDK
// then resolves a command's middleware stack once per client and command class, instead of on every
// send; lambdas/wiring/clients.ts sets it on the SQS and management API clients):
//
//   npx tsx bench/measurements/sdk-call-cost.ts
//
// The calls go to a stub on 127.0.0.1 that answers at once, so what is timed is the SDK's own work
// (middleware, serialization, signing, the HTTP client) plus the stub's, which is the same for both.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';

const CALLS = 2_000;
const WARM_UP_CALLS = 300;

function answer(request: IncomingMessage, response: ServerResponse): void {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const target = String(request.headers['x-amz-target'] ?? '');
    if (target.endsWith('.Query')) {
      response.end('{"Items":[{"connectionId":{"S":"AAAAAAAAAAAAAAA="}},{"connectionId":{"S":"BBBBBBBBBBBBBBB="}}],"Count":2,"ScannedCount":2}');
    } else if (target.endsWith('.SendMessageBatch')) {
      const { Entries } = JSON.parse(Buffer.concat(chunks).toString()) as { Entries: { Id: string; MessageBody: string }[] };
      const md5 = (body: string) => createHash('md5').update(body).digest('hex');
      response.end(JSON.stringify({ Successful: Entries.map((entry) => ({ Id: entry.Id, MessageId: entry.Id, MD5OfMessageBody: md5(entry.MessageBody) })) }));
    } else {
      response.end();
    }
  });
}

async function cpuPerCall(call: () => Promise<unknown>): Promise<{ wallMs: number; cpuMs: number }> {
  for (let index = 0; index < WARM_UP_CALLS; index++) await call();
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let index = 0; index < CALLS; index++) await call();
  const used = process.cpuUsage(cpu);
  return { wallMs: (performance.now() - started) / CALLS, cpuMs: (used.user + used.system) / 1000 / CALLS };
}

async function main(): Promise<void> {
  const server = createServer(answer);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = { region: 'us-east-1', endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
  const frame = JSON.stringify({ type: 'notification', id: 'x'.repeat(36), time: new Date().toISOString(), data: { text: 'x'.repeat(200) } });
  const results = new Map<string, { wallMs: number; cpuMs: number }[]>();
  // Alternated, twice each, so that neither setting gets all of the JIT's warm-up.
  for (const cacheMiddleware of [false, true, false, true]) {
    // lib-dynamodb refuses cacheMiddleware on the DocumentClient, so its Query is timed once, as it is.
    const db = DynamoDBDocumentClient.from(new DynamoDBClient(config), { marshallOptions: { removeUndefinedValues: true } });
    const sqs = new SQSClient({ ...config, useQueueUrlAsEndpoint: false, cacheMiddleware });
    const managementApi = new ApiGatewayManagementApiClient({ ...config, endpoint: `${endpoint}/live`, cacheMiddleware });
    const calls: [string, () => Promise<unknown>][] = [
      ['SQS SendMessageBatch (2 entries)', () => sqs.send(new SendMessageBatchCommand({ QueueUrl: `${endpoint}/000000000000/q`, Entries: [{ Id: '0', MessageBody: frame }, { Id: '1', MessageBody: frame }] }))],
      ['ApiGatewayManagementApi PostToConnection', () => managementApi.send(new PostToConnectionCommand({ ConnectionId: 'AAAAAAAAAAAAAAA=', Data: frame }))],
    ];
    if (!cacheMiddleware) {
      calls.unshift([
        'DynamoDB Query (DocumentClient)',
        () =>
          db.send(
            new QueryCommand({
              TableName: 'Connections',
              IndexName: 'byUser',
              KeyConditionExpression: 'userId = :userId',
              FilterExpression: 'expiresAt > :now',
              ProjectionExpression: 'connectionId',
              ExpressionAttributeValues: { ':userId': 'alice', ':now': 1 },
            }),
          ),
      ]);
    }
    for (const [name, call] of calls) {
      const key = `${name} | ${cacheMiddleware}`;
      results.set(key, [...(results.get(key) ?? []), await cpuPerCall(call)]);
    }
    for (const client of [db, sqs, managementApi]) client.destroy();
  }
  server.close();
  const mean = (values: number[]) => values.reduce((total, value) => total + value, 0) / values.length;
  const rows = [...results]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, runs]) => `| ${key} | ${mean(runs.map((run) => run.cpuMs)).toFixed(3)} | ${mean(runs.map((run) => run.wallMs)).toFixed(3)} |`);
  console.log(`| call | cacheMiddleware | CPU ms per call | wall ms per call |\n| --- | --- | ---: | ---: |\n${rows.join('\n')}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
