// The coordinator's own record of each queued fleet (queue-fleets/FLEET.json in its state directory):
// where each guest was placed, so a rerun places it there again, and the last results it saw, so
// `list` on the coordinator shows every guest with its host. No BullMQ here: list loads this alone.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readState, stateDir } from '../../sys/state.js';

export interface PlacedGuest {
  guest: string;
  host: string;
  state: string;
  ip?: string;
  image?: string;
  config?: string;
  error?: string;
}

export interface PlacementRecord {
  fleet: string;
  file: string;
  placements: Record<string, string>;
  updated: string;
  last?: PlacedGuest[];
}

export function placementPath(fleet: string): string {
  return `queue-fleets/${fleet}.json`;
}

/** Every queued fleet this coordinator placed, by name. */
export function listPlacements(): PlacementRecord[] {
  let names: string[];
  try {
    names = readdirSync(join(stateDir(), 'queue-fleets'));
  } catch {
    return [];
  }
  return names.filter((n) => n.endsWith('.json')).map((n) => readState<PlacementRecord>(`queue-fleets/${n}`)).filter((r): r is PlacementRecord => r !== undefined).sort((a, b) => a.fleet.localeCompare(b.fleet));
}
