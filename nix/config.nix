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
    "SSL_CERT_FILE=${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt"
  ];
}
