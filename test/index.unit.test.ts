// The library's public entry point: it loads without root or network (nothing runs at import), and
// every name it promises is there and is the same object as in its module.
import { describe, expect, it } from 'vitest';
import * as lib from '../src/index.js';
import { DomuError } from '../src/errors.js';
import { CleanupStack } from '../src/cleanup.js';
import { DIFFERENCE_KINDS } from '../src/verify/kinds.js';
import { displayPath } from '../src/verify/display.js';
import { renderXlConfig } from '../src/xen/render.js';

const FUNCTIONS = [
  'openTarget', 'describeTarget', 'parseSize', 'estimateImageSize', 'checkFilesystem', 'importDisk', 'writeTarball', 'extractTarball', 'checkTarball',
  'runFixups', 'runStages', 'selectStages', 'createFixupContext', 'describeAction', 'formatAction', 'deriveMac', 'guestDevices', 'rootDevice',
  'kernelCommandLine', 'domainConsole', 'validateDomain', 'assertValidDomain', 'renderXlConfig', 'renderXmConfig', 'writeDomainConfig', 'configPath',
  'domainFromOptions', 'readDomainFile', 'parseMiB', 'bootTest', 'assertBooted', 'ensureDom0', 'judgeConsole', 'installDistribution', 'checkInstallOptions',
  'estimateInstallBytes', 'verifyTree', 'displayPath', 'openReadOnly', 'loadBuildSpec', 'parseBuildSpec', 'applySpecFlags', 'runBuild', 'planStages',
  'checkStageIds', 'buildFleet', 'parseFleet', 'listGuests', 'findGuest', 'deleteGuest', 'leaseAddress', 'releaseLeases', 'benchStrategies', 'renderBenchSvg',
] as const;

describe('src/index.ts', () => {
  it('exports every documented function', () => {
    const lost = FUNCTIONS.filter((n) => typeof (lib as Record<string, unknown>)[n] !== 'function');
    expect(lost).toEqual([]);
  });

  it('exports the classes and constants themselves, not copies', () => {
    expect(lib.DomuError).toBe(DomuError);
    expect(lib.CleanupStack).toBe(CleanupStack);
    expect(lib.DIFFERENCE_KINDS).toBe(DIFFERENCE_KINDS);
    expect(lib.displayPath).toBe(displayPath);
    expect(lib.renderXlConfig).toBe(renderXlConfig);
    expect(lib.EXIT_STATUS.VERIFY_FAILED).toBe(5);
    expect(typeof lib.GuestFs).toBe('function');
    expect(typeof lib.PackageCache).toBe('function');
    expect(typeof lib.SpecError).toBe('function');
    expect(Array.isArray(lib.FIXUP_STAGES) && lib.FIXUP_STAGES.length).toBeGreaterThan(5);
    expect(lib.SPEC_FLAGS.length).toBeGreaterThan(10);
    expect(typeof lib.DEFAULT_CACHE_DIR).toBe('string');
  });

  it('the fixup stages have unique fixup/ ids and descriptions', () => {
    const ids = lib.FIXUP_STAGES.map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const s of lib.FIXUP_STAGES) {
      expect(s.id).toMatch(/^fixup\/[a-z-]+$/);
      expect(s.description.length).toBeGreaterThan(10);
    }
  });
});
