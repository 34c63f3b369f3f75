/** What every command but local ends its usage with: which stack it acts on. */
export const TARGET_HELP = `Target (every command but local):
  --outputs <file>   the outputs of \`cdk deploy --outputs-file\`, or a local runtime's outputs.json
                     (default: .local/outputs.json, the local runtime \`npm start\` runs)
  --stack <name>     the stack in that file, where it has several; without --outputs, a deployed
                     stack whose outputs are read with CloudFormation (AWS credentials and region
                     from the environment)
  -h, --help         this help`;

export const USAGE = `Usage: ws-notify <command> [options]

Runs a CDK app on this machine, and talks to a ws-notify stack: the local runtime (\`ws-notify
local\`, or \`npm start\` in this repository) or a deployed one.

Commands:
  local         run a CDK app on this machine (ws-notify's stack or any other) until Ctrl-C
  token         mint a token for a user from the local runtime's issuer
  send          notify a user, or one connection, through the queues
  stream        connect as a user and print every frame received (or a topic's events)
  publish       publish a CloudEvent to a topic's subscribers
  connections   list a user's open connections
  history       print the entries a user's or a topic's stream retains
  streams       show a user's stream: its last seq, acked seq and unacked count
  apikey        create, list and revoke API keys
  dlq           list, redrive and purge the dead-lettered messages

${TARGET_HELP}

\`ws-notify <command> --help\` describes a command.`;
