// The functions of the test's HTTP ingress (app.ts). Events are read untyped (`any`): each test
// asserts the fields it cares about.

/**
 * Answers with the event it received, or as the `respond` query parameter asks, so that a test
 * chooses the result it needs the gateway to map.
 */
export const echo = async (event: any) => {
  switch (event.queryStringParameters?.respond) {
    case 'structured':
      return {
        statusCode: 201,
        headers: { 'x-echo': 'yes', 'x-count': 3 },
        cookies: ['session=abc; Path=/', 'theme=dark'],
        body: Buffer.from([0, 1, 2, 255]).toString('base64'),
        isBase64Encoded: true,
      };
    case 'text':
      return 'plain words';
    case 'throw':
      throw new Error('kaput');
    case 'sleep':
      await new Promise((resolve) => setTimeout(resolve, Number(event.queryStringParameters.ms)));
      return { slept: true };
    case 'env':
      return { eventsApiUrl: process.env['EVENTS_API_URL'] };
    default:
      // Payload 1.0 has no inferred response: it needs a statusCode and a string body.
      return event.version === '1.0' ? { statusCode: 200, multiValueHeaders: { 'x-seen': ['one', 'two'] }, body: JSON.stringify({ event }) } : { event };
  }
};

/** A simple-response authorizer: `x-api-key: good-key` is let in, with a context for the integration. */
export const authorizeApiKey = async (event: any) => {
  console.log(`authorizing ${event.routeKey} for ${event.identitySource.join(',')}`);
  return { isAuthorized: event.headers['x-api-key'] === 'good-key', context: { tenant: 'acme', scopes: ['publish'] } };
};

/** An IAM-policy authorizer (payload 1.0): `Authorization: Bearer allow` is allowed on the route it asks for. */
export const authorizePolicy = async (event: any) => ({
  principalId: 'user-7',
  policyDocument: {
    Version: '2012-10-17',
    Statement: [{ Action: 'execute-api:Invoke', Effect: event.authorizationToken === 'Bearer allow' ? 'Allow' : 'Deny', Resource: event.methodArn }],
  },
  context: { plan: 'gold' },
});

/** An enrichment function that ws-notify's own code would invoke with Lambda's Invoke API. */
export const enrich = async (event: any) => {
  console.log(`enriching ${JSON.stringify(event)}`);
  if (event.fail || event.event?.type === 'enrich.fails') throw new TypeError(`cannot enrich ${event.topic}`);
  // What ws-notify's enrichment must refuse: no event, or a user only NotifyConnection reaches.
  if (event.event?.type === 'enrich.malformed') return { userId: 'alice' };
  if (event.event?.type === 'enrich.anonymous') return { event: event.event, userId: 'anonymous:abc' };
  return { ...event, enrichedBy: process.env['AWS_LAMBDA_FUNCTION_NAME'] };
};

/** The Node.js that runs the function: its template runtime's major (a function of each runtime uses it). */
export const nodeVersion = async () => ({ version: process.version });
