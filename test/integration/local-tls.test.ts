import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, get as httpGet, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, get as httpsGet } from 'node:https';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { openLocalTls, type PlainAndTlsPort, plainAndTlsOnOnePort } from '../../local/http/tls';

/** The runtime's port as runtime.ts builds it: one HTTP and one HTTPS server behind one listener, on 127.0.0.1 port 0. */
let stateDir: string;
let port: PlainAndTlsPort;
let origin: string;
const plain = createServer((request, response) => answer('http', request, response));
let ca: Buffer;

function answer(scheme: string, request: IncomingMessage, response: ServerResponse): void {
  response.writeHead(200, { 'content-type': 'text/plain' }).end(`${scheme} ${request.method} ${request.url}`);
}

beforeAll(async () => {
  stateDir = mkdtempSync(path.join(tmpdir(), 'local-tls-'));
  const tls = await openLocalTls(stateDir);
  ca = readFileSync(tls.caFile);
  const secure = createHttpsServer({ key: tls.key, cert: tls.cert }, (request, response) => answer('https', request, response));
  port = plainAndTlsOnOnePort(plain, secure);
  port.listener.listen(0, '127.0.0.1');
  await once(port.listener, 'listening');
  origin = `127.0.0.1:${(port.listener.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await port?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith('https:') ? httpsGet : httpGet;
    get(url, { ca }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

describe('the runtime port', () => {
  it("answers http:// and https:// on the same port, https verified against the state directory's authority", async () => {
    await expect(fetchText(`http://${origin}/plain`)).resolves.toBe('http GET /plain');
    await expect(fetchText(`https://${origin}/secure`)).resolves.toBe('https GET /secure');
    await expect(fetchText(`https://${origin.replace('127.0.0.1', 'localhost')}/by-name`)).resolves.toBe('https GET /by-name');
  });

  it('ends a connection that sends nothing once the HTTP server would end one that sends no headers', async () => {
    const headersTimeout = plain.headersTimeout;
    plain.headersTimeout = 200;
    try {
      const silent = connect({ host: '127.0.0.1', port: Number(origin.split(':')[1]) });
      await once(silent, 'connect');
      await once(silent, 'close');
    } finally {
      plain.headersTimeout = headersTimeout;
    }
  });
});

describe("the state directory's certificate authority", () => {
  it('is kept across starts (its key readable by its owner only), and signs a fresh server certificate for 127.0.0.1 and localhost', async () => {
    const again = await openLocalTls(stateDir);
    const authority = new X509Certificate(readFileSync(again.caFile));
    const server = new X509Certificate(again.cert);

    expect(readFileSync(again.caFile)).toEqual(ca);
    expect(statSync(path.join(stateDir, 'ca-key.pem')).mode & 0o777).toBe(0o600);
    expect(authority.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.verify(authority.publicKey)).toBe(true);
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkHost('example.com')).toBeUndefined();
  });
});
