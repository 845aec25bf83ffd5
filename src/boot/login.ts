// The login proof of the boot test: after the guest's own "<hostname> login:" prompt, log in on the
// console and run hostname, id -u and the init's "is the system up" question, each answer framed by
// markers so that echoed input and kernel messages cannot be mistaken for it. Pure: the dialogue
// steps and the judging of what came back; the console transport drives them.

export interface LoginCredentials {
  user: string;
  password: string;
}

export interface LoginStep {
  /** Wait until the console text (after the previous step) matches this. */
  expect: RegExp;
  /** Then send this (a line ends with \r, as a terminal's Enter). */
  send: string;
  /** Shown in progress and failure messages; never the password itself. */
  what: string;
}

export type InitKind = 'systemd' | 'sysvinit' | 'upstart' | 'openrc';

const MARK = 'DFLOGIN';

/** The command that answers "is the system up" for an init; `running` is the answer wanted. */
export function systemStateCommand(init: InitKind): { command: string; want: RegExp } {
  if (init === 'systemd') return { command: 'systemctl is-system-running --wait', want: /^(running)$/ };
  if (init === 'openrc') return { command: 'rc-status --runlevel', want: /^default$/ };
  // sysvinit and upstart: the runlevel of a booted multi-user system
  return { command: 'runlevel', want: /^N [2345]$/ };
}

/** The steps: user name at the prompt, password, then one framed line of three answers. */
export function loginDialogue(hostname: string, creds: LoginCredentials, init: InitKind): LoginStep[] {
  const short = hostname.split('.')[0]!;
  const state = systemStateCommand(init).command;
  // printf splits the marker so the echoed command line never holds it whole
  const probe = `printf '%s-B\\n' ${MARK}; hostname; id -u; ${state}; printf '%s-E\\n' ${MARK}`;
  return [
    { expect: new RegExp(`(^|\\n)${escape(short)} login: ?$`), send: `${creds.user}\r`, what: `user name at "${short} login:"` },
    { expect: /Password: ?$/, send: `${creds.password}\r`, what: 'password' },
    { expect: /[#$] ?$/, send: `${probe}\r`, what: 'hostname, id -u and the system state' },
  ];
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface LoginAnswers {
  hostname: string;
  uid: string;
  state: string;
}

export interface LoginVerdict {
  state: 'pass' | 'fail' | 'pending';
  reason: string;
  answers?: LoginAnswers;
}

/** Judge the console text after the probe was sent. `credentials` says whose they were, for the message. */
export function judgeLogin(raw: string, expected: { hostname: string; uid: number; init: InitKind; user?: string; credentials?: string }): LoginVerdict {
  const text = raw.replace(/\r/g, '');
  if (/Login incorrect/.test(text)) {
    const who = expected.user ? ` for ${expected.user}` : '';
    return { state: 'fail', reason: `the console said "Login incorrect"${who}: the credentials ${expected.credentials ?? 'the build set'} do not work` };
  }
  const m = new RegExp(`(?:^|\\n)${MARK}-B\\n([\\s\\S]*?)\\n${MARK}-E(?:\\n|$)`).exec(text);
  if (!m) return { state: 'pending', reason: 'waiting for the answers of hostname, id -u and the system state' };
  const [host = '', uid = '', ...rest] = m[1]!.split('\n').map((l) => l.trim());
  const answers: LoginAnswers = { hostname: host, uid, state: rest.join(' ').trim() };
  const short = expected.hostname.split('.')[0]!;
  const said = `hostname "${answers.hostname}", id -u "${answers.uid}", state "${answers.state}"`;
  if (answers.hostname.split('.')[0] !== short) return { state: 'fail', reason: `logged in, but hostname says "${answers.hostname}", not ${short} (${said})`, answers };
  if (answers.uid !== String(expected.uid)) return { state: 'fail', reason: `logged in, but id -u says "${answers.uid}", not ${expected.uid} (${said})`, answers };
  if (!systemStateCommand(expected.init).want.test(answers.state)) return { state: 'fail', reason: `logged in, but the system is not up: ${said}`, answers };
  return { state: 'pass', reason: `logged in: ${said}`, answers };
}

/** A framed `systemctl --failed` listing, sent when systemd says the system is not "running". */
export const FAILED_UNITS_PROBE = `printf '%s-F\\n' ${MARK}; systemctl --failed --no-legend --plain --no-pager; printf '%s-G\\n' ${MARK}\r`;

/** The failed units' names from the framed listing; undefined while it has not come back whole. */
export function parseFailedUnits(raw: string): string[] | undefined {
  const text = raw.replace(/\r/g, '');
  const m = new RegExp(`(?:^|\\n)${MARK}-F\\n([\\s\\S]*?)(?:^|\\n)?${MARK}-G(?:\\n|$)`).exec(text);
  if (!m) return undefined;
  return m[1]!.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((u) => /^[A-Za-z0-9@:._\\-]+\.[a-z]+$/.test(u));
}
