import { X509Certificate, webcrypto } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import * as path from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { GeneralName, GeneralSubtree, GeneralSubtrees, id_ce_nameConstraints, NameConstraints } from '@peculiar/asn1-x509';
import {
  BasicConstraintsExtension,
  Extension,
  KeyUsageFlags,
  KeyUsagesExtension,
  PemConverter,
  X509Certificate as PeculiarCertificate,
  X509CertificateGenerator,
} from '@peculiar/x509';
import { generate } from 'selfsigned';

/** The certificate authority's certificate: what function environments, and a browser if wanted, trust. */
export const CA_FILE = 'ca.pem';
const CA_KEY_FILE = 'ca-key.pem';
/** A year: trusting it is renewed yearly, and a copied key outlives it by no more. */
export const CA_DAYS = 365;
const SERVER_CERTIFICATE_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The only names the CA may certify (X.509 name constraints, RFC 5280 4.2.1.10): `localhost`, and
 * the loopback addresses 127.0.0.0/8 and ::1. A certificate for any other name signed with its key
 * fails verification wherever `ca.pem` is trusted.
 */
export const CA_PERMITTED_NAMES = { dns: ['localhost'], ip: ['127.0.0.0/8', '::1/128'] } as const;

export interface LocalTls {
  /** `<stateDir>/ca.pem`. */
  caFile: string;
  /** The server's key and certificate (for 127.0.0.1 and localhost), signed by the CA; made at each start. */
  key: string;
  cert: string;
}

/**
 * The state directory's certificate authority, created once (kept across starts, so that trusting
 * it once lasts until it expires), and a fresh server certificate it signs for the runtime's
 * loopback addresses. A CA made before it was constrained to loopback names is replaced.
 */
export async function openLocalTls(stateDir: string): Promise<LocalTls> {
  const caFile = path.join(stateDir, CA_FILE);
  const keyFile = path.join(stateDir, CA_KEY_FILE);
  if (!existsSync(caFile) || !existsSync(keyFile) || !isCurrentAuthority(readFileSync(caFile, 'utf8'))) {
    const ca = await createAuthority(new Date());
    writeFileSync(keyFile, ca.key, { mode: 0o600 });
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

/**
 * A CA that may certify loopback names only, for {@link CA_DAYS}. Made with @peculiar/x509 (which
 * `selfsigned` builds on): `selfsigned` drops the name constraints extension.
 */
async function createAuthority(now: Date): Promise<{ cert: string; key: string }> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const subtrees = (names: { dNSName: string } | { iPAddress: string }) => new GeneralSubtree({ base: new GeneralName(names) });
  const permitted = new GeneralSubtrees([
    ...CA_PERMITTED_NAMES.dns.map((dNSName) => subtrees({ dNSName })),
    ...CA_PERMITTED_NAMES.ip.map((iPAddress) => subtrees({ iPAddress })),
  ]);
  const nameConstraints = AsnConvert.serialize(new NameConstraints({ permittedSubtrees: permitted }));
  const cert = await X509CertificateGenerator.createSelfSigned(
    {
      name: `CN=ws-notify local CA ${now.toISOString()}`,
      keys,
      signingAlgorithm: algorithm,
      notBefore: now,
      notAfter: new Date(now.getTime() + CA_DAYS * DAY_MS),
      extensions: [
        new BasicConstraintsExtension(true, 0, true),
        new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
        // Critical, as RFC 5280 asks: a verifier that cannot read it must refuse the chain.
        new Extension(id_ce_nameConstraints, true, nameConstraints),
      ],
    },
    // Node's Web Crypto, which the package's DOM-typed parameter describes.
    webcrypto as Parameters<typeof X509CertificateGenerator.createSelfSigned>[1],
  );
  const key = PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
  return { cert: cert.toString('pem'), key };
}

/**
 * Whether the CA may stay: constrained to loopback names, made for at most {@link CA_DAYS}, and
 * not expiring within a day. One of an older version (10 years, any name) is replaced.
 */
function isCurrentAuthority(pem: string): boolean {
  const { validFrom, validTo } = new X509Certificate(pem);
  const lifetime = new Date(validTo).getTime() - new Date(validFrom).getTime();
  return (
    new PeculiarCertificate(pem).getExtension(id_ce_nameConstraints) !== null &&
    lifetime <= CA_DAYS * DAY_MS &&
    new Date(validTo).getTime() > Date.now() + DAY_MS
  );
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
