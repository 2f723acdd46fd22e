import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO, run, type RunResult } from './cli.ts';
import { copyFixtureStack } from './fixture.ts';

export const TURBO = join(REPO, 'node_modules', '.bin', 'turbo');

const git = (cwd: string, ...args: string[]) => run('git', ['-c', 'user.name=megapak-test', '-c', 'user.email=test@megapak.invalid', ...args], { cwd });

/**
 * The fixture stack as a pnpm + Turborepo workspace: the repository's own turbo.json, the
 * megapak CLI linked from this checkout, installed offline, committed to a fresh git repo.
 */
export async function makeFixtureWorkspace(source?: string): Promise<string> {
  const ws = await copyFixtureStack(source);
  await copyFile(join(REPO, 'turbo.json'), join(ws, 'turbo.json'));
  const pkg = JSON.parse(await readFile(join(ws, 'package.json'), 'utf8'));
  pkg.devDependencies = { '@megapak/tools': `link:${join(REPO, 'tools')}` };
  await writeFile(join(ws, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
  await writeFile(join(ws, '.gitignore'), 'node_modules/\ndist/\nout/\n.turbo/\n');
  const install = await run('pnpm', ['install', '--offline', '--reporter=silent'], { cwd: ws });
  if (install.code !== 0) throw new Error(`pnpm install in ${ws}: ${install.stderr}${install.stdout}`);
  await commitAll(ws, 'fixture workspace');
  return ws;
}

export async function commitAll(ws: string, message: string): Promise<void> {
  if ((await git(ws, 'rev-parse', '--git-dir')).code !== 0) await git(ws, 'init', '-q', '-b', 'main');
  await git(ws, 'add', '-A');
  const r = await git(ws, 'commit', '-q', '--allow-empty', '-m', message);
  if (r.code !== 0) throw new Error(r.stderr);
}

export interface TaskSummary {
  taskId: string;
  package: string;
  cache: { status: 'HIT' | 'MISS'; source?: string };
}

/** Run `turbo run build --summarize` and return the run summary's tasks, keyed by package. */
export async function turboBuild(ws: string, env: NodeJS.ProcessEnv, extra: string[] = []): Promise<{ result: RunResult; tasks: Map<string, TaskSummary> }> {
  const result = await run(TURBO, ['run', 'build', '--summarize', '--output-logs=full', ...extra], { cwd: ws, env: { TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', ...env } });
  if (result.code !== 0) throw new Error(`turbo build in ${ws} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  const m = /Summary:\s+(\S+\.json)/.exec(result.stdout);
  if (!m) throw new Error(`turbo printed no run summary path:\n${result.stdout}`);
  const summary = JSON.parse(await readFile(m[1]!.startsWith('/') ? m[1]! : join(ws, m[1]!), 'utf8')) as { tasks: TaskSummary[] };
  return { result, tasks: new Map(summary.tasks.map((t) => [t.package, t])) };
}
