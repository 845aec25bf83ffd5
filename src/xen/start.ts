// xen/start: `build --boot` starts the finished guest with `xl create CONFIG`, as xen-create-image's
// --boot does, once `xl info` shows that this host is a running Xen Dom0. When it is not (no Xen,
// no xenstored, no xl), the error says that the build itself succeeded and where the guest is.

import { DomuError, oneLine } from '../errors.js';
import { hasTool, runTool } from '../sys/exec.js';

export interface StartOptions {
  /** The domain name (what `xl domid` looks up). */
  name: string;
  /** The xl config the build wrote. */
  config: string;
  /** The guest's disk, for the message. */
  disk: string;
  signal?: AbortSignal;
}

export interface StartResult {
  name: string;
  config: string;
  /** The new domain's id, when xl domid answers. */
  domid?: number;
}

/** The last non-empty line a tool wrote, for a one-line message. */
function lastWords(text: string): string {
  return oneLine(text.split('\n').map((l) => l.trim()).filter(Boolean).at(-1) ?? '');
}

/** Whether `xl info` answers: xl is installed, this is a Xen Dom0 and its toolstack is up. */
export async function xenAnswers(signal?: AbortSignal): Promise<{ ok: true } | { ok: false; why: string }> {
  if (!hasTool('xl')) return { ok: false, why: 'xl is not installed (Debian package xen-utils-common)' };
  const r = await runTool('xl', ['info'], { allowFailure: true, ...(signal ? { signal } : {}) });
  if (r.status === 0) return { ok: true };
  const why = lastWords(r.stderr) || lastWords(r.stdout.toString());
  return { ok: false, why: `xl info does not answer (status ${r.status}${why ? `: ${why}` : ''}): this host is not a running Xen Dom0` };
}

/** The message of every --boot failure: the build succeeded, the guest was not started, why, and what to do. */
function notStarted(o: StartOptions, why: string): DomuError {
  return new DomuError('ENVIRONMENT', `--boot: the build itself succeeded (disk ${o.disk}, config ${o.config}) but the guest was not started: ${why}; start it on the Xen Dom0 with: xl create ${o.config}`);
}

/** Start the guest with `xl create CONFIG`. Throws ENVIRONMENT (exit 3) when Xen does not answer or xl create fails. */
export async function startDomain(o: StartOptions): Promise<StartResult> {
  const reach = await xenAnswers(o.signal);
  if (!reach.ok) throw notStarted(o, reach.why);
  const sig = o.signal ? { signal: o.signal } : {};
  const r = await runTool('xl', ['create', o.config], { allowFailure: true, ...sig });
  if (r.status !== 0) throw notStarted(o, `xl create ${o.config} failed (status ${r.status}): ${lastWords(r.stderr) || 'no message'}`);
  const id = await runTool('xl', ['domid', o.name], { allowFailure: true, ...sig });
  const domid = id.status === 0 && /^\d+$/.test(id.stdout.toString().trim()) ? Number(id.stdout.toString().trim()) : undefined;
  return { name: o.name, config: o.config, ...(domid !== undefined ? { domid } : {}) };
}
