import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import * as path from 'node:path';
import { generate } from 'selfsigned';

/** The certificate authority's certificate: what function environments, and a browser if wanted, trust. */
export const CA_FILE = 'ca.pem';
const CA_KEY_FILE = 'ca-key.pem';
const CA_DAYS = 10 * 365;
const SERVER_CERTIFICATE_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface LocalTls {
  /** `<stateDir>/ca.pem`. */
  caFile: string;
  /** The server's key and certificate (for 127.0.0.1 and localhost), signed by the CA; made at each start. */
  key: string;
  cert: string;
}

/**
 * The state directory's certificate authority, created once (kept across starts, so that trusting
 * it once lasts), and a fresh server certificate it signs for the runtime's loopback addresses.
 */
export async function openLocalTls(stateDir: string): Promise<LocalTls> {
  const caFile = path.join(stateDir, CA_FILE);
  const keyFile = path.join(stateDir, CA_KEY_FILE);
  if (!existsSync(caFile) || !existsSync(keyFile) || expiresWithinADay(readFileSync(caFile, 'utf8'))) {
    const now = new Date();
    const ca = await generate([{ name: 'commonName', value: `ws-notify local CA ${now.toISOString()}` }], {
      keyType: 'ec',
      algorithm: 'sha256',
      notBeforeDate: now,
      notAfterDate: new Date(now.getTime() + CA_DAYS * DAY_MS),
      extensions: [
        { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      ],
    });
    writeFileSync(keyFile, ca.private, { mode: 0o600 });
    writeFileSync(caFile, ca.cert);
  }
  const now = new Date();
  const server = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate: new Date(now.getTime() + SERVER_CERTIFICATE_DAYS * DAY_MS),
    ca: { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(caFile, 'utf8') },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] },
    ],
  });
  return { caFile, key: server.private, cert: server.cert };
}

function expiresWithinADay(pem: string): boolean {
  return new Date(new X509Certificate(pem).validTo).getTime() < Date.now() + DAY_MS;
}

/** A listener that hands each connection to the HTTP or the HTTPS server. */
export interface PlainAndTlsPort {
  listener: Server;
  /** Stops listening and ends every connection still open. */
  close(): Promise<void>;
}

/**
 * One port for both: a connection whose first byte opens a TLS handshake (a record of type 22) goes
 * to `secure`, any other to `plain`. So `https://` and `wss://` work where `http://` and `ws://` do,
 * as API Gateway's endpoints speak TLS, and every plain client keeps working.
 */
export function plainAndTlsOnOnePort(plain: HttpServer, secure: HttpsServer): PlainAndTlsPort {
  const open = new Set<Socket>();
  const listener = createServer((socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    // A connection that fails before it is handed over (a reset) is only that connection's end.
    socket.on('error', () => socket.destroy());
    // A connection that sends nothing is ended as the HTTP server ends one that sends no headers.
    socket.setTimeout(plain.headersTimeout, () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      // Either server reads what was already received before what the socket receives next.
      socket.unshift(first);
      (first[0] === 0x16 ? secure : plain).emit('connection', socket);
      process.nextTick(() => socket.resume());
    });
  });
  return {
    listener,
    close: () =>
      new Promise((resolve) => {
        listener.close(() => resolve());
        for (const socket of open) socket.destroy();
      }),
  };
}
