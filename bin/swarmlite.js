#!/usr/bin/env node
// Entry point of the `swarmlite` command: the compiled CLI lives in dist/ (run `npm run build`).
import '../dist/cli/main.js';
