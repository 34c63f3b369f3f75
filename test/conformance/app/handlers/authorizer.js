// The developer guide's REQUEST authorizer for WebSocket APIs ("Control access to WebSocket APIs
// with AWS Lambda REQUEST authorizers"), callback style, without its stage variable check (the
// local runtime has no WebSocket stage variables). HeaderAuth1 "deny" returns a Deny policy, and the
// context is the one of the guide's authorizer output example (a string, a number, a boolean).
exports.handler = function (event, context, callback) {
  console.log('Received event:', JSON.stringify(event, null, 2));
  var headers = event.headers;
  var queryStringParameters = event.queryStringParameters;

  if (headers.HeaderAuth1 === 'headerValue1' && queryStringParameters.QueryString1 === 'queryValue1') {
    callback(null, generatePolicy('me', 'Allow', event.methodArn));
  } else if (headers.HeaderAuth1 === 'deny') {
    callback(null, generatePolicy('me', 'Deny', event.methodArn));
  } else {
    callback('Unauthorized');
  }
};

var generatePolicy = function (principalId, effect, resource) {
  var authResponse = {};
  authResponse.principalId = principalId;
  if (effect && resource) {
    var policyDocument = {};
    policyDocument.Version = '2012-10-17';
    policyDocument.Statement = [];
    var statementOne = {};
    statementOne.Action = 'execute-api:Invoke';
    statementOne.Effect = effect;
    statementOne.Resource = resource;
    policyDocument.Statement[0] = statementOne;
    authResponse.policyDocument = policyDocument;
  }
  authResponse.context = {
    stringKey: 'stringval',
    numberKey: 123,
    booleanKey: true,
  };
  return authResponse;
};
