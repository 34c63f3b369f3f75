#!/usr/bin/env node
// Kyma's flow on ws-notify: a shop posts `order.created` to the events ingress; a function enriches
// it (the order's lines and a message for the customer) and names the customer; the customer's
// open browser tabs receive it, with no subscription needed.
import * as path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { wsNotifyPropsFromContext } from '../../../lib/app-context';
import { WsNotify } from '../../../lib/ws-notify';
import { outputEndpoints } from '../../../lib/ws-notify-stack';

/** The example's stack, in the account and region the CDK CLI resolved; exported for the infra tests. */
export function buildApp(app: App, environment: NodeJS.ProcessEnv = process.env): Stack {
  const stack = new Stack(app, 'OrderNotifications', {
    env: { account: environment['CDK_DEFAULT_ACCOUNT'], region: environment['CDK_DEFAULT_REGION'] },
  });
  const enrichOrder = new NodejsFunction(stack, 'EnrichOrder', {
    entry: path.join(__dirname, '..', 'enrich-order.ts'),
    runtime: Runtime.NODEJS_22_X,
    architecture: Architecture.ARM_64,
  });
  Validations.of(enrichOrder).acknowledge(
    {
      id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'AWS-maintained minimal policy for writing logs; the function needs nothing else.',
    },
    { id: 'AwsSolutions::AwsSolutions-L1', reason: 'nodejs22.x, the runtime ws-notify is built and tested for.' },
  );
  const wsNotify = new WsNotify(stack, 'WsNotify', { ...wsNotifyPropsFromContext(app.node), enrichers: { orders: enrichOrder } });
  outputEndpoints(stack, wsNotify);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}

if (require.main === module) buildApp(new App());
