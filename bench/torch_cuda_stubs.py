#!/usr/bin/env python3
"""Make PyPI's CUDA build of torch importable on a CPU-only machine without the
~3 GB of nvidia-* wheels it depends on.

PyPI serves only one torch for Linux x86-64, built against CUDA; its libraries
(libtorch_cpu.so included) have DT_NEEDED entries for libcudart, libcudnn,
libcublas, ... which `pip install torch --no-deps` does not bring. This script
writes small stub libraries with those sonames into
<site-packages>/nvidia/cu13/lib/, a directory on torch's own RUNPATH (ahead of
the system's library path). Each stub defines every symbol (with the symbol
version) that torch imports from that library; every stub function returns an
error code (cudaErrorNoDevice for the CUDA runtime, so torch sees zero GPUs),
and the *GetErrorString/GetErrorName functions return a static string.

None of the CPU code paths call into CUDA: the stubs only satisfy the dynamic
loader. torch.cuda.is_available() is False. Use for CPU benchmarking only.

Usage: python torch_cuda_stubs.py [--site SITE_PACKAGES] [--cc CC] [--check]
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import sysconfig
import tempfile

MARKER = "GNK_BENCH_CUDA_STUBS"
CUDA_LIB = re.compile(r"^lib(cu|nv|nccl)")
# Default return values: CUDA runtime -> cudaErrorNoDevice (100), driver -> CUDA_ERROR_NO_DEVICE (100),
# others -> 1 (NOT_INITIALIZED / generic error in cuBLAS, cuDNN, cuFFT, NCCL, ...).
RETVAL = {"libcudart": 100, "libcuda": 100}


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def needed(path):
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", run(["readelf", "-d", "-W", path]))


def version_needs(path):
    """version name -> file that provides it."""
    out, cur, m = {}, None, None
    for line in run(["readelf", "-V", "-W", path]).splitlines():
        m = re.search(r"File: (\S+)", line)
        if m:
            cur = m.group(1)
            continue
        m = re.search(r"Name: (\S+)\s+Flags", line)
        if m and cur:
            out[m.group(1)] = cur
    return out


def dynsyms(path):
    """yield (name, version or None, undefined?, weak?, type)"""
    for line in run(["readelf", "-W", "--dyn-syms", path]).splitlines():
        f = line.split()
        if len(f) < 8 or not f[0].rstrip(":").isdigit():
            continue
        typ, bind, ndx, name = f[3], f[4], f[6], f[7]
        name = re.sub(r" \(\d+\)$", "", name)
        ver = None
        if "@" in name:
            name, _, ver = name.partition("@")
            ver = ver.lstrip("@")
        yield name, ver, ndx == "UND", bind == "WEAK", typ


def resolve_system_lib(soname, torch_lib):
    p = os.path.join(torch_lib, soname)
    if os.path.exists(p):
        return p
    for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/usr/lib"):
        p = os.path.join(d, soname)
        if os.path.exists(p):
            return p
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--site", default=sysconfig.get_paths()["purelib"])
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--check", action="store_true", help="only tell whether stubs are installed")
    a = ap.parse_args()

    torch_dir = os.path.join(a.site, "torch")
    torch_lib = os.path.join(torch_dir, "lib")
    out_dir = os.path.join(a.site, "nvidia", "cu13", "lib")
    if a.check:
        ok = os.path.exists(os.path.join(out_dir, MARKER))
        print("stubs installed" if ok else "no stubs")
        return 0 if ok else 1
    if not os.path.isdir(torch_lib):
        sys.exit(f"torch not found under {a.site}")
    objs = sorted(glob.glob(os.path.join(torch_lib, "*.so*")) + glob.glob(os.path.join(torch_dir, "_C*.so")))
    own = {os.path.basename(o) for o in objs}

    stubs = {}        # soname -> {symbol: (version or None, type)}
    system = set()
    undefined = {}    # unversioned undefined symbol -> type
    for o in objs:
        for n in needed(o):
            if n in own:
                continue
            if CUDA_LIB.match(n):
                stubs.setdefault(n, {})
            else:
                system.add(n)
    if not stubs:
        print("torch needs no CUDA library: nothing to do")
        return 0
    defined = set()
    for o in objs:
        vfile = version_needs(o)
        for name, ver, und, weak, typ in dynsyms(o):
            if not und:
                defined.add(name)
                continue
            if ver and vfile.get(ver) in stubs:
                stubs[vfile[ver]][name] = (ver, typ)
            elif not ver and not weak:
                undefined[name] = typ
    for s in system:
        p = resolve_system_lib(s, torch_lib)
        if p:
            defined.update(n for n, _, und, _, _ in dynsyms(p) if not und)
    orphans = {n: t for n, t in undefined.items() if n not in defined}

    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for soname, syms in sorted(stubs.items()):
            base = soname.split(".so")[0]
            rv = RETVAL.get(base, 1)
            allsyms = dict(syms)
            for n, t in orphans.items():
                allsyms.setdefault(n, (None, t))
            src = ["/* generated by bench/torch_cuda_stubs.py: CPU-only stub, not the real library */",
                   "static const char gnk_stub_msg[] = \"CUDA is not available (gnk bench stub library)\";"]
            nodes = {}
            for n, (ver, typ) in sorted(allsyms.items()):
                if typ == "OBJECT":
                    src.append(f"char {n}[256];")
                elif re.search(r"(GetErrorString|GetErrorName|GetString|ErrorString)$", n):
                    src.append(f"const char *{n}(void) {{ return gnk_stub_msg; }}")
                else:
                    src.append(f"long {n}(void) {{ return {rv}; }}")
                nodes.setdefault(ver or soname, []).append(n)
            # Unversioned symbols go into the library's own version node (their default version).
            if soname not in nodes and not any(v == soname for v in nodes):
                nodes.setdefault(soname, [])
            vs = []
            for ver, names in nodes.items():
                body = "".join(f"  {n};\n" for n in names)
                vs.append(f"{ver} {{\n global:\n{body or '  gnk_stub_placeholder_;' + chr(10)}}};\n")
            if any("gnk_stub_placeholder_" in v for v in vs):
                src.append("void gnk_stub_placeholder_(void) {}")
            cfile = os.path.join(tmp, base + ".c")
            mfile = os.path.join(tmp, base + ".map")
            with open(cfile, "w") as f:
                f.write("\n".join(src) + "\n")
            with open(mfile, "w") as f:
                f.write("".join(vs) + "{ local: *; };\n" if False else "".join(vs))
            out = os.path.join(out_dir, soname)
            subprocess.run([a.cc, "-shared", "-fPIC", "-O1", "-w", "-fno-builtin", cfile, "-o", out,
                            f"-Wl,-soname,{soname}", f"-Wl,--version-script={mfile}"], check=True)
            print(f"stub {soname}: {len(syms)} versioned + {len(orphans)} unversioned symbols")
    with open(os.path.join(out_dir, MARKER), "w") as f:
        f.write("CPU-only stubs for torch's CUDA dependencies, made by gnk's bench/torch_cuda_stubs.py.\n"
                "Delete this folder (or pip install the real nvidia-* wheels over it) to undo.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
