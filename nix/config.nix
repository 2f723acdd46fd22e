# The image config fields that name store paths (merged over stack.json's `config`; every path
# here must ship in a layer, which megapak checks). The profile in layer 12 gathers the tools'
# bin directories, since the image has nothing outside /nix/store.
{ pkgs }:
let
  m = pkgs.megapak;
  cuda = m.cudaPackages;
in
{
  Entrypoint = [ "${m.entrypoint}/bin/comfyui-entrypoint" ];
  Env = [
    "PATH=${m.profile}/bin"
    "CC=${m.gcc}/bin/gcc"
    "CXX=${m.gcc}/bin/g++"
    "CUDA_HOME=${cuda.cudatoolkit}"
    "CUDA_PATH=${cuda.cudatoolkit}"
    # nvidia-container-toolkit mounts the driver's libraries here.
    "LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu:/usr/lib64"
    # triton's wheel finds libcuda with `/sbin/ldconfig -p` (third_party/nvidia/backend/driver.py,
    # libcuda_dirs), which the image does not have: the subprocess fails before its LD_LIBRARY_PATH
    # fallback is reached. TRITON_LIBCUDA_PATH (knobs.nvidia.libcuda_path) is read first and returned
    # as the one directory to link against: the first of the driver directories above. nixpkgs' own
    # triton patches driver.py to its driver path instead (0002-nvidia-amd-driver-short-circuit-before-ldconfig.patch).
    "TRITON_LIBCUDA_PATH=/usr/lib/x86_64-linux-gnu"
    "SSL_CERT_FILE=${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt"
  ];
}
