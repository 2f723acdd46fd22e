# The rest of the Python set builds for free-threaded 3.14 from source (no binary cache holds it):
# by default without test suites (nix/settings.json `pythonChecks = false`) — checks are a large
# share of that time, and many suites are not ready for free-threading. A pythonPackagesExtensions
# entry that wraps the set's buildPythonPackage, so every package built through it (nixpkgs' own
# and nix/custom.nix's) gets `doCheck = false`; with `pythonChecks = true` each keeps its own choice.
{ pythonChecks }:
pyfinal: pyprev:
if pythonChecks then { }
else
  let
    off = a: a // { doCheck = false; };
    # buildPythonPackage takes an attribute set or, in newer nixpkgs, a function of finalAttrs; it
    # keeps its `.override` (nixpkgs' torch calls `buildPythonPackage.override { inherit stdenv; }`).
    wrap = build: {
      __functor = _: args: build (if builtins.isFunction args then (fa: off (args fa)) else off args);
      override = a: wrap ((build.override or (_: build)) a);
    };
  in
  { buildPythonPackage = wrap pyprev.buildPythonPackage; }
  // (if pyprev ? buildPythonApplication then { buildPythonApplication = wrap pyprev.buildPythonApplication; } else { })
