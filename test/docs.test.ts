// The front door and its reference pages stay true: every relative link in README.md and docs/
// resolves (file and #anchor), and docs/commands.md names every command and option that the
// CLI's own --help prints, so the two cannot drift apart.
import GithubSlugger from 'github-slugger';
import { marked, type Token, type Tokens } from 'marked';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { megapakOk, REPO } from './helpers/cli.ts';

const DOCS = join(REPO, 'docs');
const pages = () => [
  join(REPO, 'README.md'),
  ...readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(DOCS, f)),
];

/** A heading's text as GitHub renders it (code spans, emphasis and links reduced to their text). */
const plain = (tokens: Token[] = []): string =>
  tokens.map((t) => ('tokens' in t && t.tokens ? plain(t.tokens) : t.type === 'codespan' ? (t as Tokens.Codespan).text : 'text' in t ? String(t.text) : '')).join('');

function walk(tokens: Token[], visit: (t: Token) => void): void {
  for (const t of tokens) {
    visit(t);
    if ('tokens' in t && t.tokens) walk(t.tokens, visit);
    if (t.type === 'list') walk((t as Tokens.List).items, visit);
    if (t.type === 'table') for (const cell of [...(t as Tokens.Table).header, ...(t as Tokens.Table).rows.flat()]) walk(cell.tokens, visit);
  }
}

/** The anchors GitHub gives a Markdown page's headings (github-slugger: its own algorithm, duplicates numbered). */
export function anchorsOf(markdown: string): Set<string> {
  const slugger = new GithubSlugger();
  const out = new Set<string>();
  walk(marked.lexer(markdown), (t) => t.type === 'heading' && out.add(slugger.slug(plain((t as Tokens.Heading).tokens))));
  return out;
}

/** Relative links of a page (in `file`) that point at no file, or at no heading of the page they name. */
export function brokenLinks(file: string, markdown: string, read: (f: string) => string | undefined): string[] {
  const broken: string[] = [];
  walk(marked.lexer(markdown), (t) => {
    if (t.type !== 'link' && t.type !== 'image') return;
    const href = (t as Tokens.Link).href;
    if (/^[a-z][a-z0-9+.-]*:/i.test(href)) return; // https:, mailto:: not ours to check offline
    const [path, anchor] = href.split('#') as [string, string | undefined];
    const target = path ? resolve(dirname(file), decodeURIComponent(path)) : file;
    const text = read(target);
    if (text === undefined) broken.push(`${href} (no such file)`);
    else if (anchor && target.endsWith('.md') && !anchorsOf(text).has(anchor)) broken.push(`${href} (no such heading)`);
  });
  return broken;
}

const readIfFile = (f: string) => (existsSync(f) ? (f.endsWith('/') || !f.includes('.') ? '' : readFileSync(f, 'utf8')) : undefined);

describe('README.md and docs/', () => {
  it('README.md stays a front door: at most 200 lines, the two commands first', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    expect(readme.trimEnd().split('\n').length).toBeLessThanOrEqual(200);
    expect(readme.split('\n').slice(3, 5)).toEqual([
      "bash scripts/setup.sh && NIX_CONFIG='substituters =' pnpm megapak build --stack test/fixtures/stack --oci out/oci",
      'bash scripts/setup.sh && pnpm test',
    ]);
  });

  it('every relative link in README.md and docs/ resolves, #anchors included', () => {
    const broken = pages().flatMap((f) => brokenLinks(f, readFileSync(f, 'utf8'), readIfFile).map((b) => `${relative(REPO, f)}: ${b}`));
    expect(broken).toEqual([]);
    // The README links every docs page.
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    for (const f of readdirSync(DOCS).filter((f) => f.endsWith('.md'))) expect(readme, f).toContain(`](docs/${f})`);
  });

  it('the link check finds a missing file, a missing heading, and takes a real one', () => {
    const page = join(DOCS, 'x.md');
    const md =
      '# Title\n\n## Split layers and `megapak diff`\n\n[a](commands.md#megapak-build) [b](nope.md) [c](commands.md#no-such) [d](#split-layers-and-megapak-diff) [e](#gone)\n';
    expect(brokenLinks(page, md, (f) => (f === page ? md : readIfFile(f)))).toEqual(['nope.md (no such file)', 'commands.md#no-such (no such heading)', '#gone (no such heading)']);
  });
});

/** Commands and long options of one `--help` text. */
function helpOf(text: string): { commands: string[]; options: string[] } {
  const section = (name: string) => text.split(/^(?=\S)/m).find((s) => s.startsWith(`${name}:`)) ?? '';
  return {
    commands: [...section('Commands').matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help'),
    options: [...section('Options').matchAll(/^ {2}(?:-\w, )?(--[a-z][a-z-]*)/gm)].map((m) => m[1]!),
  };
}

describe('docs/commands.md', () => {
  const page = readFileSync(join(DOCS, 'commands.md'), 'utf8');
  /** The text of the page's section `## \`megapak NAME\``, up to the next `## `. */
  const sectionOf = (name: string) => page.split(/^(?=## )/m).find((s) => s.startsWith(`## \`megapak ${name}\``));

  it('names every command and every option that --help prints, each in its own section', async () => {
    const top = helpOf((await megapakOk(['--help'])).stdout);
    expect(top.commands.length).toBeGreaterThan(8);
    for (const o of top.options) expect(page, `megapak ${o}`).toContain(`\`megapak ${o}\``);
    /** What the page lacks for a command: its section, or options its --help prints (commands with subcommands: theirs). */
    const missingFor = async (words: string[]): Promise<string[]> => {
      const help = helpOf((await megapakOk([...words, '--help'])).stdout);
      if (help.commands.length) return (await Promise.all(help.commands.map((sub) => missingFor([...words, sub])))).flat();
      const section = sectionOf(words.join(' '));
      if (!section) return [`megapak ${words.join(' ')}: no section`];
      return help.options.filter((o) => o !== '--help' && !section.includes(o)).map((o) => `megapak ${words.join(' ')} ${o}`);
    };
    expect((await Promise.all(top.commands.map((c) => missingFor([c])))).flat()).toEqual([]);
  });

  it('the --help parser sees the options a section would have to name', async () => {
    const help = helpOf((await megapakOk(['push', '--help'])).stdout);
    expect(help.options).toEqual(expect.arrayContaining(['--stack', '--plain-http', '--tag', '--concurrency', '--retries', '--no-sbom', '--no-build']));
    expect(helpOf((await megapakOk(['cache', '--help'])).stdout).commands.sort()).toEqual(['gc', 'ls', 'verify']);
  });
});

describe('megapak --version', () => {
  it("prints the tools package's version", async () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'tools', 'package.json'), 'utf8')) as { version: string };
    expect((await megapakOk(['--version'])).stdout.trim()).toBe(pkg.version);
  });
});
