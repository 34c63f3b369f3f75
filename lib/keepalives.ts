import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { newHandlerFunction } from './builders';
import type { WsNotifySettings } from './settings';

/** A keepalive run posts for most of its minute, and is done before the next one starts. */
const KEEPALIVE_TIMEOUT = Duration.seconds(55);

/**
 * Server keepalives for receive-only clients (prop `keepalive`): every minute, `{"type":"keepalive"}`
 * to the connections of that minute's slot, so that API Gateway's 10-minute idle close never comes.
 */
export class Keepalives {
  public readonly keepalive: NodejsFunction;

  constructor(scope: Construct, settings: WsNotifySettings) {
    this.keepalive = newHandlerFunction(scope, 'Keepalive', { handler: 'keepalive', logRetention: settings.logRetention, timeout: KEEPALIVE_TIMEOUT });
    new Rule(scope, 'KeepaliveSchedule', {
      description: 'ws-notify: send {"type":"keepalive"} to the keepalive connections of this minute\'s slot',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.keepalive)],
    });
  }
}
