#!/usr/bin/env node
// Runs the TypeScript CLI in this process through tsx's loader: no compile step, and signals
// reach the CLI itself (its temp-file cleanup) rather than a wrapper.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
