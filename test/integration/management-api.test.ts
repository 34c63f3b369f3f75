import {
  type ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  LimitExceededException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Faults } from '../../local/dev-endpoints/faults';
import { handleManagementApiRequest } from '../../local/apigateway/management-api';
import { managementApiClient } from '../support/management-api-client';
import { type ManagementApiServer, RecordingConnections, startManagementApi } from '../support/management-api-server';

const connections = new RecordingConnections();
let server: ManagementApiServer;
let client: ApiGatewayManagementApiClient;

beforeAll(async () => {
  server = await startManagementApi(connections, 'live');
  client = managementApiClient(server.endpoint, { maxAttempts: 1 });
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

describe('the local management API, through the real SDK client', () => {
  it('posts to an open connection', async () => {
    connections.connect('c-post');
    await client.send(new PostToConnectionCommand({ ConnectionId: 'c-post', Data: '{"hello":1}' }));

    expect(connections.framesOf('c-post')).toEqual([{ hello: 1 }]);
  });

  it('answers GoneException (410) for an unknown connection, on every verb', async () => {
    await expect(client.send(new PostToConnectionCommand({ ConnectionId: 'c-none', Data: '{}' }))).rejects.toBeInstanceOf(GoneException);
    await expect(client.send(new GetConnectionCommand({ ConnectionId: 'c-none' }))).rejects.toBeInstanceOf(GoneException);
    await expect(client.send(new DeleteConnectionCommand({ ConnectionId: 'c-none' }))).rejects.toBeInstanceOf(GoneException);
  });

  it('answers PayloadTooLargeException (413) for data over 128 KB', async () => {
    connections.connect('c-big');
    const data = 'x'.repeat(128 * 1024 + 1);

    await expect(client.send(new PostToConnectionCommand({ ConnectionId: 'c-big', Data: data }))).rejects.toBeInstanceOf(
      PayloadTooLargeException,
    );
  });

  it('describes a connection, and deletes it so that it is gone', async () => {
    connections.connect('c-info');
    const info = await client.send(new GetConnectionCommand({ ConnectionId: 'c-info' }));
    await client.send(new DeleteConnectionCommand({ ConnectionId: 'c-info' }));

    expect(info.ConnectedAt).toBeInstanceOf(Date);
    expect(info.LastActiveAt).toBeInstanceOf(Date);
    expect(info.Identity?.SourceIp).toBe('127.0.0.1');
    await expect(client.send(new GetConnectionCommand({ ConnectionId: 'c-info' }))).rejects.toBeInstanceOf(GoneException);
  });
});

describe('injected faults (--faults), through the real SDK client', () => {
  const faults = new Faults();
  let faultyServer: Server;
  let faulty: ApiGatewayManagementApiClient;

  beforeAll(async () => {
    faultyServer = createServer((request, response) => {
      if (!handleManagementApiRequest(connections, 'live', request, response, (method, id) => faults.managementApiFault(method, id))) {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => faultyServer.listen(0, '127.0.0.1', resolve));
    faulty = managementApiClient(`http://127.0.0.1:${(faultyServer.address() as AddressInfo).port}/live`, { maxAttempts: 1 });
  });

  afterAll(async () => {
    faulty?.destroy();
    faultyServer?.closeAllConnections();
    await new Promise((resolve) => faultyServer?.close(resolve));
  });

  it('raises the exception AWS would send for each status: LimitExceededException, GoneException, a retryable server error', async () => {
    connections.connect('c-faulty');
    faults.set({
      managementApi: [
        { status: 429, connectionIds: ['c-faulty'], methods: ['POST'], times: 1 },
        { status: 410, connectionIds: ['c-faulty'], methods: ['GET'], times: 1 },
        { status: 500, connectionIds: ['c-faulty'], times: 1 },
      ],
    });
    const post = () => faulty.send(new PostToConnectionCommand({ ConnectionId: 'c-faulty', Data: '{"n":1}' }));

    await expect(post()).rejects.toBeInstanceOf(LimitExceededException);
    await expect(faulty.send(new GetConnectionCommand({ ConnectionId: 'c-faulty' }))).rejects.toBeInstanceOf(GoneException);
    await expect(post()).rejects.toMatchObject({ name: 'InternalServerErrorException', $fault: 'server', $metadata: { httpStatusCode: 500 } });
    await post();

    expect(connections.framesOf('c-faulty')).toEqual([{ n: 1 }]);
    expect(faults.report().failed.managementApi).toEqual([1, 1, 1]);
  });

  it('lets a connection it does not name through, and still refuses an unsigned call first', async () => {
    connections.connect('c-spared');
    faults.set({ managementApi: [{ status: 429, connectionIds: ['c-faulty'] }] });

    await faulty.send(new PostToConnectionCommand({ ConnectionId: 'c-spared', Data: '{"n":2}' }));
    const { port } = faultyServer.address() as AddressInfo;
    const unsigned = await fetch(`http://127.0.0.1:${port}/live/@connections/c-faulty`, { method: 'POST', body: '{}' });

    expect(connections.framesOf('c-spared')).toEqual([{ n: 2 }]);
    expect(unsigned.status).toBe(403);
  });
});
