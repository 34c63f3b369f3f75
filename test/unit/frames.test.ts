import { eventFrame, MAX_MESSAGE_BYTES, notificationFrame, pongFrame, unroutedFrameError } from '../../lambdas/core/frames';
import { MAX_JSON_DEPTH } from '../../lambdas/core/json';
import { InvalidMessageError } from '../../lambdas/core/messages';

/** `[[[…]]]`, `levels` arrays deep, as JSON.parse makes it. */
const nested = (levels: number): unknown => JSON.parse('['.repeat(levels) + ']'.repeat(levels));

const parse = (frame: string) => JSON.parse(frame) as Record<string, unknown>;

describe('pong frames', () => {
  const now = new Date('2026-11-23T10:00:00.000Z');

  it('answer a ping with the server time', () => {
    expect(parse(pongFrame('{"action":"ping"}', now))).toEqual({ type: 'pong', time: '2026-11-23T10:00:00.000Z' });
  });

  it('echo a string or numeric id', () => {
    expect(parse(pongFrame('{"action":"ping","id":"p-1"}', now))).toMatchObject({ id: 'p-1' });
    expect(parse(pongFrame('{"action":"ping","id":7}', now))).toMatchObject({ id: 7 });
  });

  it('answer a ping nested too deep with too_deep', () => {
    expect(parse(pongFrame(`{"action":"ping","x":${JSON.stringify(nested(MAX_JSON_DEPTH))}}`, now))).toMatchObject({ type: 'error', code: 'too_deep' });
  });

  it('drop an id that is not a short string or a number', () => {
    expect(parse(pongFrame('{"action":"ping","id":{"x":1}}', now))).not.toHaveProperty('id');
    expect(parse(pongFrame(`{"action":"ping","id":"${'x'.repeat(129)}"}`, now))).not.toHaveProperty('id');
  });
});

describe('frames that match no route', () => {
  it.each([
    ['not JSON', 'hello', 'invalid_json'],
    ['empty', '', 'invalid_json'],
    ['truncated JSON', '{"action":"pi', 'invalid_json'],
    ['a JSON array', '[1,2]', 'invalid_frame'],
    ['a JSON string', '"ping"', 'invalid_frame'],
    ['an object without action', '{"id":"a"}', 'invalid_frame'],
    ['an object with a numeric action', '{"action":1}', 'invalid_frame'],
    ['an unknown action', '{"action":"shout"}', 'unknown_action'],
  ])('answer %s with a typed error frame', (_, body, code) => {
    const frame = parse(unroutedFrameError(body));

    expect(frame).toMatchObject({ type: 'error', code, message: expect.any(String) });
  });

  it('answer a frame nested 20,000 deep with too_deep, echoing its id', () => {
    const body = `{"action":"shout","id":"deep","x":${'['.repeat(20_000) + ']'.repeat(20_000)}}`;

    expect(parse(unroutedFrameError(body))).toEqual({
      type: 'error',
      code: 'too_deep',
      message: `the frame nests objects and arrays more than ${MAX_JSON_DEPTH} deep`,
      id: 'deep',
    });
  });

  it('name the unknown action and the supported ones, and echo the id', () => {
    expect(parse(unroutedFrameError('{"action":"shout","id":"s-1"}'))).toEqual({
      type: 'error',
      code: 'unknown_action',
      message: 'unknown action "shout"; supported: ping, authenticate, subscribe, unsubscribe, publish, resume, history, ack',
      id: 's-1',
    });
  });

  it('say that resume and history need history, on a stack without it (their routes exist only with history)', () => {
    expect(parse(unroutedFrameError('{"action":"resume","id":1}'))).toEqual({
      type: 'error',
      code: 'unknown_action',
      message: 'this stack keeps no history (history: false): no "resume"',
      id: 1,
    });
  });
});

describe('notification frames', () => {
  it('carry their stream position, and replay: true when replayed', () => {
    const notification = { id: 'n-1', time: '2026-11-23T10:00:00.000Z', data: 1 };
    const position = { stream: 'user', seq: 12, epoch: 'e1' };

    expect(parse(notificationFrame(notification, position))).toEqual({ type: 'notification', ...notification, stream: 'user', seq: 12, epoch: 'e1' });
    expect(parse(notificationFrame(notification, position, true))).toEqual({ type: 'notification', ...notification, stream: 'user', seq: 12, epoch: 'e1', replay: true });
    expect(parse(eventFrame('orders', { specversion: '1.0', id: 'e', source: 's', type: 't' }, { stream: 'topic:orders', seq: 7, epoch: 'e2' }))).toMatchObject({
      type: 'event',
      topic: 'orders',
      stream: 'topic:orders',
      seq: 7,
      epoch: 'e2',
    });
  });

  it('carry type, id, time and data', () => {
    const frame = notificationFrame({ id: 'n-1', time: '2026-11-23T10:00:00.000Z', data: { a: [1, null] } });

    expect(parse(frame)).toEqual({ type: 'notification', id: 'n-1', time: '2026-11-23T10:00:00.000Z', data: { a: [1, null] } });
  });

  it("refuse a frame over API Gateway's 128 KB message limit as payload_too_large", () => {
    const build = () => notificationFrame({ id: 'n', time: 't', data: 'x'.repeat(MAX_MESSAGE_BYTES) });

    expect(build).toThrow(InvalidMessageError);
    expect(build).toThrow(/131\d{3} bytes/);
  });

  it('accept a frame of exactly 128 KB', () => {
    const overhead = notificationFrame({ id: 'n', time: 't', data: '' }).length;
    const frame = notificationFrame({ id: 'n', time: 't', data: 'x'.repeat(MAX_MESSAGE_BYTES - overhead) });

    expect(Buffer.byteLength(frame)).toBe(MAX_MESSAGE_BYTES);
  });

  it('keep a __proto__ key of the data, which JSON.parse keeps as an own property', () => {
    const data = JSON.parse('{"__proto__":{"admin":true},"a":1}') as unknown;

    expect(notificationFrame({ id: 'n', time: 't', data: data as never })).toBe(
      '{"type":"notification","id":"n","time":"t","data":{"__proto__":{"admin":true},"a":1}}',
    );
  });

  it(`refuse, before JSON.stringify, a frame nested deeper than ${MAX_JSON_DEPTH}: data ${MAX_JSON_DEPTH - 1} deep is the most`, () => {
    expect(() => notificationFrame({ id: 'n', time: 't', data: nested(MAX_JSON_DEPTH - 1) as never })).not.toThrow();
    expect(() => notificationFrame({ id: 'n', time: 't', data: nested(MAX_JSON_DEPTH) as never })).toThrow(
      expect.objectContaining({ reason: 'too_deep' }),
    );
    expect(() => notificationFrame({ id: 'n', time: 't', data: nested(20_000) as never })).toThrow(expect.objectContaining({ reason: 'too_deep' }));
  });
});

describe('event frames', () => {
  const event = { specversion: '1.0' as const, id: '1', source: '/s', type: 't' };

  it(`refuse an event whose data nests deeper than ${MAX_JSON_DEPTH - 2}, the frame and the event around it counted`, () => {
    expect(() => eventFrame('news', { ...event, data: nested(MAX_JSON_DEPTH - 2) as never })).not.toThrow();
    expect(() => eventFrame('news', { ...event, data: nested(MAX_JSON_DEPTH - 1) as never })).toThrow(expect.objectContaining({ reason: 'too_deep' }));
  });
});
