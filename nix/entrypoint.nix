# The image's entrypoint, as upstream's: on first start fetch ComfyUI (and ComfyUI-Manager)
# into /root, then run it on port 8188 through the Python environment that holds every
# Python package of layers 04-11, passing $CLI_ARGS through.
{ writeShellApplication, git, aria2, coreutils, pythonEnv }:
writeShellApplication {
  name = "comfyui-entrypoint";
  runtimeInputs = [ git aria2 coreutils pythonEnv ];
  text = ''
    cd /root
    if [ ! -f /root/ComfyUI/main.py ]; then
      echo "megapak: first start, fetching ComfyUI into /root/ComfyUI" >&2
      git clone --depth=1 https://github.com/comfyanonymous/ComfyUI.git /root/ComfyUI
      git clone --depth=1 https://github.com/Comfy-Org/ComfyUI-Manager.git /root/ComfyUI/custom_nodes/ComfyUI-Manager
    fi
    cd /root/ComfyUI
    # shellcheck disable=SC2086
    exec python main.py --listen --port 8188 ''${CLI_ARGS:-}
  '';
}
