import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, get as httpGet, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, get as httpsGet } from 'node:https';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';
import { CA_DAYS, openLocalTls, type PlainAndTlsPort, plainAndTlsOnOnePort } from '../../local/http/tls';

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

  it('lasts a year at most', () => {
    const authority = new X509Certificate(ca);
    const lifetimeDays = (Date.parse(authority.validTo) - Date.parse(authority.validFrom)) / 86_400_000;
    expect(lifetimeDays).toBeLessThanOrEqual(CA_DAYS);
    expect(CA_DAYS).toBeLessThanOrEqual(366);
  });

  it('may certify loopback names only: a certificate its key signs for another name or address fails verification where ca.pem is trusted', async () => {
    const key = readFileSync(path.join(stateDir, 'ca-key.pem'), 'utf8');
    const outcomes: Record<string, string> = {};
    for (const [name, altName] of [
      ['localhost', { type: 2, value: 'localhost' }],
      ['127.0.0.2', { type: 7, ip: '127.0.0.2' }],
      ['::1', { type: 7, ip: '::1' }],
      ['bank.example', { type: 2, value: 'bank.example' }],
      ['localhost.attacker.example', { type: 2, value: 'localhost.attacker.example' }],
      ['10.0.0.1', { type: 7, ip: '10.0.0.1' }],
    ] as const) {
      // A common name that is no host name: OpenSSL checks one that is against the constraints too.
      const forged = await generate([{ name: 'commonName', value: `forged for ${name}` }], {
        keyType: 'ec',
        algorithm: 'sha256',
        ca: { key, cert: ca.toString() },
        extensions: [{ name: 'basicConstraints', cA: false }, { name: 'extKeyUsage', serverAuth: true }, { name: 'subjectAltName', altNames: [altName] }],
      });
      outcomes[name] = await chainVerdict(forged.private, forged.cert);
    }

    expect(outcomes).toEqual({
      localhost: 'trusted',
      '127.0.0.2': 'trusted',
      '::1': 'trusted',
      'bank.example': 'permitted subtree violation',
      'localhost.attacker.example': 'permitted subtree violation',
      '10.0.0.1': 'permitted subtree violation',
    });
  });

  it('replaces a CA of an older version (any name, 10 years) found in the state directory', async () => {
    const oldStateDir = mkdtempSync(path.join(tmpdir(), 'local-tls-old-'));
    try {
      const now = Date.now();
      const old = await generate([{ name: 'commonName', value: 'ws-notify local CA (old)' }], {
        keyType: 'ec',
        algorithm: 'sha256',
        notBeforeDate: new Date(now),
        notAfterDate: new Date(now + 10 * 365 * 86_400_000),
        extensions: [
          { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
          { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        ],
      });
      writeFileSync(path.join(oldStateDir, 'ca.pem'), old.cert);
      writeFileSync(path.join(oldStateDir, 'ca-key.pem'), old.private, { mode: 0o600 });

      const tls = await openLocalTls(oldStateDir);
      const authority = new X509Certificate(readFileSync(tls.caFile));

      expect(authority.subject).not.toContain('(old)');
      expect(new X509Certificate(tls.cert).verify(authority.publicKey)).toBe(true);
      expect((Date.parse(authority.validTo) - Date.parse(authority.validFrom)) / 86_400_000).toBeLessThanOrEqual(CA_DAYS);
    } finally {
      rmSync(oldStateDir, { recursive: true, force: true });
    }
  });
});

/**
 * Whether a client that trusts ca.pem accepts the chain of a server presenting this certificate:
 * 'trusted', or the verification error. The host name check is left out (it would refuse
 * any name but the one asked for): the CA's name constraints are what is under test.
 */
async function chainVerdict(key: string, cert: string): Promise<string> {
  const server = createTlsServer({ key, cert }, (socket) => socket.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const socket: TLSSocket = tlsConnect({
      host: '127.0.0.1',
      port: (server.address() as AddressInfo).port,
      ca,
      checkServerIdentity: () => undefined,
    });
    try {
      await Promise.race([once(socket, 'secureConnect'), once(socket, 'error').then(([error]) => Promise.reject(error))]);
      return 'trusted';
    } catch (error) {
      // Node reports OpenSSL's X509_V_ERR_PERMITTED_VIOLATION with the code UNSPECIFIED: the message names it.
      return (error as Error).message;
    } finally {
      socket.destroy();
    }
  } finally {
    server.close();
  }
}
