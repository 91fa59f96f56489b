/** Config and logger for the long-running commands (serve, labels, review, demo). */
import { loadConfig, secretsOf, type Config } from '../../config/index.js';
import { createLogger, type Logger } from '../../telemetry/logger.js';

export interface RuntimeFlags {
  config?: string;
}

export function runtime(flags: RuntimeFlags, overrides: Record<string, unknown> = {}): { config: Config; logger: Logger; root: string } {
  const config = loadConfig({ file: flags.config ?? process.env.CLIPN_CONFIG ?? null, overrides });
  const logger = createLogger({ level: config.telemetry.logLevel, serviceName: config.telemetry.serviceName, secrets: secretsOf(config) });
  // Path settings are absolute already; key files named relatively are read from the working folder too.
  return { config, logger, root: process.cwd() };
}
