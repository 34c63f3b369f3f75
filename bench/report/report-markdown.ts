import type { BenchResults, DesignSection } from './results';

const ms = (value: number | null | undefined) => (value === null ? '> wait' : value === undefined ? '–' : `${value}`);
const num = (value: number | null | undefined) => (value === null || value === undefined ? '–' : `${value}`);
const usd = (value: number | undefined) => (value === undefined ? '–' : `$${value.toFixed(2)}`);

/** latest.md: the tables of latest.html, for pasting into docs/performance.md. */
export function renderMarkdown(results: BenchResults): string {
  const lines: string[] = [];
  lines.push(`# Benchmark results (${results.mode}, ${results.finishedAt ?? results.startedAt})`, '');
  lines.push(
    `Machine: ${results.machine.cpus} × ${results.machine.cpuModel}, ${results.machine.memoryGb} GB, Node ${results.machine.node}; ` +
      `load average at start ${results.machine.loadAverageAtStart.join(' ')}. Run took ${results.durationSeconds ?? '?'} s.`,
    '',
  );
  if (results.targets) {
    lines.push('## Targets', '', '| | target | measured | |', '| --- | --- | --- | --- |');
    for (const check of results.targets) {
      lines.push(`| ${check.description} | ${check.target} | ${check.actual} | ${check.met === null ? '·' : check.met ? '✓' : '✗'} |`);
    }
    lines.push('');
  }
  const designs: [string, DesignSection | undefined][] = [
    ['ws-notify', results.e2e],
    ['naive', results.naive],
    ['raw ws', results.rawWs],
  ];
  lines.push(
    '## Throughput and latency',
    '',
    'Latency from hand-off (SQS SendMessage, or the raw server’s write) to the frame at the client, in ms; ' +
      '“> wait” means that share of deliveries had not arrived when the run stopped waiting.',
    '',
    '| design | users | conn./user | open conn. | table rows | 100 msg/s: deliveries/s | p50 | p95 | p99 | saturation: deliveries/s | p50 | p99 | AWS calls/delivery |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const [name, section] of designs) {
    for (const config of section?.configs ?? []) {
      const fixed = config.fixedRate;
      const saturation = config.saturation;
      lines.push(
        `| ${name} | ${config.users} | ${config.connectionsPerUser} | ${config.openConnections} | ${config.tableRows ?? '–'} | ${fixed.throughputPerSec} | ${ms(fixed.latency.p50Ms)} | ` +
          `${ms(fixed.latency.p95Ms)} | ${ms(fixed.latency.p99Ms)} | ${saturation.throughputPerSec}${saturation.completed ? '' : ' (capped)'} | ` +
          `${ms(saturation.latency.p50Ms)} | ${ms(saturation.latency.p99Ms)} | ${num(saturation.aws?.perDelivery)} |`,
      );
    }
  }
  lines.push('');
  for (const [name, section] of designs) {
    if (section?.lightLoad) {
      lines.push(
        `${name} at a light load (${section.lightLoad.perSecond} msg/s, ${section.reference.users} users × ${section.reference.connectionsPerUser}): ` +
          `p50 ${ms(section.lightLoad.p50Ms)} ms, p99 ${ms(section.lightLoad.p99Ms)} ms.`,
      );
    }
  }
  lines.push('');
  const cpuRows = designs.flatMap(([name, section]) =>
    (section?.configs ?? []).filter((config) => config.users === section?.reference.users && config.connectionsPerUser === section.reference.connectionsPerUser).map((config) => [name, config] as const),
  );
  const roles = [...new Set(cpuRows.flatMap(([, config]) => Object.keys(config.saturation.cpuMsPerDelivery)))].filter((role) => role !== 'other');
  if (cpuRows.length > 0) {
    lines.push(
      '### Where the CPU went at saturation (reference configuration), ms per delivery',
      '',
      `| design | ${roles.join(' | ')} | machine load average |`,
      `| --- | ${roles.map(() => '---:').join(' | ')} | ---: |`,
      ...cpuRows.map(([name, config]) => `| ${name} | ${roles.map((role) => num(config.saturation.cpuMsPerDelivery[role])).join(' | ')} | ${config.loadAverage} |`),
      '',
    );
  }
  const calls = results.awsCallsPerDelivery;
  if (calls) {
    lines.push(`## AWS calls per delivered message (${calls.measuredIn})`, '', '| API | ws-notify | naive |', '| --- | ---: | ---: |');
    const apis = new Set([...Object.keys(calls.byApi), ...Object.keys(calls.naive?.byApi ?? {})]);
    for (const api of [...apis].sort()) lines.push(`| ${api} | ${num(calls.byApi[api])} | ${num(calls.naive?.byApi[api])} |`);
    lines.push(`| **functions, total** | **${calls.total}** | **${num(calls.naive?.total)}** |`);
    lines.push(`| SQS.ReceiveMessage + DeleteMessageBatch (event-source mapping) | ${(calls.eventSource.ReceiveMessage + calls.eventSource.DeleteMessageBatch).toFixed(3)} | ${calls.naive ? (calls.naive.withEventSource - calls.naive.total).toFixed(3) : '–'} |`);
    lines.push(`| all | ${calls.withEventSource} | ${num(calls.naive?.withEventSource)} |`, '');
  }
  const costs = results.costPerMillionUsd;
  if (costs?.wsNotify || costs?.naive) {
    lines.push('## Modeled cost per 1M notifications (2 connections per user)', '', '| design | N users | API Gateway | SQS | Lambda req. | Lambda GB-s | DynamoDB | total |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const [name, section] of [
      ['ws-notify', costs.wsNotify],
      ['naive', costs.naive],
    ] as const) {
      if (!section) continue;
      for (const key of ['n1k', 'n10k', 'n100k'] as const) {
        const line = section.breakdown[key].lines;
        lines.push(
          `| ${name} | ${key.slice(1)} | ${usd(line.apiGatewayMessages)} | ${usd(line.sqsRequests)} | ${usd(line.lambdaRequests)} | ${usd(line.lambdaDuration)} | ` +
            `${usd(line.dynamodbReads + line.dynamodbStreamReads + line.dynamodbWrites)} | **${usd(section[key])}** |`,
        );
      }
    }
    lines.push(
      '',
      `Not in the totals: CloudWatch Logs ingestion of the functions’ own lines and Lambda’s (an estimated 500 bytes per invocation), ${usd(costs.wsNotify?.logIngestionPerMillionUsd)} per 1M for ws-notify ` +
        `and ${usd(costs.naive?.logIngestionPerMillionUsd)} for naive. The same for both designs: the backend’s own SendMessage, ${usd(costs.backendEnqueuePerMillionUsd)} per 1M; ` +
        `connection time, per month with every connection open all month: ${Object.entries(costs.connectionMinutesPerMonthUsd)
          .map(([key, value]) => `${key.slice(1)} users ${usd(value)}`)
          .join(', ')}.`,
      '',
    );
    if (costs.streams) {
      const { off, on, appendPerNotification, from } = costs.streams;
      const row = (name: string, cost: typeof on) =>
        `| ${name} | ${cost.perNotification.functionCalls} | ${cost.perNotification.writeRequestUnits} | ${usd(cost.lines.dynamodbReads)} | ${usd(cost.lines.dynamodbStreamReads)} | ` +
        `${usd(cost.lines.dynamodbWrites)} | **${usd(cost.totalUsd)}** |`;
      lines.push(
        '### Streams on and off (10k users × 2 connections)',
        '',
        `From ${from}; streams on adds ${appendPerNotification.consistentQueries} strongly consistent Query and ${appendPerNotification.putItems} PutItem per notification ` +
          '(the append, as test/integration/stream-costs.test.ts counts it, one notification per user at a time); Lambda duration as measured in both.',
        '',
        '| streams | function calls per notification | write units per notification | DynamoDB lookup reads | stream reads (consistent) | DynamoDB writes | total per 1M |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
        row('off', off),
        row('on', on),
        '',
      );
    }
    if (costs.keepalive) {
      const { keepalivesPerConnectionMonth, perConnectionMonth, connectionMinutesUsd, schedulePerMonthUsd } = costs.keepalive;
      lines.push(
        `Server keepalives (construct prop \`keepalive\`; modeled, not measured): ${keepalivesPerConnectionMonth.toLocaleString('en-US')} \`{"type":"keepalive"}\` ` +
          `frames per connection open all month, $${perConnectionMonth.totalUsd.toFixed(6)} per connection-month (${usd(perConnectionMonth.totalUsd * 1000)} per 1,000) ` +
          `($${perConnectionMonth.apiGatewayMessages.toFixed(6)} API Gateway messages, $${perConnectionMonth.lambdaDuration.toFixed(6)} sweep duration, ` +
          `$${perConnectionMonth.dynamodbReads.toFixed(6)} index reads), beside $${connectionMinutesUsd.toFixed(6)} for the connection's own minutes; ` +
          `the every-minute schedule adds ${usd(schedulePerMonthUsd)} per stack and month.`,
        '',
      );
    }
  }
  lines.push(...mermaidCharts(results));
  if (results.bundles) {
    lines.push('## Bundles', '', '| function | KB | cold import (ms, median) | import CPU (ms) | heap (MB) |', '| --- | ---: | ---: | ---: | ---: |');
    for (const [name, bundle] of Object.entries(results.bundles).sort((a, b) => b[1].bytes - a[1].bytes)) {
      lines.push(`| ${name} | ${(bundle.bytes / 1024).toFixed(0)} | ${bundle.importMs} | ${bundle.importCpuMs} | ${bundle.heapMb} |`);
    }
    lines.push('');
  }
  const streams = results.streams;
  if (streams) {
    const { resume, sdkReconnect } = streams;
    lines.push(
      '## Streams: resume and reconnect',
      '',
      `On the local runtime over loopback. Measured ${streams.measuredAt}, load average at start ${streams.loadAverageAtStart.join(' ')}.`,
      '',
      '| measure | value | how |',
      '| --- | ---: | --- |',
      `| resume ${resume.missed.toLocaleString('en-US')} missed notifications | ${resume.resumeMs} ms | a raw \`ws\` client of a user who had no connection sends \`resume\` from seq 0; until the \`resumed\` frame (${resume.replayed} replayed, recovered ${resume.recovered}) |`,
      `| replay throughput | ${resume.entriesPerSec.toLocaleString('en-US')} entries/s | the same replay, to one client |`,
      `| resume function's Queries for the stream | ${resume.queries ?? '–'} | target ≤ 1 per stream |`,
      `| SDK reconnect to \`recovered\`, p50 (max) | ${sdkReconnect.p50Ms} ms (${sdkReconnect.maxMs}) | ${sdkReconnect.runs} runs: the connection deleted through the management API, until the SDK's \`recovered\` event; includes its first backoff (jittered up to ${sdkReconnect.backoffBaseMs} ms) |`,
      `| of which, new socket open to \`recovered\`, p50 | ${sdkReconnect.openToRecoveredP50Ms} ms | the \`resume\` round trip |`,
      '',
    );
  }
  const devLoop = results.devLoop;
  if (devLoop) {
    const seconds = (ms: number) => (ms / 1000).toFixed(1);
    const start = (name: string, measured: typeof devLoop.coldStart) =>
      `| ${name} | ${seconds(measured.totalMs)} | ${measured.synthesized ? 'synth' : 'synth reused'} ${seconds(measured.readyMs.synth)} s; DynamoDB Local ${seconds(measured.readyMs.dynamoDbLocal)} s, SQS emulator ${seconds(measured.readyMs.sqsEmulator)} s; provisioning and loading until ${seconds(measured.readyMs.load)} s |`;
    const edit = (name: string, measured: typeof devLoop.handlerEdit) => `| ${name} (${measured.file}) | ${seconds(measured.ms)} | ${measured.log} |`;
    lines.push(
      '## Dev loop',
      '',
      `\`npm start\` on a copy of the project, file watching on: each start to ready, each edit from the write to the end of the reload (300 ms of it is the watcher’s debounce). ` +
        `Measured ${devLoop.measuredAt}, load average at start ${devLoop.loadAverageAtStart.join(' ')}.`,
      '',
      '| step | seconds | how |',
      '| --- | ---: | --- |',
      start('cold start', devLoop.coldStart),
      start('warm start, app unchanged', devLoop.warmStart),
      edit('handler edit', devLoop.handlerEdit),
      edit('core edit', devLoop.coreEdit),
      edit('infrastructure edit', devLoop.infraEdit),
      '',
    );
  }
  if (results.clientBundle) {
    const { gzippedBytes, minifiedBytes } = results.clientBundle;
    lines.push(`The client SDK's browser bundle (\`client/\`, no dependencies): ${gzippedBytes} B min+gzip, ${minifiedBytes} B minified.`, '');
  }
  const scale = results.connections;
  if (scale) {
    lines.push(
      '## Scale',
      '',
      `${scale.held} of ${scale.target} connections held (${scale.tableRows} rows in the table, ${scale.failed} refused), opened at ${scale.connectPerSec}/s. ` +
        `Runtime process RSS ${scale.rssMb} MB (${scale.rssMbBefore} MB with ${scale.connectionsBefore} open; ${scale.threads} threads); ` +
        `its main thread's heap (gateway and connections) ${scale.mainHeapMb ?? '–'} MB (${scale.mainHeapMbBefore ?? '–'} MB before); ` +
        `by process: ${Object.entries(scale.rssMbByProcess)
          .map(([role, mb]) => `${role} ${mb} MB`)
          .join(', ')}.`,
      '',
    );
  }
  if (results.errors.length > 0) lines.push('## Errors', '', ...results.errors.map((error) => `- ${error.split('\n')[0]}`), '');
  return `${lines.join('\n')}\n`;
}

/** Charts GitHub renders from the markdown itself (Mermaid), for docs/performance.md. */
function mermaidCharts(results: BenchResults): string[] {
  const lines: string[] = [];
  const reference = (section: DesignSection | undefined) => section?.throughputPerSec ?? 0;
  if (results.e2e && results.naive) {
    lines.push(
      '```mermaid',
      'xychart-beta',
      `  title "Deliveries per second at saturation, ${results.settings.reference.users} users × ${results.settings.reference.connectionsPerUser} (raw ws: ${reference(results.rawWs) || '–'}/s)"`,
      '  x-axis ["ws-notify", "naive"]',
      '  y-axis "deliveries/s"',
      `  bar [${reference(results.e2e)}, ${reference(results.naive)}]`,
      '```',
      '',
    );
  }
  const costs = results.costPerMillionUsd;
  if (costs?.wsNotify && costs.naive) {
    const keys = ['n1k', 'n10k', 'n100k'] as const;
    lines.push(
      '```mermaid',
      'xychart-beta',
      '  title "Modeled USD per 1M notifications, 2 connections per user (line 1: ws-notify, line 2: naive)"',
      '  x-axis ["1k users", "10k users", "100k users"]',
      '  y-axis "USD per 1M"',
      `  line [${keys.map((key) => costs.wsNotify?.[key]).join(', ')}]`,
      `  line [${keys.map((key) => costs.naive?.[key]).join(', ')}]`,
      '```',
      '',
    );
  }
  return lines;
}
