{ pkgs }:
with pkgs; [
  gcc
  gnumake
  cmake
  ninja
  pkg-config
  git
  ffmpeg-full
  x264
  x265
]
