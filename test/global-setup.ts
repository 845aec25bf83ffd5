// Tests drive the built CLI (dist/) and the worker files it loads, so make sure the build is current.
// In CI a type error fails the run; on a developer's machine the tests still run on what compiled.
import { spawnSync } from 'node:child_process';

export default function setup(): void {
  const r = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  if (r.status !== 0) {
    if (process.env.CI) throw new Error('npm run build failed');
    process.stderr.write('warning: the build has type errors; testing what compiled\n');
  }
}
