import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../examples/chat/bin/app';

/** examples/chat wires the sample's SAM template's resources, which its handlers rely on. */
let template: Template;

beforeAll(() => {
  // Bundling skipped: the assertions read the template, and the chat e2e test runs the bundles.
  template = Template.fromStack(buildApp(new App({ context: { 'aws:cdk:bundling-stacks': [] } })));
}, 60_000);

const functionIdOf = (routeKey: string): string => {
  const [route] = Object.values(template.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: routeKey } }));
  const integrationId = (route?.['Properties']['Target']['Fn::Join'][1][1] as { Ref: string }).Ref;
  const integration = template.toJSON()['Resources'][integrationId];
  const parts = integration['Properties']['IntegrationUri']['Fn::Join'][1] as Record<string, unknown>[];
  return (parts.find((part) => part['Fn::GetAtt']) as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
};

describe('examples/chat', () => {
  it('selects routes by the frame\'s action, with $connect, $disconnect and sendmessage on Lambda proxy integrations', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'WEBSOCKET', RouteSelectionExpression: '$request.body.action' });
    expect(['$connect', '$disconnect', 'sendmessage'].map(functionIdOf)).toEqual([
      expect.stringMatching(/^OnConnect/),
      expect.stringMatching(/^OnDisconnect/),
      expect.stringMatching(/^SendMessage/),
    ]);
    template.resourceCountIs('AWS::ApiGatewayV2::Integration', 3);
    template.allResourcesProperties('AWS::ApiGatewayV2::Integration', { IntegrationType: 'AWS_PROXY' });
  });

  it('gives each function the connection table, keyed by connectionId, as TABLE_NAME, on nodejs22.x', () => {
    const [tableId] = Object.keys(template.findResources('AWS::DynamoDB::Table', { Properties: { KeySchema: [{ AttributeName: 'connectionId', KeyType: 'HASH' }] } }));
    expect(tableId).toBeDefined();
    template.resourceCountIs('AWS::Lambda::Function', 3);
    template.allResourcesProperties('AWS::Lambda::Function', { Runtime: 'nodejs22.x', Environment: { Variables: { TABLE_NAME: { Ref: tableId } } } });
  });

  it('lets only sendmessage post to connections', () => {
    const sendMessageId = functionIdOf('sendmessage');
    const roleOf = (functionId: string) => template.toJSON()['Resources'][functionId]['Properties']['Role']['Fn::GetAtt'][0] as string;
    const grants = template.findResources('AWS::IAM::Policy', {
      Properties: { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'execute-api:ManageConnections' })]) } },
    });
    expect(Object.values(grants).flatMap((policy) => policy['Properties']['Roles'].map((role: { Ref: string }) => role.Ref))).toEqual([roleOf(sendMessageId)]);
  });

  it('outputs the stage URL and the table name', () => {
    template.hasOutput('WebSocketURI', {});
    template.hasOutput('ConnectionsTableName', {});
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: 'Prod', AutoDeploy: true });
  });
});
