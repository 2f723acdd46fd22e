import { Option, type Command } from 'commander';
import { requireNixTools } from '../nix/nix.ts';
import { planStack } from '../pipeline/plan-stack.ts';
import { planMarkdown, planText, planWarnings } from '../report/plan-text.ts';
import { UsageError } from '../util/errors.ts';
import { setup } from './common.ts';
import { positiveInt } from './options.ts';

/** `megapak plan`: what a cold build needs, per layer, from Nix's own dry run. */
export function registerPlanCommand(program: Command): void {
  program
    .command('plan')
    .description("what a build would do, per layer, from Nix's own dry run: derivations to build, paths to fetch (download size), paths present; builds and fetches nothing")
    .addOption(new Option('--stack <dir>', 'the stack folder: nix/pkgs.nix and layers/NN-name/layer.nix (default: the repository root)'))
    .option('--json', 'print { "layers": [ { "name", "build", "fetch", "present", "downloadBytes" } ] }')
    .option('--markdown', 'print the table as Markdown (for $GITHUB_STEP_SUMMARY)')
    .option('--top <n>', 'heaviest builds listed', (v) => positiveInt('--top', v), 10)
    .addHelpText(
      'after',
      `
Each layer's roots are instantiated (nothing is built) and given to nix-store --realise
--dry-run, which is nix-build --dry-run without the evaluation: it lists the derivations Nix
would build and the paths it would fetch from the substituters Nix is configured with. A path
counts for the lowest layer whose roots need it. Download sizes are the caches' narinfo
FileSize. "present": paths already in the store that the build would use (the valid roots'
closures, the inputs of what is built, what fetched paths refer to), and their closures.
Heaviest builds: those nixpkgs marks big-parallel first, then by number of inputs (a guess).`,
    )
    .action(async (o: { stack?: string; json?: boolean; markdown?: boolean; top: number }) => {
      if (o.json && o.markdown) throw new UsageError('plan: give at most one of --json and --markdown');
      const env = await setup(o.stack);
      requireNixTools();
      const view = await planStack(env.stack, env.progress, o.top);
      if (o.json) console.log(JSON.stringify(view.plan, null, 2));
      else if (o.markdown) console.log(planMarkdown(view, `megapak plan: ${env.stack.meta.name ?? 'stack'}:${env.stack.meta.tag ?? 'latest'}`));
      else console.log(planText(view));
      if (o.json) for (const w of planWarnings(view)) console.error(w);
    });
}
