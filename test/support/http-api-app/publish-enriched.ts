// A function of the test's HTTP ingress (app.ts) that invokes another, as ws-notify's own code will
// invoke its enrichment functions. A file of its own, so that only its bundle carries the SDK.
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

const lambda = new LambdaClient({});

/** Invokes `enrich` by ARN through the SDK, as a handler would: the runtime points the SDK at its Invoke API. */
export const handler = async (event: APIGatewayProxyEventV2) => {
  const { Payload, FunctionError } = await lambda.send(
    new InvokeCommand({ FunctionName: process.env['ENRICH_FUNCTION_ARN'], Payload: JSON.stringify({ topic: event.pathParameters?.['topic'] }) }),
  );
  return { functionError: FunctionError ?? null, enriched: JSON.parse(Buffer.from(Payload ?? []).toString('utf8')) as unknown };
};
