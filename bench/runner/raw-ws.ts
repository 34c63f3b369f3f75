import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * The ceiling: a plain `ws` server that keeps its connections by user in memory and writes each
 * notification to them directly, in the frame ws-notify sends. No queue, no table, no function.
 */
export class RawFanOutServer {
  private readonly byUser = new Map<string, Set<WebSocket>>();

  private constructor(
    private readonly server: Server,
    private readonly sockets: WebSocketServer,
  ) {
    sockets.on('connection', (socket, request) => {
      const userId = new URL(request.url ?? '/', 'http://localhost').searchParams.get('userId');
      if (!userId) return socket.close(1008, 'userId is required');
      const connections = this.byUser.get(userId) ?? new Set();
      this.byUser.set(userId, connections.add(socket));
      socket.once('close', () => connections.delete(socket));
    });
  }

  static async start(): Promise<RawFanOutServer> {
    const server = createServer();
    const sockets = new WebSocketServer({ server, perMessageDeflate: false });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new RawFanOutServer(server, sockets);
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  /** Writes the notification frame to every connection of the user. */
  notify(userId: string, data: unknown): void {
    const frame = JSON.stringify({ type: 'notification', id: randomUUID(), time: new Date().toISOString(), data });
    for (const socket of this.byUser.get(userId) ?? []) socket.send(frame);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets.clients) socket.terminate();
    await new Promise<void>((resolve) => this.sockets.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
