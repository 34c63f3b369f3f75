exports.handler = function (event, context) {
  console.log('Disconnected: ' + event.requestContext.connectionId + ' ' + event.requestContext.disconnectStatusCode);
  context.succeed({ statusCode: 200, body: 'Disconnected.' });
};
