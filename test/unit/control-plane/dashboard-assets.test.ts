// The committed dashboard bundle (control-plane/core/dashboard/assets.generated.ts) is what its
// sources build to now: edit control-plane/dashboard/, then run `npm run build:dashboard`.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { GENERATED, renderAssets } from '../../../scripts/build-dashboard.ts';

it('the committed dashboard bundle matches its sources', async () => {
  const fresh = await renderAssets();
  expect(
    readFileSync(GENERATED, 'utf8') === fresh,
    'control-plane/core/dashboard/assets.generated.ts is stale: run `npm run build:dashboard`',
  ).toBe(true);
});
