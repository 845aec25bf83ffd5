// The layering rules of HOUSE-STYLE.md, checked in CI (npm run lint:layers, and test/layering.unit.test.ts):
// cli -> pipeline -> stages -> walk, tar, guest -> sys, cleanup, errors. Arrows point down, never in a circle.
const STAGES = '^src/(copy|targets|install|fixup|xen|boot|verify|bench)/';
const LOW = '^src/(walk|tar|guest)/';
const BOTTOM = '^src/(sys/|cleanup\\.ts|errors\\.ts)';

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'no two modules import each other, directly or through others', from: {}, to: { circular: true } },
    { name: 'only-cli-imports-cli', severity: 'error', comment: 'src/cli/ is the top: nothing below imports it', from: { path: '^src/', pathNot: '^src/cli/' }, to: { path: '^src/cli/' } },
    { name: 'stages-below-pipeline', severity: 'error', comment: 'a stage never imports the pipeline that runs the stages', from: { path: STAGES }, to: { path: '^src/pipeline/' } },
    { name: 'low-below-stages', severity: 'error', comment: 'walk, tar and guest serve the stages and never import them or the pipeline', from: { path: LOW }, to: { path: `${STAGES}|^src/pipeline/` } },
    { name: 'bottom-stays-bottom', severity: 'error', comment: 'sys, cleanup and errors import nothing of the project above them', from: { path: BOTTOM }, to: { path: '^src/', pathNot: BOTTOM } },
    { name: 'library-not-tests', severity: 'error', comment: 'src never imports test or bench code', from: { path: '^src/' }, to: { path: '^(test|bench)/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
    moduleSystems: ['es6'],
  },
};
