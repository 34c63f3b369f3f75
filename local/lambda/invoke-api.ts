import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LOCAL_ACCOUNT_ID } from '../cloudformation/provision';
import { sigV4AccessKeyOf } from '../http/browser-guard';
import { readBodyWithin } from '../http/request-body';
import { FunctionError } from './functions';

/** The functions the Invoke API reaches: the running app's. */
export interface InvokableFunctions {
  region: string;
  has(functionName: string): boolean;
  invoke(functionName: string, event: unknown): Promise<unknown>;
}

const PATH = /^\/2015-03-31\/functions\/([^/?]+)\/invocations\/?(?:\?(.*))?$/;

/** Lambda's payload limits: 6 MB for a synchronous invocation, 1 MB for an asynchronous one. */
const MAX_PAYLOAD_BYTES: Record<string, number> = { RequestResponse: 6 * 1024 * 1024, Event: 1024 * 1024, DryRun: 6 * 1024 * 1024 };

/**
 * Serves Lambda's Invoke, `POST /2015-03-31/functions/{FunctionName}/invocations`, for the app's
 * functions, with the wire behaviour of Lambda that SDK v3's LambdaClient reads: a result is a 200
 * with the JSON the function returned; a function error is a 200 too, marked with
 * `X-Amz-Function-Error: Unhandled` and carrying `{errorType, errorMessage, trace}`; a service
 * error carries `x-amzn-ErrorType`, from which the SDK picks its exception class
 * (`ResourceNotFoundException` for an unknown function). An unsigned request is refused as Lambda
 * refuses it (403 `MissingAuthenticationTokenException`); the signature itself is not checked.
 * Returns false for any other request.
 */
export function handleLambdaInvokeRequest(
  functions: InvokableFunctions,
  request: IncomingMessage,
  response: ServerResponse,
  log: (message: string) => void,
): boolean {
  const match = request.method === 'POST' ? PATH.exec(request.url ?? '') : null;
  if (!match) return false;
  serveInvoke(functions, decodeURIComponent(match[1] as string), new URLSearchParams(match[2]), request, response, log).catch((error: unknown) => {
    log(`Invoke failed: ${String(error)}`);
    if (!response.headersSent) sendError(response, 500, 'ServiceException', String(error), randomUUID());
  });
  return true;
}

async function serveInvoke(
  functions: InvokableFunctions,
  identifier: string,
  query: URLSearchParams,
  request: IncomingMessage,
  response: ServerResponse,
  log: (message: string) => void,
): Promise<void> {
  const requestId = randomUUID();
  if (!sigV4AccessKeyOf(request.headers.authorization)) {
    return sendError(response, 403, 'MissingAuthenticationTokenException', 'Missing Authentication Token', requestId);
  }
  const invocationType = String(request.headers['x-amz-invocation-type'] ?? 'RequestResponse');
  const maxPayloadBytes = MAX_PAYLOAD_BYTES[invocationType];
  if (maxPayloadBytes === undefined) {
    return sendError(response, 400, 'InvalidParameterValueException', `Unsupported invocation type ${invocationType}`, requestId);
  }
  const functionName = functionNameOf(identifier, query.get('Qualifier'));
  if (functionName === undefined || !functions.has(functionName)) {
    const arn = `arn:aws:lambda:${functions.region}:${LOCAL_ACCOUNT_ID}:function:${identifier.replace(/^.*:function:/, '')}`;
    return sendError(response, 404, 'ResourceNotFoundException', `Function not found: ${arn}`, requestId);
  }
  const payload = await readBodyWithin(request, maxPayloadBytes);
  if (!payload) {
    return sendError(response, 413, 'RequestTooLargeException', `Request must be smaller than ${maxPayloadBytes} bytes for the InvokeFunction operation`, requestId);
  }
  let event: unknown;
  try {
    // An invocation without a payload receives an empty object.
    event = payload.length === 0 ? {} : JSON.parse(payload.toString('utf8'));
  } catch (error) {
    return sendError(response, 400, 'InvalidRequestContentException', `Could not parse request body into json: ${(error as Error).message}`, requestId);
  }
  switch (invocationType) {
    case 'DryRun':
      response.writeHead(204, { 'x-amzn-RequestId': requestId }).end();
      return;
    case 'Event':
      // Lambda queues the event and answers at once; its two retries of a failed event are not emulated.
      functions.invoke(functionName, event).catch((error: unknown) => log(`${functionName} (invoked asynchronously): ${String(error)}`));
      response.writeHead(202, { 'x-amzn-RequestId': requestId }).end();
      return;
    default: {
      const headers = { 'content-type': 'application/json', 'x-amzn-RequestId': requestId, 'x-amz-executed-version': '$LATEST' };
      let result: unknown;
      try {
        result = await functions.invoke(functionName, event);
      } catch (error) {
        if (!(error instanceof FunctionError)) throw error;
        const { errorType, errorMessage, trace } = error;
        response.writeHead(200, { ...headers, 'x-amz-function-error': 'Unhandled' }).end(JSON.stringify({ errorType, errorMessage, trace }));
        return;
      }
      response.writeHead(200, headers).end(JSON.stringify(result ?? null));
    }
  }
}

/**
 * The function's name from what Invoke accepts: a name, an ARN or a partial ARN (`{account}:function:{name}`),
 * each with an optional qualifier. Undefined for a qualifier other than `$LATEST`: there are no versions or
 * aliases locally.
 */
function functionNameOf(identifier: string, qualifierParameter: string | null): string | undefined {
  const match = /^(?:(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:)?\d{12}:function:)?([^:]+)(?::([^:]+))?$/.exec(identifier);
  if (!match) return undefined;
  const qualifier = match[2] ?? qualifierParameter;
  return qualifier === null || qualifier === '$LATEST' ? match[1] : undefined;
}

function sendError(response: ServerResponse, status: number, errorType: string, message: string, requestId: string): void {
  response
    .writeHead(status, { 'content-type': 'application/json', 'x-amzn-ErrorType': errorType, 'x-amzn-RequestId': requestId })
    .end(JSON.stringify({ Type: 'User', Message: message }));
}
