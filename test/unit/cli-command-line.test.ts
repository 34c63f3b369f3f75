import { checkTenancy, parseCommandLine } from '../../cli/command-line';
import { DEFAULT_DLQ_LIST_MAX } from '../../cli/commands/dlq';
import { UsageError } from '../../cli/options';
import { USAGE } from '../../cli/usage';

const usageErrorOf = (argv: string[]): UsageError => {
  try {
    parseCommandLine(argv);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
};

describe('the command line', () => {
  it('without a command is a usage error with the top-level usage', () => {
    expect(usageErrorOf([])).toMatchObject({ message: 'no command given', usage: USAGE });
  });

  it('with an unknown command is a usage error naming it', () => {
    expect(usageErrorOf(['subscribe'])).toMatchObject({ message: 'unknown command "subscribe"', usage: USAGE });
  });

  it.each([['--help'], ['-h']])('asks for the top-level usage with %s', (flag) => {
    expect(parseCommandLine([flag])).toEqual({ command: 'help', text: USAGE });
  });

  it.each([['local'], ['token'], ['send'], ['stream'], ['connections'], ['publish'], ['apikey'], ['apikey', 'create'], ['apikey', 'revoke'], ['dlq'], ['dlq', 'purge']])('asks for the usage of %s with --help, whatever else is missing', (...command) => {
    const help = parseCommandLine([...command, '--help']);

    expect(help).toEqual({ command: 'help', text: expect.stringContaining(`Usage: ws-notify ${command[0]} `) });
  });

  it('refuses an unknown option with the usage of its command', () => {
    const error = usageErrorOf(['send', '--user', 'alice', '--data', '1', '--queue', 'x']);

    expect(error.message).toBe("Unknown option '--queue'");
    expect(error.usage).toContain('Usage: ws-notify send ');
  });

  it('refuses a positional argument', () => {
    expect(usageErrorOf(['connections', 'alice']).message).toMatch(/Unexpected argument 'alice'/);
  });

  it('takes the target options on every command', () => {
    expect(parseCommandLine(['connections', '--user', 'alice', '--outputs', 'out.json', '--stack', 'Prod'])).toEqual({
      command: 'connections',
      target: { outputsFile: 'out.json', stackName: 'Prod' },
      userId: 'alice',
    });
  });
});

describe('local', () => {
  it("runs the CDK app of the current directory with npm start's options", () => {
    expect(parseCommandLine(['local', '--port', '0', '--no-watch'])).toEqual({
      command: 'local',
      options: { runtime: { port: 0, context: {}, stateDir: '.local', watch: false }, quietFunctions: false },
    });
  });

  it('runs the app a --project names, keeping its state in that project', () => {
    expect(parseCommandLine(['local', '--project', 'examples/chat'])).toMatchObject({
      command: 'local',
      options: { runtime: { projectDir: 'examples/chat', stateDir: 'examples/chat/.local' } },
    });
  });

  it('refuses an unknown option or a malformed value with its usage', () => {
    expect(usageErrorOf(['local', '--stage', 'x'])).toMatchObject({ message: "Unknown option '--stage'", usage: expect.stringContaining('Usage: ws-notify local ') });
    expect(usageErrorOf(['local', '--port', 'eighty']).message).toBe('--port takes a whole number, got "eighty"');
  });
});

describe('token', () => {
  it('takes the user, a TTL in whole seconds and further claims', () => {
    expect(parseCommandLine(['token', '--user', 'alice', '--ttl', '60', '--claims', '{"role":"admin"}'])).toEqual({
      command: 'token',
      target: {},
      userId: 'alice',
      ttlSeconds: 60,
      claims: { role: 'admin' },
    });
  });

  it('takes a negative TTL, for an already expired token', () => {
    expect(parseCommandLine(['token', '--user', 'alice', '--ttl=-60'])).toMatchObject({ ttlSeconds: -60 });
  });

  it.each([['1.5'], ['soon'], ['']])('refuses a TTL of "%s"', (ttl) => {
    expect(usageErrorOf(['token', '--user', 'alice', '--ttl', ttl]).message).toBe(`--ttl takes a whole number of seconds, got "${ttl}"`);
  });

  it('needs --user', () => {
    expect(usageErrorOf(['token']).message).toBe('--user is required');
  });

  it.each([['[1]'], ['"admin"'], ['null']])('refuses claims that are not a JSON object (%s)', (claims) => {
    expect(usageErrorOf(['token', '--user', 'alice', '--claims', claims]).message).toBe('--claims takes a JSON object');
  });

  it("refuses claims that the issuer sets itself, rather than silently overriding them", () => {
    expect(usageErrorOf(['token', '--user', 'alice', '--claims', '{"sub":"bob","exp":1}']).message).toBe(
      '--claims cannot set sub, exp: the issuer sets them (use --user and --ttl)',
    );
  });
});

describe('send', () => {
  it('to a user is a NotifyUser message', () => {
    expect(parseCommandLine(['send', '--user', 'alice', '--data', '{"text":"shipped"}'])).toEqual({
      command: 'send',
      target: {},
      notification: { queue: 'NotifyUserQueueUrl', message: { userId: 'alice', data: { text: 'shipped' } } },
    });
  });

  it("to a user in a tenant names the tenant, and --tenant goes with --user only", () => {
    expect(parseCommandLine(['send', '--user', 'alice', '--tenant', 'acme', '--data', '1'])).toMatchObject({
      notification: { queue: 'NotifyUserQueueUrl', message: { userId: 'alice', tenant: 'acme', data: 1 } },
    });
    expect(usageErrorOf(['send', '--connection', 'c', '--tenant', 'acme', '--data', '1']).message).toMatch(/^--tenant goes with --user/);
  });

  it('to a connection is a NotifyConnection message', () => {
    expect(parseCommandLine(['send', '--connection', 'L0SM9cOFvHcCIhw=', '--data', 'null'])).toMatchObject({
      notification: { queue: 'NotifyConnectionQueueUrl', message: { connectionId: 'L0SM9cOFvHcCIhw=', data: null } },
    });
  });

  it.each([[['--data', '1']], [['--user', 'alice', '--connection', 'c1', '--data', '1']]])(
    'needs exactly one of --user and --connection (%j)',
    (args) => {
      expect(usageErrorOf(['send', ...args]).message).toBe('send takes exactly one of --user and --connection');
    },
  );

  it('needs --data', () => {
    expect(usageErrorOf(['send', '--user', 'alice']).message).toBe('--data is required');
  });

  it('refuses --data that is not JSON, saying so', () => {
    expect(usageErrorOf(['send', '--user', 'alice', '--data', 'shipped']).message).toMatch(/^--data is not valid JSON/);
  });

  it('refuses a message the queue would dead-letter, with the reason', () => {
    expect(usageErrorOf(['send', '--connection', 'c'.repeat(129), '--data', '1']).message).toMatch(
      /^the queue would refuse this message: .*connectionId/,
    );
  });

  it('refuses an empty user', () => {
    expect(usageErrorOf(['send', '--user', '', '--data', '1']).message).toBe('--user cannot be empty');
  });
});

describe('stream', () => {
  it('takes a user, a token, or both', () => {
    expect(parseCommandLine(['stream', '--user', 'alice'])).toEqual({ command: 'stream', target: {}, userId: 'alice' });
    expect(parseCommandLine(['stream', '--token', 'a.b.c'])).toEqual({ command: 'stream', target: {}, token: 'a.b.c' });
  });

  it('takes an API key, or no credential with --anonymous', () => {
    expect(parseCommandLine(['stream', '--apikey', 'wsn_k_s'])).toEqual({ command: 'stream', target: {}, apiKey: 'wsn_k_s' });
    expect(parseCommandLine(['stream', '--anonymous'])).toEqual({ command: 'stream', target: {}, anonymous: true });
  });

  it('needs one credential, and only one', () => {
    expect(usageErrorOf(['stream']).message).toBe('stream needs --user (a token is minted for it locally), --token, --apikey or --anonymous');
    for (const both of [['--user', 'a', '--apikey', 'k'], ['--token', 't', '--anonymous'], ['--apikey', 'k', '--anonymous']]) {
      expect(usageErrorOf(['stream', ...both]).message).toBe('stream connects with one credential: --user/--token, --apikey or --anonymous');
    }
  });

  it('keeps its positions in the file --resume names', () => {
    expect(parseCommandLine(['stream', '--user', 'alice', '--resume', 'alice.json'])).toEqual({ command: 'stream', target: {}, userId: 'alice', resumeFile: 'alice.json' });
    expect(usageErrorOf(['stream', '--user', 'alice', '--resume', '']).message).toBe('--resume cannot be empty');
  });
});

describe('history', () => {
  it("reads a user's or a topic's stream, in a tenant, at most --limit entries (20 unless given)", () => {
    expect(parseCommandLine(['history', '--user', 'alice'])).toEqual({ command: 'history', target: {}, stream: { userId: 'alice' }, limit: 20 });
    expect(parseCommandLine(['history', '--topic', 'orders', '--tenant', 'acme', '--limit', '5', '--outputs', 'o.json'])).toEqual({
      command: 'history',
      target: { outputsFile: 'o.json' },
      stream: { topic: 'orders', tenant: 'acme' },
      limit: 5,
    });
  });

  it('takes exactly one of --user and --topic, and a --limit from 1 to 10000', () => {
    expect(usageErrorOf(['history']).message).toBe('history takes exactly one of --user and --topic');
    expect(usageErrorOf(['history', '--user', 'a', '--topic', 't']).message).toBe('history takes exactly one of --user and --topic');
    for (const limit of ['0', '10001', '2.5', 'all']) {
      expect(usageErrorOf(['history', '--user', 'a', '--limit', limit]).message).toBe(`--limit takes a whole number from 1 to 10000, got "${limit}"`);
    }
  });

  it('needs the tenant on a multi-tenant stack', () => {
    expect(() => checkTenancy(parseCommandLine(['history', '--user', 'a']), 'org')).toThrow('name the stream\'s tenant with --tenant');
    expect(() => checkTenancy(parseCommandLine(['history', '--user', 'a', '--tenant', 'acme']), 'org')).not.toThrow();
  });
});

describe('streams', () => {
  it('takes the user and a tenant; --user is required', () => {
    expect(parseCommandLine(['streams', '--user', 'alice', '--tenant', 'acme'])).toEqual({ command: 'streams', target: {}, userId: 'alice', tenant: 'acme' });
    expect(usageErrorOf(['streams']).message).toBe('--user is required');
    expect(() => checkTenancy(parseCommandLine(['streams', '--user', 'a']), 'org')).toThrow('name the stream\'s tenant with --tenant');
  });
});

describe('connections', () => {
  it('needs --user', () => {
    expect(usageErrorOf(['connections', '--outputs', 'out.json']).message).toBe('--user is required');
  });
});

/** 50 patterns of 128 characters: the most a grant may list, and far more than fits twice in 8 KB. */
const manyPatterns = (letter: string) => Array.from({ length: 50 }, (_, index) => `${letter}${index}`.padEnd(128, letter)).join(',');

describe('apikey', () => {
  const now = Date.now();
  beforeAll(() => jest.useFakeTimers({ now, doNotFake: ['setTimeout', 'setImmediate', 'nextTick'] }));
  afterAll(() => jest.useRealTimers());

  it('create takes the user, tenant, expiry and scope; connect is the default scope and no expiry the default', () => {
    expect(parseCommandLine(['apikey', 'create', '--user', 'alice', '--tenant', 'acme', '--expires', '2030-01-31T00:00:00Z', '--scope', 'publish'])).toEqual({
      command: 'apikey create',
      target: {},
      key: { userId: 'alice', tenant: 'acme', scope: 'publish', expiresAt: Date.parse('2030-01-31T00:00:00Z') / 1000 },
    });
    expect(parseCommandLine(['apikey', 'create', '--user', 'alice'])).toEqual({ command: 'apikey create', target: {}, key: { userId: 'alice', scope: 'connect' } });
  });

  it.each([
    ['90s', 90],
    ['15m', 15 * 60],
    ['12h', 12 * 3600],
    ['30d', 30 * 86_400],
  ])('reads --expires %s as that long from now', (expires, seconds) => {
    const parsed = parseCommandLine(['apikey', 'create', '--user', 'alice', '--expires', expires]);

    expect(parsed).toMatchObject({ key: { expiresAt: Math.floor(now / 1000) + seconds } });
  });

  it.each([
    [['apikey'], 'apikey needs a subcommand: create, list or revoke'],
    [['apikey', 'rotate'], 'unknown apikey subcommand "rotate"'],
    [['apikey', 'create'], '--user is required'],
    [['apikey', 'create', '--user', 'anonymous:abc'], '--user cannot name an anonymous user'],
    [['apikey', 'create', '--user', 'alice', '--scope', 'admin'], '--scope takes connect or publish, got "admin"'],
    [['apikey', 'create', '--user', 'alice', '--expires', '1y'], expect.stringContaining('--expires takes an ISO 8601 time')],
    [['apikey', 'create', '--user', 'alice', '--expires', '0s'], '--expires must be in the future, got "0s"'],
    [['apikey', 'create', '--user', 'alice', '--tenant', ''], '--tenant cannot be empty'],
    [['apikey', 'create', '--user', 'x'.repeat(257)], "an API key's user id is longer than 256 bytes"],
    [
      ['apikey', 'create', '--user', 'alice', '--topics', manyPatterns('t'), '--publish-topics', manyPatterns('p')],
      expect.stringMatching(/^this key's topic and group grants and auto-subscriptions would make the \$connect authorizer's result \d+ bytes, over API Gateway's limit of 8192: grant fewer/),
    ],
    [
      // Group grants travel in the authorizer's result too: they count toward its 8 KB.
      ['apikey', 'create', '--user', 'alice', '--topics', manyPatterns('t'), '--groups', manyPatterns('g')],
      expect.stringMatching(/^this key's topic and group grants and auto-subscriptions would make the \$connect authorizer's result \d+ bytes, over API Gateway's limit of 8192/),
    ],
    [
      // Auto-subscriptions travel in the authorizer's result too.
      ['apikey', 'create', '--user', 'alice', '--topics', manyPatterns('t'), '--auto-subscribe', manyPatterns('a')],
      expect.stringMatching(/auto-subscriptions would make the \$connect authorizer's result \d+ bytes, over API Gateway's limit of 8192/),
    ],
    [['apikey', 'create', '--user', 'alice', '--auto-subscribe', 'orders.*'], expect.stringContaining('--auto-subscribe takes a comma-separated list of topics')],
    [
      ['apikey', 'create', '--user', 'alice', '--scope', 'publish', '--auto-subscribe', 'orders'],
      'auto-subscriptions and keepalive are for connect keys: a publish key opens no connection',
    ],
    [
      // $connect would refuse every connection with it (403 forbidden_topic).
      ['apikey', 'create', '--user', 'alice', '--topics', 'open', '--auto-subscribe', 'secret'],
      expect.stringMatching(/^this key auto-subscribes to "secret", which its topic grant does not cover, so \$connect would refuse every connection with it/),
    ],
    [
      ['apikey', 'create', '--user', 'alice', '--auto-subscribe', 'news'],
      expect.stringMatching(/^this key auto-subscribes to "news", which its topic grant does not cover/),
    ],
    [
      // The topic is granted, the group is not (403 forbidden_group at $connect).
      ['apikey', 'create', '--user', 'alice', '--topics', 'jobs', '--auto-subscribe', 'jobs#workers'],
      expect.stringMatching(/^this key joins the group "workers" of "jobs" at connect, which its group grant does not cover/),
    ],
    [['apikey', 'list'], '--user is required'],
    [['apikey', 'revoke'], 'revoke needs the id of the key (apikey list shows them)'],
    [['apikey', 'revoke', 'a', 'b'], "Unexpected argument 'b'"],
    [['apikey', 'create', 'alice'], expect.stringMatching(/Unexpected argument 'alice'/)],
  ])('refuses %j: %s', (argv, message) => {
    expect(usageErrorOf(argv)).toMatchObject({ message, usage: expect.stringContaining('Usage: ws-notify apikey create') });
  });

  it('revoke takes the key id and the target options', () => {
    expect(parseCommandLine(['apikey', 'revoke', '0123456789abcdef', '--outputs', 'out.json'])).toEqual({
      command: 'apikey revoke',
      target: { outputsFile: 'out.json' },
      keyId: '0123456789abcdef',
    });
  });
});

describe('publish', () => {
  it('builds a CloudEvent with a fresh id, the time, the CLI as source unless given, and the data', () => {
    const parsed = parseCommandLine(['publish', '--topic', 'orders', '--type', 'order.created', '--data', '{"total":42}', '--subject', 'o-1']);

    expect(parsed).toEqual({
      command: 'publish',
      target: {},
      message: {
        topic: 'orders',
        event: { specversion: '1.0', id: expect.stringMatching(/^[0-9a-f-]{36}$/), source: 'ws-notify-cli', type: 'order.created', time: expect.any(String), subject: 'o-1', data: { total: 42 } },
      },
    });
  });

  it.each([
    [['publish', '--type', 't'], '--topic is required'],
    [['publish', '--topic', 'orders'], '--type is required'],
    [['publish', '--topic', 'has space', '--type', 't'], expect.stringContaining('the queue would refuse this message')],
    [['publish', '--topic', 'orders', '--type', 't', '--data', '{'], expect.stringContaining('--data is not valid JSON')],
  ])('refuses %j', (argv, message) => {
    expect(usageErrorOf(argv)).toMatchObject({ message });
  });
});

describe('stream --topic', () => {
  it('subscribes with the event filters and the group', () => {
    expect(parseCommandLine(['stream', '--user', 'ann', '--topic', 'orders', '--events', 'order.*, invoice.paid', '--group', 'g'])).toEqual({
      command: 'stream',
      target: {},
      userId: 'ann',
      subscription: { topic: 'orders', events: ['order.*', 'invoice.paid'], group: 'g' },
    });
  });

  it('takes the topic as its one positional argument too', () => {
    expect(parseCommandLine(['stream', 'orders', '--user', 'ann', '--events', 'order.*'])).toEqual({
      command: 'stream',
      target: {},
      userId: 'ann',
      subscription: { topic: 'orders', events: ['order.*'] },
    });
    expect(usageErrorOf(['stream', 'orders', '--user', 'ann', '--topic', 'news']).message).toBe('name the topic once: as <topic> or with --topic');
    expect(usageErrorOf(['stream', 'orders', 'news', '--user', 'ann']).message).toBe("Unexpected argument 'news'");
  });

  it('refuses --events or --group without a topic', () => {
    expect(usageErrorOf(['stream', '--user', 'ann', '--group', 'g']).message).toBe('--events and --group go with a topic');
  });
});

describe('publish from the CLI', () => {
  it("refuses a source in the server's ws-notify: namespace, as the fan-out would dead-letter it (reserved_source)", () => {
    expect(usageErrorOf(['publish', '--topic', 'chat', '--type', 't', '--source', 'ws-notify:user:alice']).message).toMatch(/^the queue would refuse this message: a source starting with "ws-notify:"/);
  });
});

describe('apikey create grants', () => {
  it('reads --topics and --publish-topics as comma-separated patterns', () => {
    expect(parseCommandLine(['apikey', 'create', '--user', 'ann', '--topics', 'orders.*, news', '--publish-topics', 'chat.*'])).toMatchObject({
      key: { topics: ['orders.*', 'news'], publishTopics: ['chat.*'] },
    });
  });

  it('refuses a pattern that is not one', () => {
    expect(usageErrorOf(['apikey', 'create', '--user', 'ann', '--topics', 'a b']).message).toContain('--topics takes a comma-separated list');
    expect(usageErrorOf(['apikey', 'create', '--user', 'ann', '--groups', 'jobs#a b']).message).toContain('--groups takes a comma-separated list');
  });

  it('reads --auto-subscribe as topics or <topic>#<group>, and --keepalive as a flag', () => {
    expect(parseCommandLine(['apikey', 'create', '--user', 'ann', '--topics', 'orders,jobs', '--groups', 'jobs#w*', '--auto-subscribe', 'orders, jobs#workers', '--keepalive'])).toMatchObject({
      key: { autoSubscribe: ['orders', 'jobs#workers'], keepalive: true },
    });
  });

  it('reads --groups as topic patterns or <topic>#<group> patterns', () => {
    expect(parseCommandLine(['apikey', 'create', '--user', 'ann', '--topics', 'jobs', '--groups', 'jobs#workers, orders.*'])).toMatchObject({
      key: { groups: ['jobs#workers', 'orders.*'] },
    });
  });
});

describe('dlq', () => {
  it('acts on all three dead-letter queues unless --queue names one', () => {
    expect(parseCommandLine(['dlq', 'list'])).toEqual({
      command: 'dlq list',
      target: {},
      queues: ['notify-user', 'notify-connection', 'publish'],
      max: DEFAULT_DLQ_LIST_MAX,
    });
    expect(parseCommandLine(['dlq', 'list', '--queue', 'publish', '--max', '5', '--outputs', 'out.json'])).toEqual({
      command: 'dlq list',
      target: { outputsFile: 'out.json' },
      queues: ['publish'],
      max: 5,
    });
  });

  it('refuses a --queue that has no dead-letter queue, naming the ones that do', () => {
    expect(usageErrorOf(['dlq', 'list', '--queue', 'events']).message).toBe('--queue takes notify-user, notify-connection, publish, got "events"');
  });

  it.each([['0'], ['-1'], ['ten'], ['10001']])('refuses --max %s', (max) => {
    expect(usageErrorOf(['dlq', 'list', `--max=${max}`]).message).toMatch(/^--max takes a whole number from 1 to 10000/);
  });

  it('redrives and waits for the move task, unless --no-wait', () => {
    expect(parseCommandLine(['dlq', 'redrive', '--queue', 'notify-user'])).toEqual({ command: 'dlq redrive', target: {}, queues: ['notify-user'], wait: true });
    expect(parseCommandLine(['dlq', 'redrive', '--no-wait'])).toMatchObject({ command: 'dlq redrive', wait: false });
  });

  it('purges after asking, or without asking with --yes', () => {
    expect(parseCommandLine(['dlq', 'purge', '--queue', 'notify-connection'])).toEqual({
      command: 'dlq purge',
      target: {},
      queues: ['notify-connection'],
      yes: false,
    });
    expect(parseCommandLine(['dlq', 'purge', '--yes', '--stack', 'Prod'])).toMatchObject({ command: 'dlq purge', target: { stackName: 'Prod' }, yes: true });
  });

  it('takes --yes on purge only, and --no-wait on redrive only', () => {
    expect(usageErrorOf(['dlq', 'redrive', '--yes']).message).toBe("Unknown option '--yes'");
    expect(usageErrorOf(['dlq', 'list', '--no-wait']).message).toBe("Unknown option '--no-wait'");
    expect(usageErrorOf(['dlq', 'purge', '--yes=no']).message).toMatch(/--yes/);
  });

  it('needs a subcommand it knows', () => {
    expect(usageErrorOf(['dlq']).message).toBe('dlq needs a subcommand: list, redrive or purge');
    expect(usageErrorOf(['dlq', 'drop']).message).toBe('unknown dlq subcommand "drop"');
  });
});

describe('a multi-tenant stack (one with a TenantClaim output)', () => {
  const tenancyErrorOf = (argv: string[], tenantClaim: string | undefined) => {
    try {
      checkTenancy(parseCommandLine(argv), tenantClaim);
    } catch (error) {
      if (error instanceof UsageError) return error;
      throw error;
    }
    return undefined;
  };
  const missingTenant = 'the stack is multi-tenant (tenant claim "org"): name the tenant with --tenant, or the message reaches nobody';

  it('refuses publish and send --user without --tenant (exit code 2), which would reach nobody and be dead-lettered', () => {
    expect(tenancyErrorOf(['publish', '--topic', 'news', '--type', 'headline'], 'org')).toMatchObject({
      message: missingTenant,
      usage: expect.stringContaining('Usage: ws-notify publish '),
    });
    expect(tenancyErrorOf(['send', '--user', 'ann', '--data', '1'], 'org')).toMatchObject({
      message: missingTenant,
      usage: expect.stringContaining('Usage: ws-notify send '),
    });
  });

  it('takes them with --tenant, send --connection without, and anything on a single-tenant stack', () => {
    expect(tenancyErrorOf(['publish', '--topic', 'news', '--type', 'headline', '--tenant', 'acme'], 'org')).toBeUndefined();
    expect(tenancyErrorOf(['send', '--user', 'ann', '--tenant', 'acme', '--data', '1'], 'org')).toBeUndefined();
    expect(tenancyErrorOf(['send', '--connection', 'abc=', '--data', '1'], 'org')).toBeUndefined();
    expect(tenancyErrorOf(['publish', '--topic', 'news', '--type', 'headline'], undefined)).toBeUndefined();
  });
});
