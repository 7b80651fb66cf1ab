import type { z } from 'zod';
import { ConfigError } from '../errors/catalogue.js';

/**
 * Parses the environment once against a service's schema.
 * Throws one ConfigError that lists every problem, so an operator fixes them all in one go.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    return `${name}: ${issue.message}`;
  });
  throw new ConfigError(problems.join('; '));
}
