import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { launchChromium } from '../../test/e2e/browser';

/**
 * `npx tsx ops/gameday/screenshot.ts <report.html> [file]`: the README's game-day report
 * screenshot, the whole page of a report `relaymesh gameday` wrote, shot in headless Chromium.
 */
const program = new Command()
  .name('gameday-screenshot')
  .argument('<report>', 'a gameday-<time>.html that `relaymesh gameday` wrote')
  .argument('[file]', 'where to write the PNG', 'docs/gameday-report.png');

async function main(): Promise<void> {
  program.parse();
  const [report, file = 'docs/gameday-report.png'] = program.args as [string, string?];
  const page = resolve(report);
  if (!existsSync(page)) throw new Error(`No report at ${page}: pass a gameday-<time>.html that \`relaymesh gameday\` wrote.`);
  const browser = await launchChromium();
  try {
    const tab = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // The report is one self-contained page (inline SVG, nothing fetched): a file URL is all it needs.
    await tab.goto(pathToFileURL(page).href);
    await mkdir(dirname(resolve(file)), { recursive: true });
    await tab.screenshot({ path: resolve(file), fullPage: true });
    console.log(`Wrote ${file}`);
  } finally {
    await browser.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
