#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { wsNotifyPropsFromContext } from '../lib/app-context';
import { WsNotifyStack } from '../lib/ws-notify-stack';

/**
 * The CDK app: one WsNotify stack from the app's context, in the account and region the CDK CLI
 * resolved (`CDK_DEFAULT_ACCOUNT`, `CDK_DEFAULT_REGION`), checked by cdk-nag. Exported so that the
 * infra tests synthesize exactly what `cdk deploy` does.
 */
export function buildApp(app: App, environment: NodeJS.ProcessEnv = process.env): WsNotifyStack {
  const stack = new WsNotifyStack(app, (app.node.tryGetContext('stackName') as string | undefined) ?? 'WsNotify', {
    ...wsNotifyPropsFromContext(app.node),
    env: { account: environment['CDK_DEFAULT_ACCOUNT'], region: environment['CDK_DEFAULT_REGION'] },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}

if (require.main === module) buildApp(new App());
