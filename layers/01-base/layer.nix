{ pkgs }:
with pkgs; [
  bashInteractive
  coreutils
  findutils
  gnugrep
  gnused
  gawk
  gnutar
  gzip
  xz
  bzip2
  zstd
  which
  procps
  less
  cacert
  tzdata
  glibcLocales
]
