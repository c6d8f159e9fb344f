/** The README's options reference and presets table stay in step with the option table and presets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { OPTION_DEFS } from '../../src/pipeline/options.js';
import { PRESETS } from '../../src/losses/presets.js';
import { CONTENT_NORMALISATIONS } from '../../src/losses/content.js';
import { GRAM_NORMALISATIONS } from '../../src/losses/gram-style.js';
import { flagOf } from '../../cli/args.js';

const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');

test('every option of the option table is documented in the README (flags, and library-only keys)', () => {
  const missing = OPTION_DEFS.filter((d) => d.cli !== false).map((d) => `--${flagOf(d.key)}`).filter((f) => !readme.includes(`\`${f}`));
  assert.deepEqual(missing, []);
  const libraryOnly = OPTION_DEFS.filter((d) => d.cli === false).map((d) => d.key).filter((k) => !readme.includes(`\`${k}\``));
  assert.deepEqual(libraryOnly, [], 'library-only options are named in the Library section');
});

test('the README presets table states each preset\'s factors and weights', () => {
  for (const p of Object.values(PRESETS)) {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${p.name}\``));
    assert.ok(row, `row for ${p.name}`);
    const cells = row!.split('|').map((c) => c.trim());
    assert.equal(cells[2], CONTENT_NORMALISATIONS[p.content].text.replace('·', ''), `${p.name} content factor`);
    assert.equal(cells[3], GRAM_NORMALISATIONS[p.gram].text.replaceAll('·', ''), `${p.name} style factor`);
    assert.equal(Number(cells[6]), p.alpha, `${p.name} α`);
    if (p.autoNormalise) assert.equal(cells[7], '`--strength`', `${p.name} β`);
    else assert.equal(Number(cells[7]), p.beta, `${p.name} β`);
  }
});
