#!/usr/bin/env node
// The naive design, as a CDK app the local runtime can run like ws-notify's: for the benchmark only.
import { App } from 'aws-cdk-lib';
import { NaiveNotifyStack } from './naive-stack';

const app = new App();
new NaiveNotifyStack(app, 'NaiveNotify');
