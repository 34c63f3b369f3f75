#!/usr/bin/env node
// Kyma's flow on ws-notify: a shop posts `order.created` to the events ingress; a function enriches
// it (the order's lines and a message for the customer) and names the customer; the customer's
// open browser tabs receive it, with no subscription needed.
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { wsNotifyPropsFromContext } from '../../../lib/app-context';
import { WsNotify } from '../../../lib/ws-notify';
import { outputEndpoints } from '../../../lib/ws-notify-stack';

const app = new App();
const stack = new Stack(app, 'OrderNotifications');
const enrichOrder = new NodejsFunction(stack, 'EnrichOrder', {
  entry: path.join(__dirname, '..', 'enrich-order.ts'),
  runtime: Runtime.NODEJS_22_X,
  architecture: Architecture.ARM_64,
});
const wsNotify = new WsNotify(stack, 'WsNotify', { ...wsNotifyPropsFromContext(app.node), enrichers: { orders: enrichOrder } });
outputEndpoints(stack, wsNotify);
