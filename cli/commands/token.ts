import type { JWTPayload } from 'jose';
import type { TokenRequest } from '../../local/dev-endpoints/issuer';
import { type HelpCommandLine, parseJson, parseOptions, required, type TargetOptions, targetOf, UsageError } from '../options';
import { CommandError, localIssuer, type Target } from '../target';
import { TARGET_HELP } from '../usage';

const TOKEN_USAGE = `Usage: ws-notify token --user <id> [--ttl <seconds>] [--claims <json>] [target]

Prints a token (a JWT) that the local runtime's authorizer accepts for the user. A deployed
stack trusts your identity provider, which issues its tokens.

Options:
  --user <id>         the user: the token's sub
  --ttl <seconds>     how long the token is valid (default 3600; --ttl=-60 mints an expired one)
  --claims <json>     further claims, a JSON object; sub, iss, aud, iat and exp are the issuer's

${TARGET_HELP}`;

export type TokenCommandLine = { command: 'token'; target: TargetOptions; userId: string; ttlSeconds?: number; claims?: JWTPayload };

/** Claims the local issuer sets itself, whatever `--claims` says. */
const ISSUER_CLAIMS = ['sub', 'iss', 'aud', 'iat', 'exp'];

export function parseToken(args: string[]): TokenCommandLine | HelpCommandLine {
  const values = parseOptions(args, TOKEN_USAGE, ['user', 'ttl', 'claims']);
  if (values.help) return { command: 'help', text: TOKEN_USAGE };
  const usageError = (message: string) => new UsageError(message, TOKEN_USAGE);
  const userId = required(values.user, '--user', TOKEN_USAGE);
  let ttlSeconds: number | undefined;
  if (values.ttl !== undefined) {
    if (!/^-?\d+$/.test(values.ttl)) throw usageError(`--ttl takes a whole number of seconds, got "${values.ttl}"`);
    ttlSeconds = Number(values.ttl);
  }
  let claims: JWTPayload | undefined;
  if (values.claims !== undefined) {
    const parsed = parseJson(values.claims, '--claims', TOKEN_USAGE);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw usageError('--claims takes a JSON object');
    const reserved = ISSUER_CLAIMS.filter((claim) => claim in parsed);
    if (reserved.length > 0) {
      throw usageError(`--claims cannot set ${reserved.join(', ')}: the issuer sets them (use --user and --ttl)`);
    }
    claims = parsed as JWTPayload;
  }
  return {
    command: 'token',
    target: targetOf(values),
    userId,
    ...(ttlSeconds !== undefined && { ttlSeconds }),
    ...(claims && { claims }),
  };
}

/** `token`: a JWT from the local runtime's issuer. */
export async function printToken(target: Target, request: TokenRequest): Promise<void> {
  if (target.kind !== 'local') {
    throw new CommandError(
      `token mints tokens for the local runtime only; ${target.stackName} is deployed and accepts tokens from ` +
        'your identity provider (the jwtIssuer it was deployed with): get one there',
    );
  }
  console.log(await (await localIssuer(target)).mint(request));
}
