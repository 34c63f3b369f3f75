import { regionFromQueueUrl, TargetError, targetFromOutputsFile } from '../../cli/target';

const FILE = '/project/.local/outputs.json';

const deployedOutputs = {
  WebSocketUrl: 'wss://abc123.execute-api.eu-west-1.amazonaws.com/live',
  ManagementApiEndpoint: 'https://abc123.execute-api.eu-west-1.amazonaws.com/live',
  NotifyUserQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/WsNotify-NotifyUser',
  NotifyConnectionQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/WsNotify-NotifyConnection',
  ConnectionsTableName: 'WsNotify-Connections',
  ApiKeysTableName: 'WsNotify-ApiKeys',
  PublishQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/WsNotify-Publish',
};

const localOutputs = {
  WebSocketUrl: 'ws://127.0.0.1:3001/live',
  ManagementApiEndpoint: 'http://127.0.0.1:3001/live',
  NotifyUserQueueUrl: 'http://sqs.us-east-1.localhost:4001/000000000000/WsNotify-NotifyUser',
  NotifyConnectionQueueUrl: 'http://sqs.us-east-1.localhost:4001/000000000000/WsNotify-NotifyConnection',
  ConnectionsTableName: 'WsNotify-Connections',
  ApiKeysTableName: 'WsNotify-ApiKeys',
  PublishQueueUrl: 'http://sqs.us-east-1.localhost:4001/000000000000/WsNotify-Publish',
  SqsEndpoint: 'http://127.0.0.1:4001',
  DynamoDbEndpoint: 'http://127.0.0.1:4002',
  Region: 'us-east-1',
};

const file = (stacks: unknown) => JSON.stringify(stacks);

describe('an outputs file', () => {
  it("written by the local runtime is a local target, with its engines' endpoints and its state directory", () => {
    expect(targetFromOutputsFile(file({ WsNotify: localOutputs }), FILE)).toEqual({
      kind: 'local',
      stackName: 'WsNotify',
      outputs: {
        WebSocketUrl: localOutputs.WebSocketUrl,
        ManagementApiEndpoint: localOutputs.ManagementApiEndpoint,
        NotifyUserQueueUrl: localOutputs.NotifyUserQueueUrl,
        NotifyConnectionQueueUrl: localOutputs.NotifyConnectionQueueUrl,
        ConnectionsTableName: localOutputs.ConnectionsTableName,
        ApiKeysTableName: localOutputs.ApiKeysTableName,
        PublishQueueUrl: localOutputs.PublishQueueUrl,
      },
      region: 'us-east-1',
      sqsEndpoint: 'http://127.0.0.1:4001',
      dynamoDbEndpoint: 'http://127.0.0.1:4002',
      stateDir: '/project/.local',
    });
  });

  it('written by cdk deploy is a deployed target in the region of its queues', () => {
    expect(targetFromOutputsFile(file({ Prod: deployedOutputs }), FILE)).toEqual({
      kind: 'deployed',
      stackName: 'Prod',
      outputs: deployedOutputs,
      region: 'eu-west-1',
    });
  });

  it("keeps the dead-letter queues' URLs where the stack outputs them (stacks deployed before ws-notify dlq do not)", () => {
    const deadLetterQueues = {
      NotifyUserDeadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/WsNotify-NotifyUserDeadLetter',
      NotifyConnectionDeadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/WsNotify-NotifyConnectionDeadLetter',
      PublishDeadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/WsNotify-PublishDeadLetter',
    };

    expect(targetFromOutputsFile(file({ Prod: { ...deployedOutputs, ...deadLetterQueues, EventsUrl: 'https://x' } }), FILE).outputs).toEqual({
      ...deployedOutputs,
      ...deadLetterQueues,
    });
  });

  it("of a multi-tenant stack names its tenant claim, local or deployed", () => {
    expect(targetFromOutputsFile(file({ WsNotify: { ...localOutputs, TenantClaim: 'org' } }), FILE)).toMatchObject({ kind: 'local', tenantClaim: 'org' });
    expect(targetFromOutputsFile(file({ Prod: { ...deployedOutputs, TenantClaim: 'org' } }), FILE)).toMatchObject({ kind: 'deployed', tenantClaim: 'org' });
    expect(targetFromOutputsFile(file({ Prod: deployedOutputs }), FILE)).not.toHaveProperty('tenantClaim');
  });

  it('with one ws-notify stack among others picks it without --stack', () => {
    const stacks = { Network: { VpcId: 'vpc-1' }, Notify: deployedOutputs };

    expect(targetFromOutputsFile(file(stacks), FILE).stackName).toBe('Notify');
  });

  it('with several ws-notify stacks takes the one --stack names', () => {
    const stacks = { Staging: deployedOutputs, Prod: { ...deployedOutputs, ConnectionsTableName: 'Prod-Connections' } };

    const target = targetFromOutputsFile(file(stacks), FILE, 'Prod');

    expect(target.stackName).toBe('Prod');
    expect(target.outputs.ConnectionsTableName).toBe('Prod-Connections');
  });

  it('with several ws-notify stacks and no --stack is refused, naming them', () => {
    const stacks = { Staging: deployedOutputs, Prod: deployedOutputs };

    expect(() => targetFromOutputsFile(file(stacks), FILE)).toThrow(
      new TargetError(`${FILE} has several ws-notify stacks (Staging, Prod): choose one with --stack`),
    );
  });

  it('without the stack --stack names is refused, listing the stacks it has', () => {
    expect(() => targetFromOutputsFile(file({ Prod: deployedOutputs }), FILE, 'Staging')).toThrow(
      new TargetError(`${FILE} has no stack "Staging"; it has Prod`),
    );
  });

  it('whose stack lacks an output of the ws-notify stack is refused, naming the output', () => {
    const { NotifyConnectionQueueUrl: _left, ...partial } = deployedOutputs;

    expect(() => targetFromOutputsFile(file({ Prod: partial }), FILE, 'Prod')).toThrow(
      new TargetError(`stack "Prod" in ${FILE} lacks the output(s) NotifyConnectionQueueUrl that a ws-notify stack declares`),
    );
  });

  it('with no ws-notify stack at all is refused', () => {
    expect(() => targetFromOutputsFile(file({ Network: { VpcId: 'vpc-1' } }), FILE)).toThrow(/no stack in .* has the outputs of a ws-notify stack/);
  });

  it('with only part of the local endpoints is refused rather than sent to AWS', () => {
    const { DynamoDbEndpoint: _left, ...partial } = localOutputs;

    expect(() => targetFromOutputsFile(file({ WsNotify: partial }), FILE)).toThrow(
      new TargetError(`stack "WsNotify" in ${FILE} looks local (it has SqsEndpoint) but lacks DynamoDbEndpoint`),
    );
  });

  it('that is not JSON is refused', () => {
    expect(() => targetFromOutputsFile('{"WsNotify": {', FILE)).toThrow(new RegExp(`^${FILE} is not JSON`));
  });

  it.each([['[]'], ['"WsNotify"'], ['{"WsNotify": "ws://127.0.0.1:3001/live"}']])('shaped otherwise (%s) is refused', (text) => {
    expect(() => targetFromOutputsFile(text, FILE)).toThrow(/is not an outputs file/);
  });
});

describe('the region of a queue URL', () => {
  it.each([
    ['https://sqs.eu-west-1.amazonaws.com/123456789012/Q', 'eu-west-1'],
    ['https://sqs.cn-north-1.amazonaws.com.cn/123456789012/Q', 'cn-north-1'],
    ['https://sqs-fips.us-gov-west-1.amazonaws.com/123456789012/Q', 'us-gov-west-1'],
    ['https://ap-southeast-2.queue.amazonaws.com/123456789012/Q', 'ap-southeast-2'],
  ])('is in the host of %s', (queueUrl, region) => {
    expect(regionFromQueueUrl(queueUrl)).toBe(region);
  });

  it.each([['http://sqs.us-east-1.localhost:4001/000000000000/Q'], ['https://queues.example.com/Q'], ['not a url']])(
    'is unknown for %s (the SDK then takes AWS_REGION or the profile)',
    (queueUrl) => {
      expect(regionFromQueueUrl(queueUrl)).toBeUndefined();
    },
  );
});
