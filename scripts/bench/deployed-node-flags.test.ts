import { deployedNodeFlags, nodeFlagsOf } from './deployed-node-flags';

describe('nodeFlagsOf', () => {
  it('takes the flags between node and the entry, not those of another command', () => {
    expect(
      nodeFlagsOf(
        'tsx scripts/build.ts --x && node --a=1 --b dist/scripts/api.js --no-gateway',
        'dist/scripts/api.js',
      ),
    ).toEqual(['--a=1', '--b']);
    expect(nodeFlagsOf('node dist/scripts/api.js', 'dist/scripts/api.js')).toEqual([]);
  });

  it('refuses a command that does not run the entry with node', () => {
    expect(() => nodeFlagsOf('tsx scripts/api.ts', 'dist/scripts/api.js')).toThrow(
      /does not run node/,
    );
  });
});

describe('deployedNodeFlags', () => {
  it("reads each deployable's flags from its npm script", () => {
    // The pipeline's old space is what services/heap-budget.ts sizes its caches against.
    expect(deployedNodeFlags('pipeline')).toContain('--max-old-space-size=640');
    expect(deployedNodeFlags('api').every((f) => f.startsWith('--'))).toBe(true);
  });
});
