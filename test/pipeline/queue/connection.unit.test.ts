// The queue URL, the environment fallbacks and the worker's systemd unit: pure.
import { describe, expect, it } from 'vitest';
import { hostQueueName, keyFileFrom, parseQueueUrl, queueUrlFrom, workerUnit } from '../../../src/pipeline/queue/connection.js';

describe('queue URLs', () => {
  it('reads redis:// and rediss:// with user, password and db', () => {
    expect(parseQueueUrl('redis://10.0.0.1:6380')).toEqual({ host: '10.0.0.1', port: 6380, db: 0, maxRetriesPerRequest: null });
    expect(parseQueueUrl('rediss://forge:p%40ss@queue.example:6379/3')).toEqual({ host: 'queue.example', port: 6379, db: 3, username: 'forge', password: 'p@ss', tls: { servername: 'queue.example' }, maxRetriesPerRequest: null });
    expect(parseQueueUrl('redis://[fd00::1]/2')).toMatchObject({ host: 'fd00::1', port: 6379, db: 2 });
  });
  it('refuses others without showing the password', () => {
    expect(() => parseQueueUrl('http://a:secret@h:1')).toThrow('--queue: http://h:1/ must start with redis:// or rediss:// (TLS)');
    expect(() => parseQueueUrl('redis://u:secret@h:1/x')).toThrow('--queue: redis://h:1/x: the database "x" is not a number');
    expect(() => parseQueueUrl('not a url secret@')).toThrow(/is not a URL/);
  });
  it('falls back to the environment', () => {
    expect(queueUrlFrom(undefined, { DOMU_FORGE_QUEUE: 'redis://h:1' })).toBe('redis://h:1');
    expect(queueUrlFrom('redis://flag:1', { DOMU_FORGE_QUEUE: 'redis://h:1' })).toBe('redis://flag:1');
    expect(() => queueUrlFrom(undefined, {})).toThrow(/DOMU_FORGE_QUEUE/);
    expect(keyFileFrom(undefined, { DOMU_FORGE_KEY: '/k' })).toBe('/k');
    expect(() => keyFileFrom(undefined, {})).toThrow(/DOMU_FORGE_KEY/);
  });
  it('one queue per host, and a unit that runs that host\'s worker', () => {
    expect(hostQueueName('dom0-a')).toBe('domu-forge.dom0-a');
    const u = workerUnit({ host: 'dom0-a', concurrency: 3 });
    expect(u).toContain('ExecStart=/usr/bin/domu-forge worker --host dom0-a --concurrency 3\n');
    expect(u).toContain('KillSignal=SIGTERM\n');
  });
});
