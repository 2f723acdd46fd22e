# The CUDA libraries the heavy packages link against, every one from the stack's single CUDA 13.0
# set (cudaPackages_13_0), so that each ships once, in layer 02 (layers/02-cuda/layer.nix roots
# `all`). The PyTorch wheels declare these libraries as nvidia-* pip wheels (their Requires-Dist);
# `byPip` says which library of the set stands in for which of them, and nix/wheels.nix drops the
# pip requirements. Each attribute was read in nixpkgs' pkgs/development/cuda-modules (file and
# commit in nix/nixpkgs-index.json, `cudaPackages.evidence`); none is missing there, so none comes
# from a file of its own. A later pin that lacks one stops evaluation with the line below.
{ cudaPackages }:
let
  # pip distribution -> the set's attribute (alternatives in order: nixpkgs renamed cuSPARSELt).
  byPip = {
    "nvidia-cuda-runtime" = [ "cuda_cudart" ];
    "nvidia-cuda-nvrtc" = [ "cuda_nvrtc" ];
    "nvidia-cuda-cupti" = [ "cuda_cupti" ];
    "nvidia-nvtx" = [ "cuda_nvtx" ];
    "nvidia-cudnn-cu13" = [ "cudnn" ];
    "nvidia-cublas" = [ "libcublas" ];
    "nvidia-cufft" = [ "libcufft" ];
    "nvidia-curand" = [ "libcurand" ];
    "nvidia-cusolver" = [ "libcusolver" ];
    "nvidia-cusparse" = [ "libcusparse" ];
    "nvidia-cusparselt-cu13" = [ "libcusparse_lt" "cusparselt" ];
    "nvidia-nccl-cu13" = [ "nccl" ];
    "nvidia-nvshmem-cu13" = [ "libnvshmem" ];
    "nvidia-nvjitlink" = [ "libnvjitlink" ];
    "nvidia-cufile" = [ "libcufile" ];
  };
  lookup = who: pip:
    let
      names = byPip.${pip} or (throw "megapak: ${who} declares the CUDA wheel '${pip}', which nix/cuda.nix does not map to a library of layer 02");
      found = builtins.filter (n: cudaPackages ? ${n}) names;
    in
    if found != [ ] then cudaPackages.${builtins.head found}
    else throw "megapak: ${who} needs the CUDA library '${builtins.head names}' (for ${pip}), which layer 02's CUDA 13.0 set (cudaPackages_13_0) does not have: pin NVIDIA's redistributable of it in nix/pins.json and build it in nix/cuda.nix, so that it ships in layer 02";
in
{
  pipNames = builtins.attrNames byPip;
  # The libraries `who` needs, for the pip names it declares.
  libsFor = who: pips: map (lookup who) pips;
  # Layer 02's share: every library any heavy package may need, wheel or source.
  all = map (lookup "layer 02") (builtins.attrNames byPip);
}
