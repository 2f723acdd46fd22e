// The GitHub Actions workflows: valid against GitHub's workflow schema (action-validator,
// offline), and every command they run exists in package.json, turbo.json or the CLI.
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { REPO, run } from './helpers/cli.ts';
import { tempDir } from './helpers/fixture.ts';
import { checkCommands, cliSurface, commandsOf, pinsSurface, stepsOf, workflowFiles, workspacePackages } from './helpers/workflows.ts';

const VALIDATOR = join(REPO, 'node_modules', '@action-validator', 'cli', 'cli.mjs');
const validate = (file: string) => run(process.execPath, [VALIDATOR, file], { timeoutMs: 60_000 });
const load = (name: string) => readFileSync(join(REPO, '.github', 'workflows', name), 'utf8');
const runs = (text: string) => stepsOf(text).flatMap(({ step }) => (step.run ? [step.run] : []));

describe('GitHub Actions workflows', () => {
  let cli: Map<string, Set<string>>;
  let pins: Map<string, Set<string>>;
  beforeAll(async () => {
    [cli, pins] = await Promise.all([cliSurface(), pinsSurface()]);
  });

  it('are valid against the workflow schema', async () => {
    const files = workflowFiles();
    expect(files.map((f) => basename(f))).toEqual(['image.yml', 'layer-stage.yml', 'pull-request.yml']);
    for (const f of files) {
      const r = await validate(f);
      expect(r.code, `${f}\n${r.stdout}${r.stderr}`).toBe(0);
    }
  });

  it('a workflow with an unknown key or a misspelt trigger is rejected', async () => {
    const dir = await tempDir('workflows');
    const original = load('image.yml');
    for (const [name, broken] of [
      ['key.yml', original.replace('runs-on:', 'runs-onn:')],
      ['trigger.yml', original.replace('workflow_dispatch:', 'workflow_dispach:')],
      ['permission.yml', original.replace('packages: write', 'packages: writ')],
    ] as const) {
      expect(broken).not.toBe(original);
      await writeFile(join(dir, name), broken);
      const r = await validate(join(dir, name));
      expect(r.code, name).toBe(1);
    }
  });

  it('run only commands that exist: package.json scripts, workspace binaries, turbo tasks, megapak commands and options, scripts/', async () => {
    for (const f of workflowFiles())
      for (const { where, step } of stepsOf(await readFile(f, 'utf8'))) if (step.run) expect(checkCommands(step.run, cli, pins), `${basename(f)} ${where}`).toEqual([]);
    // The check has something to check: the commands the issue asks for are there.
    const pr = runs(load('pull-request.yml'))
      .flatMap(commandsOf)
      .map((c) => c.join(' '));
    const readmeTest = /^bash scripts\/setup\.sh && (pnpm test)$/m.exec(await readFile(join(REPO, 'README.md'), 'utf8'));
    expect(readmeTest, 'the README names its test command').not.toBeNull();
    expect(pr).toEqual(
      expect.arrayContaining([
        'bash scripts/setup.sh',
        readmeTest![1],
        'bash scripts/eval-real-stack.sh',
        'pnpm pins update',
        'bash scripts/pins-patch.sh',
        'pnpm megapak plan --markdown',
      ]),
    );
    const image = runs(load('image.yml'))
      .flatMap(commandsOf)
      .map((c) => c.join(' '));
    expect(image).toEqual(expect.arrayContaining(['pnpm turbo build --filter=layer-*']));
    expect(image.find((c) => c.startsWith('pnpm megapak push '))).toMatch(
      /^pnpm megapak push ghcr\.io\/\$owner\/comfyui-boot:cu130-megapak-py314-nix --tag cu130-megapak-py314-nix-\$\(date -u \+%Y%m%d\)$/,
    );
  });

  it('the command check finds a missing script, binary, task, command, option or file', () => {
    const bad: [string, string][] = [
      ['pnpm tset', 'pnpm tset: no script or workspace binary of that name'],
      ['pnpm run typechek', 'pnpm typechek: no script or workspace binary of that name'],
      ['pnpm -F @megapak/tools bundel', 'pnpm bundel: no script or workspace binary of that name'],
      ['pnpm -F @megapak/tool bundle', 'pnpm -F @megapak/tool: no workspace package of that name'],
      ['pnpm turbo biuld', "turbo.json has no task 'biuld'"],
      ["pnpm turbo build --filter='layers-*'", 'turbo --filter=layers-* matches no workspace package'],
      ['pnpm megapak pusj x', "megapak has no command 'pusj'"],
      ['FOO=1 pnpm megapak push --tagg x y', "megapak push has no option '--tagg'"],
      ['cd x && megapak build --ocii out', "megapak build has no option '--ocii'"],
      ['bash scripts/no-such.sh', 'bash scripts/no-such.sh: no such file in the repository'],
      ['pnpm megapak plan --jsn', "megapak plan has no option '--jsn'"],
      ['pnpm pins updat', "pnpm pins has no command 'updat'"],
      ['pnpm pins update --al', "pnpm pins update has no option '--al'"],
    ];
    for (const [script, problem] of bad) expect(checkCommands(script, cli, pins), script).toEqual([problem]);
    expect(checkCommands('pnpm megapak push --plain-http --tag a x\npnpm -s -F @megapak/tools bundle', cli)).toEqual([]);
  });

  it('the pull-request workflow fills null pins before it evaluates, then puts the patch and the plan into the job summary', () => {
    const steps = parseYaml(load('pull-request.yml')).jobs['evaluate-real-stack'].steps as { run?: string }[];
    const at = (text: string) => steps.findIndex((s) => s.run?.includes(text));
    expect(at('pnpm pins update')).toBeGreaterThan(-1);
    expect(at('pnpm pins update')).toBeLessThan(at('bash scripts/eval-real-stack.sh'));
    expect(at('bash scripts/eval-real-stack.sh')).toBeLessThan(at('pnpm megapak plan'));
    expect(steps[at('pnpm pins update')]!.run).toMatch(/bash scripts\/pins-patch\.sh >> "\$GITHUB_STEP_SUMMARY"/);
    expect(steps[at('pnpm megapak plan')]!.run).toMatch(/pnpm megapak plan --markdown >> "\$GITHUB_STEP_SUMMARY"/);
  });

  it('the image workflow plans first, then builds (from committed pins: it fills none) as a chain of stages that covers every layer', () => {
    const wf = parseYaml(load('image.yml'));
    const stage = parseYaml(load('layer-stage.yml'));
    const plan = wf.jobs.plan.steps.map((s: { run?: string }) => s.run).filter(Boolean);
    expect(plan).toEqual(expect.arrayContaining(['pnpm megapak plan --markdown >> "$GITHUB_STEP_SUMMARY"']));
    // A chain: plan, then each stage after the one before, then the image.
    const stages = Object.entries(wf.jobs as Record<string, { needs?: string; uses?: string; with?: { filter: string } }>).filter(([, j]) => j.uses);
    let before = 'plan';
    for (const [name, j] of stages) {
      expect(j.uses, name).toBe('./.github/workflows/layer-stage.yml');
      expect(j.needs, name).toBe(before);
      expect(workspacePackages().has(j.with!.filter), j.with!.filter).toBe(true);
      before = name;
    }
    expect(wf.jobs.image.needs).toBe(before);
    const filters = stages.map(([, j]) => j.with!.filter);
    expect(filters).toEqual([...filters].sort());
    expect(filters.at(-1)).toBe(
      [...workspacePackages().keys()]
        .filter((n) => n.startsWith('layer-'))
        .sort()
        .at(-1),
    );
    // Each stage: the build stops in time to push what it built, even after a failure.
    const steps = stage.jobs.stage.steps as { run?: string; if?: string; 'timeout-minutes'?: string }[];
    const build = steps.findIndex((s) => s.run?.startsWith('pnpm turbo build'));
    expect(stage.on.workflow_call.inputs['build-minutes'].default).toBeLessThan(stage.jobs.stage['timeout-minutes']);
    expect(stage.jobs.stage['timeout-minutes']).toBeLessThanOrEqual(360);
    expect(steps[build]!['timeout-minutes']).toBe('${{ inputs.build-minutes }}');
    expect(steps[build + 1]).toMatchObject({ run: 'bash scripts/nix-cache-push.sh "$NIX_CACHE_PUSH_URL"', if: expect.stringContaining('always()') });
    // Nothing in CI that builds an image fills a pin.
    for (const f of ['image.yml', 'layer-stage.yml']) expect(load(f), f).not.toMatch(/pins update/);
  });

  it('scripts/pins-patch.sh prints the pins change as a patch, and the pins still open', async () => {
    const dir = await tempDir('pins-patch');
    await run('bash', ['-c', `mkdir -p scripts nix && cp ${REPO}/scripts/pins-patch.sh scripts/ && git init -q && git config user.email t@t.invalid && git config user.name t`], {
      cwd: dir,
    });
    const pinsJson = (a: string | null) =>
      JSON.stringify({ pins: { a: { type: 'wheel', url: 'https://x.invalid/a.whl', hash: a }, b: { type: 'github', ref: 'v1', rev: null, hash: null } } }, null, 2);
    await writeFile(join(dir, 'nix', 'pins.json'), pinsJson(null));
    await run('bash', ['-c', 'git add -A && git commit -qm pins'], { cwd: dir });
    const same = await run('bash', [join(dir, 'scripts', 'pins-patch.sh')]);
    expect(same.code).toBe(0);
    expect(same.stdout).toContain('No pin changed here.');
    expect(same.stdout).toContain('Still without a hash: a, b');
    await writeFile(join(dir, 'nix', 'pins.json'), pinsJson('sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='));
    const changed = await run('bash', [join(dir, 'scripts', 'pins-patch.sh')]);
    expect(changed.stdout).toMatch(/```diff\n[^]*^-\s+"hash": null[^]*^\+\s+"hash": "sha256-A{43}="[^]*```/m);
    expect(changed.stdout).toContain('Still without a hash: b');
  });

  it('the image workflow: main and release tags, packages: write, remote caches from secrets, a configurable runner, disk freed first', () => {
    const wf = parseYaml(load('image.yml'));
    expect(wf.on.push.branches).toEqual(['main']);
    expect(wf.on.push.tags.length).toBeGreaterThan(0);
    expect(wf.permissions).toMatchObject({ packages: 'write' });
    const job = wf.jobs.image;
    expect(job['runs-on']).toContain('vars.MEGAPAK_RUNNER');
    expect(job.env).toMatchObject({ TURBO_API: expect.any(String), TURBO_TEAM: expect.any(String), TURBO_TOKEN: '${{ secrets.TURBO_TOKEN }}' });
    const uses = job.steps.map((s: { uses?: string; run?: string }) => s.uses ?? s.run);
    expect(uses.findIndex((u: string) => u.startsWith('jlumbroso/free-disk-space@'))).toBe(0);
    expect(uses).toEqual(expect.arrayContaining([expect.stringMatching(/^cachix\/install-nix-action@v\d+/), expect.stringMatching(/^cachix\/cachix-action@v\d+/)]));
    const push = job.steps.find((s: { run?: string }) => s.run?.includes('megapak push'));
    expect(push.env).toEqual({ GITHUB_TOKEN: '${{ secrets.GITHUB_TOKEN }}' });
    const nixConf = job.steps.find((s: { uses?: string }) => s.uses?.startsWith('cachix/install-nix-action@')).with.extra_nix_config;
    expect(nixConf).toMatch(/substituters = https:\/\/cache\.nixos\.org \$\{\{ vars\.NIX_CACHE_URL \}\}/);
    // Every action is pinned to a release, not a moving branch.
    for (const f of workflowFiles()) for (const { step } of stepsOf(readFileSync(f, 'utf8'))) if (step.uses) expect(step.uses, basename(f)).toMatch(/@v\d+(\.\d+)*$/);
  });

  it('the image workflow signs what it pushed: cosign keyless (OIDC), the SBOMs and the build provenance attested, by the pushed digest', () => {
    const wf = parseYaml(load('image.yml'));
    expect(wf.jobs.image.permissions).toEqual({ contents: 'read', packages: 'write', 'id-token': 'write' });
    expect(wf.permissions['id-token']).toBeUndefined(); // the stages get no OIDC token
    type S = { id?: string; uses?: string; run?: string; with?: Record<string, string>; env?: Record<string, string> };
    const steps = wf.jobs.image.steps as S[];
    const push = steps.findIndex((s) => s.run?.includes('megapak push'));
    const pushed = steps.findIndex((s) => s.id === 'pushed');
    const sign = steps.findIndex((s) => s.run?.includes('cosign sign'));
    expect(steps[pushed]!.run).toMatch(/megapak sbom --format cyclonedx --output sbom\.cdx\.json/);
    expect(steps[pushed]!.run).toMatch(/megapak sbom --format spdx --output sbom\.spdx\.json/);
    expect(steps[pushed]!.run).toMatch(/digest=.*\.metadata\.component\["bom-ref"\]/);
    const run = steps[sign]!.run!;
    expect(run).toMatch(/cosign sign --yes "\$IMAGE@\$DIGEST"/);
    for (const [type, file] of [
      ['cyclonedx', 'sbom.cdx.json'],
      ['spdxjson', 'sbom.spdx.json'],
      ['slsaprovenance1', 'provenance.json'],
    ])
      expect(run).toContain(`cosign attest --yes --type ${type} --predicate ${file} "$IMAGE@$DIGEST"`);
    expect(steps[sign]!.env).toEqual({ IMAGE: '${{ steps.pushed.outputs.image }}', DIGEST: '${{ steps.pushed.outputs.digest }}' });
    const installer = steps.findIndex((s) => s.uses?.startsWith('sigstore/cosign-installer@'));
    const login = steps.findIndex((s) => s.uses?.startsWith('docker/login-action@'));
    expect([push < pushed, pushed < login, login < sign, installer < sign]).toEqual([true, true, true, true]);
  });
  it('both workflows smoke-test the image with scripts/image-smoke.sh: image.yml after the chain and the push, before signing; pull requests when nothing needs building', () => {
    type S = { id?: string; uses?: string; run?: string; env?: Record<string, string> };
    const steps = parseYaml(load('image.yml')).jobs.image.steps as S[];
    const at = (f: (s: S) => boolean) => steps.findIndex(f);
    const push = at((s) => !!s.run?.includes('megapak push'));
    const pushed = at((s) => s.id === 'pushed');
    const login = at((s) => !!s.uses?.startsWith('docker/login-action@'));
    const smoke = at((s) => !!s.run?.includes('bash scripts/image-smoke.sh'));
    const sign = at((s) => !!s.run?.includes('cosign sign'));
    expect(smoke).toBeGreaterThan(-1);
    expect([push < smoke, pushed < smoke, login < smoke, smoke < sign]).toEqual([true, true, true, true]);
    expect(steps[smoke]!.run).toContain('bash scripts/image-smoke.sh "$IMAGE@$DIGEST"');
    expect(steps[smoke]!.run).toMatch(/exit "\$status"/);
    expect(steps[smoke]!.env).toEqual({ IMAGE: '${{ steps.pushed.outputs.image }}', DIGEST: '${{ steps.pushed.outputs.digest }}' });
    const pr = parseYaml(load('pull-request.yml')).jobs['evaluate-real-stack'].steps as S[];
    const plan = pr.findIndex((s) => s.run?.includes('pnpm megapak plan --markdown'));
    const prSmoke = pr.findIndex((s) => s.run?.includes('bash scripts/image-smoke.sh'));
    expect(prSmoke).toBeGreaterThan(plan);
    const run = pr[prSmoke]!.run!;
    expect(run).toContain('pnpm -s megapak plan --json > plan.json');
    expect(run).toContain("jq -e 'all(.layers[]; (.build | length) == 0)' plan.json");
    expect(run.indexOf('pnpm megapak load')).toBeLessThan(run.indexOf('bash scripts/image-smoke.sh'));
    // The tag it loads and smoke-tests is the stack's own (stack.json).
    const stack = JSON.parse(readFileSync(join(REPO, 'stack.json'), 'utf8'));
    expect(run).toContain(`bash scripts/image-smoke.sh ${stack.name}:${stack.tag}`);
  });
});
