# The bench stack: about 2 GB in a few hundred store paths over 12 layers, shaped like the
# megapak (a few huge CUDA/torch paths, many small Python packages). Built by busybox like the
# test fixtures; built once, then the Nix store keeps it. `scale` (MEGAPAK_BENCH_SCALE) multiplies sizes.
let
  system = builtins.currentSystem;
  scaleEnv = builtins.getEnv "MEGAPAK_BENCH_SCALE";
  scale = if scaleEnv == "" then 1.0 else builtins.fromJSON scaleEnv;
  kib = mib: builtins.floor (mib * 1024 * scale);

  # The same busybox derivation as test/fixtures/stack: each stack is copied elsewhere by the
  # tests and bench, so neither may import from outside its own folder.
  busybox = derivation {
    name = "busybox";
    inherit system;
    builder = "/bin/busybox";
    args = [ "sh" "-c" ''
      /bin/busybox mkdir -p $out/bin
      /bin/busybox cp /bin/busybox $out/bin/busybox
      for t in sh cat echo ls mkdir ln cp chmod head dd seq printf yes; do /bin/busybox ln -s busybox $out/bin/$t; done
    '' ];
  };

  # A package of `files` files of `mib` MiB in all: half random (incompressible, like machine
  # code) and half repeated text (compressible, like tables and headers).
  blob = name: { mib, files ? 1, deps ? [ ] }: derivation {
    inherit name system;
    builder = "${busybox}/bin/sh";
    args = [ "-c" ''
      set -e
      export PATH=${busybox}/bin
      mkdir -p $out/lib $out/share
      : > $out/share/deps
      ${builtins.concatStringsSep "\n" (map (d: "echo ${d} >> $out/share/deps") deps)}
      per=$(( ${toString (kib mib)} / ${toString files} ))
      half=$(( per / 2 ))
      i=0
      while [ $i -lt ${toString files} ]; do
        f=$out/lib/part-$i.so
        dd if=/dev/urandom of=$f bs=1024 count=$half 2>/dev/null
        yes "${name} symbol table entry $i: 0000000000000000 T some_function_name" | head -c $(( (per - half) * 1024 )) >> $f
        i=$(( i + 1 ))
      done
    '' ];
  };

  glibc = blob "glibc" { mib = 30; files = 40; deps = [ busybox ]; };
  small = prefix: n: mib: files: deps: builtins.genList (i: blob "${prefix}-${toString i}" { inherit mib files deps; }) n;
  python = blob "python3.14" { mib = 60; files = 400; deps = [ glibc ]; };
  cuda = blob "cuda-toolkit" { mib = 500; files = 20; deps = [ glibc ]; };
  cudnn = blob "cudnn" { mib = 250; files = 4; deps = [ cuda ]; };
  cublas = blob "libcublas" { mib = 250; files = 2; deps = [ cuda ]; };
  torch = blob "torch" { mib = 500; files = 30; deps = [ python cuda cudnn cublas ]; };
in
{
  layers = {
    l01 = [ busybox glibc ] ++ small "base-util" 20 0.5 4 [ glibc ];
    l02 = [ cuda cudnn cublas ];
    l03 = small "build-tool" 10 10 8 [ glibc ];
    l04 = [ python ];
    l05 = [ (blob "gcc-15" { mib = 100; files = 50; deps = [ glibc ]; }) ];
    l06 = [ torch (blob "torchvision" { mib = 30; files = 10; deps = [ torch ]; }) (blob "torchaudio" { mib = 20; files = 10; deps = [ torch ]; }) ];
    l07 = small "python3.14-pak3" 60 1 12 [ python ];
    l08 = [ (blob "cupy" { mib = 100; files = 30; deps = [ python cuda ]; }) ];
    l09 = small "python3.14-pak5" 120 0.5 8 [ python ];
    l10 = small "python3.14-pak7" 30 1 8 [ python torch ];
    l11 = [ (blob "flash-attn" { mib = 80; files = 4; deps = [ torch ]; }) (blob "sageattention" { mib = 80; files = 4; deps = [ torch ]; }) (blob "nunchaku" { mib = 80; files = 4; deps = [ torch ]; }) ];
    l12 = small "app" 5 0.2 3 [ python ];
  };
  inherit blob python;
}
