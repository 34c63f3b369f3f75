import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Target } from './target';

// The local engines accept any credentials; a deployed stack gets the SDK's default chain.
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

function baseConfig(target: Target) {
  if (target.kind === 'local') return { region: target.region, credentials: LOCAL_CREDENTIALS };
  return target.region ? { region: target.region } : {};
}

export function sqsClientFor(target: Target): SQSClient {
  if (target.kind === 'deployed') return new SQSClient(baseConfig(target));
  // The emulator's queue URLs name a host of its own (sqs.<region>.localhost): send to its endpoint instead.
  return new SQSClient({ ...baseConfig(target), endpoint: target.sqsEndpoint, useQueueUrlAsEndpoint: false });
}

export function documentClientFor(target: Target): DynamoDBDocumentClient {
  const endpoint = target.kind === 'local' ? { endpoint: target.dynamoDbEndpoint } : {};
  return DynamoDBDocumentClient.from(new DynamoDBClient({ ...baseConfig(target), ...endpoint }));
}

export function managementApiClientFor(target: Target): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({ ...baseConfig(target), endpoint: target.outputs.ManagementApiEndpoint });
}
