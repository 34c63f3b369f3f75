import type { APIGatewayProxyEventV2WithRequestContext, APIGatewayProxyResultV2 } from 'aws-lambda';
import { eventsIngressEnvironment } from '../contract/environment';
import { acceptEvents, type HttpPublisher } from '../core/events-ingress';
import { createSqsClient } from '../wiring/clients';
import { readEnvironment } from '../wiring/environment';
import { logger } from '../wiring/logger';
import { publicTopicsOf } from '../wiring/public-grants';

const env = readEnvironment(eventsIngressEnvironment);
const deps = {
  sqs: createSqsClient(),
  topicPagesQueueUrl: env.TOPIC_PAGES_QUEUE_URL,
  ...(env.TENANT_CLAIM && { tenantClaim: env.TENANT_CLAIM }),
  ...(env.IAM_PRINCIPALS !== undefined && { iamPrincipals: env.IAM_PRINCIPALS as string[] }),
  publicTopics: publicTopicsOf(env),
};

/** What the two routes' authorizers leave in the request context. */
interface IngressContext {
  authorizer?: { lambda?: Record<string, unknown>; iam?: Record<string, unknown> };
}

/** The HTTP events ingress, behind the API key authorizer (`/topics/…`) or IAM (`/iam/topics/…`). */
export const handler = async (event: APIGatewayProxyEventV2WithRequestContext<IngressContext>): Promise<APIGatewayProxyResultV2> => {
  const response = await acceptEvents(event.pathParameters?.['topic'], { headers: event.headers, ...bodyOf(event) }, publisherOf(event), deps);
  logger.info('events posted', { topic: event.pathParameters?.['topic'], statusCode: response.statusCode });
  return { ...response, headers: { 'content-type': 'application/json' } };
};

function publisherOf(event: APIGatewayProxyEventV2WithRequestContext<IngressContext>): HttpPublisher {
  const key = event.requestContext.authorizer?.lambda;
  if (key !== undefined) {
    const tenant = key['tenant'];
    return {
      kind: 'apiKey',
      userId: String(key['userId']),
      keyId: String(key['keyId']),
      publishTopics: JSON.parse(String(key['publishTopics'] ?? '[]')) as string[],
      ...(typeof tenant === 'string' && { tenant }),
    };
  }
  // An AWS caller names the tenant, if the stack has tenants, in the query string.
  const tenant = event.queryStringParameters?.['tenant'];
  const principalArn = event.requestContext.authorizer?.iam?.['userArn'];
  return { kind: 'iam', ...(tenant !== undefined && { tenant }), ...(typeof principalArn === 'string' && { principalArn }) };
}

function bodyOf(event: { body?: string; isBase64Encoded: boolean }) {
  return { ...(event.body !== undefined && { body: event.body }), isBase64Encoded: event.isBase64Encoded };
}
