import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { type ManagementApiServer, RecordingConnections, startManagementApi } from '../support/management-api-server';

const connections = new RecordingConnections();
let server: ManagementApiServer;
let client: ApiGatewayManagementApiClient;

beforeAll(async () => {
  server = await startManagementApi(connections, 'live');
  client = new ApiGatewayManagementApiClient({
    endpoint: server.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
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
