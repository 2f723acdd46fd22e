// `pnpm pins update` against a git repository and files served on 127.0.0.1.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, run } from './helpers/cli.ts';
import { tempDir } from './helpers/fixture.ts';
import { startStaticServer } from './helpers/servers.ts';

const sh = async (cmd: string, cwd?: string) => {
  const r = await run('bash', ['-c', cmd], { cwd });
  if (r.code !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout.trim();
};
const pinsCli = (args: string[]) => run(process.execPath, [join(REPO, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(REPO, 'tools/src/pins/update.ts'), ...args]);

describe('pnpm pins update', () => {
  let root: string;
  let server: Awaited<ReturnType<typeof startStaticServer>>;
  let tagRev: string;
  let pinsFile: string;

  beforeAll(async () => {
    root = await tempDir('pins-serve');
    const work = join(root, 'work');
    await mkdir(work);
    const git = 'git -c user.name=t -c user.email=t@t.invalid';
    await sh(
      `${git} init -q -b main && printf 'from setuptools import setup\\nsetup(name="demo")\\n' > setup.py && mkdir pkg && echo "x = 1" > pkg/__init__.py && ${git} add -A && ${git} commit -qm one && ${git} tag v1.0 && echo "x = 2" > pkg/__init__.py && ${git} commit -qam two`,
      work,
    );
    tagRev = await sh('git rev-parse "v1.0^{commit}"', work);
    await sh(
      `git clone -q --bare work demo.git && git -C demo.git update-server-info && mkdir archive && git -C work archive --format=tar.gz --prefix=demo-${tagRev}/ -o ../archive/${tagRev}.tar.gz ${tagRev}`,
      root,
    );
    await sh('head -c 100000 /dev/urandom > demo-1.0-py3-none-any.whl', root);
    server = await startStaticServer(root);
    pinsFile = join(await tempDir('pins'), 'pins.json');
    await writeFile(
      pinsFile,
      JSON.stringify({
        pins: {
          demo: {
            type: 'github',
            owner: 'o',
            repo: 'demo',
            ref: 'v1.0',
            rev: null,
            hash: null,
            gitUrl: `${server.url}/demo.git`,
            archiveUrl: `${server.url}/archive/{rev}.tar.gz`,
          },
          wheel: { type: 'url', url: `${server.url}/demo-1.0-py3-none-any.whl`, ref: '1.0', rev: null, hash: null },
          done: { type: 'github', owner: 'o', repo: 'done', ref: 'main', rev: 'a'.repeat(40), hash: 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' },
        },
      }),
    );
  });
  afterAll(async () => server?.stop());

  it('fills rev and hash of the pins missing them, equal to what Nix computes from the same sources', async () => {
    const r = await pinsCli(['update', '--file', pinsFile]);
    expect(r.code, r.stderr).toBe(0);
    const pins = JSON.parse(await readFile(pinsFile, 'utf8')).pins;
    expect(pins.demo.rev).toBe(tagRev);
    const unpacked = join(root, 'unpacked');
    await sh(`mkdir -p ${unpacked} && tar -xzf archive/${tagRev}.tar.gz -C ${unpacked}`, root);
    const treeHash = await sh(`nix --extra-experimental-features nix-command hash path --type sha256 ${unpacked}/demo-${tagRev}`);
    expect(pins.demo.hash).toBe(treeHash);
    const fileHash = await sh(`nix --extra-experimental-features nix-command hash file --type sha256 ${root}/demo-1.0-py3-none-any.whl`);
    expect(pins.wheel.hash).toBe(fileHash);
    expect(pins.done.hash).toBe('sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
    expect(r.stdout).toContain(`demo: v1.0 -> ${tagRev} ${treeHash}`);
    expect(server.hits).toContain('/demo.git/info/refs');
  });

  it('names an unknown pin and an unreachable source', async () => {
    const unknown = await pinsCli(['update', 'nope', '--file', pinsFile]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe(`pins: no pin 'nope' in ${pinsFile}`);
    const pins = JSON.parse(await readFile(pinsFile, 'utf8'));
    pins.pins.demo.gitUrl = `${server.url}/missing.git`;
    await writeFile(pinsFile, JSON.stringify(pins));
    const gone = await pinsCli(['update', 'demo', '--file', pinsFile]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^pins: pin 'demo': git ls-remote http:\/\/127\.0\.0\.1:\d+\/missing\.git failed/);
  });
});
