/**
 * Whether a Lambda authorizer's IAM-policy response lets the caller invoke `resourceArn` (a
 * WebSocket route's `methodArn`, an HTTP API route's `routeArn`): Allow only if a statement allows
 * `execute-api:Invoke` on it and none denies it; `malformed` for a response without `principalId`
 * or statements, which API Gateway answers with 500.
 */
export function policyDecision(result: unknown, resourceArn: string): 'Allow' | 'Deny' | 'malformed' {
  const policy = (result as { principalId?: unknown; policyDocument?: { Statement?: unknown } } | null) ?? {};
  const statements = policy.policyDocument?.Statement;
  if (policy.principalId === undefined || !Array.isArray(statements)) return 'malformed';
  const matching = statements.filter((statement: { Action?: unknown; Resource?: unknown }) =>
    [statement.Action].flat().some((action) => typeof action === 'string' && arnMatches(action, 'execute-api:Invoke')) &&
    [statement.Resource].flat().some((resource) => typeof resource === 'string' && arnMatches(resource, resourceArn)),
  ) as { Effect?: string }[];
  if (matching.some((statement) => statement.Effect === 'Deny')) return 'Deny';
  return matching.some((statement) => statement.Effect === 'Allow') ? 'Allow' : 'Deny';
}

function arnMatches(pattern: string, value: string): boolean {
  const regex = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return regex.test(value);
}

/**
 * API Gateway's quota on a WebSocket Lambda authorizer's result (8 KB, not adjustable), counted
 * here as the UTF-8 bytes of the JSON the function returned. Over it, API Gateway treats the
 * authorizer as misconfigured and refuses the upgrade with 500.
 */
export const WEBSOCKET_AUTHORIZER_RESULT_QUOTA_BYTES = 8 * 1024;

export function authorizerResultBytes(result: unknown): number {
  return Buffer.byteLength(JSON.stringify(result) ?? '');
}

/**
 * The authorizer's `context` as integrations get it in `requestContext.authorizer`: API Gateway
 * passes string, number and boolean values on as strings (`1` → `"1"`, `true` → `"true"`), and
 * treats any other value (an object, an array, null) as a misconfigured authorizer, refusing the
 * request with 500: `malformed`.
 */
export function integrationContext(context: unknown): Record<string, string> | 'malformed' {
  if (context === undefined || context === null) return {};
  if (typeof context !== 'object' || Array.isArray(context)) return 'malformed';
  // Lambda returns the result as JSON, which drops keys whose value is undefined.
  const values = Object.entries(context as Record<string, unknown>).filter(([, value]) => value !== undefined);
  if (!values.every(([, value]) => ['string', 'number', 'boolean'].includes(typeof value))) return 'malformed';
  return Object.fromEntries(values.map(([key, value]) => [key, String(value)]));
}
