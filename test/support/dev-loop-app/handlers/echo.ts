import { greeting } from './greeting';

export const handler = async (event: { body?: string }) => ({ statusCode: 200, body: `${greeting} (${process.env['EDITION']}): ${event.body}` });
