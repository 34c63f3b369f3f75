import { executeApiLocalizer } from '../../local/cloudformation/app-model';
import { selectRouteKey } from '../../local/apigateway/websocket-events';

const routes = new Set(['$connect', '$disconnect', '$default', 'ping', 'nested']);

describe('route selection on $request.body.action', () => {
  it.each([
    ['{"action":"ping"}', 'ping'],
    ['{"action":"unknown"}', '$default'],
    ['{"other":"ping"}', '$default'],
    ['not json', '$default'],
    ['["ping"]', '$default'],
    ['{"action":{"name":"ping"}}', '$default'],
    ['{"action":"$disconnect"}', '$default'],
  ])('routes %s to %s', (body, routeKey) => {
    expect(selectRouteKey('$request.body.action', body, routes)).toBe(routeKey);
  });

  it('follows a nested path', () => {
    expect(selectRouteKey('$request.body.meta.route', '{"meta":{"route":"nested"}}', routes)).toBe('nested');
  });
});

describe("the API's AWS endpoints, served locally", () => {
  const localize = executeApiLocalizer('abcdefghij', new URL('http://127.0.0.1:3001'));

  it('maps the wss:// URL and the https:// management endpoint to the local gateway', () => {
    expect(localize('wss://abcdefghij.execute-api.us-east-1.amazonaws.com/live')).toBe('ws://127.0.0.1:3001/live');
    expect(localize('https://abcdefghij.execute-api.eu-west-1.amazonaws.com/live')).toBe('http://127.0.0.1:3001/live');
  });

  it("leaves other values, and other APIs' URLs, alone", () => {
    expect(localize('https://zzzzzzzzzz.execute-api.us-east-1.amazonaws.com/live')).toBe('https://zzzzzzzzzz.execute-api.us-east-1.amazonaws.com/live');
    expect(localize('WsNotify-Connections')).toBe('WsNotify-Connections');
  });
});
