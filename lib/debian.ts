// Benchmarks compare against tools from Debian's packages; a missing one is installed with apt-get
// (the bench runs as root), with one `apt-get update` retry for a machine whose lists are stale.
import { findTool, run } from '../lib/exec.js';

export async function ensureDebianTool(tool: string, debianPackage: string): Promise<string> {
  try {
    return findTool(tool);
  } catch {
    console.log(`installing ${debianPackage} with apt-get ...`);
    process.env.DEBIAN_FRONTEND ??= 'noninteractive'; // no prompts: nobody is there to answer
    const install = () => run('apt-get', ['install', '-y', '-qq', debianPackage], { timeoutMs: 300_000 });
    try {
      await install();
    } catch {
      await run('apt-get', ['update', '-qq'], { timeoutMs: 300_000 });
      await install();
    }
    return findTool(tool);
  }
}
