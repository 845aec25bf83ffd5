// `domu-forge list`: the guests domu-forge built (disk, config, address), from the inventory.

import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { listGuests, type GuestRecord } from '../pipeline/inventory.js';
import { listPlacements } from '../pipeline/queue/placements.js';
import { printJson } from './output.js';
import { formatSize } from '../sys/size.js';

function diskState(rec: GuestRecord): { present: boolean; bytes?: number } {
  if (!existsSync(rec.disk.path)) return { present: false };
  const st = statSync(rec.disk.path);
  return st.isFile() ? { present: true, bytes: st.blocks * 512 } : { present: true };
}

export function register(program: Command): void {
  program
    .command('list')
    .description('list the guests domu-forge built: disk, config, address (from the inventory in the state directory)')
    .option('--json', 'print the inventory as JSON')
    .addHelpText('after', `
The inventory lives in /var/lib/domu-forge/inventory.json (DOMU_FORGE_STATE_DIR moves it).
A disk or config that has gone missing since the build is marked "(missing)".`)
    .action((opts: { json?: boolean }) => {
      const guests = listGuests().map((g) => ({ ...g, diskPresent: diskState(g).present, configPresent: g.config ? existsSync(g.config) : undefined }));
      // on a coordinator: the guests of the fleets it queued, each with its host (as of its last look)
      const queued = listPlacements().flatMap((p) => Object.entries(p.placements).map(([guest, host]) => {
        const last = p.last?.find((l) => l.guest === guest);
        return { fleet: p.fleet, guest, host, state: last?.state ?? 'queued', ...(last?.ip ? { ip: last.ip } : {}), ...(last?.image ? { image: last.image } : {}) };
      }));
      if (opts.json) {
        printJson({ ok: true, guests, ...(queued.length ? { queued } : {}) });
        return;
      }
      if (queued.length > 0) {
        const rows = [['fleet', 'guest', 'host', 'state', 'ip', 'disk (on its host)'], ...queued.map((q) => [q.fleet, q.guest, q.host, q.state, q.ip ?? '', q.image ?? ''])];
        const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
        const lines = rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
        lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
        process.stdout.write(`${lines.join('\n')}\n${guests.length ? '\n' : ''}`);
        if (guests.length === 0) return;
      }
      if (guests.length === 0) {
        process.stdout.write('no guests built by domu-forge yet\n');
        return;
      }
      const rows = [['name', 'disk', 'size', 'config', 'ip', 'built']];
      for (const g of guests) {
        const d = diskState(g);
        rows.push([
          g.name,
          `${g.disk.kind} ${g.disk.path}${d.present ? '' : ' (missing)'}`,
          d.bytes !== undefined ? formatSize(d.bytes) : '',
          g.config ? `${g.config}${g.configPresent ? '' : ' (missing)'}` : '',
          g.ip ?? (g.config ? 'dhcp' : ''),
          g.built.replace('T', ' ').slice(0, 16),
        ]);
      }
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      const lines = rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
      lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
