import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { calculateJwkThumbprint, type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload, SignJWT } from 'jose';

/** Where the local issuer is and which audience its tokens name; the runtime writes it, the CLI reads it. */
export interface IssuerSettings {
  issuer: string;
  audience: string;
  jwksUri: string;
}

export const LOCAL_AUDIENCE = 'ws-notify-local';
const ALGORITHM = 'RS256';
const KEY_FILE = 'issuer-key.json';
const SETTINGS_FILE = 'issuer.json';

export interface TokenRequest {
  userId: string;
  /** @default 3600 */
  ttlSeconds?: number;
  /** Further claims; `sub`, `iss`, `aud`, `iat` and `exp` are the issuer's. */
  claims?: JWTPayload;
}

/**
 * A development OIDC issuer: one RSA signing key, generated into the state directory on first
 * start and kept across restarts, so tokens stay valid while the runtime's port does not change.
 */
export class LocalIssuer {
  private constructor(
    readonly settings: IssuerSettings,
    private readonly privateKey: CryptoKey,
    private readonly publicJwk: JWK,
  ) {}

  /** The runtime's issuer at `issuerUrl`: loads the key, creating it if it is new, and records the settings. */
  static async open(stateDir: string, issuerUrl: string): Promise<LocalIssuer> {
    const keyFile = path.join(stateDir, KEY_FILE);
    if (!existsSync(keyFile)) {
      const { privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
      writeFileSync(keyFile, JSON.stringify(await exportJWK(privateKey)), { mode: 0o600 });
    }
    const settings = { issuer: issuerUrl, audience: LOCAL_AUDIENCE, jwksUri: `${issuerUrl}/.well-known/jwks.json` };
    writeFileSync(path.join(stateDir, SETTINGS_FILE), `${JSON.stringify(settings, null, 2)}\n`);
    return LocalIssuer.load(stateDir);
  }

  /** The issuer a runtime using `stateDir` set up (for the CLI). */
  static async load(stateDir: string): Promise<LocalIssuer> {
    const settingsFile = path.join(stateDir, SETTINGS_FILE);
    if (!existsSync(settingsFile)) {
      throw new Error(`no local issuer in ${stateDir}: start the local runtime first (npm start)`);
    }
    const settings = JSON.parse(readFileSync(settingsFile, 'utf8')) as IssuerSettings;
    const privateJwk = JSON.parse(readFileSync(path.join(stateDir, KEY_FILE), 'utf8')) as JWK;
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicParts } = privateJwk;
    const kid = await calculateJwkThumbprint(publicParts);
    const publicJwk: JWK = { ...publicParts, kid, alg: ALGORITHM, use: 'sig' };
    return new LocalIssuer(settings, (await importJWK(privateJwk, ALGORITHM)) as CryptoKey, publicJwk);
  }

  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  openIdConfiguration(): Record<string, unknown> {
    return {
      issuer: this.settings.issuer,
      jwks_uri: this.settings.jwksUri,
      id_token_signing_alg_values_supported: [ALGORITHM],
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
    };
  }

  async mint({ userId, ttlSeconds = 3600, claims = {} }: TokenRequest): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: ALGORITHM, kid: this.publicJwk.kid as string, typ: 'JWT' })
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setSubject(userId)
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .sign(this.privateKey);
  }
}
