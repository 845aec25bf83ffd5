#!/usr/bin/env node
// Write docs/spec.md from the spec schema (over dist/: run `npm run build` first; `npm run docs:spec` does).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderSpecDocs } from '../dist/spec/docs.js';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'spec.md');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, renderSpecDocs());
process.stdout.write(`wrote ${out}\n`);
