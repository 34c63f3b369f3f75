import { eventsFromHttp, InvalidEventError } from '../../lambdas/core/cloudevents-http';

const attributes = { 'ce-specversion': '1.0', 'ce-id': 'b-1', 'ce-source': '/s', 'ce-type': 't' };

describe('the CloudEvents HTTP binding', () => {
  it('reads structured mode, with a charset parameter on the media type', () => {
    const event = { specversion: '1.0', id: '1', source: '/s', type: 't', data: { a: 1 } };
    expect(eventsFromHttp({ headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' }, body: JSON.stringify(event) })).toEqual([event]);
  });

  it('reads a base64-encoded body, as API Gateway passes non-text bodies', () => {
    const event = { specversion: '1.0', id: '1', source: '/s', type: 't' };
    const body = Buffer.from(JSON.stringify(event)).toString('base64');
    expect(eventsFromHttp({ headers: { 'content-type': 'application/cloudevents+json' }, body, isBase64Encoded: true })).toEqual([event]);
  });

  it('makes a binary-mode body JSON data, a string, or data_base64 by its media type', () => {
    expect(eventsFromHttp({ headers: { ...attributes, 'content-type': 'application/vnd.shop+json' }, body: '{"a":1}' })[0]).toMatchObject({
      datacontenttype: 'application/vnd.shop+json',
      data: { a: 1 },
    });
    expect(eventsFromHttp({ headers: { ...attributes, 'content-type': 'text/plain' }, body: 'hello' })[0]).toMatchObject({ data: 'hello' });
    const bytes = Buffer.from([0, 1, 2, 255]);
    expect(eventsFromHttp({ headers: { ...attributes, 'content-type': 'application/octet-stream' }, body: bytes.toString('base64'), isBase64Encoded: true })[0]).toMatchObject({
      data_base64: bytes.toString('base64'),
    });
  });

  it('takes a binary-mode event without a body as one without data', () => {
    expect(eventsFromHttp({ headers: attributes })).toEqual([{ specversion: '1.0', id: 'b-1', source: '/s', type: 't' }]);
  });

  it('percent-decodes ce- header values, and refuses an invalid encoding', () => {
    expect(eventsFromHttp({ headers: { ...attributes, 'ce-subject': 'a%20b%C3%A9' } })[0]).toMatchObject({ subject: 'a bé' });
    expect(() => eventsFromHttp({ headers: { ...attributes, 'ce-subject': '%E0%A4%A' } })).toThrow('header ce-subject is not validly percent-encoded');
  });

  it('refuses a request that is no CloudEvent, and a batch over 100 events', () => {
    expect(() => eventsFromHttp({ headers: { 'content-type': 'application/json' }, body: '{}' })).toThrow(InvalidEventError);
    const event = { specversion: '1.0', id: '1', source: '/s', type: 't' };
    expect(() =>
      eventsFromHttp({ headers: { 'content-type': 'application/cloudevents-batch+json' }, body: JSON.stringify(Array(101).fill(event)) }),
    ).toThrow('a batch holds 1 to 100 events');
  });

  it('refuses a body nested too deep as too_deep, before validating it', () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    const structured = () => eventsFromHttp({ headers: { 'content-type': 'application/cloudevents+json' }, body: `{"specversion":"1.0","data":${deep}}` });
    const binary = () => eventsFromHttp({ headers: { ...attributes, 'content-type': 'application/json' }, body: deep });

    for (const read of [structured, binary]) expect(read).toThrow(expect.objectContaining({ code: 'too_deep', message: 'the body nests objects and arrays more than 64 deep' }));
  });
});
