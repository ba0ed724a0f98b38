import { readScripts, SCRIPT_FLAGS_LINE } from './script-loader';

describe('readScripts', () => {
  it('gives every script one flags line first, so a Redis Cluster checks that it stays in one slot', () => {
    const scripts = readScripts();
    expect(scripts.length).toBeGreaterThan(10);
    for (const { name, lua } of scripts) {
      const lines = lua.split('\n');
      expect([name, lines[0]!.startsWith(SCRIPT_FLAGS_LINE)]).toEqual([name, true]);
      expect([name, lines.slice(1).some((l) => l.startsWith('#!'))]).toEqual([name, false]);
    }
  });
});
