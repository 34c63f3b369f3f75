export const handler = async () => ({ statusCode: 200, body: `other (${process.env['EDITION']})` });
