import type { Message } from '@aws-sdk/client-sqs';
import { describeDeadLetter, formatAge, isYes, purgeConsent, summarizeBody } from '../../cli/dead-letter-report';

const NOW = Date.parse('2026-11-27T12:00:00Z');

function message(body: string, attributes: Record<string, string> = {}, sentAgoMs = 65_000, receiveCount = 7): Message {
  return {
    MessageId: 'm-1',
    Body: body,
    Attributes: { SentTimestamp: String(NOW - sentAgoMs), ApproximateReceiveCount: String(receiveCount) },
    ...(Object.keys(attributes).length > 0 && {
      MessageAttributes: Object.fromEntries(Object.entries(attributes).map(([name, value]) => [name, { DataType: 'String', StringValue: value }])),
    }),
  };
}

describe('a dead-lettered message, as dlq list describes it', () => {
  it('gives the reason a function sent it with: its ErrorCode and ErrorMessage', () => {
    const sent = message('{"userId":"sara"}', {
      ErrorCode: 'invalid_message',
      ErrorMessage: '✖ Invalid input → at data',
      SourceMessageId: 's-1',
      SourceQueueArn: 'arn:aws:sqs:eu-west-1:1:NotifyUser',
    });

    expect(describeDeadLetter('notify-user', sent, 5, NOW)).toEqual({
      queue: 'notify-user',
      messageId: 'm-1',
      sentAt: '2026-11-27T11:58:55.000Z',
      age: '1m05s',
      receiveCount: 7,
      reason: 'invalid_message: ✖ Invalid input → at data',
      errorCode: 'invalid_message',
      errorMessage: '✖ Invalid input → at data',
      sourceMessageId: 's-1',
      body: 'userId=sara (17 bytes)',
    });
  });

  it('says that one without an ErrorCode failed the receives its redrive policy allows', () => {
    const line = describeDeadLetter('publish', message('{"topic":"ops","event":{"id":"e-1","type":"deploy.failed"}}'), 5, NOW);

    expect(line.reason).toBe("failed 5 receives: its queue's redrive policy moved it (no ErrorCode; the function's logs say why)");
    expect(line).not.toHaveProperty('errorCode');
    expect(line.body).toBe('topic=ops event.type=deploy.failed event.id=e-1 (59 bytes)');
  });

  it('says "every receive its queue allows" where the redrive policy could not be read', () => {
    expect(describeDeadLetter('publish', message('x'), undefined, NOW).reason).toMatch(/^failed every receive its queue allows:/);
  });
});

describe('the summary of a body', () => {
  it('names whom it is for, in a fixed order, and its size', () => {
    expect(summarizeBody('{"data":{"a":1},"id":"n-1","connectionId":"c=","tenant":"acme"}')).toBe('tenant=acme connectionId=c= id=n-1 (63 bytes)');
  });

  it('quotes a body that is not a JSON object, cut to 80 characters on one line', () => {
    expect(summarizeBody('not json')).toBe('"not json" (8 bytes)');
    expect(summarizeBody(`[${'1,'.repeat(60)}1]`)).toBe(`"[${'1,'.repeat(39)}1…" (123 bytes)`);
    expect(summarizeBody('a\n  b')).toBe('"a b" (5 bytes)');
  });

  it('quotes a JSON object that names no one', () => {
    expect(summarizeBody('{"data":1}')).toBe('"{\\"data\\":1}" (10 bytes)');
  });
});

describe('an age', () => {
  it.each([
    [0, '0s'],
    [59_999, '59s'],
    [60_000, '1m00s'],
    [3_599_000, '59m59s'],
    [3_600_000 + 5 * 60_000, '1h05m'],
    [86_400_000 * 13 + 3_600_000 * 4, '13d04h'],
    [-5_000, '0s'],
  ])('of %i ms reads %s', (ms, text) => {
    expect(formatAge(ms)).toBe(text);
  });
});

describe('purge', () => {
  it('goes ahead with --yes, asks at a terminal, and refuses where there is none to ask at', () => {
    expect(purgeConsent({ yes: true, interactive: false })).toBe('proceed');
    expect(purgeConsent({ yes: true, interactive: true })).toBe('proceed');
    expect(purgeConsent({ yes: false, interactive: true })).toBe('ask');
    expect(purgeConsent({ yes: false, interactive: false })).toBe('refuse');
  });

  it.each([['y'], ['Y'], ['yes'], [' YES \n']])('takes %j for yes', (answer) => {
    expect(isYes(answer)).toBe(true);
  });

  it.each([[''], ['n'], ['no'], ['yess'], ['sure']])('takes %j for no', (answer) => {
    expect(isYes(answer)).toBe(false);
  });
});
