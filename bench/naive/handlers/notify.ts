import { ApiGatewayManagementApiClient, GoneException, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, ScanCommand, type ScanCommandOutput } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';

const db = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const { TABLE_NAME, MANAGEMENT_API_ENDPOINT } = process.env;

/**
 * The sample's sendmessage, fed by NotifyUser messages: for each message, Scan the connection table
 * (the whole of it: a filter applies after the read), then post to every connection found in one
 * `Promise.all` loop, with a management API client made per invocation, as the sample does. Unlike
 * the sample, it follows `LastEvaluatedKey`, so it still reaches everyone once the table passes 1 MB,
 * and it recognises a gone connection by its class (the sample's `statusCode === 410` never matches in SDK v3).
 */
export const handler = async (event: SQSEvent): Promise<void> => {
  const managementApi = new ApiGatewayManagementApiClient({ endpoint: MANAGEMENT_API_ENDPOINT });
  for (const record of event.Records) {
    const { userId, data } = JSON.parse(record.body) as { userId: string; data: unknown };
    const connectionIds: string[] = [];
    let page: ScanCommandOutput | undefined;
    do {
      page = await db.send(
        new ScanCommand({
          TableName: TABLE_NAME,
          ProjectionExpression: 'connectionId',
          FilterExpression: 'userId = :userId',
          ExpressionAttributeValues: { ':userId': userId },
          ...(page?.LastEvaluatedKey && { ExclusiveStartKey: page.LastEvaluatedKey }),
        }),
      );
      for (const item of page.Items ?? []) connectionIds.push(item['connectionId'] as string);
    } while (page.LastEvaluatedKey);
    const frame = JSON.stringify({
      type: 'notification',
      id: record.messageId,
      time: new Date(Number(record.attributes.SentTimestamp)).toISOString(),
      data,
    });
    await Promise.all(
      connectionIds.map(async (connectionId) => {
        try {
          await managementApi.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: frame }));
        } catch (error) {
          if (!(error instanceof GoneException)) throw error;
          await db.send(new DeleteCommand({ TableName: TABLE_NAME, Key: { connectionId } }));
        }
      }),
    );
  }
};
