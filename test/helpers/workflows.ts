// Reads GitHub Actions workflows and checks that the commands their steps run exist here:
// `pnpm X` (a script, a workspace binary, or a pnpm built-in), `pnpm turbo <task>` (a task in
// turbo.json), `megapak <command> --option…` and `pnpm pins <command> --option…` (against
// their own --help) and `bash FILE`.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseShell } from 'shell-quote';
import { parse as parseYaml } from 'yaml';
import { REPO, run } from './cli.ts';

export const WORKFLOWS = join(REPO, '.github', 'workflows');
const BIN = join(REPO, 'tools', 'bin', 'megapak.js');

export const workflowFiles = () =>
  readdirSync(WORKFLOWS)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(WORKFLOWS, f));

interface Step {
  run?: string;
  uses?: string;
}

/** Every step of every job, with where it is. */
export function stepsOf(yamlText: string): { where: string; step: Step }[] {
  const wf = parseYaml(yamlText) as { jobs?: Record<string, { steps?: Step[] }> };
  return Object.entries(wf.jobs ?? {}).flatMap(([job, j]) => (j.steps ?? []).map((step, i) => ({ where: `${job} step ${i + 1}`, step })));
}

/** The simple commands of a `run:` script: words, with leading VAR=value assignments dropped. */
export function commandsOf(script: string): string[][] {
  const lines = script.replace(/\\\n/g, ' ').split('\n');
  const out: string[][] = [];
  for (const line of lines) {
    // Variables stay as written ($X): only command and option names are checked.
    let cmd: string[] = [];
    for (const tok of parseShell(line, (k) => `$${k}`)) {
      if (typeof tok === 'string') {
        if (cmd.length || !/^[A-Za-z_][A-Za-z0-9_]*=/.test(tok)) cmd.push(tok);
      } else if ('op' in tok && tok.op !== 'glob') {
        if (cmd.length) out.push(cmd);
        cmd = [];
      } else if ('comment' in tok) break;
    }
    if (cmd.length) out.push(cmd);
  }
  return out;
}

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

/** The CLI's commands and, per command, its long options, read from its --help. */
export async function cliSurface(): Promise<Map<string, Set<string>>> {
  const top = await run(process.execPath, [BIN, '--help']);
  const commands = [...top.stdout.split('Commands:')[1]!.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
  const surface = new Map<string, Set<string>>();
  for (const c of commands) {
    const help = await run(process.execPath, [BIN, c, '--help']);
    surface.set(c, new Set([...help.stdout.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]!)));
  }
  return surface;
}

/** `pnpm pins`' subcommands and their long options, read from its --help. */
export async function pinsSurface(): Promise<Map<string, Set<string>>> {
  const pins = [join(REPO, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(REPO, 'tools', 'src', 'pins', 'update.ts')];
  const top = await run(process.execPath, [...pins, '--help']);
  const commands = [...top.stdout.split('Commands:')[1]!.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
  const surface = new Map<string, Set<string>>();
  for (const c of commands) {
    const help = await run(process.execPath, [...pins, c, '--help']);
    surface.set(c, new Set([...help.stdout.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]!)));
  }
  return surface;
}

const PNPM_BUILTINS = new Set(['install', 'i', 'add', 'exec', 'dlx', 'store', 'why', 'list', 'ls', 'config']);

/** Problems with the commands of one `run:` script, as lines naming the command. */
export function checkCommands(script: string, cli: Map<string, Set<string>>, pins?: Map<string, Set<string>>): string[] {
  const problems: string[] = [];
  const checkSub = (program: string, surface: Map<string, Set<string>>, words: string[]) => {
    const [sub, ...rest] = words;
    const opts = sub ? surface.get(sub) : undefined;
    if (!opts) return problems.push(`${program} has no command '${sub}'`);
    for (const w of rest) if (w.startsWith('--') && !opts.has(w.split('=')[0]!)) problems.push(`${program} ${sub} has no option '${w.split('=')[0]}'`);
  };
  const checkMegapak = (words: string[]) => checkSub('megapak', cli, words);
  for (const cmd of commandsOf(script)) {
    const [name, ...args] = cmd;
    if (name === 'megapak') checkMegapak(args);
    else if (name === 'bash' || name === 'sh') {
      const file = args.find((a) => !a.startsWith('-'));
      if (file && !existsSync(join(REPO, file))) problems.push(`${name} ${file}: no such file in the repository`);
    } else if (name === 'pnpm') {
      let pkgDir: string | undefined = REPO;
      let i = 0;
      for (; i < args.length && args[i]!.startsWith('-'); i++) {
        const [flag, inline] = args[i]!.split('=');
        if (flag === '-F' || flag === '--filter') {
          const filter = inline ?? args[++i]!;
          pkgDir = workspacePackages().get(filter);
          if (!pkgDir) problems.push(`pnpm ${flag} ${filter}: no workspace package of that name`);
        }
      }
      let [sub, ...rest] = args.slice(i);
      if (!pkgDir || !sub || PNPM_BUILTINS.has(sub)) continue;
      if (sub === 'run') [sub, ...rest] = rest;
      const scripts = readJson(join(pkgDir, 'package.json')).scripts ?? {};
      if (sub === 'megapak') checkMegapak(rest);
      else if (sub === 'pins' && pins && pkgDir === REPO) checkSub('pnpm pins', pins, rest);
      else if (sub === 'turbo') {
        const task = rest.filter((w) => !w.startsWith('-'))[rest[0] === 'run' ? 1 : 0];
        if (!task || !(task in readJson(join(REPO, 'turbo.json')).tasks)) problems.push(`turbo.json has no task '${task}'`);
        // A filter from a variable ($STAGE_FILTER) is checked where its value is set.
        for (const f of rest.filter((w) => w.startsWith('--filter=') && !w.includes('$')).map((w) => w.slice('--filter='.length))) {
          const glob = new RegExp(`^${f.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
          if (![...workspacePackages().keys()].some((n) => glob.test(n))) problems.push(`turbo --filter=${f} matches no workspace package`);
        }
      } else if (!(sub! in scripts) && !existsSync(join(REPO, 'node_modules', '.bin', sub!))) problems.push(`pnpm ${sub}: no script or workspace binary of that name`);
    }
  }
  return problems;
}

/** Workspace package name → folder (the root, tools/, image/, layers/*). */
export function workspacePackages(): Map<string, string> {
  const dirs = [REPO, join(REPO, 'tools'), join(REPO, 'image'), ...readdirSync(join(REPO, 'layers')).map((d) => join(REPO, 'layers', d))];
  return new Map(dirs.filter((d) => existsSync(join(d, 'package.json'))).map((d) => [readJson(join(d, 'package.json')).name as string, d]));
}
