import { Duration } from 'aws-cdk-lib';
import type { Node } from 'constructs';
import type { WsNotifyProps } from './ws-notify';

/**
 * Reads the WsNotify settings from CDK context (`-c jwtIssuer=… -c jwtAudience=…`, `-c apiKeys=false`,
 * …). Which settings go together is the construct's to check.
 */
export function wsNotifyPropsFromContext(node: Node): WsNotifyProps {
  const jwtIssuer = stringContext(node, 'jwtIssuer');
  const jwtAudience = stringContext(node, 'jwtAudience');
  const jwksUri = stringContext(node, 'jwksUri');
  const tenantClaim = stringContext(node, 'tenantClaim');
  const publicTopics = listContext(node, 'publicTopics');
  const publicGroups = listContext(node, 'publicGroups');
  const alarmEmail = stringContext(node, 'alarmEmail');
  // The construct says which values it takes.
  const keepalive = stringContext(node, 'keepalive') as WsNotifyProps['keepalive'];
  const booleans = Object.fromEntries(
    (['apiKeys', 'allowAnonymous', 'configureApiGatewayAccountLogging', 'history'] as const)
      .map((name) => [name, booleanContext(node, name)] as const)
      .filter(([, value]) => value !== undefined),
  );
  const numbers = Object.fromEntries(
    (
      [
        'maxSubscriptionsPerConnection',
        'maxConnectionsPerUser',
        'maxConnectionsPerApiKey',
        'notifyUserConcurrency',
        'notifyConnectionConcurrency',
        'publishConcurrency',
        'historyMaxEntries',
        'replayLimit',
      ] as const
    )
      .map((name) => [name, numberContext(node, name)] as const)
      .filter(([, value]) => value !== undefined),
  );
  const eventsIamPrincipals = listContext(node, 'eventsIamPrincipals');
  // Seconds in context; a Duration for the construct.
  const historyTtlSeconds = numberContext(node, 'historyTtl');
  const ackTimeoutSeconds = numberContext(node, 'ackTimeout');
  return {
    ...(jwtIssuer && { jwtIssuer }),
    ...(jwtAudience && { jwtAudience }),
    ...(jwksUri && { jwksUri }),
    ...(tenantClaim && { tenantClaim }),
    ...(publicTopics && { publicTopics }),
    ...(publicGroups && { publicGroups }),
    ...booleans,
    ...numbers,
    ...(alarmEmail && { alarmEmail }),
    ...(keepalive && { keepalive }),
    ...(eventsIamPrincipals && { eventsIamPrincipals }),
    ...(historyTtlSeconds !== undefined && { historyTtl: Duration.seconds(historyTtlSeconds) }),
    ...(ackTimeoutSeconds !== undefined && { ackTimeout: Duration.seconds(ackTimeoutSeconds) }),
  };
}

/** An empty `-c name=` counts as unset. */
function stringContext(node: Node, name: string): string | undefined {
  const value = node.tryGetContext(name) as unknown;
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'string') return value;
  throw new Error(`Context "${name}" must be a string (got ${JSON.stringify(value)}).`);
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
