import { CloudEvent, eventTypeMatches, grantFrom, groupGrantFrom, mayAccess, mayJoin, topicKey, topicMatches } from '../../lambdas/core/topics';

describe('topic patterns', () => {
  it.each([
    ['orders', 'orders', true],
    ['orders', 'orders.eu', false],
    ['orders.*', 'orders.eu', true],
    ['orders.*', 'orders', false],
    ['orders*', 'orders-archive', true],
    ['*', 'anything', true],
  ])('%s matches %s: %s', (pattern, topic, expected) => {
    expect(topicMatches(pattern, topic)).toBe(expected);
  });

  it('grant access when any pattern matches, and none when there are none', () => {
    expect(mayAccess(['a', 'b.*'], 'b.c')).toBe(true);
    expect(mayAccess([], 'b.c')).toBe(false);
  });
});

describe('event-type filters', () => {
  it('pass every type when absent, exact types, and prefixes ending in .*', () => {
    expect(eventTypeMatches(undefined, 'x')).toBe(true);
    expect(eventTypeMatches(['order.created'], 'order.created')).toBe(true);
    expect(eventTypeMatches(['order.created'], 'order.created.v2')).toBe(false);
    expect(eventTypeMatches(['order.*'], 'order.line.added')).toBe(true);
    expect(eventTypeMatches(['order.*'], 'order')).toBe(false);
    expect(eventTypeMatches(['order.*'], 'orders.created')).toBe(false);
  });
});

describe('grant claims', () => {
  it('are absent, or a list of patterns', () => {
    expect(grantFrom(undefined, 'topics')).toBeUndefined();
    expect(grantFrom(['a', 'b.*', '*'], 'topics')).toEqual(['a', 'b.*', '*']);
  });

  it.each([['a string', 'orders'], ['a pattern with a space', ['a b']], ['a * in the middle', ['a*b']], ['an empty pattern', ['']], ['51 patterns', Array(51).fill('a')]])(
    'refuse %s',
    (_what, value) => {
      expect(() => grantFrom(value, 'topics')).toThrow(/"topics" must be a list/);
    },
  );
});

describe('group grants', () => {
  it('let a topic pattern join any group on its topics, and <topic>#<group> that group (a trailing * matching a prefix of the pair)', () => {
    expect(mayJoin(['jobs'], 'jobs', 'workers')).toBe(true);
    expect(mayJoin(['jobs.*'], 'jobs.eu', 'anything')).toBe(true);
    expect(mayJoin(['jobs#workers'], 'jobs', 'workers')).toBe(true);
    expect(mayJoin(['jobs#w*'], 'jobs', 'w2')).toBe(true);
    expect(mayJoin(['*'], 'x', 'y')).toBe(true);
  });

  it('let nothing else join: another group, another topic, no grant', () => {
    expect(mayJoin(['jobs#workers'], 'jobs', 'auditors')).toBe(false);
    expect(mayJoin(['jobs#workers'], 'jobs.eu', 'workers')).toBe(false);
    expect(mayJoin(['jobs'], 'jobs.eu', 'workers')).toBe(false);
    expect(mayJoin([], 'jobs', 'workers')).toBe(false);
  });

  it.each([['a string', 'jobs'], ['a group with a space', ['jobs#a b']], ['two #', ['a#b#c']], ['a * in the middle', ['jobs#*x']], ['51 patterns', Array(51).fill('a')]])(
    'refuse %s',
    (_what, value) => {
      expect(() => groupGrantFrom(value, 'groups')).toThrow(/"groups" must be a list/);
    },
  );
});

describe('topic keys', () => {
  it('put each tenant in its own namespace', () => {
    expect(topicKey('news', 'acme')).toBe('acme#news');
    expect(topicKey('news', undefined)).toBe('#news');
  });
});

describe('CloudEvents', () => {
  const valid = { specversion: '1.0', id: '1', source: 'https://shop.example', type: 'order.created' };

  it('accept the required attributes, the optional ones and extensions', () => {
    const event = { ...valid, time: '2026-11-23T10:00:00+01:00', subject: 'o-1', datacontenttype: 'application/json', data: { a: 1 }, traceparent: 'x' };
    expect(CloudEvent.parse(event)).toEqual(event);
  });

  it.each([
    ['another specversion', { ...valid, specversion: '0.3' }],
    ['no id', { ...valid, id: undefined }],
    ['an empty source', { ...valid, source: '' }],
    ['no type', { ...valid, type: undefined }],
    ['a time that is not RFC 3339', { ...valid, time: 'yesterday' }],
    ['an upper-case extension name', { ...valid, TraceParent: 'x' }],
    ['data and data_base64 both', { ...valid, data: 1, data_base64: 'AQ==' }],
  ])('refuse %s', (_what, event) => {
    expect(CloudEvent.safeParse(JSON.parse(JSON.stringify(event))).success).toBe(false);
  });

  it('pass data and extension values on as they were sent, __proto__ keys included', () => {
    const sent = JSON.parse('{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"__proto__":{"x":1}},"ext":{"__proto__":2}}') as Record<string, unknown>;

    const event = CloudEvent.parse(sent);

    expect(event.data).toBe(sent['data']);
    expect(event['ext']).toBe(sent['ext']);
    expect(JSON.stringify(event)).toBe(JSON.stringify(sent));
  });

  it('refuse an attribute named __proto__, rather than lose it in the copy', () => {
    const sent = JSON.parse('{"specversion":"1.0","id":"1","source":"/s","type":"t","__proto__":{"type":"x"}}');

    expect(CloudEvent.safeParse(sent).success).toBe(false);
  });
});
