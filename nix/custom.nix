# Python packages nixpkgs lacks, built from their pinned sources (nix/pins.json) against the
# megapak's own Python set `ps`.
{ ps, pins, cudaPackages }:
let
  fromGit = name: { pname ? name, deps ? [ ], imports ? [ ] }:
    ps.buildPythonPackage {
      inherit pname;
      version = pins.version name;
      src = pins.src name;
      pyproject = true;
      build-system = [ ps.setuptools ];
      dependencies = deps;
      pythonImportsCheck = imports;
      doCheck = false;
    };
in
{
  # openai/CLIP: the `clip` module many custom nodes import.
  clip = fromGit "clip" { deps = with ps; [ ftfy regex tqdm torch torchvision ]; imports = [ "clip" ]; };
  cozy-comfyui = fromGit "cozy-comfyui" { };
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
