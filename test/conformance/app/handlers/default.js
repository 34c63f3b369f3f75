// The $default route of a two-way API: what it answers is sent back to the client.
exports.handler = function (event, context) {
  context.succeed({
    statusCode: 200,
    body: JSON.stringify({ route: event.requestContext.routeKey, received: event.body }),
  });
};
