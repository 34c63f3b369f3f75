// The developer guide's way to answer from a backend: the management API's endpoint built from the
// event's requestContext, over HTTPS (the SDK the Lambda runtime provides, not bundled).
const { ApiGatewayManagementApiClient, PostToConnectionCommand } = require('@aws-sdk/client-apigatewaymanagementapi');

exports.handler = async (event) => {
  const { domainName, stage, connectionId } = event.requestContext;
  const client = new ApiGatewayManagementApiClient({ endpoint: `https://${domainName}/${stage}` });
  await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: JSON.stringify({ postedBack: connectionId }) }));
  return { statusCode: 200 };
};
