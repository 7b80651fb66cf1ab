import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium, which `make test` installs (scripts/test-prerequisites.sh). */
export const CHROMIUM = '/usr/bin/chromium';

/** Headless Debian Chromium with the flags this machine needs (no sandbox as root, no GPU, no QUIC, no background requests). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking'],
  });
}
