import { authorizeEnvironment, connectEnvironment, environmentFor, environmentProblems, FUNCTION_ENVIRONMENTS, Variable } from '../../lambdas/contract/environment';
import { ConfigurationError, readEnvironment } from '../../lambdas/wiring/environment';

const CONNECT = {
  CONNECTIONS_TABLE_NAME: 'Connections',
  CONNECTION_COUNTS_TABLE_NAME: 'Counts',
  SUBSCRIPTIONS_TABLE_NAME: 'Subscriptions',
  MAX_CONNECTIONS_PER_USER: '25',
  MAX_CONNECTIONS_PER_API_KEY: '3',
  MAX_SUBSCRIPTIONS_PER_CONNECTION: '100',
};

describe("the handler's side: readEnvironment", () => {
  it('reads each variable as its kind: text, whole numbers, JSON, the keepalive mode', () => {
    expect(readEnvironment(connectEnvironment, { ...CONNECT, KEEPALIVE: 'requested', PUBLIC_TOPICS: '["news"]' })).toEqual({
      CONNECTIONS_TABLE_NAME: 'Connections',
      CONNECTION_COUNTS_TABLE_NAME: 'Counts',
      SUBSCRIPTIONS_TABLE_NAME: 'Subscriptions',
      MAX_CONNECTIONS_PER_USER: 25,
      MAX_CONNECTIONS_PER_API_KEY: 3,
      MAX_SUBSCRIPTIONS_PER_CONNECTION: 100,
      KEEPALIVE: 'requested',
      PUBLIC_TOPICS: ['news'],
    });
  });

  it('reads flags as booleans', () => {
    expect(readEnvironment(authorizeEnvironment, { ALLOW_ANONYMOUS: 'true', ACCEPT_API_KEYS: 'false' })).toEqual({ ALLOW_ANONYMOUS: true, ACCEPT_API_KEYS: false });
  });

  it('leaves out an optional variable that is absent or empty, and reads none the contract does not name', () => {
    const env = readEnvironment(connectEnvironment, { ...CONNECT, KEEPALIVE: '', TOPIC_PAGES_QUEUE_URL: 'https://elsewhere' });
    expect(env).not.toHaveProperty('KEEPALIVE');
    expect(env).not.toHaveProperty('TOPIC_PAGES_QUEUE_URL');
  });

  it('fails the cold start naming every required variable that is missing or empty', () => {
    const { CONNECTION_COUNTS_TABLE_NAME: _counts, ...withoutCounts } = CONNECT;
    expect(() => readEnvironment(connectEnvironment, { ...withoutCounts, MAX_CONNECTIONS_PER_USER: '' })).toThrow(
      new ConfigurationError('missing environment variable(s): CONNECTION_COUNTS_TABLE_NAME, MAX_CONNECTIONS_PER_USER'),
    );
  });

  it.each([
    ['a count that is not a whole number', { MAX_CONNECTIONS_PER_USER: 'lots' }, /MAX_CONNECTIONS_PER_USER must be a whole number/],
    ['a keepalive mode it does not know', { KEEPALIVE: 'sometimes' }, /KEEPALIVE must be off, requested or all, not "sometimes"/],
    ['JSON that does not parse', { PUBLIC_TOPICS: '[news' }, /PUBLIC_TOPICS must be JSON/],
  ])('fails the cold start on %s', (_, overrides, message) => {
    expect(() => readEnvironment(connectEnvironment, { ...CONNECT, ...overrides })).toThrow(message);
  });

  it('fails on a flag that is not true or false', () => {
    expect(() => readEnvironment(authorizeEnvironment, { ALLOW_ANONYMOUS: 'yes', ACCEPT_API_KEYS: 'false' })).toThrow(/ALLOW_ANONYMOUS must be "true" or "false"/);
  });
});

describe("the construct's side: environmentFor and environmentProblems", () => {
  it('builds the record in the order given, leaving out what is undefined', () => {
    const environment = environmentFor('disconnect', {
      CONNECTIONS_TABLE_NAME: 'Connections',
      CONNECTION_COUNTS_TABLE_NAME: 'Counts',
      SUBSCRIPTIONS_TABLE_NAME: 'Subscriptions',
    });
    expect(Object.entries(environment)).toEqual([
      ['CONNECTIONS_TABLE_NAME', 'Connections'],
      ['CONNECTION_COUNTS_TABLE_NAME', 'Counts'],
      ['SUBSCRIPTIONS_TABLE_NAME', 'Subscriptions'],
    ]);
    expect(environmentFor('events-authorizer', { API_KEYS_TABLE_NAME: 'Keys', TENANT_CLAIM: undefined })).toEqual({ API_KEYS_TABLE_NAME: 'Keys' });
  });

  it('refuses at synth a variable the contract does not name, which a spread lets past the type check', () => {
    const extra: Record<string, string> = { TOPIC_PAGES_QUEUE_URL: 'q' };
    expect(() => environmentFor('disconnect', { CONNECTIONS_TABLE_NAME: 'c', CONNECTION_COUNTS_TABLE_NAME: 'n', SUBSCRIPTIONS_TABLE_NAME: 's', ...extra })).toThrow(
      "the disconnect function's environment contract (lambdas/contract/environment.ts) does not name TOPIC_PAGES_QUEUE_URL",
    );
  });

  it('names each required variable missing, for a construct that adds variables in steps', () => {
    expect(environmentProblems('disconnect', { CONNECTIONS_TABLE_NAME: 'c', POWERTOOLS_SERVICE_NAME: 'stack' })).toEqual([
      'the disconnect function needs CONNECTION_COUNTS_TABLE_NAME (lambdas/contract/environment.ts)',
      'the disconnect function needs SUBSCRIPTIONS_TABLE_NAME (lambdas/contract/environment.ts)',
    ]);
  });

  it('has every variable by name, to add one at a time', () => {
    expect(Variable.MANAGEMENT_API_ENDPOINT).toBe('MANAGEMENT_API_ENDPOINT');
  });

  it('requires the counts table wherever it requires the connections table of a function that removes connections', () => {
    const removers = ['connect', 'disconnect', 'notify-user', 'notify-connection', 'credential-sweep', 'keepalive'] as const;
    for (const fn of removers) expect(FUNCTION_ENVIRONMENTS[fn].required).toEqual(expect.arrayContaining(['CONNECTIONS_TABLE_NAME', 'CONNECTION_COUNTS_TABLE_NAME']));
  });
});
