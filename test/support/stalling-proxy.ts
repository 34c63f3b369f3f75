import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP proxy on loopback in front of a local engine that can be paused: while paused it still
 * accepts connections but passes no byte either way, as a service that stalls does (what a
 * SIGSTOPped server looks like from the client: the kernel accepts, nothing answers).
 */
export class StallingProxy {
  private paused = false;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(targetEndpoint: string): Promise<StallingProxy> {
    const { hostname, port } = new URL(targetEndpoint);
    const server = createServer();
    const proxy = new StallingProxy(server, { host: hostname, port: Number(port) });
    server.on('connection', (client) => proxy.pipe(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** From now on, nothing passes, on open connections and new ones alike. */
  pause(): void {
    this.paused = true;
    for (const socket of this.sockets) socket.pause();
  }

  resume(): void {
    this.paused = false;
    for (const socket of this.sockets) socket.resume();
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pipe(client: Socket): void {
    const upstream = connect(this.target);
    client.pipe(upstream);
    upstream.pipe(client);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      // After pipe(), which sets a stream flowing.
      if (this.paused) socket.pause();
      // A client that gives up (its request timed out) takes its upstream connection with it, and back.
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
  }
}
