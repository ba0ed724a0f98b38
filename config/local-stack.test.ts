import { stackPortOffset } from './local-stack';

describe('TICKS_STACK_PORT_OFFSET', () => {
  it('is 0 when unset, the integer given otherwise', () => {
    expect(stackPortOffset(undefined)).toBe(0);
    expect(stackPortOffset('')).toBe(0);
    expect(stackPortOffset('10100')).toBe(10100);
    expect(stackPortOffset('-1000')).toBe(-1000);
  });

  it('refuses what is not an integer or takes a port out of 1024–65535, naming a fix', () => {
    for (const bad of ['abc', '1.5', '50000', '-16000'])
      expect(() => stackPortOffset(bad)).toThrow(/not a usable port offset.*e\.g\. 10100/);
  });
});
