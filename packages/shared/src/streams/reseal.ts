import { secretContext } from './deliverer.js';
import type { StreamStore } from './port.js';
import type { SecretBox } from './secret-box.js';

const PAGE = 100;

export interface ResealOutcome {
  /** Sealed again under the current key. */
  resealed: number;
  /** Already under the current key (or changed by a PATCH meanwhile, which sealed it under the current key). */
  current: number;
  /** Open under no key this process has: they wait, as before, until a PATCH gives their secrets again. */
  unopenable: number;
}

/**
 * After a key rotation (docs/streams.md "Rotating the key"): every destination whose secret a
 * previous key sealed is sealed again under the current one, a page at a time. Each replacement
 * is conditional on the stored text, so a PATCH (or another replica doing the same) in between
 * wins and nothing is overwritten with an older secret. Once `resealed + unopenable` is 0, the
 * previous keys are no longer needed.
 */
export async function resealSecrets(store: Pick<StreamStore, 'allDestinations' | 'replaceSecret'>, box: SecretBox): Promise<ResealOutcome> {
  const outcome: ResealOutcome = { resealed: 0, current: 0, unopenable: 0 };
  for (let after: string | null = null; ; ) {
    const page = await store.allDestinations(after, PAGE);
    for (const record of page) {
      const context = secretContext(record);
      let opened: { plain: string; current: boolean };
      try {
        opened = box.openWith(record.secret, context);
      } catch {
        outcome.unopenable++;
        continue;
      }
      if (opened.current) outcome.current++;
      else if (await store.replaceSecret(record.id, record.secret, box.seal(opened.plain, context))) outcome.resealed++;
      else outcome.current++;
    }
    const last = page.at(-1);
    if (page.length < PAGE || last === undefined) return outcome;
    after = last.id;
  }
}
