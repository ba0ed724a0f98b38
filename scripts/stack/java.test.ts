import { describeRange, parseJavaMajor, parseReleaseFile, parseVersionOutput } from './java';

describe('Java version parsing', () => {
  it('reads the major version in both numbering schemes', () => {
    expect(parseJavaMajor('17.0.15')).toBe(17);
    expect(parseJavaMajor('25')).toBe(25);
    expect(parseJavaMajor('1.8.0_292')).toBe(8);
    expect(parseJavaMajor('garbage')).toBeUndefined();
  });

  it('reads a JDK release file and `java -version` output', () => {
    expect(parseReleaseFile('IMPLEMENTOR="Eclipse Adoptium"\nJAVA_VERSION="21.0.4"\n')).toBe(21);
    expect(parseReleaseFile('nothing here')).toBeUndefined();
    expect(parseVersionOutput('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime')).toBe(17);
  });

  it('describes a range for error messages', () => {
    expect(describeRange({ min: 21 })).toBe('Java 21 or newer');
    expect(describeRange({ min: 11, max: 17 })).toBe('Java 11 to 17');
  });
});
