#!/usr/bin/env node
// Entry point of the `swarmlite` command: the compiled CLI lives in dist/ (run `npm run build`). The
// `lab` verbs belong to deploy/ (cli/ and deploy/ do not import each other), so they are wired here.
import { main } from '../dist/cli/main.js';
import { registerLabCommands } from '../dist/deploy/lab/command.js';

process.exitCode = await main(process.argv, [registerLabCommands]);
