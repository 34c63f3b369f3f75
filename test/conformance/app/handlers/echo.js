// A two-way route that answers with the event it got, so the suite sees what the integration saw.
exports.handler = (event, context, callback) => {
  callback(null, { statusCode: 200, body: JSON.stringify(event) });
};
