/** Validation issues as lines that name the path (and variable), what was expected and what was got. */
import type { z } from 'zod';
import { knownKeys } from './reference.js';

/** Settings whose values never appear in messages. */
const SECRET_KEY = /password|secret|token/i;

function show(value: unknown, path: readonly PropertyKey[]): string {
  if (value === undefined) return 'nothing';
  if (path.some((p) => SECRET_KEY.test(String(p)))) return '[redacted]';
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function expectation(issue: z.core.$ZodIssue): string {
  if (issue.message.startsWith('expected')) return issue.message;
  switch (issue.code) {
    case 'invalid_value':
      return `expected one of ${issue.values.map(String).join(', ')}`;
    case 'invalid_type':
      return `expected ${issue.expected}`;
    default:
      return `expected a valid value (${issue.message})`;
  }
}

/**
 * One line per problem. `sources` maps dotted paths to the environment variable that set them,
 * so that a bad variable is named too.
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[], sources: ReadonlyMap<string, string>): string[] {
  const label = (path: readonly PropertyKey[]): string => {
    const dotted = path.map(String).join('.');
    // A list item (kafka.brokers.0) came from the list's variable.
    let variable: string | undefined;
    for (let n = path.length; n > 0 && variable === undefined; n--) variable = sources.get(path.slice(0, n).map(String).join('.'));
    return `${dotted || '(root)'}${variable === undefined ? '' : ` (${variable})`}`;
  };
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(issue.path) ?? [];
      for (const key of issue.keys) lines.push(`${label([...issue.path, key])}: unknown setting, expected one of ${known.join(', ')}`);
      continue;
    }
    lines.push(`${label(issue.path)}: ${expectation(issue)}, got ${show(issue.input, issue.path)}`);
  }
  return lines;
}
