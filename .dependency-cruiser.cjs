/**
 * The layers of ticks, lowest first. A module may import its own layer and the layers below it,
 * never one above; api/ and gateway/ are siblings on the processors' floor and never import each
 * other. `npm run lint` runs this; a wrong import fails with the rule's name and this comment.
 */
const LAYERS = [
  ['config', '^config/'],
  ['schemas', '^schemas/'],
  ['stores', '^stores/'],
  ['auth', '^auth/'],
  ['runtime', '^runtime/'],
  ['processors', '^(processors|api|gateway)/'],
  ['services', '^services/'],
  ['scripts', '^scripts/'],
];

const NOT_TESTS = '\\.test\\.ts$';

/** layer i may not import any layer above it */
const upward = LAYERS.slice(0, -1).map(([name, path], i) => ({
  name: `${name}-imports-no-higher-layer`,
  comment: `${name}/ is below ${LAYERS.slice(i + 1)
    .map(([n]) => n)
    .join(', ')}: move the shared code down, or the importing code up`,
  severity: 'error',
  from: { path, pathNot: NOT_TESTS },
  to: { path: LAYERS.slice(i + 1).map(([, p]) => p) },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'api-and-gateway-apart',
      comment: 'api/ and gateway/ are siblings: what both need belongs below them (e.g. auth/)',
      severity: 'error',
      from: { path: '^api/', pathNot: NOT_TESTS },
      to: { path: '^gateway/' },
    },
    {
      name: 'gateway-and-api-apart',
      comment: 'api/ and gateway/ are siblings: what both need belongs below them (e.g. auth/)',
      severity: 'error',
      from: { path: '^gateway/', pathNot: NOT_TESTS },
      to: { path: '^api/' },
    },
    {
      name: 'processors-not-serving-side',
      comment: 'processors/ do not import the serving side (api/, gateway/)',
      severity: 'error',
      from: { path: '^processors/', pathNot: NOT_TESTS },
      to: { path: '^(api|gateway)/' },
    },
    {
      name: 'processors-see-runtime-api-only',
      comment:
        'processors use the runtime through runtime/api (and its kafka types, topics, metrics), never its internals',
      severity: 'error',
      from: { path: '^processors/', pathNot: NOT_TESTS },
      to: { path: '^runtime/internals/' },
    },
    {
      name: 'no-circular',
      comment: 'import cycles make the layers meaningless',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|\\.stack|coverage)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
