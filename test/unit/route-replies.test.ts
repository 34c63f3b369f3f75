import { handler as defaultRoute } from '../../lambdas/handlers/default';
import { handler as ping } from '../../lambdas/handlers/ping';
import { messageEventWith } from '../support/events';

describe('route responses', () => {
  it('ping answers pong with the time, echoing the id', async () => {
    const result = await ping(messageEventWith('{"action":"ping","id":"p-9"}'));

    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body as string)).toEqual({ type: 'pong', time: expect.stringMatching(/Z$/), id: 'p-9' });
  });

  it('$default answers a typed error frame', async () => {
    const notJson = await defaultRoute(messageEventWith('hello', '$default'));
    const unknown = await defaultRoute(messageEventWith('{"action":"dance"}', '$default'));

    expect(JSON.parse(notJson.body as string)).toMatchObject({ type: 'error', code: 'invalid_json' });
    expect(JSON.parse(unknown.body as string)).toMatchObject({ type: 'error', code: 'unknown_action' });
  });
});
