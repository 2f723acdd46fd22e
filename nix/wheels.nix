# PyTorch 2.10.0, torchvision 0.25.0 and torchaudio 2.10.0 from PyTorch's own CUDA 13.0 wheels for
# free-threaded Python 3.14 (cp314t, manylinux x86_64), with triton 3.6.0 (the release torch pins)
# from its cp314t wheel: the default (nix/settings.json,
# `fromSource = false`). Each is the fixed-output fetch of one file pinned in nix/pins.json, no pip
# at build time, installed the way nixpkgs' torch-bin installs its wheel
# (pkgs/development/python-modules/torch/bin/default.nix at 02e4aeed7e5b0fb91f7d97c131d3b6005e748b81:
# format = "wheel", autoPatchelfHook + autoAddDriverRunpath, libcuda.so.1 left to the driver, no
# strip) — but every CUDA library resolves against layer 02's set (nix/cuda.nix) and the nvidia-*
# pip wheels the wheel declares are dropped, so no CUDA library ships twice.
# A pythonPackagesExtensions entry, so everything that depends on torch gets this one.
{ lib, pins, cuda, cudaPackages, pythonTag, abiTag, sitePackages, fetchurl, autoPatchelfHook, autoAddDriverRunpath, zlib, facts }:
pyfinal: pyprev:
let
  # The wheel file name says what the file is (PEP 427:
  # {distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl); a wrong one stops evaluation
  # with one line, before anything is fetched.
  wheelFile = { pname, version, local, pin, anyPython ? false }:
    let
      f = pins.file pin;
      name = builtins.replaceStrings [ "%2B" "%2b" ] [ "+" "+" ] (baseNameOf f.url);
      parts = builtins.match "([^-]+)-([^-]+)(-[0-9][^-]*)?-([^-]+)-([^-]+)-([^-]+)\\.whl" name;
      at = builtins.elemAt parts;
      want = if local == null then version else "${version}+${local}";
      bad = what: throw "megapak: ${pname} (wheel pin '${pin}' in nix/pins.json): ${name} ${what}";
    in
    if parts == null then bad "is not a wheel file name"
    else if at 0 != builtins.replaceStrings [ "-" ] [ "_" ] pname then bad "is a wheel of '${at 0}', not of ${pname}"
    else if at 1 != want then bad "is version ${at 1}, not ${want}"
    else if anyPython then (if at 3 == "py3" && at 4 == "none" && at 5 == "any" then fetchurl { inherit (f) url hash; inherit name; } else bad "is not a pure-Python py3-none-any wheel")
    else if at 3 != pythonTag || at 4 != abiTag then
      bad "is for ${at 3}-${at 4}, but the stack's Python 3.14 is free-threaded: it needs a ${pythonTag}-${abiTag} wheel"
    else if builtins.match "(many)?linux.*_x86_64" (at 5) == null then bad "is for ${at 5}, not manylinux x86_64"
    else fetchurl { inherit (f) url hash; inherit name; };

  # `cudaPips`: the nvidia-* wheels it declares, replaced by layer 02's libraries; `drop`: other
  # requirements to delete; `relax`: requirements whose version pin is loosened; `systemLibs`:
  # non-CUDA libraries autoPatchelf may resolve against; `extraRunpaths`: directories added to every
  # .so's runpath after autoPatchelf, for libraries loaded with dlopen (see torch); `passthru`: what
  # nixpkgs' expressions read from the package they expect in its place (nix/nixpkgs-contract.json).
  wheel = { pname, version, local ? "cu130", pin, cudaPips ? [ ], cudaAttrs ? [ ], drop ? [ ], deps, relax ? [ ], systemLibs ? [ ], searchPaths ? [ ], fixup ? "", extraRunpaths ? [ ], passthru ? { }, anyPython ? false, importName ? pname }:
    let cudaLibs = cuda.libsFor "${pname} (wheel)" cudaPips ++ map (a: cudaPackages.${a}) cudaAttrs; in
    pyprev.buildPythonPackage {
      inherit pname version extraRunpaths;
      format = "wheel";
      src = wheelFile { inherit pname version local pin anyPython; };
      nativeBuildInputs = if anyPython then [ ] else [ autoPatchelfHook autoAddDriverRunpath ];
      buildInputs = cudaLibs ++ systemLibs;
      dependencies = deps;
      # The CUDA libraries come from layer 02, not from the nvidia-* pip wheels: their requirements
      # are deleted from the installed METADATA (and `relax`'s version pins loosened). Not through
      # pythonRemoveDeps: its hook re-packs the wheel, which public users of PyTorch's +cuXXX wheels
      # report breaking ("Missing torch-2.5.1.dist-info/RECORD file"; find_string hits 28588865440,
      # 59283387478) and work around the same way.
      preBuild = "pythonRelaxDepsHook() { :; }";
      postInstall = ''
        for meta in "$out/${sitePackages}"/*.dist-info/METADATA; do
          sed -i -E ${lib.concatMapStrings (p: "-e '/^Requires-Dist: ${p}([ ;(<>=!~]|$)/d' ") (cudaPips ++ drop)}${lib.concatMapStrings (p: "-e 's/^(Requires-Dist: ${p})[^;]*/\\1 /' ") relax}"$meta"
        done
      '';
      # The driver's library: the container runtime mounts it (nix/config.nix LD_LIBRARY_PATH).
      autoPatchelfIgnoreMissingDeps = [ "libcuda.so.1" ];
      postFixup = lib.concatMapStrings (p: ''
        addAutoPatchelfSearchPath "${p}"
      '') searchPaths + fixup;
      # As nixpkgs' torch-bin (torch/bin/default.nix at 02e4aeed, nixpkgs#296179): a phase after
      # fixup, so after autoPatchelf has set each runpath, appends `extraRunpaths` to every .so.
      postPhases = if extraRunpaths == [ ] then [ ] else [ "postPatchelfPhase" ];
      postPatchelfPhase = if extraRunpaths == [ ] then "" else ''
        while IFS= read -r -d $'\0' elf ; do
          for extra in $extraRunpaths ; do
            patchelf "$elf" --add-rpath "$extra"
          done
        done < <(find "$out" -type f -iname '*.so' -print0)
      '';
      # nixpkgs' torch-bin: stripping breaks the wheel's libraries ("ELF load command address/offset not properly aligned").
      dontStrip = true;
      pythonImportsCheck = [ importName ];
      passthru = passthru // { megapak = { inherit pin cudaLibs systemLibs; kind = "wheel"; }; };
    };
  torchLib = "${pyfinal.torch}/${sitePackages}/torch/lib";
in
{
  # cuda-bindings 13.0.3, which the torch 2.10.0+cu130 wheel requires: nixpkgs at the pin has at most
  # the 12.8.0 expression, wired to libnvrtc.so.12/libcudart.so.12 (cuda-bindings/default.nix at
  # b1325fd5); the per-CUDA 13_0.nix (13.0.3) came later (Swarsel/nixpkgs 4aa6836a). So the cp314t
  # wheel is pinned beside the pin (nix/pins.json, hash evidence there). It finds the CUDA libraries
  # through cuda-pathfinder, whose fallback is $CUDA_HOME (nix/config.nix: layer 02's toolkit);
  # libcuda.so.1 is the driver's.
  cuda-pathfinder = wheel {
    pname = "cuda-pathfinder";
    version = "1.5.5";
    local = null;
    pin = "cuda-pathfinder-wheel";
    anyPython = true;
    deps = [ ];
    importName = "cuda.pathfinder";
  };
  cuda-bindings = wheel {
    pname = "cuda-bindings";
    version = "13.0.3";
    local = null;
    pin = "cuda-bindings-wheel";
    cudaAttrs = [ "cuda_cudart" "cuda_nvrtc" "libnvjitlink" "libcufile" ];
    deps = with pyfinal; [ cuda-pathfinder numpy ];
    importName = "cuda.bindings";
  };

  # Triton 3.6.0, the release torch 2.10.0 pins, from PyPI's cp314t wheel, as nixpkgs' triton-bin
  # (pkgs/development/python-modules/triton/bin.nix at 1c880b4b) installs it: zlib, and NVIDIA's
  # tools it bundles replaced by layer 02's (ptxas, cuobjdump, nvdisasm; the CUPTI of its profiler).
  # Which of these the 3.6.0 wheel holds, and where, shows only in a build: each is replaced if present.
  triton = wheel {
    pname = "triton";
    version = "3.6.0";
    local = null;
    pin = "triton-wheel";
    drop = [ "torch" "cmake" ];
    deps = [ ];
    systemLibs = [ zlib ];
    fixup = ''
      nvidia="$out/${sitePackages}/triton/backends/nvidia"
      for tool in ptxas cuobjdump nvdisasm; do
        if [ -e "$nvidia/bin/$tool" ]; then ln -sf ${cudaPackages.cudatoolkit}/bin/$tool "$nvidia/bin/$tool"; fi
      done
      if [ -d "$nvidia/lib/cupti" ]; then rm -r "$nvidia/lib/cupti"; ln -s ${lib.getLib cudaPackages.cuda_cupti}/lib "$nvidia/lib/cupti"; fi
    '';
  };
  torch = wheel {
    pname = "torch";
    version = "2.10.0";
    pin = "torch-wheel";
    # PyTorch's cu130 manylinux wheels declare exactly these (PYTORCH_EXTRA_INSTALL_REQUIREMENTS of
    # its cu130 binary builds; see `cudaPackages.evidence` in nix/nixpkgs-index.json).
    cudaPips = cuda.pipNames;
    # As the torch 2.10.0+cu130 entry of newton-physics/newton's uv.lock (46fd4844) lists them, less
    # the nvidia-* wheels; numpy as nixpkgs' torch-bin adds it. cuda-bindings is the pinned wheel above
    # (13.0.3, the version torch pins); its exact version pin and setuptools' are loosened.
    deps = with pyfinal; [ cuda-bindings filelock fsspec jinja2 networkx numpy setuptools sympy typing-extensions triton ];
    relax = [ "cuda-bindings" "setuptools" ];
    searchPaths = [ "$out/${sitePackages}/torch/lib" ];
    # torch dlopens libnvrtc at run time (nixpkgs#296179): its runpath, as nixpkgs' torch-bin does.
    extraRunpaths = [ "${lib.getLib cudaPackages.cuda_nvrtc}/lib" ];
    # What nixpkgs' expressions of torch's dependents read from torch (flash-attn, bitsandbytes, …;
    # nix/nixpkgs-contract.json lists each read with file and commit): nixpkgs' source-built torch
    # sets these in its passthru (torch/source/default.nix at 6b516b42). The wheel is CUDA 13.0,
    # built for PyTorch's cu130 x86_64 architecture list (nix/torch-wheel.json, with its evidence).
    passthru = {
      cudaSupport = true;
      rocmSupport = false;
      xpuSupport = false;
      inherit cudaPackages;
      inherit (facts) cudaCapabilities;
      # nixpkgs' torch builds with cudaPackages.backendStdenv when cudaSupport; flash-attn builds with torch's.
      stdenv = cudaPackages.backendStdenv;
      # cuDNN the wheel was built against (torch refuses an older runtime minor); layer 02 is checked against it.
      cudnnVersion = facts.cudnn;
    };
  };
  torchvision = wheel {
    pname = "torchvision";
    version = "0.25.0";
    pin = "torchvision-wheel";
    cudaPips = [ "nvidia-cuda-runtime" ];
    deps = with pyfinal; [ numpy pillow torch ];
    searchPaths = [ torchLib ];
  };
  torchaudio = wheel {
    pname = "torchaudio";
    version = "2.10.0";
    pin = "torchaudio-wheel";
    cudaPips = [ "nvidia-cuda-runtime" ];
    deps = with pyfinal; [ torch ];
    searchPaths = [ torchLib ];
  };
}
