import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

// Handlers call these at module scope, so warm invocations reuse the clients and their sockets.
// Endpoints come from the SDK's own settings (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS).

export function createDocumentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
}

// cacheMiddleware: the middleware stack is resolved once per client, not on every call (a third of
// an SDK call's CPU, measured by bench/sdk-call-cost.ts). The DocumentClient does not take it.

export function createSqsClient(): SQSClient {
  // Send to the configured endpoint, not the host named in a queue URL (emulators name their own).
  return new SQSClient({ useQueueUrlAsEndpoint: false, cacheMiddleware: true });
}

export function createManagementApiClient(endpoint: string): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({ endpoint, cacheMiddleware: true });
}
