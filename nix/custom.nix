# Python packages nixpkgs lacks at the pin (see `absent` in nix/nixpkgs-index.json), built from
# their pinned sources (nix/pins.json) against the megapak's own Python set `ps`.
{ ps, pins, cudaPackages }:
let
  # `removeDeps`: requirements the Python set does not satisfy under the name pip declares.
  # opencv-python and opencv-contrib-python: nixpkgs does have an `opencv-python` (a metapackage
  # over opencv4, whose dist-info says opencv-python), but the stack's OpenCV is python3Packages.opencv4
  # (nix/pypi.nix maps all four pip flavours to it), and opencv4 ships no opencv-contrib-python
  # dist-info; the requirement is dropped rather than a second OpenCV attribute pulled in.
  fromGit = name: { pname ? name, deps ? [ ], build ? [ ps.setuptools ], imports ? [ ], removeDeps ? [ ], relaxDeps ? [ ], sourceRoot ? null }:
    ps.buildPythonPackage ({
      inherit pname;
      version = pins.version name;
      src = pins.src name;
      pyproject = true;
      build-system = build;
      dependencies = deps;
      pythonRemoveDeps = removeDeps;
      pythonRelaxDeps = relaxDeps;
      pythonImportsCheck = imports;
      doCheck = false;
    } // (if sourceRoot == null then { } else { sourceRoot = "source/${sourceRoot}"; }));
  # FHPythonUtils/BlendModes, which cozy-comfyui needs: nixpkgs' only stored expression of it is the
  # 2023 release (python-modules/blendmodes at 8b0f043e); the mid-2026 tree (Swarsel/nixpkgs 4aa6836a)
  # has no blendmodes and no alias, so its presence at the pin is unproven: built here from the same
  # tag and hash nixpkgs used (nix/pins.json `blendmodes`).
  blendmodes = fromGit "blendmodes" {
    build = [ ps.poetry-core ];
    deps = with ps; [ aenum deprecation numpy pillow ];
    imports = [ "blendmodes" ];
  };
in
{
  inherit blendmodes;
  # openai/CLIP: the `clip` module many custom nodes import.
  clip = fromGit "clip" { deps = with ps; [ ftfy regex tqdm torch torchvision ]; imports = [ "clip" ]; };
  # smZNodes' prompt weighting. 2.3.1 is the last release for transformers 4 (2.4 wants 5);
  # `notebook` is only for its demos.
  compel = fromGit "compel" {
    deps = with ps; [ diffusers pyparsing torch transformers ];
    removeDeps = [ "notebook" ];
    relaxDeps = [ "transformers" ];
    imports = [ "compel" ];
  };
  # colour-science/colour, the `colour` module (nixpkgs' `colour` is another project).
  colour-science = fromGit "colour-science" {
    build = [ ps.hatchling ];
    deps = with ps; [ imageio numpy scipy typing-extensions ];
    imports = [ "colour" ];
  };
  facexlib = fromGit "facexlib" {
    deps = with ps; [ filterpy numba numpy opencv4 pillow scipy torch torchvision tqdm ];
    removeDeps = [ "opencv-python" ];
  };
  # chaiNNer's model loader that ComfyUI core imports; the package lives in libs/spandrel.
  spandrel = fromGit "spandrel" {
    deps = with ps; [ torch torchvision safetensors numpy einops typing-extensions ];
    sourceRoot = "libs/spandrel";
    imports = [ "spandrel" ];
  };
  cozy-comfyui = fromGit "cozy-comfyui" {
    deps = with ps; [ aenum aiohttp blendmodes daltonlens loguru matplotlib numba numpy opencv4 pillow requests scikit-image scikit-learn ];
    removeDeps = [ "opencv-contrib-python" ];
  };
  cozy-comfy = fromGit "cozy-comfy" { };
  cstr = fromGit "cstr" { };
  # ltdrdata's fork of ffmpy, which the Impact/Inspire packs expect (not nixpkgs' ffmpy).
  ffmpy = fromGit "ffmpy" { };
  img2texture = fromGit "img2texture" { deps = with ps; [ pillow numpy ]; };

  sageattention = ps.buildPythonPackage {
    pname = "sageattention";
    version = "2.2.0";
    pyproject = true;
    src = pins.src "sageattention";
    build-system = [ ps.setuptools ];
    nativeBuildInputs = [ cudaPackages.cuda_nvcc ps.ninja ];
    buildInputs = with cudaPackages; [ cuda_cudart cuda_cccl libcublas libcusolver libcusparse ];
    dependencies = with ps; [ torch triton ];
    dontUseNinjaBuild = true;
    doCheck = false;
  };

  nunchaku = ps.buildPythonPackage {
    pname = "nunchaku";
    version = "1.0.2";
    pyproject = true;
    src = pins.src "nunchaku";
    build-system = with ps; [ setuptools ninja torch ];
    nativeBuildInputs = [ cudaPackages.cuda_nvcc ];
    buildInputs = [ cudaPackages.cudatoolkit ];
    dependencies = with ps; [ accelerate diffusers einops huggingface-hub peft protobuf safetensors sentencepiece torchvision transformers ];
    dontUseNinjaBuild = true;
    doCheck = false;
  };
}
