# What the megapak adds to nixpkgs. Everything the layers use beyond plain nixpkgs attributes
# lives under `megapak`, so a layer.nix reads `pkgs.megapak.python` rather than guessing.
final: prev:
let
  inherit (final) lib;
  cudaPackages = final.cudaPackages_13_0;
  # What the torch wheel was built with (its CUDA architectures, its cuDNN), with evidence.
  torchWheel = builtins.fromJSON (builtins.readFile ./torch-wheel.json);
  # nix/settings.json, and what nix/pkgs.nix { settings = …; } overrides for one evaluation.
  settings =
    let
      s = builtins.removeAttrs (builtins.fromJSON (builtins.readFile ./settings.json)) [ "comment" ] // (prev.megapak-settings or { });
      known = [ "fromSource" "pythonChecks" ];
      bad = builtins.filter (n: !(builtins.elem n known) || !(builtins.isBool s.${n})) (builtins.attrNames s);
    in
    if bad == [ ] then s
    else throw "megapak: setting '${builtins.head bad}' (nix/settings.json or nix/pkgs.nix's settings) is not one of ${builtins.concatStringsSep ", " known} with a true/false value";
  # Python 3.14, free-threaded, as the upstream image; every Python package of layers 04-11
  # is built for this one interpreter. Its wheel tags: cp314 / cp314t.
  python = final.python314FreeThreading;
  pythonTag = "cp" + builtins.replaceStrings [ "." ] [ "" ] python.pythonVersion;
  abiTag = pythonTag + "t";
  ps = python.pkgs;
  cuda = import ./cuda.nix { inherit cudaPackages; };
  pins = prev.megapak-pins or (import ./pins.nix { inherit (final) fetchFromGitHub fetchgit fetchurl; });
  # cuDNN for layer 02. The pin's cudaPackages_13_0 selects cuDNN 9.13.0 (pkgs/top-level/cuda-packages.nix);
  # the torch wheel was built against 9.15.1.9 and refuses an older runtime minor. So layer 02's
  # cuDNN is NVIDIA's 9.20.0.48 CUDA 13 archive (nix/pins.json `cudnn-cuda13`, the sha256 of
  # nixpkgs' own manifest redistrib_9.20.0.json), built by the pin's own cudnn expression with that
  # source; a later pin whose set already has ≥ 9.15 keeps its own. Either way the check below
  # stops evaluation if layer 02's cuDNN is older in minor than the wheel's.
  cudnnFor = prevCudnn:
    let
      want = torchWheel.cudnn;
      pinned = "9.20.0.48";
      newer = if lib.versionAtLeast (lib.versions.majorMinor prevCudnn.version) (lib.versions.majorMinor want)
        || lib.versionAtLeast prevCudnn.version pinned then prevCudnn
        else prevCudnn.overrideAttrs (_: { version = pinned; src = pins.src "cudnn-cuda13"; });
      have = newer.version;
      major = v: builtins.head (builtins.splitVersion v);
    in
    if settings.fromSource || (major have == major want && lib.versionAtLeast (lib.versions.majorMinor have) (lib.versions.majorMinor want)) then newer
    else throw "megapak: layer 02's cuDNN is ${have}, older than the ${want} the torch wheel was built against (nix/torch-wheel.json); torch would refuse it at run time";
  # PyTorch 2.10.0, torchvision 0.25.0, torchaudio 2.10.0, as upstream ships: from the pinned
  # cp314t CUDA 13.0 wheels (nix/wheels.nix), or with `fromSource` built by nix/torch.nix.
  torchFrom =
    if settings.fromSource then import ./torch.nix { inherit lib pins; }
    else import ./wheels.nix {
      inherit lib pins cuda cudaPackages pythonTag abiTag;
      inherit (python) sitePackages;
      inherit (final) fetchurl autoPatchelfHook autoAddDriverRunpath zlib;
      facts = torchWheel;
    };
  inherit (ps) torch torchvision torchaudio;
  # No cp314t wheel of cupy, flash-attn, sageattention or nunchaku exists (their layer READMEs
  # say where that was looked for): they build from source in both modes.
  # nixpkgs calls cupy with `pkgs.cudaPackages` overridden to cuDNN 8.9.7 ("CuDNN 9 is not
  # supported", cupy/cupy#8215); cuDNN 8 has no CUDA 13 build, so that set cannot evaluate for
  # CUDA 13.0: cupy gets the megapak's CUDA 13.0 set, and no cuDNN at all. cupy 13.6.0 takes
  # `inherit (cudaPackages) cudnn` into `buildInputs = [ cudatoolkit-joined cudnn libcutensor nccl ]`
  # (python-modules/cupy/default.nix, stored versions found by find_string hits 285833890 and
  # 167071026); cuDNN 9 breaks its build; nixpkgs dropped the input later (PR #507780; cupy 14.0.1 at
  # Swarsel/nixpkgs 4aa6836a has none). What remains is CUDA 13.0's toolkit, cuTENSOR and NCCL.
  isCudnn = d: d != null && ((d.pname or null) == "cudnn" || d == cudaPackages.cudnn);
  cupy = (ps.cupy.override { inherit cudaPackages; }).overridePythonAttrs (old: {
    buildInputs = builtins.filter (d: !(isCudnn d)) (old.buildInputs or [ ]);
  });
  custom = import ./custom.nix { inherit ps pins cudaPackages; };
  fromList = import ./read-pip-list.nix { inherit ps custom; inherit (final) lib; overrides = { inherit cupy; }; };
  layerList = file: fromList (../layers + "/${file}");
  pythonPackages =
    [ torch torchvision torchaudio cupy ps.flash-attn ]
    ++ layerList "07-pak3/pak3.txt"
    ++ layerList "09-pak5/pak5.txt"
    ++ layerList "10-pak7/pak7.txt"
    ++ [ custom.sageattention custom.nunchaku ];
  pythonEnv = python.withPackages (_: pythonPackages);
in
{
  cudaPackages = cudaPackages;
  cudaPackages_13_0 = prev.cudaPackages_13_0.overrideScope (_: cprev: { cudnn = cudnnFor cprev.cudnn; });
  # The checks switch and the PyTorch release reach the free-threaded 3.14 set only, the one the
  # image uses: as pythonPackagesExtensions they would reach every Python set, python3.pkgs included,
  # and rebuild meson (a python3.pkgs.buildPythonApplication) and all it builds, with no binary
  # cache (test/real-stack.test.ts holds python3's packages and meson to their own derivations).
  python314FreeThreading = prev.python314FreeThreading.override {
    self = final.python314FreeThreading;
    packageOverrides = lib.composeManyExtensions [
      (import ./checks.nix { inherit (settings) pythonChecks; })
      torchFrom
    ];
  };
  megapak = {
    inherit python cudaPackages custom fromList pythonEnv torch torchvision torchaudio cupy settings;
    python3Packages = ps;
    # Layer 02's CUDA libraries beyond the toolkit: every one a wheel or a source build links.
    cudaLibraries = cuda.all;
    gcc = final.gcc15;
    entrypoint = final.callPackage ./entrypoint.nix { inherit pythonEnv; };
    # One bin directory for PATH: the tools of layers 01-05 and 12 and the Python environment.
    profile = final.buildEnv {
      name = "megapak-profile";
      paths = with final; [
        bashInteractive coreutils findutils gnugrep gnused gawk gnutar gzip xz bzip2 zstd which procps less
        git cmake ninja gnumake pkg-config ffmpeg-full aria2 vim fish final.gcc15 cudaPackages.cuda_nvcc pythonEnv
      ];
    };
  };
}
