import type { Node } from 'constructs';
import type { WsNotifyProps } from './ws-notify';

/** Reads the WsNotify settings from CDK context (`-c jwtIssuer=… -c jwtAudience=…`). */
export function wsNotifyPropsFromContext(node: Node): WsNotifyProps {
  const jwtIssuer = node.tryGetContext('jwtIssuer') as string | undefined;
  const jwtAudience = node.tryGetContext('jwtAudience') as string | undefined;
  const jwksUri = node.tryGetContext('jwksUri') as string | undefined;
  const allowAnonymous = booleanContext(node, 'allowAnonymous');
  const tenantClaim = node.tryGetContext('tenantClaim') as string | undefined;
  const publicTopics = listContext(node, 'publicTopics');
  const maxSubscriptionsPerConnection = numberContext(node, 'maxSubscriptionsPerConnection');
  const eventsIamPrincipals = listContext(node, 'eventsIamPrincipals');
  if (!jwtIssuer) {
    throw new Error(
      'Missing context "jwtIssuer": the https URL of your token issuer. ' +
        'Run e.g. `npx cdk synth -c jwtIssuer=https://issuer.example.com -c jwtAudience=my-app`.',
    );
  }
  if (!jwtAudience) {
    throw new Error('Missing context "jwtAudience": the `aud` your tokens carry. Add `-c jwtAudience=<audience>`.');
  }
  return {
    jwtIssuer,
    jwtAudience,
    ...(jwksUri && { jwksUri }),
    ...(allowAnonymous !== undefined && { allowAnonymous }),
    ...(tenantClaim && { tenantClaim }),
    ...(publicTopics && { publicTopics }),
    ...(maxSubscriptionsPerConnection !== undefined && { maxSubscriptionsPerConnection }),
    ...(eventsIamPrincipals && { eventsIamPrincipals }),
  };
}

/** `-c name=a,b` arrives as a comma-separated string, cdk.json's context as a list. */
function listContext(node: Node, name: string): string[] | undefined {
  const value = node.tryGetContext(name) as unknown;
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value.split(',').map((item) => item.trim()).filter((item) => item.length > 0);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
  throw new Error(`Context "${name}" must be a comma-separated list or a list of strings (got ${JSON.stringify(value)}).`);
}

/** `-c name=true|false` arrives as a string, cdk.json's context as a boolean. */
function booleanContext(node: Node, name: string): boolean | undefined {
  const value = node.tryGetContext(name) as unknown;
  if (value === undefined) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`Context "${name}" must be true or false (got ${JSON.stringify(value)}).`);
}

/** `-c name=5` arrives as a string, cdk.json's context as a number. */
function numberContext(node: Node, name: string): number | undefined {
  const value = node.tryGetContext(name) as unknown;
  if (value === undefined) return undefined;
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number === 'number' && Number.isFinite(number)) return number;
  throw new Error(`Context "${name}" must be a number (got ${JSON.stringify(value)}).`);
}
