// Fleet builds: the goal is 20 guests from one 1 GiB base in at most 3 times the wall time of
// building one (base included in both). Measures both ways of making a guest from the base, a
// sparse copy of the raw base and a qcow2 overlay on it, and prints the ratios.
//
//   npm run bench -- fleet [--guests 20] [--concurrency 4] [--methods overlay,copy] [--runs 1]
//   node dist-bench/bench/fleet.js [same options]
//
// Environment: BENCH_DIR (default /var/tmp/domu-forge-bench) holds the source tree, state and images.

import { execFileSync } from 'node:child_process';
import { benchDir, guestTree } from './guest-tree.js';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { buildFleet, type FleetResult } from '../src/pipeline/fleet.js';

interface Args { guests: number; concurrency: number; methods: Array<'copy' | 'overlay'>; runs: number }

function parseArgs(argv: string[]): Args {
  const a: Args = { guests: 20, concurrency: 4, methods: ['overlay', 'copy'], runs: 1 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1] ?? '';
    if (argv[i] === '--guests') (a.guests = Number(v)), i++;
    else if (argv[i] === '--concurrency') (a.concurrency = Number(v)), i++;
    else if (argv[i] === '--methods') (a.methods = v.split(',') as Args['methods']), i++;
    else if (argv[i] === '--runs') (a.runs = Number(v)), i++;
  }
  return a;
}


/** A Debian-like guest root of about 700 MiB (system files copied from this host), made once. */
function sourceTree(): string {
  return guestTree('fleet-src', 'cp -a /usr/bin /usr/include usr/ && cp -a /usr/share/doc /usr/share/man usr/share/');
}

function fleetYaml(name: string, src: string, out: string, guests: number, concurrency: number, method: string): string {
  const list = Array.from({ length: guests }, (_, i) => `  - { name: ${name}-${String(i + 1).padStart(2, '0')}, ip: auto }`).join('\n');
  return `fleet: ${name}
directory: ${out}/images
configDir: ${out}/configs
pool: 10.77.0.10-10.77.0.250
concurrency: ${concurrency}
method: ${method}
base:
  target: { size: 1G, fs: ext4 }
  source:
    clone: { root: ${src}, defaultExcludes: false, exclude: [/tmp, /proc, /sys, /.complete] }
  fixups: { skip: [kernel-modules] }
  domain: { memory: 256M, pygrub: true, network: { netmask: 24, gateway: 10.77.0.1 } }
guests:
${list}
`;
}

export async function benchFleet(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const src = sourceTree();
  const du = execFileSync('du', ['-sh', src]).toString().split('\t')[0];
  const results: Array<{ method: string; guests: number; seconds: number; base: number; failed: number }> = [];
  for (const method of args.methods) {
    for (const guests of [1, args.guests]) {
      const name = `bench-${method}-${guests}`;
      const out = join(benchDir(), name);
      const file = join(benchDir(), `${name}.yaml`);
      let last: FleetResult | undefined;
      const bench = new Bench({ iterations: args.runs, time: 0, warmup: false, throws: true, retainSamples: true });
      bench.add(name, async () => {
        last = await buildFleet({ file });
      }, {
        beforeEach() {
          // every run from scratch: no cached base, no earlier guests
          rmSync(out, { recursive: true, force: true });
          mkdirSync(out, { recursive: true });
          process.env.DOMU_FORGE_STATE_DIR = join(out, 'state');
          writeFileSync(file, fleetYaml(name, src, out, guests, args.concurrency, method));
          execFileSync('sync');
        },
      });
      await bench.run();
      const t = bench.tasks[0]!.result as { latency?: { p50?: number } };
      const seconds = (t.latency?.p50 ?? NaN) / 1000;
      const failed = last?.guests.filter((g) => g.status !== 'built').length ?? guests;
      results.push({ method, guests, seconds, base: last?.base.seconds ?? NaN, failed });
      console.log(`${method.padEnd(8)} ${String(guests).padStart(3)} guest(s): ${seconds.toFixed(1)} s (base ${last?.base.seconds.toFixed(1)} s)${failed ? `, ${failed} FAILED: ${last?.guests.find((g) => g.error)?.error}` : ''}`);
      rmSync(out, { recursive: true, force: true });
    }
  }
  console.log(`\nfleet benchmark: base 1 GiB ext4 from a ${du} tree, ${args.guests} guests at concurrency ${args.concurrency}, median of ${args.runs} run(s), each from scratch`);
  console.log(['method'.padEnd(8), 'one guest'.padStart(10), `${args.guests} guests`.padStart(10), 'per extra guest'.padStart(16), 'ratio'.padStart(7), 'goal'.padStart(6)].join(' '));
  for (const method of args.methods) {
    const one = results.find((r) => r.method === method && r.guests === 1)!;
    const many = results.find((r) => r.method === method && r.guests === args.guests)!;
    const ratio = many.seconds / one.seconds;
    console.log([
      method.padEnd(8),
      `${one.seconds.toFixed(1)} s`.padStart(10),
      `${many.seconds.toFixed(1)} s`.padStart(10),
      `${((many.seconds - one.seconds) / (args.guests - 1)).toFixed(2)} s`.padStart(16),
      ratio.toFixed(2).padStart(7),
      (ratio <= 3 ? 'met' : 'missed').padStart(6),
    ].join(' '));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await benchFleet(process.argv.slice(2));
