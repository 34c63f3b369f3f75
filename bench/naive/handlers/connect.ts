import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyWebsocketEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';

const db = DynamoDBDocumentClient.from(new DynamoDBClient({}));

/** The sample's onconnect, plus the user (from `?userId=`), so that a user's connections can be found. */
export const handler = async (event: APIGatewayProxyWebsocketEventV2): Promise<APIGatewayProxyResultV2> => {
  const userId = event.queryStringParameters?.['userId'];
  if (!userId) return { statusCode: 400 };
  const { connectionId, connectedAt } = event.requestContext;
  await db.send(new PutCommand({ TableName: process.env['TABLE_NAME'], Item: { connectionId, userId, connectedAt } }));
  return { statusCode: 200 };
};
