// Running an installer tool (debootstrap, mmdebstrap, rpm, dnf) with its whole output going to a
// log file, and each line condensed into counters (packages retrieved, unpacked, configured) that a
// progress line can show. The tool runs in its own process group so an interrupt stops all of it.

import { spawn } from 'node:child_process';
import { accessSync, constants, createWriteStream, mkdirSync, statSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { DomuError, EXIT_STATUS } from '../errors.js';
import { DEBIAN_PACKAGE, hasTool } from '../sys/exec.js';

/** What an install has done so far; passed to `onProgress` after every meaningful line. */
export interface InstallProgress {
  /** The stage running now: "preflight", "debootstrap", "dnf install", "root cache" ... */
  phase: string;
  retrieved: number;
  unpacked: number;
  configured: number;
  /** The last line of the tool's output that said something. */
  line: string;
}

export type LineParser = (line: string, p: InstallProgress) => boolean;

/** debootstrap's "I: Retrieving x", "I: Unpacking x...", "I: Configuring x...". */
export const parseDebootstrapLine: LineParser = (line, p) => {
  const m = /^I: (Retrieving|Extracting|Unpacking|Configuring) /.exec(line);
  if (m) {
    if (m[1] === 'Retrieving') p.retrieved += 1;
    else if (m[1] === 'Unpacking') p.unpacked += 1;
    else if (m[1] === 'Configuring') p.configured += 1;
    return true;
  }
  return /^[IWE]: /.test(line);
};

/** apt and dpkg lines, as mmdebstrap --verbose and apt print them. */
export const parseAptLine: LineParser = (line, p) => {
  if (/^Get:\d+ /.test(line)) p.retrieved += 1;
  else if (/^Unpacking \S+ /.test(line)) p.unpacked += 1;
  else if (/^Setting up \S+ /.test(line)) p.configured += 1;
  else return /^[IWE]: /.test(line);
  return true;
};

/** dnf/yum ("(3/9): x.rpm", "Installing : x 3/9") and rpm -ivh ("1:x-1.0-1  ###"). */
export const parseRpmLine: LineParser = (line, p) => {
  const t = line.trim();
  if (/^\(\d+\/\d+\): \S+/.test(t)) p.retrieved += 1;
  else if (/^(Installing|Upgrading|Reinstalling)\s+: /.test(t)) p.unpacked += 1;
  else if (/^Verifying\s+: /.test(t)) p.configured += 1;
  else if (/^\d+:\S+\s+#/.test(t)) {
    p.unpacked += 1;
    p.configured += 1;
  } else return /^(Error|Warning|Complete!|Installed:)/.test(t);
  return true;
};

/** The log every tool of one install writes to. */
export class InstallLog {
  readonly file: string;
  private readonly stream: WriteStream;

  constructor(file: string) {
    this.file = path.resolve(file);
    mkdirSync(path.dirname(this.file), { recursive: true });
    this.stream = createWriteStream(this.file, { flags: 'a', mode: 0o644 });
  }

  write(text: string): void {
    this.stream.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  note(text: string): void {
    this.write(`[domu-forge ${new Date().toISOString()}] ${text}`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(() => resolve()));
  }
}

/** Default log path: /var/log/domu-forge/install-<what>-<time>.log */
export function defaultLogFile(what: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return path.join('/var/log/domu-forge', `install-${what.replace(/[^A-Za-z0-9._-]/g, '_')}-${stamp}-${process.pid}.log`);
}

/** Throw MISSING_TOOL naming the Debian package, before anything is started or written. */
export function requireTool(tool: string, env?: NodeJS.ProcessEnv): void {
  if (hasToolIn(tool, env)) return;
  const pkg = DEBIAN_PACKAGE[tool];
  throw new DomuError('MISSING_TOOL', `${tool} is not installed`, {
    hint: pkg ? `install it with: apt-get install ${pkg}` : `install ${tool} and make sure it is on PATH`,
  });
}

/** hasTool(), or with an explicit PATH when the caller runs tools under another environment. */
export function hasToolIn(tool: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!env.PATH) return hasTool(tool);
  return env.PATH.split(':').some((dir) => dir !== '' && isExecutableFile(path.join(dir, tool)));
}

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface RunLoggedOptions {
  log: InstallLog;
  progress: InstallProgress;
  parse: LineParser;
  onProgress?: (p: InstallProgress) => void;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  signal?: AbortSignal;
}

export interface RunLoggedResult {
  status: number;
  signal: NodeJS.Signals | null;
  /** The last lines of output, for error messages. */
  tail: string[];
  interrupted: boolean;
}

/**
 * Run `tool` to completion with stdin closed, its stdout and stderr going line by line into the
 * log and the parser. On abort the whole process group gets SIGTERM, then SIGKILL after 10 s.
 */
export function runLogged(tool: string, args: readonly string[], o: RunLoggedOptions): Promise<RunLoggedResult> {
  requireTool(tool, o.env);
  o.log.note(`run: ${tool} ${args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}`);
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) {
      resolve({ status: EXIT_STATUS.INTERRUPTED, signal: null, tail: [], interrupted: true });
      return;
    }
    const child = spawn(tool, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const tail: string[] = [];
    let interrupted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      interrupted = true;
      o.log.note(`interrupted: stopping ${tool} (process group ${child.pid})`);
      signalGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), 10_000);
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const feed = (stream: NodeJS.ReadableStream) => {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        o.log.write(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk);
        const lines = (rest + chunk).split(/\r?\n|\r/);
        rest = lines.pop() ?? '';
        for (const line of lines) handleLine(line);
      });
      stream.on('end', () => {
        if (rest) handleLine(rest);
      });
    };
    const handleLine = (line: string) => {
      if (line.trim() === '') return;
      tail.push(line);
      if (tail.length > 40) tail.shift();
      if (o.parse(line, o.progress)) {
        o.progress.line = line.trim();
        o.onProgress?.(o.progress);
      }
    };
    feed(child.stdout!);
    feed(child.stderr!);
    child.on('error', (e: NodeJS.ErrnoException) => {
      o.signal?.removeEventListener('abort', onAbort);
      reject(e.code === 'ENOENT' ? new DomuError('MISSING_TOOL', `${tool} is not installed`) : e);
    });
    child.on('close', (code, sig) => {
      if (killTimer) clearTimeout(killTimer);
      o.signal?.removeEventListener('abort', onAbort);
      o.log.note(`${tool} exited with ${sig ? `signal ${sig}` : `status ${code}`}`);
      resolve({ status: code ?? 128, signal: sig, tail, interrupted });
    });
  });
}

function signalGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, sig);
  } catch {
    // already gone
  }
}
