import { Stack, Validations } from 'aws-cdk-lib';
// cdk-nag's own rendering of a policy resource, so that an acknowledgement names it exactly as a finding does.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import type { Construct } from 'constructs';
import type { AuthModes } from './settings';
import type { WebSocketEndpoint } from './websocket-endpoint';

/** cdk-nag findings that are deliberate, each acknowledged with its reason. */
export function acknowledgeNagFindings(scope: Construct, auth: AuthModes, endpoint: WebSocketEndpoint): void {
  const stack = Stack.of(scope);
  const managedPolicy = (name: string) => `AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${name}]`;
  const logsReason = 'AWS-maintained minimal policy for writing logs; every data-plane permission is an inline least-privilege statement.';
  Validations.of(scope).acknowledge(
    { id: managedPolicy('AWSLambdaBasicExecutionRole'), reason: logsReason },
    { id: managedPolicy('AmazonAPIGatewayPushToCloudWatchLogs'), reason: logsReason },
    ...(['POST', 'DELETE'] as const).map((method) => ({
      // Rendered as cdk-nag renders the statement's resource: partition, region and account are
      // literals or <AWS::…> placeholders depending on the stack's environment.
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::${flattenCfnReference(stack.resolve(endpoint.manageConnectionsArn(method)))}]`,
      reason: `ManageConnections is scoped to ${method} on this stage; connection ids exist only at run time.`,
    })),
    {
      id: 'AwsSolutions::AwsSolutions-L1',
      reason: 'nodejs22.x is the runtime ws-notify is built and tested for; runtime upgrades are deliberate.',
    },
    {
      id: 'AwsSolutions::AwsSolutions-APIG4',
      reason:
        `A WebSocket API can authorize only $connect; its Lambda authorizer admits ${auth.describe}, and every ` +
        'other route runs on a connection that passed it.',
    },
  );
}
