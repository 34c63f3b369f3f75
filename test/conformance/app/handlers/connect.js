// A $connect handler in the style of the early AWS samples: a callback with a status code.
// `?fail=throw` makes the integration fail, which API Gateway answers with 502.
exports.handler = function (event, context, callback) {
  if (event.queryStringParameters && event.queryStringParameters.fail === 'throw') {
    throw new Error('connect failed on purpose');
  }
  callback(null, { statusCode: 200, body: 'Connected.' });
};
