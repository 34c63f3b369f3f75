import { credentialFrom, credentialOffered } from '../../lambdas/core/auth';
import { bearerTokenFrom, offeredSubprotocols, selectedSubprotocol } from '../../lambdas/core/subprotocol';

describe('where a credential is taken from', () => {
  const basic = (userAndKey: string) => `Basic ${Buffer.from(userAndKey).toString('base64')}`;
  const everywhere = {
    headers: { Authorization: 'Bearer from-header', 'x-api-key': 'key-from-header', 'Sec-WebSocket-Protocol': 'ws-notify.v1, bearer.from-protocol' },
    queryStringParameters: { token: 'from-query', apikey: 'key-from-query' },
  };
  const without = (request: typeof everywhere, header?: string, query?: string) => ({
    headers: Object.fromEntries(Object.entries(request.headers).filter(([name]) => name !== header)) as typeof request.headers,
    queryStringParameters: Object.fromEntries(Object.entries(request.queryStringParameters).filter(([name]) => name !== query)) as typeof request.queryStringParameters,
  });

  it('takes the first of: Authorization, x-api-key, ?token=, ?apikey=, the bearer. subprotocol', () => {
    const noAuthorization = without(everywhere, 'Authorization');
    const noKeyHeader = without(noAuthorization, 'x-api-key');
    const noQueryToken = without(noKeyHeader, undefined, 'token');
    const noQueryKey = without(noQueryToken, undefined, 'apikey');

    expect(credentialFrom(everywhere)).toEqual({ kind: 'token', token: 'from-header' });
    expect(credentialFrom(noAuthorization)).toEqual({ kind: 'apiKey', apiKey: 'key-from-header' });
    expect(credentialFrom(noKeyHeader)).toEqual({ kind: 'token', token: 'from-query' });
    expect(credentialFrom(noQueryToken)).toEqual({ kind: 'apiKey', apiKey: 'key-from-query' });
    expect(credentialFrom(noQueryKey)).toEqual({ kind: 'token', token: 'from-protocol' });
  });

  it('reads Authorization: Basic as a user and an API key, splitting at the first colon', () => {
    expect(credentialFrom({ headers: { authorization: basic('alice:wsn_key:with:colons') } })).toEqual({
      kind: 'apiKey',
      user: 'alice',
      apiKey: 'wsn_key:with:colons',
    });
    expect(credentialFrom({ headers: { Authorization: basic('no-colon') } })).toEqual({ kind: 'apiKey', user: '', apiKey: 'no-colon' });
  });

  it('reads the header names in any case, as API Gateway passes them as sent', () => {
    expect(credentialFrom({ headers: { 'X-Api-Key': 'k' } })).toEqual({ kind: 'apiKey', apiKey: 'k' });
  });

  it('skips empty and malformed Authorization values, and empty parameters', () => {
    expect(credentialFrom({ headers: { Authorization: 'Bearer' }, queryStringParameters: { token: 't' } })).toEqual({ kind: 'token', token: 't' });
    expect(credentialFrom({ headers: { Authorization: 'Digest abc' }, queryStringParameters: { apikey: 'k' } })).toEqual({ kind: 'apiKey', apiKey: 'k' });
    expect(credentialFrom({ headers: { 'x-api-key': '' }, queryStringParameters: { token: '', apikey: '' } })).toBeUndefined();
  });

  it('finds nothing in an empty request', () => {
    expect(credentialFrom({})).toBeUndefined();
    expect(credentialFrom({ headers: null, queryStringParameters: null })).toBeUndefined();
  });
});

describe('whether a credential was offered at all', () => {
  it.each([
    ['an Authorization header, even empty', { headers: { Authorization: '' } }],
    ['an x-api-key header, even empty', { headers: { 'x-api-key': '' } }],
    ['a token parameter, even empty', { queryStringParameters: { token: '' } }],
    ['an apikey parameter, even empty', { queryStringParameters: { apikey: '' } }],
    ['a bearer. subprotocol, even empty', { headers: { 'Sec-WebSocket-Protocol': 'ws-notify.v1, bearer.' } }],
  ])('is yes for %s', (_what, request) => {
    expect(credentialOffered(request)).toBe(true);
  });

  it('is no for a request with unrelated headers and parameters', () => {
    expect(credentialOffered({ headers: { 'Sec-WebSocket-Protocol': 'ws-notify.v1' }, queryStringParameters: { userId: 'x' } })).toBe(false);
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
