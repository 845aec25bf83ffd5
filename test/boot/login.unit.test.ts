// The boot test's login dialogue and the judging of its answers, on recorded console text.

import { describe, expect, it } from 'vitest';
import { FAILED_UNITS_PROBE, judgeLogin, loginDialogue, parseFailedUnits } from '../../src/boot/login.js';

const exp = { hostname: 'banquo.example.org', uid: 0, init: 'systemd' as const };

describe('loginDialogue', () => {
  it('answers the guest\'s own prompt, then the password, then one framed probe line', () => {
    const steps = loginDialogue('banquo.example.org', { user: 'root', password: 's3cret' }, 'systemd');
    expect(steps.map((s) => s.what)).toEqual(['user name at "banquo login:"', 'password', 'hostname, id -u and the system state']);
    expect(steps[0]!.expect.test('\nDebian GNU/Linux 12 banquo hvc0\n\nbanquo login: ')).toBe(true);
    expect(steps[0]!.expect.test('\nmacbeth login: ')).toBe(false);
    expect(steps[2]!.send).toBe("printf '%s-B\\n' DFLOGIN; hostname; id -u; systemctl is-system-running --wait; printf '%s-E\\n' DFLOGIN\r");
    expect(steps.some((s) => s.what.includes('s3cret'))).toBe(false);
  });
});

describe('judgeLogin', () => {
  const echoed = "root@banquo:~# printf '%s-B\\n' DFLOGIN; hostname; id -u; systemctl is-system-running --wait; printf '%s-E\\n' DFLOGIN\r\n";
  it('passes on the right answers, and the echoed command is not taken for them', () => {
    expect(judgeLogin(echoed, exp).state).toBe('pending');
    const v = judgeLogin(`${echoed}DFLOGIN-B\r\nbanquo\r\n0\r\nrunning\r\nDFLOGIN-E\r\nroot@banquo:~# `, exp);
    expect(v).toEqual({ state: 'pass', reason: 'logged in: hostname "banquo", id -u "0", state "running"', answers: { hostname: 'banquo', uid: '0', state: 'running' } });
  });
  it('fails on a degraded system, a wrong uid, a refused login', () => {
    expect(judgeLogin('DFLOGIN-B\nbanquo\n0\ndegraded\nDFLOGIN-E\n', exp).reason).toBe('logged in, but the system is not up: hostname "banquo", id -u "0", state "degraded"');
    expect(judgeLogin('DFLOGIN-B\nbanquo\n1000\nrunning\nDFLOGIN-E\n', exp).state).toBe('fail');
    expect(judgeLogin('Password: \nLogin incorrect\nbanquo login: ', exp).reason).toBe('the console said "Login incorrect": the credentials the build set do not work');
    expect(judgeLogin('Password: \nLogin incorrect\nbanquo login: ', { ...exp, user: 'root', credentials: 'given (login)' }).reason).toBe(
      'the console said "Login incorrect" for root: the credentials given (login) do not work',
    );
  });
  it('sysvinit: runlevel N 2', () => {
    expect(judgeLogin('DFLOGIN-B\nbanquo\n0\nN 2\nDFLOGIN-E\n', { ...exp, init: 'sysvinit' }).state).toBe('pass');
  });
});

describe('parseFailedUnits', () => {
  it('reads the framed systemctl --failed listing, not its echo', () => {
    expect(FAILED_UNITS_PROBE).toBe("printf '%s-F\\n' DFLOGIN; systemctl --failed --no-legend --plain --no-pager; printf '%s-G\\n' DFLOGIN\r");
    expect(parseFailedUnits(`root@banquo:~# ${FAILED_UNITS_PROBE}\n`)).toBeUndefined();
    expect(parseFailedUnits('DFLOGIN-F\r\nsystemd-networkd-wait-online.service loaded failed failed Wait for Network\r\nx.mount loaded failed failed X\r\nDFLOGIN-G\r\n')).toEqual([
      'systemd-networkd-wait-online.service',
      'x.mount',
    ]);
    expect(parseFailedUnits('DFLOGIN-F\nDFLOGIN-G\n')).toEqual([]);
  });
});
