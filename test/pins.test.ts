// `pnpm pins update` against a git repository and files served on 127.0.0.1, and
// `pnpm pins update NAME --from-git DIR` against local repositories, checked against the hash
// Nix's own git fetcher computes for the same commit.
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, run } from './helpers/cli.ts';
import { tempDir } from './helpers/fixture.ts';
import { startStaticServer } from './helpers/servers.ts';
import { mountTmpfs } from './helpers/tmpfs.ts';

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
    await sh('head -c 100000 /dev/urandom > demo-1.0-py3-none-any.whl && head -c 50000 /dev/urandom > "torch-2.10.0+cu130-cp314-cp314t-manylinux_2_28_x86_64.whl"', root);
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
          // The file-pin contract with the Nix side: url, SRI hash or null, evidence; fields this tool does not know are kept.
          torch: {
            type: 'wheel',
            url: `${server.url}/torch-2.10.0%2Bcu130-cp314-cp314t-manylinux_2_28_x86_64.whl`,
            hash: null,
            evidence: 'none yet',
            python: 'cp314t',
          },
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
    const torchHash = await sh(`nix --extra-experimental-features nix-command hash file --type sha256 "${root}/torch-2.10.0+cu130-cp314-cp314t-manylinux_2_28_x86_64.whl"`);
    expect(pins.torch).toEqual({
      type: 'wheel',
      url: `${server.url}/torch-2.10.0%2Bcu130-cp314-cp314t-manylinux_2_28_x86_64.whl`,
      hash: torchHash,
      evidence: `nix-prefetch-url of ${server.url}/torch-2.10.0%2Bcu130-cp314-cp314t-manylinux_2_28_x86_64.whl on ${new Date().toISOString().slice(0, 10)}`,
      python: 'cp314t',
    });
    expect(r.stdout).toContain(`torch: ${server.url}/torch-2.10.0%2Bcu130-cp314-cp314t-manylinux_2_28_x86_64.whl ${torchHash}`);
    expect(server.hits).toContain('/torch-2.10.0+cu130-cp314-cp314t-manylinux_2_28_x86_64.whl');
    expect(r.stdout).toContain(`demo: v1.0 -> ${tagRev} ${treeHash}`);
    expect(server.hits).toContain('/demo.git/info/refs');
  });

  it('a wheel whose bytes changed behind its URL is an error naming both hashes, and the pin keeps its hash', async () => {
    // Unchanged bytes: the hash is confirmed and the evidence it was pinned on is kept.
    const pinned = JSON.parse(await readFile(pinsFile, 'utf8'));
    pinned.pins.torch.evidence = 'a public lock file';
    await writeFile(pinsFile, JSON.stringify(pinned));
    const same = await pinsCli(['update', 'torch', '--file', pinsFile]);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toContain('(the pinned hash, confirmed)');
    expect(JSON.parse(await readFile(pinsFile, 'utf8')).pins.torch).toEqual(pinned.pins.torch);
    const before = JSON.parse(await readFile(pinsFile, 'utf8')).pins.torch;
    await sh('head -c 50000 /dev/urandom > "torch-2.10.0+cu130-cp314-cp314t-manylinux_2_28_x86_64.whl"', root);
    const r = await pinsCli(['update', 'torch', '--file', pinsFile]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(new RegExp(`^pins: pin 'torch': \\S+ now has sha256-\\S+, but the pin records ${before.hash.replace(/[+/]/g, '\\$&')}: the file changed`));
    expect(JSON.parse(await readFile(pinsFile, 'utf8')).pins.torch).toEqual(before);
  });

  it('pins.json on a full disk: one line naming the file, exit 1, the old file intact, no temp file', async () => {
    const fs = await mountTmpfs('1M');
    try {
      const file = join(fs.dir, 'pins.json');
      const old = JSON.stringify({ pins: { wheel: { type: 'url', url: `${server.url}/demo-1.0-py3-none-any.whl`, hash: null } } });
      await writeFile(file, old);
      await run('dd', ['if=/dev/zero', `of=${join(fs.dir, 'filler')}`, 'bs=64k']); // fills the tmpfs (dd exits 1)
      const r = await pinsCli(['update', 'wheel', '--file', file]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr.trim()).toMatch(new RegExp(`^pins: no space left on device: write ${file} \\(needs about \\d[^,]*, 0 B written, then removed, 0 B free there\\)$`));
      expect(await readFile(file, 'utf8')).toBe(old);
      expect((await readdir(fs.dir)).sort()).toEqual(['filler', 'pins.json']);
    } finally {
      await fs.unmount();
    }
  });

  it('pnpm pins check names the pins without a hash, and passes once they have one', async () => {
    const file = join(await tempDir('pins-check'), 'pins.json');
    const pins = {
      pins: {
        w: { type: 'wheel', url: 'https://x.invalid/w.whl', hash: null, evidence: 'none' },
        g: { type: 'github', owner: 'o', repo: 'r', ref: 'v1', rev: 'a'.repeat(40), hash: null },
        ok: { type: 'url', url: 'https://x.invalid/f', hash: 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' },
      },
    };
    await writeFile(file, JSON.stringify(pins));
    const open = await pinsCli(['check', '--file', file]);
    expect(open.code).toBe(1);
    expect(open.stderr.trim()).toBe(`pins: ${file}: 2 pins without a hash: w, g (pnpm pins update NAME on a machine with network)`);
    pins.pins.w.hash = pins.pins.g.hash = pins.pins.ok.hash as never;
    await writeFile(file, JSON.stringify(pins));
    const done = await pinsCli(['check', '--file', file]);
    expect(done.code, done.stderr).toBe(0);
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

describe('pnpm pins update --from-git', () => {
  const git = 'git -c user.name=t -c user.email=t@t.invalid -c protocol.file.allow=always';
  let root: string;
  let pinsFile: string;
  let rev: string;

  /** What Nix's own git fetcher makes of the commit: `git archive` without submodules, a checkout with them. */
  const nixFetchGit = async (submodules: boolean) => {
    const r = await run('nix-instantiate', ['--eval', '--json', '-E', `(builtins.fetchGit { url = "file://${root}/work"; rev = "${rev}"; submodules = ${submodules}; }).narHash`], {
      env: { NIX_CONFIG: 'substituters =', GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'protocol.file.allow', GIT_CONFIG_VALUE_0: 'always' },
    });
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout) as string;
  };

  beforeAll(async () => {
    root = await tempDir('pins-git');
    // A repository with what makes trees differ: an export-ignore file, an executable, a symlink,
    // a submodule (itself with a submodule), and a tag.
    await sh(`mkdir inner && cd inner && ${git} init -q -b main && echo i > i.txt && ${git} add -A && ${git} commit -qm i`, root);
    await sh(`mkdir sub && cd sub && ${git} init -q -b main && echo s > s.txt && ${git} submodule add -q ${root}/inner deep && ${git} commit -qam s`, root);
    await sh(
      `mkdir work && cd work && ${git} init -q -b main && echo a > a.txt && echo secret > secret.txt && printf 'secret.txt export-ignore\\n' > .gitattributes && printf '#!/bin/sh\\n' > run.sh && chmod +x run.sh && ln -s a.txt link && ${git} add -A && ${git} submodule add -q ${root}/sub third_party/sub && ${git} commit -qm one && ${git} tag v1.0 && echo b > a.txt && ${git} commit -qam two`,
      root,
    );
    rev = await sh('git rev-parse "v1.0^{commit}"', join(root, 'work'));
    pinsFile = join(root, 'pins.json');
    await writeFile(
      pinsFile,
      JSON.stringify({
        pins: {
          gh: { type: 'github', owner: 'o', repo: 'work', ref: 'v1.0', rev: null, hash: null },
          sm: { type: 'git', url: 'https://example.invalid/work.git', ref: 'v1.0', rev: null, hash: null, submodules: true },
          other: { type: 'github', owner: 'o', repo: 'other', ref: 'nope', rev: null, hash: null },
        },
      }),
    );
  });

  it('fills a github pin with the hash of the archive Nix fetches (export-ignore applied), and nothing else', async () => {
    const r = await pinsCli(['update', 'gh', '--file', pinsFile, '--from-git', join(root, 'work')]);
    expect(r.code, r.stderr).toBe(0);
    const pins = JSON.parse(await readFile(pinsFile, 'utf8')).pins;
    const archived = await nixFetchGit(false);
    expect(pins.gh).toMatchObject({ rev, hash: archived });
    expect(pins.other).toMatchObject({ rev: null, hash: null });
    expect(r.stdout).toContain(`gh: v1.0 -> ${rev} ${archived}`);
    // A checkout differs (it keeps secret.txt): the archive semantics matter.
    expect(archived).not.toBe(await nixFetchGit(true));
  });

  it('fills a git pin with submodules with the hash of the checkout Nix fetches, submodules from their mirrors', async () => {
    const r = await pinsCli([
      'update',
      'sm',
      '--file',
      pinsFile,
      '--from-git',
      join(root, 'work'),
      '--submodule',
      `third_party/sub=${root}/sub`,
      '--submodule',
      `third_party/sub/deep=${root}/inner`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const pins = JSON.parse(await readFile(pinsFile, 'utf8')).pins;
    expect(pins.sm).toMatchObject({ rev, hash: await nixFetchGit(true) });
  });

  it('names the submodule without a mirror, and a mirror that lacks objects, and writes nothing', async () => {
    const before = await readFile(pinsFile, 'utf8');
    const noMirror = await pinsCli(['update', 'sm', '--file', pinsFile, '--from-git', join(root, 'work'), '--submodule', `third_party/sub=${root}/sub`]);
    expect(noMirror.code).toBe(1);
    expect(noMirror.stderr.trim()).toMatch(/^pins: pin 'sm': submodule third_party\/sub\/deep \(commit [0-9a-f]{40}\) has no mirror: pass --submodule third_party\/sub\/deep=DIR$/);
    // A copy that lost a blob, as a size-limited mirror does: git archive must fail, loudly.
    // (A push of a few objects lands loose, so one blob can be removed.)
    const blob = await sh('git rev-parse v1.0:run.sh', join(root, 'work'));
    await sh(`git init -q --bare broken.git && git -C work push -q ../broken.git v1.0 && rm broken.git/objects/${blob.slice(0, 2)}/${blob.slice(2)}`, root);
    const broken = await pinsCli(['update', 'gh', '--file', pinsFile, '--from-git', join(root, 'broken.git')]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(new RegExp(`^pins: pin 'gh': git archive ${rev} in ${join(root, 'broken.git')} failed: `));
    const missingRef = await pinsCli(['update', 'other', '--file', pinsFile, '--from-git', join(root, 'work')]);
    expect(missingRef.code).toBe(1);
    expect(missingRef.stderr.trim()).toBe(`pins: pin 'other': ${join(root, 'work')} has no commit for ref 'nope'`);
    expect(await readFile(pinsFile, 'utf8')).toBe(before);
    const notRepo = await pinsCli(['update', 'gh', '--file', pinsFile, '--from-git', root]);
    expect(notRepo.code).toBe(2);
    expect(notRepo.stderr.trim()).toBe(`pins: --from-git ${root} is not a git repository`);
    const two = await pinsCli(['update', 'gh', 'sm', '--file', pinsFile, '--from-git', join(root, 'work')]);
    expect(two.code).toBe(2);
    expect(two.stderr.trim()).toBe('pins: --from-git takes exactly one pin name: a mirror holds one repository');
  });
});
