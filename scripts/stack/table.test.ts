import { formatTable } from './table';

it('aligns columns without trailing spaces', () => {
  expect(
    formatTable(
      ['a', 'bb'],
      [
        ['ccc', 'd'],
        ['e', ''],
      ],
    ),
  ).toBe('a    bb\nccc  d\ne');
});
