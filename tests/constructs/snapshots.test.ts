import { describe, expect, it } from 'vitest';
import { EVERYTHING_ON, synthPlatform } from './synth-helpers.js';

// Only two snapshots, as a net for unintended changes; the behaviour is asserted field by field
// in the other suites. Update with `npx vitest run tests/constructs -u` after a deliberate change.
describe('synthesized YAML', () => {
  it('default platform', () => {
    expect(synthPlatform({ images: { tag: 'snapshot' } }).yaml).toMatchSnapshot();
  });
  it('everything on', () => {
    expect(synthPlatform(EVERYTHING_ON).yaml).toMatchSnapshot();
  });
});
