import { resolve, type ResolveContext, type ResourceValues, UnsupportedTemplateError } from '../../local/cloudformation/intrinsics';

const context: ResolveContext = {
  region: 'eu-west-1',
  accountId: '000000000000',
  stackName: 'WsNotify',
  resources: new Map<string, ResourceValues>([
    ['Queue', { ref: 'http://sqs.local/000000000000/WsNotify-Queue', attributes: { Arn: 'arn:aws:sqs:eu-west-1:000000000000:WsNotify-Queue' } }],
    ['Api', { ref: 'abcdefghij', attributes: {} }],
  ]),
};

describe('resolving template values against local resources', () => {
  it('resolves Ref of a resource and of pseudo parameters', () => {
    expect(resolve({ Ref: 'Queue' }, context)).toBe('http://sqs.local/000000000000/WsNotify-Queue');
    expect(resolve({ Ref: 'AWS::Region' }, context)).toBe('eu-west-1');
    expect(resolve({ Ref: 'AWS::URLSuffix' }, context)).toBe('amazonaws.com');
  });

  it('resolves Fn::GetAtt in both its list and its dotted form', () => {
    expect(resolve({ 'Fn::GetAtt': ['Queue', 'Arn'] }, context)).toBe('arn:aws:sqs:eu-west-1:000000000000:WsNotify-Queue');
    expect(resolve({ 'Fn::GetAtt': 'Queue.Arn' }, context)).toBe('arn:aws:sqs:eu-west-1:000000000000:WsNotify-Queue');
  });

  it('joins resolved parts, as CDK writes an API URL', () => {
    const url = { 'Fn::Join': ['', ['https://', { Ref: 'Api' }, '.execute-api.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/live']] };
    expect(resolve(url, context)).toBe('https://abcdefghij.execute-api.eu-west-1.amazonaws.com/live');
  });

  it('substitutes names, attributes and bound variables in Fn::Sub, keeping ${!Literal} literal', () => {
    const value = { 'Fn::Sub': ['${Api}/${Queue.Arn}/${AWS::AccountId}/${Extra}/${!Literal}', { Extra: { Ref: 'AWS::StackName' } }] };
    expect(resolve(value, context)).toBe('abcdefghij/arn:aws:sqs:eu-west-1:000000000000:WsNotify-Queue/000000000000/WsNotify/${Literal}');
  });

  it('selects from a split', () => {
    expect(resolve({ 'Fn::Select': [1, { 'Fn::Split': ['/', 'a/b/c'] }] }, context)).toBe('b');
  });

  it('resolves inside nested objects and leaves literals alone', () => {
    expect(resolve({ deadLetterTargetArn: { 'Fn::GetAtt': ['Queue', 'Arn'] }, maxReceiveCount: 5 }, context)).toEqual({
      deadLetterTargetArn: 'arn:aws:sqs:eu-west-1:000000000000:WsNotify-Queue',
      maxReceiveCount: 5,
    });
  });

  it('names what it cannot resolve instead of passing it through', () => {
    expect(() => resolve({ Ref: 'Missing' }, context)).toThrow(new UnsupportedTemplateError('Ref to Missing, which the local runtime does not create'));
    expect(() => resolve({ 'Fn::GetAtt': ['Queue', 'Nope'] }, context)).toThrow(/Queue\.Nope is not available locally/);
    expect(() => resolve({ 'Fn::ImportValue': 'x' }, context)).toThrow(/Fn::ImportValue is not supported/);
  });
});
