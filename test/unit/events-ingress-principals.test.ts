import { SQSClient } from '@aws-sdk/client-sqs';
import { acceptEvents, principalMatches } from '../../lambdas/core/events-ingress';

describe('the IAM principals the events ingress takes (eventsIamPrincipals)', () => {
  const role = 'arn:aws:sts::123456789012:assumed-role/publisher/*';
  const user = 'arn:aws:iam::123456789012:user/ci';

  it('match a caller ARN exactly, or with * standing for any run of characters', () => {
    expect(principalMatches([user], 'arn:aws:iam::123456789012:user/ci')).toBe(true);
    expect(principalMatches([role], 'arn:aws:sts::123456789012:assumed-role/publisher/session-1')).toBe(true);
  });

  it('match nothing else: another user or role, another account, a prefix, a caller without an ARN', () => {
    for (const arn of [
      'arn:aws:iam::123456789012:user/ci-admin',
      'arn:aws:iam::123456789012:user/c',
      'arn:aws:sts::123456789012:assumed-role/publisher-admin/s',
      'arn:aws:sts::999999999999:assumed-role/publisher/s',
      'xarn:aws:iam::123456789012:user/ci',
      undefined,
    ]) {
      expect([arn, principalMatches([user, role], arn)]).toEqual([arn, false]);
    }
  });

  it('refuse a caller outside them 403 forbidden_principal before reading its events', async () => {
    // Never sent to: the refusal comes first.
    const sqs = new SQSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    const deps = { sqs, topicPagesQueueUrl: 'http://127.0.0.1:9/000000000000/TopicPages', iamPrincipals: [role] };
    const request = { headers: { 'content-type': 'application/cloudevents+json' }, body: '{}', isBase64Encoded: false };
    try {
      for (const publisher of [{ kind: 'iam' as const, principalArn: 'arn:aws:iam::123456789012:user/intern' }, { kind: 'iam' as const }]) {
        const response = await acceptEvents('orders', request, publisher, deps);
        expect([response.statusCode, JSON.parse(response.body).error]).toEqual([403, 'forbidden_principal']);
      }
    } finally {
      sqs.destroy();
    }
  });
});
