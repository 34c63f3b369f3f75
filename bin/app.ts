#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { wsNotifyPropsFromContext } from '../lib/app-context';
import { WsNotifyStack } from '../lib/ws-notify-stack';

const app = new App();
new WsNotifyStack(app, (app.node.tryGetContext('stackName') as string | undefined) ?? 'WsNotify', {
  ...wsNotifyPropsFromContext(app.node),
  env: { account: process.env['CDK_DEFAULT_ACCOUNT'], region: process.env['CDK_DEFAULT_REGION'] },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
