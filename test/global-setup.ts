// Tests drive the built CLI (dist/) and the worker files it loads, so make sure the build is current.
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
}
