import { describe, expect, it } from 'vitest';
import { distFromMetadata, normalisePypiName } from './python-dists.ts';

describe('Python distributions from METADATA', () => {
  it('normalises names as PEP 503 does', () => {
    expect(['Zope.Interface', 'charset_normalizer', 'typing--extensions', 'PyYAML'].map(normalisePypiName)).toEqual([
      'zope-interface',
      'charset-normalizer',
      'typing-extensions',
      'pyyaml',
    ]);
  });

  it('reads name, version and licence; the description body and a licence text are not a licence', () => {
    const meta =
      'Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0.2\nLicense: MIT License\n        Copyright (c) 2017\nClassifier: License :: OSI Approved :: MIT License\n\nLicense: not a header\n';
    const d = distFromMetadata('/nix/store/x', 'lib/python3.14/site-packages/PyYAML-6.0.2.dist-info/METADATA', meta)!;
    expect(d).toMatchObject({ name: 'PyYAML', version: '6.0.2', license: null, classifierLicenses: ['MIT License'], purl: 'pkg:pypi/pyyaml@6.0.2' });
    const expr = distFromMetadata('/nix/store/x', 'm', 'Name: A_b.c\nVersion: 1.0\nLicense-Expression: MIT OR Apache-2.0\nLicense: BSD\n')!;
    expect(expr).toMatchObject({ license: 'MIT OR Apache-2.0', classifierLicenses: [], purl: 'pkg:pypi/a-b.c@1.0' });
    expect(distFromMetadata('/nix/store/x', 'm', 'Name: nameless-version\n')).toBeNull();
  });
});
