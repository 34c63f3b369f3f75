import { tokenFrom } from '../../lambdas/core/auth';
import { bearerTokenFrom, offeredSubprotocols, selectedSubprotocol } from '../../lambdas/core/subprotocol';

describe('where a token is taken from', () => {
  it('prefers the Authorization header, then the query, then the subprotocol', () => {
    const all = {
      headers: { Authorization: 'Bearer from-header', 'Sec-WebSocket-Protocol': 'ws-notify.v1, bearer.from-protocol' },
      queryStringParameters: { token: 'from-query' },
    };

    expect(tokenFrom(all)).toBe('from-header');
    expect(tokenFrom({ ...all, headers: { 'Sec-WebSocket-Protocol': 'ws-notify.v1, bearer.from-protocol' } })).toBe('from-query');
    expect(tokenFrom({ headers: all.headers, queryStringParameters: null })).toBe('from-header');
    expect(tokenFrom({ headers: { 'sec-websocket-protocol': 'ws-notify.v1,bearer.from-protocol' } })).toBe('from-protocol');
  });

  it('ignores an Authorization header that is not a Bearer token', () => {
    expect(tokenFrom({ headers: { Authorization: 'Basic YWxpY2U6c2VjcmV0' } })).toBeUndefined();
  });

  it('finds nothing in an empty request', () => {
    expect(tokenFrom({})).toBeUndefined();
    expect(tokenFrom({ headers: null, queryStringParameters: { token: '' } })).toBeUndefined();
  });
});

describe('subprotocols', () => {
  it('are read from the comma-separated header', () => {
    expect(offeredSubprotocols(' ws-notify.v1 ,bearer.abc ')).toEqual(['ws-notify.v1', 'bearer.abc']);
    expect(offeredSubprotocols(undefined)).toEqual([]);
  });

  it('select ws-notify.v1 only when offered', () => {
    expect(selectedSubprotocol(['bearer.abc', 'ws-notify.v1'])).toBe('ws-notify.v1');
    expect(selectedSubprotocol(['bearer.abc'])).toBeUndefined();
  });

  it('carry the token after "bearer."', () => {
    expect(bearerTokenFrom(['ws-notify.v1', 'bearer.eyJ.x.y'])).toBe('eyJ.x.y');
  });
});
