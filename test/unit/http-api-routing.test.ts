import type { HttpApiDefinition, HttpRouteDefinition } from '../../local/cloudformation/app-model';
import { selectRoute } from '../../local/apigateway/http-api-routing';

const route = (routeKey: string): HttpRouteDefinition => ({
  routeKey,
  functionName: routeKey,
  payloadFormatVersion: '2.0',
  integrationTimeoutMs: 30_000,
  authorization: { type: 'NONE' },
});

/** The example of "Routing API requests" in API Gateway's HTTP API guide, plus a named stage. */
const api: HttpApiDefinition = {
  logicalId: 'Api',
  apiId: 'abcdefghij',
  stages: [
    { name: '$default', variables: {} },
    { name: 'beta', variables: {} },
  ],
  routes: ['GET /pets/dog/1', 'GET /pets/dog/{id}', 'GET /pets/{proxy+}', 'ANY /{proxy+}', '$default'].map(route),
};

describe('HTTP API route selection', () => {
  it.each([
    ['GET', '/pets/dog/1', 'GET /pets/dog/1', undefined],
    ['GET', '/pets/dog/2', 'GET /pets/dog/{id}', { id: '2' }],
    ['GET', '/pets/cat/1', 'GET /pets/{proxy+}', { proxy: 'cat/1' }],
    ['POST', '/test/5', 'ANY /{proxy+}', { proxy: 'test/5' }],
    ['GET', '/', '$default', undefined],
  ])('routes %s %s to %s', (method, rawPath, routeKey, pathParameters) => {
    const selected = selectRoute(api, method, rawPath);

    expect(selected?.route.routeKey).toBe(routeKey);
    expect(selected?.pathParameters).toEqual(pathParameters);
  });

  it('decodes path parameters', () => {
    expect(selectRoute(api, 'GET', '/pets/dog/a%20b')?.pathParameters).toEqual({ id: 'a b' });
  });

  it("matches a named stage's routes below its segment, and the $default stage's at the root", () => {
    expect(selectRoute(api, 'GET', '/beta/pets/dog/1')).toMatchObject({ stage: { name: 'beta' }, routePath: '/pets/dog/1', route: { routeKey: 'GET /pets/dog/1' } });
    expect(selectRoute(api, 'GET', '/pets/dog/1')).toMatchObject({ stage: { name: '$default' }, routePath: '/pets/dog/1' });
  });

  it('selects nothing (404) without a matching route or a $default route, or without a stage for the path', () => {
    const withoutDefault = { ...api, routes: api.routes.filter((candidate) => !['$default', 'ANY /{proxy+}'].includes(candidate.routeKey)) };

    expect(selectRoute(withoutDefault, 'POST', '/pets/dog/1')).toBeUndefined();
    expect(selectRoute({ ...api, stages: [{ name: 'beta', variables: {} }] }, 'GET', '/pets/dog/1')).toBeUndefined();
  });
});
