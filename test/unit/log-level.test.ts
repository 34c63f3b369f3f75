import { Logger } from '@aws-lambda-powertools/logger';

// docs/operations.md tells operators to set Lambda's application log level, not POWERTOOLS_LOG_LEVEL:
// with the JSON log format Lambda sets AWS_LAMBDA_LOG_LEVEL, and the Logger the functions use obeys it.
describe('the functions’ log level', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  function loggerWith(environment: Record<string, string>): Logger {
    Object.assign(process.env, environment);
    return new Logger();
  }

  it("is Lambda's application log level when both are set: POWERTOOLS_LOG_LEVEL=DEBUG alone shows no DEBUG line", () => {
    const logger = loggerWith({ AWS_LAMBDA_LOG_LEVEL: 'INFO', POWERTOOLS_LOG_LEVEL: 'DEBUG' });

    expect(logger.getLevelName()).toBe('INFO');
  });

  it("is DEBUG once Lambda's application log level is DEBUG, whatever POWERTOOLS_LOG_LEVEL says", () => {
    const logger = loggerWith({ AWS_LAMBDA_LOG_LEVEL: 'DEBUG', POWERTOOLS_LOG_LEVEL: 'WARN' });

    expect(logger.getLevelName()).toBe('DEBUG');
  });

  it('is POWERTOOLS_LOG_LEVEL only where Lambda sets no level (plain-text log format, or outside Lambda)', () => {
    delete process.env['AWS_LAMBDA_LOG_LEVEL'];
    const logger = loggerWith({ POWERTOOLS_LOG_LEVEL: 'DEBUG' });

    expect(logger.getLevelName()).toBe('DEBUG');
  });
});
