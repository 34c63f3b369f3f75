import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, ListQueuesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { request as httpRequest } from 'node:http';
import { Faults } from '../../local/dev-endpoints/faults';
import { startDynamoDbProxy } from '../../local/engines/dynamodb-proxy';
import { type DynamoDbLocal, type Engine, startDynamoDbLocal, startSqsEmulator } from '../../local/engines/engine-processes';
import type { LoopbackProxy } from '../../local/http/loopback-proxy';

// Issue 21, item 3: a DNS-rebinding page (its own name resolved to 127.0.0.1) reached DynamoDB Local,
// the functions' DynamoDB proxy and the SQS emulator with `Host: attacker.example:<port>`, read and
// wrote the tables, and sent a stamped page to a queue. Every port must refuse a foreign Host.

let dynamo: DynamoDbLocal;
let sqsEngine: Engine;
let functionsProxy: LoopbackProxy;
const faults = new Faults();

beforeAll(async () => {
  [dynamo, sqsEngine] = await Promise.all([startDynamoDbLocal(), startSqsEmulator()]);
  functionsProxy = await startDynamoDbProxy(dynamo.database, faults);
}, 60_000);

afterAll(async () => {
  await functionsProxy?.close();
  await Promise.all([dynamo?.stop(), sqsEngine?.stop()]);
}, 30_000);

/** What an SDK signs with: DynamoDB Local and the emulator read the credential, never check the signature. */
const signedBy = (accessKeyId: string, service: string) => ({
  authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=00`,
});
const listTables = (accessKeyId = 'local') => ({
  path: '/',
  headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables', ...signedBy(accessKeyId, 'dynamodb') },
  body: '{}',
});
const listQueues = () => ({
  path: '/',
  headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.ListQueues', ...signedBy('local', 'sqs') },
  body: '{}',
});

const ports = () => [
  { name: 'DynamoDB (outputs.json)', port: portOf(dynamo.endpoint), request: listTables() },
  { name: "the functions' DynamoDB", port: portOf(functionsProxy.endpoint), request: listTables() },
  { name: 'the SQS emulator', port: portOf(sqsEngine.endpoint), request: listQueues() },
];

function client<T>(Client: new (config: object) => T, endpoint: string, accessKeyId: string): T {
  return new Client({ region: 'us-east-1', endpoint, credentials: { accessKeyId, secretAccessKey: 'x' }, useQueueUrlAsEndpoint: false });
}

describe('the local engines refuse a DNS-rebinding page, as the runtime port does', () => {
  it('refuses a request whose Host is not a loopback name: 403, on DynamoDB, the functions\' DynamoDB and the SQS emulator', async () => {
    for (const { name, port, request } of ports()) {
      for (const host of [`attacker.example:${port}`, 'attacker.example', `127.0.0.1.attacker.example:${port}`, `localhost.attacker.example:${port}`, `[::1].example:${port}`]) {
        const reply = await rawRequest(port, { ...request, headers: { ...request.headers, host } });
        const { message } = JSON.parse(reply.body) as { message: string };
        expect([name, host, reply.status, message]).toEqual([name, host, 403, expect.stringContaining(`Host "${host}" is refused`)]);
      }
    }
  });

  // A client may reach an engine through a TCP proxy or a port forward of its own (the stalling
  // DynamoDB of the notification-path tests does): its Host then names that port, still this machine.
  it('serves 127.0.0.1, localhost and [::1], on its port or another one', async () => {
    for (const { name, port, request } of ports()) {
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `127.0.0.1:${port + 1}`, 'localhost']) {
        const reply = await rawRequest(port, { ...request, headers: { ...request.headers, host } });
        expect([name, host, reply.status]).toEqual([name, host, 200]);
      }
    }
  });

  it('keeps the tables in one database for every client of its endpoints, whatever credentials they sign with', async () => {
    const outputs = client(DynamoDBClient, dynamo.endpoint, 'local');
    const functions = client(DynamoDBClient, functionsProxy.endpoint, 'AKIAFUNCTION');
    try {
      await outputs.send(
        new CreateTableCommand({
          TableName: 'Keys',
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'keyId', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'keyId', KeyType: 'HASH' }],
        }),
      );
      expect((await functions.send(new ListTablesCommand({}))).TableNames).toEqual(['Keys']);
    } finally {
      outputs.destroy();
      functions.destroy();
    }
  });

  it("shows a page that reaches DynamoDB Local's own port (it cannot refuse a Host) none of the tables, whatever credential it signs with", async () => {
    const port = portOf(dynamo.database.endpoint);
    for (const accessKeyId of ['local', 'AKIAIOSFODNN7EXAMPLE', 'x']) {
      const request = listTables(accessKeyId);
      const reply = await rawRequest(port, { ...request, headers: { ...request.headers, host: `attacker.example:${port}` } });
      expect([accessKeyId, reply.status, JSON.parse(reply.body)]).toEqual([accessKeyId, 200, { TableNames: [] }]);
    }
  });

  it("still pauses a table on the functions' endpoint while a fault says so", async () => {
    faults.set({ pausedTables: ['Keys'] });
    try {
      const reply = await rawRequest(portOf(functionsProxy.endpoint), {
        path: '/',
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.GetItem', ...signedBy('local', 'dynamodb') },
        body: JSON.stringify({ TableName: 'Keys', Key: { keyId: { S: 'k' } } }),
      });
      expect([reply.status, JSON.parse(reply.body).__type]).toEqual([400, expect.stringContaining('ProvisionedThroughputExceededException')]);
    } finally {
      faults.set({});
    }
  });

  it("serves an SQS client through the proxy, with queue URLs on the proxy's port", async () => {
    const sqs = client(SQSClient, sqsEngine.endpoint, 'local');
    try {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'TopicPages' }));
      // fauxqs names its queues sqs.<region>.localhost, with the port the request came to.
      expect(QueueUrl).toBe(`http://sqs.us-east-1.localhost:${portOf(sqsEngine.endpoint)}/000000000000/TopicPages`);
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: '{"page":1}' }));
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
      expect(Messages.map(({ Body }) => Body)).toEqual(['{"page":1}']);
      expect((await sqs.send(new ListQueuesCommand({}))).QueueUrls).toEqual([QueueUrl]);
    } finally {
      sqs.destroy();
    }
  });
});

function portOf(endpoint: string): number {
  return Number(new URL(endpoint).port);
}

function rawRequest(port: number, { path, headers, body }: { path: string; headers: Record<string, string>; body: string }) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const outgoing = httpRequest({ host: '127.0.0.1', port, method: 'POST', path, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}
