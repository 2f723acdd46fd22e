# Writes `files` files under `out`/`root`, laid out like a Python package (style "py": modules
# with __pycache__/*.pyc beside them, data files, a few extension modules), a C header tree
# ("h") or small data files ("data"), in a random tree of directories. Every size and name
# comes from a Park–Miller generator seeded from `name`, so the output is the same on every build.
function rnd() { S = (S * 16807) % 2147483647; return S / 2147483647 }
function ri(n) { return int(rnd() * n) }
function word() { return W[1 + ri(NW)] }
function textline(  k) {
  k = ri(6)
  if (k == 0) return "def " word() "_" ri(1000) "(self, " word() ", " word() "=" ri(100) "):\n"
  if (k == 1) return "        return self._" word() "(" word() ", " word() ") + " ri(10000) "\n"
  if (k == 2) return "    # " word() " " word() " " word() " the " word() " of " word() "\n"
  if (k == 3) return "import " word() "." word() " as " word() "\n"
  if (k == 4) return "        if " word() " is None:\n            raise ValueError(\"" word() " " word() "\")\n"
  return "class " word() ri(100) "(" word() "):\n"
}
# NB text blocks and NB binary blocks of exactly BS bytes; files are cut from them.
function pools(  b, i, j, s, t, blk) {
  for (b = 0; b < NB; b++) {
    blk = ""
    while (length(blk) < BS) { s = ""; while (length(s) < 4096) s = s textline(); blk = blk s }
    T[b] = substr(blk, 1, BS)
    blk = ""
    for (i = 0; i < BS / 4096; i++) {
      s = ""
      for (j = 0; j < 64; j++) { t = ""; while (length(t) < 64) t = t sprintf("%c", 1 + ri(255)); s = s t }
      blk = blk s
    }
    B[b] = blk
  }
}
function emit(fn, isbin, n,   take) {
  while (n > 0) {
    take = n > BS ? BS : n
    if (isbin) printf "%s", substr(B[ri(NB)], 1 + ri(BS - take + 1), take) > fn
    else printf "%s", substr(T[ri(NB)], 1 + ri(BS - take + 1), take) > fn
    n -= take
  }
}
# n bytes: text first, then `bf` of them binary (machine code, marshalled bytecode).
function wr(fn, n, bf,   bb) {
  printf "" > fn
  bb = int(n * bf)
  emit(fn, 0, n - bb)
  emit(fn, 1, bb)
  close(fn)
  nw++
}
# Most source files are small; a long tail is not.
function srcsize(  u) {
  u = rnd()
  if (u < 0.7) return 64 + ri(3000)
  if (u < 0.95) return 3000 + ri(9000)
  return 12000 + ri(52000)
}
BEGIN {
  S = 7
  for (i = 1; i <= length(name); i++) S = (S * 31 + index("abcdefghijklmnopqrstuvwxyz0123456789-._", substr(name, i, 1))) % 2147483647
  S = S + 1
  NW = split("tensor module layer config utils data loader model cuda kernel graph node base core spec io parse fetch cache " \
    "index table frame array random linalg fft sparse dtype device stream event hook optim quant export fx jit nn functional " \
    "autograd distributed backend compile dynamo inductor triton attention image audio text token vision transform schema " \
    "request session client server handler plugin registry metric logger writer reader codec", W, " ")
  NB = 8; BS = 65536
  pools()
  base = out "/" root
  nd = int(files / 14) + 1
  D[0] = base
  for (i = 1; i < nd; i++) { p = ri(i); q = ri(i); D[i] = D[p < q ? p : q] "/" word() "_" i }
  lst = out "/.dirs-" name
  for (i = 0; i < nd; i++) { print D[i] > lst; if (style == "py") print D[i] "/__pycache__" > lst }
  close(lst)
  if (system("xargs mkdir -p < " lst " && rm " lst) != 0) exit 1
  nw = 0
  while (nw < files) {
    d = D[ri(nd)]
    k = rnd()
    if (style == "py") {
      if (nw < nd) { d = D[nw]; m = "__init__" } else m = word() "_" nw
      if (k < 0.86 || nw < nd) {
        n = srcsize()
        wr(d "/" m ".py", n, 0)
        wr(d "/__pycache__/" m ".cpython-314.pyc", int(n * 0.7) + 150, 0.4)
      } else if (k < 0.996) wr(d "/" word() "_" nw (k < 0.93 ? ".pyi" : ".json"), ri(3000), 0)
      else wr(d "/_" word() "_" nw ".cpython-314-x86_64-linux-gnu.so", 20000 + int(rnd() * rnd() * rnd() * rnd() * 2000000), 0.4)
    } else if (style == "h") wr(d "/" word() "_" nw (k < 0.8 ? ".h" : ".hpp"), srcsize(), 0)
    else wr(d "/" word() "_" nw (k < 0.5 ? ".mo" : ".dat"), ri(2500), 0.5)
  }
}
