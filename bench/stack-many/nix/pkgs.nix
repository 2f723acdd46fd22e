# The many-file bench stack: shaped like the real image rather than like what is fast — about
# 170k tar entries over twelve layers, most of them Python modules, bytecode and headers under
# 8 KiB in deep trees, a few CUDA/torch libraries over 100 MB, symlink chains. Built by busybox
# (no nixpkgs), every byte from a seeded generator (nix/tree.awk, `seq | gzip`), so a rebuild
# makes the same store paths; built once, then the Nix store keeps it.
let
  system = builtins.currentSystem;

  # The busybox derivation of bench/stack and test/fixtures/stack, with awk, xargs and gzip:
  # each stack is copied elsewhere by the tests and bench, so none may import from outside its folder.
  busybox = derivation {
    name = "busybox";
    inherit system;
    builder = "/bin/busybox";
    args = [ "sh" "-c" ''
      /bin/busybox mkdir -p $out/bin
      /bin/busybox cp /bin/busybox $out/bin/busybox
      for t in sh cat echo ls mkdir ln cp chmod head dd seq printf awk xargs gzip rm; do /bin/busybox ln -s busybox $out/bin/$t; done
    '' ];
  };

  # A package: `trees` are [ root style files ] laid out by tree.awk; `libs` are [ file mib ]
  # shared libraries, half incompressible (a gzip stream) and half text; `links` are
  # [ target link ] symlinks; `deps` are written into share/deps so Nix records the references.
  pkg = name: { trees ? [ ], libs ? [ ], links ? [ ], deps ? [ ] }: derivation {
    inherit name system;
    builder = "${busybox}/bin/sh";
    args = [ "-c" ''
      set -e
      export PATH=${busybox}/bin
      mkdir -p $out/share
      : > $out/share/deps
      ${builtins.concatStringsSep "\n" (map (d: "echo ${d} >> $out/share/deps") deps)}
      ${builtins.concatStringsSep "\n" (map (t: ''
        awk -v out=$out -v root=${builtins.elemAt t 0} -v style=${builtins.elemAt t 1} -v files=${toString (builtins.elemAt t 2)} \
          -v name=${name}-${builtins.elemAt t 1}-${toString (builtins.elemAt t 2)} -f ${./tree.awk}
      '') trees)}
      n=0
      ${builtins.concatStringsSep "\n" (map (l: ''
        f=$out/${builtins.elemAt l 0}
        mkdir -p ''${f%/*}
        bytes=$(( ${toString (builtins.elemAt l 1)} * 1048576 ))
        n=$(( n + 1 ))
        { seq $(( n * 7919 )) 999999999 | gzip -1 -n | head -c $(( bytes / 2 )); seq $(( n * 104729 )) 999999999 | head -c $(( bytes - bytes / 2 )); } > $f
      '') libs)}
      ${builtins.concatStringsSep "\n" (map (l: ''
        f=$out/${builtins.elemAt l 1}
        mkdir -p ''${f%/*}
        ln -s ${builtins.elemAt l 0} $f
      '') links)}
    '' ];
  };

  sp = "lib/python3.14/site-packages";
  # A Python distribution `pname` of about `files` files, with its console script.
  pypkg = pname: files: extra: pkg "python3.14-${pname}" ({
    trees = [ [ "${sp}/${pname}" "py" files ] [ "${sp}/${pname}-1.0.dist-info" "data" 4 ] ];
    links = [ [ "../${sp}/${pname}/__init__.py" "bin/${pname}" ] ];
    deps = [ python ];
  } // extra);
  many = prefix: n: files: extra: builtins.genList (i: pypkg "${prefix}${toString i}" files extra) n;

  glibc = pkg "glibc-2.42" {
    trees = [ [ "include" "h" 1500 ] [ "share/locale" "data" 2500 ] [ "share/i18n" "data" 400 ] ];
    libs = [ [ "lib/libc.so.6" 2 ] [ "lib/libm.so.6" 1 ] ];
    links = [ [ "libc.so.6" "lib/libc.so" ] [ "libm.so.6" "lib/libm.so" ] ];
    deps = [ busybox ];
  };
  baseUtil = builtins.genList (i: pkg "base-util-${toString i}" { trees = [ [ "share" "data" 150 ] ]; libs = [ [ "bin/util-${toString i}" 0 ] ]; deps = [ glibc ]; }) 20;
  cuda = pkg "cuda-toolkit-13.0" {
    trees = [ [ "include" "h" 3000 ] [ "nvvm/libdevice" "data" 300 ] [ "share/doc" "data" 200 ] ];
    libs = [ [ "lib/libcublasLt.so.13.0.2" 110 ] [ "lib/libcusparse.so.13.0.1" 40 ] [ "lib/libcufft.so.13.0.0" 25 ] [ "lib/libcudart.so.13.0.96" 1 ] ];
    links = [ [ "libcublasLt.so.13.0.2" "lib/libcublasLt.so.13" ] [ "libcublasLt.so.13" "lib/libcublasLt.so" ]
              [ "libcudart.so.13.0.96" "lib/libcudart.so.13" ] [ "libcudart.so.13" "lib/libcudart.so" ] [ "lib" "lib64" ] ];
    deps = [ glibc ];
  };
  cudnn = pkg "cudnn-9.13" {
    trees = [ [ "include" "h" 100 ] ];
    libs = [ [ "lib/libcudnn_engines_precompiled.so.9.13.0" 105 ] [ "lib/libcudnn_ops.so.9.13.0" 20 ] ];
    links = [ [ "libcudnn_engines_precompiled.so.9.13.0" "lib/libcudnn_engines_precompiled.so.9" ] ];
    deps = [ cuda ];
  };
  python = pkg "python3.14-3.14.0" {
    trees = [ [ "lib/python3.14" "py" 9000 ] [ "include/python3.14t" "h" 200 ] ];
    libs = [ [ "lib/libpython3.14t.so.1.0" 8 ] [ "bin/python3.14t" 0 ] ];
    links = [ [ "python3.14t" "bin/python3.14" ] [ "python3.14" "bin/python3" ] [ "python3" "bin/python" ] ];
    deps = [ glibc ];
  };
  torch = pkg "python3.14-torch-2.10.0" {
    trees = [ [ "${sp}/torch" "py" 9000 ] [ "${sp}/torch/include" "h" 9000 ] [ "${sp}/torch-2.10.0.dist-info" "data" 6 ] ];
    libs = [ [ "${sp}/torch/lib/libtorch_cuda.so" 120 ] [ "${sp}/torch/lib/libtorch_cpu.so" 40 ] ];
    links = [ [ "../${sp}/torch/bin/torchrun" "bin/torchrun" ] ];
    deps = [ python cuda cudnn ];
  };
in
{
  layers = {
    l01 = [ busybox glibc ] ++ baseUtil;
    l02 = [ cuda cudnn ];
    l03 = builtins.genList (i: pkg "build-tool-${toString i}" { trees = [ [ "include" "h" 300 ] [ "share" "data" 200 ] ]; libs = [ [ "bin/tool-${toString i}" 1 ] ]; deps = [ glibc ]; }) 10;
    l04 = [ python ];
    l05 = [ (pkg "gcc-15.2.0" { trees = [ [ "include/c++/15" "h" 4500 ] [ "share/locale" "data" 500 ] ]; libs = [ [ "libexec/gcc/cc1plus" 30 ] ]; deps = [ glibc ]; }) ];
    l06 = [ torch (pypkg "torchvision" 800 { libs = [ [ "${sp}/torchvision/_C.so" 10 ] ]; deps = [ torch ]; }) (pypkg "torchaudio" 600 { deps = [ torch ]; }) ];
    l07 = many "pak3-" 60 500 { };
    l08 = [ (pkg "python3.14-cupy-13.6" { trees = [ [ "${sp}/cupy" "py" 2500 ] [ "${sp}/cupy/_core/include" "h" 800 ] ]; libs = [ [ "${sp}/cupy/_core/core.so" 15 ] ]; deps = [ python cuda ]; }) ];
    l09 = many "pak5-" 120 350 { };
    l10 = many "pak7-" 30 500 { deps = [ python torch ]; };
    l11 = map (n: pypkg n 300 { libs = [ [ "${sp}/${n}/_C.so" 25 ] ]; deps = [ torch ]; }) [ "flash-attn" "sageattention" "nunchaku" ];
    l12 = [ (pypkg "comfyui" 2500 { }) ] ++ many "comfyui-node-" 5 400 { };
  };
  inherit pkg pypkg python;
}
