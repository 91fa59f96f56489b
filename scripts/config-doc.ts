// Writes docs/config.md from the config schema (test/config checks that it is current).
import { writeFileSync } from 'node:fs';
import { renderConfigReference } from '../src/config/index.js';

writeFileSync('docs/config.md', renderConfigReference());
