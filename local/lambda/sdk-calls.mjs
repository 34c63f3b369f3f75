// Counts the AWS SDK commands an execution environment sends, for measurements (opt-in: see
// `onInvocation` in local/runtime.ts). A bundled SDK's clients cannot be reached from outside the bundle to
// add a middleware, so this reads what the SDK itself puts on each request, through Node's
// `http.client.request.start` diagnostics channel: `amz-sdk-invocation-id` is set once per command
// and kept across its retries (so a command is counted once, its HTTP attempts separately), and the
// operation is named by `X-Amz-Target` (AWS JSON protocols: DynamoDB, SQS) or, for the REST
// management API, by the method on `/@connections/{id}`.
import { subscribe } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';

const SERVICE_BY_TARGET_PREFIX = { DynamoDB_20120810: 'DynamoDB', AmazonSQS: 'SQS' };
const MANAGEMENT_API_OPERATIONS = { POST: 'PostToConnection', GET: 'GetConnection', DELETE: 'DeleteConnection' };

/** `Service.Operation` of an SDK request, or undefined for a request the SDK did not send. */
export function sdkOperationOf(method, path, headers) {
  if (!headers['amz-sdk-invocation-id']) return undefined;
  const target = headers['x-amz-target'];
  if (typeof target === 'string' && target.includes('.')) {
    const [prefix, operation] = target.split('.');
    return `${SERVICE_BY_TARGET_PREFIX[prefix] ?? prefix}.${operation}`;
  }
  if (/\/@connections\/[^/]+\/?$/.test(path.split('?')[0])) {
    return `ApiGatewayManagementApi.${MANAGEMENT_API_OPERATIONS[method] ?? method}`;
  }
  return `unclassified.${method} ${path.split('?')[0].replace(/\/[^/]+$/, '/{…}')}`;
}

/**
 * Starts counting; `take()` returns the counts (and the milliseconds spent waiting on each operation's
 * responses) since the last `take()`, and starts afresh.
 */
export function countSdkCalls() {
  let commands = {};
  let attempts = {};
  let waitMs = {};
  const seen = new Set();
  const started = new WeakMap();
  subscribe('http.client.request.start', ({ request }) => {
    const headers = {
      'amz-sdk-invocation-id': request.getHeader('amz-sdk-invocation-id'),
      'x-amz-target': request.getHeader('x-amz-target'),
    };
    const operation = sdkOperationOf(request.method, request.path, headers);
    if (!operation) return;
    started.set(request, { operation, at: performance.now() });
    attempts[operation] = (attempts[operation] ?? 0) + 1;
    const invocationId = String(headers['amz-sdk-invocation-id']);
    if (seen.has(invocationId)) return;
    seen.add(invocationId);
    commands[operation] = (commands[operation] ?? 0) + 1;
  });
  subscribe('http.client.response.finish', ({ request }) => {
    const start = started.get(request);
    if (start) waitMs[start.operation] = (waitMs[start.operation] ?? 0) + performance.now() - start.at;
  });
  return {
    take() {
      const taken = { commands, attempts, waitMs };
      commands = {};
      attempts = {};
      waitMs = {};
      seen.clear();
      return taken;
    },
  };
}
