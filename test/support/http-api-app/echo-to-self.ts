// The WebSocket API's $default, written as AWS's samples write it (the simple-websockets-chat-app's
// sendmessage): the management endpoint built from the event's requestContext, over https, and the
// message posted back to the connection it came from. The local runtime must run it unchanged.
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';

export const handler = async (event: APIGatewayProxyWebsocketEventV2) => {
  const { domainName, stage, connectionId } = event.requestContext;
  const apigwManagementApi = new ApiGatewayManagementApiClient({ endpoint: `https://${domainName}/${stage}` });
  await apigwManagementApi.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: event.body ?? '' }));
  return { statusCode: 200 };
};
