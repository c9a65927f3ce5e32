#!/bin/sh
# Build Pillow for the Pyodide worker (wasm32, Pyodide 314.0.7) from sources, and write
# wheels/pillow-<version>-cp314-cp314-pyemscripten_2026_0_wasm32.whl plus wheels/pillow-wasm.json.
#
# Run by `make pillow-wheel` (root; about 1.5 GB of disk outside the repo). `make run`/`make test`
# never need it: they use the committed wheel.
#
# Why a chroot: no registry reachable here has Emscripten 5.x; Debian sid's emscripten 6.0.5
# (clang 21) works, and its tools need sid's glibc. The chroot lives outside the repo and is
# reused when present: $BIFOGA_EMSDK_CHROOT, default /var/cache/bifoga-emsdk-chroot.
#
# Sources: zlib, libjpeg-turbo, libwebp from Debian sid (`apt-get source --tar-only`), Pillow from
# its PyPI sdist (sha256-pinned below). Python headers: sid's libpython3.14-dev with pyconfig.h
# regenerated from Pyodide's own _sysconfigdata (inside python_stdlib.zip of the npm package).
set -eu

PILLOW_VERSION=12.2.0
PILLOW_SDIST_SHA256=a830b1a40919539d07806aa58e1b114df53ddd43213d9c8b75847eee6c0182b5
SETUPTOOLS_VERSION=80.9.0
WHEEL_VERSION=0.45.1
PYBIND11_VERSION=3.1.0   # Pillow's setup.py imports it (for ParallelCompile)
PYODIDE_ABI=2026_0
PLAT=pyemscripten_${PYODIDE_ABI}_wasm32
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CHROOT=${BIFOGA_EMSDK_CHROOT:-/var/cache/bifoga-emsdk-chroot}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/wheels"
STDLIB_ZIP="$ROOT/node_modules/pyodide/python_stdlib.zip"
CHROOT_PACKAGES="emscripten python3.14 libpython3.14-dev python3.14-venv cmake make pkg-config ca-certificates"
APT_OPTS="-o Acquire::Check-Valid-Until=false -o APT::Install-Recommends=false -q"

CFLAGS_WASM="-O2 -g0 -fPIC -fwasm-exceptions -sSUPPORT_LONGJMP=wasm -sWASM_LEGACY_EXCEPTIONS=1"
LDFLAGS_SIDE="-sSIDE_MODULE=1 -sWASM_BIGINT -fwasm-exceptions -sSUPPORT_LONGJMP=wasm -sWASM_LEGACY_EXCEPTIONS=1 -O2 -g0"

log() { printf '%s build_pillow_wasm: %s\n' "$(date -u +%H:%M:%S)" "$*"; }

[ "$(id -u)" = 0 ] || { echo "build_pillow_wasm: needs root (debootstrap, chroot)" >&2; exit 1; }
[ -f "$STDLIB_ZIP" ] || { echo "build_pillow_wasm: $STDLIB_ZIP missing; run make setup" >&2; exit 1; }

# --- 1. The sid chroot with emscripten (made once) -------------------------------------------
make_chroot() {
    tmp=$(mktemp -d)
    log "making the sid chroot in $CHROOT (once)"
    (cd "$tmp" && apt-get download -q debootstrap >/dev/null)
    dpkg -x "$tmp"/debootstrap_*.deb "$tmp/ds"
    rm -rf "$CHROOT.partial"
    DEBOOTSTRAP_DIR="$tmp/ds/usr/share/debootstrap" "$tmp/ds/usr/sbin/debootstrap" \
        --variant=minbase sid "$CHROOT.partial" "$MIRROR" >"$tmp/debootstrap.log" 2>&1 \
        || { tail -20 "$tmp/debootstrap.log" >&2; exit 1; }
    printf 'deb %s sid main\ndeb-src %s sid main\n' "$MIRROR" "$MIRROR" \
        >"$CHROOT.partial/etc/apt/sources.list"
    cp /etc/resolv.conf "$CHROOT.partial/etc/resolv.conf" 2>/dev/null || true
    chroot "$CHROOT.partial" sh -c "apt-get $APT_OPTS update >/dev/null && \
        DEBIAN_FRONTEND=noninteractive apt-get $APT_OPTS install -y $CHROOT_PACKAGES >/dev/null && \
        apt-get clean"
    mv "$CHROOT.partial" "$CHROOT"
    rm -rf "$tmp"
}
[ -x "$CHROOT/usr/bin/emcc" ] || make_chroot
cp /etc/resolv.conf "$CHROOT/etc/resolv.conf" 2>/dev/null || true

if [ "${1:-}" = "--chroot-only" ]; then exit 0; fi

# --- 2. The build, inside the chroot ----------------------------------------------------------
BUILD="$CHROOT/build"
# The static libraries are rebuilt only when their sources or flags change (prefix/.stamp);
# --fresh starts from nothing.
if [ "${1:-}" = "--fresh" ]; then rm -rf "$BUILD"; fi
rm -rf "$BUILD/out" "$BUILD/dl" "$BUILD/venv" "$BUILD/include" "$BUILD"/src/pillow-*
mkdir -p "$BUILD/sysconfig" "$BUILD/out"
(cd "$BUILD/sysconfig" && python3 -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
[z.extract(n) for n in z.namelist() if n.startswith('_sysconfigdata_')]" "$STDLIB_ZIP")
cat >"$BUILD/pins.txt" <<EOF
setuptools==$SETUPTOOLS_VERSION --hash=sha256:062d34222ad13e0cc312a4c02d73f059e86a4acbfbdea8f8f76b28c99f306922
wheel==$WHEEL_VERSION --hash=sha256:708e7481cc80179af0e556bbf0cc00b8444c7321e2700b8d8580231d13017248
pybind11==$PYBIND11_VERSION --hash=sha256:b8488090f8acffbcb6b5d6a85571a6827a0a2981ffb75e5a0b27b87c4a6b7dd0
EOF
# PyPI files through the host's pip (its index and certificates); installed in the chroot offline
"$ROOT/.venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps --require-hashes \
    -r "$BUILD/pins.txt" -d "$BUILD/dl"
"$ROOT/.venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
    "pillow==$PILLOW_VERSION" -d "$BUILD/src"

cat >"$BUILD/inner.sh" <<EOF
set -eu
# Emscripten's own libraries (built on first use, slow) are kept between builds, outside /build
export LC_ALL=C.UTF-8 SOURCE_DATE_EPOCH=1767225600 EM_CACHE=/var/cache/emscripten
CFLAGS_WASM="$CFLAGS_WASM"
LDFLAGS_SIDE="$LDFLAGS_SIDE"
PREFIX=/build/prefix
cd /build
mkdir -p src

# Sources: Debian sid's, as tarballs (the .dsc route fails for zlib)
(cd src && apt-get $APT_OPTS source --download-only --tar-only zlib libjpeg-turbo libwebp >/dev/null 2>&1)
LIBS_KEY="\$(cd src && sha256sum *.orig.tar.*) \$CFLAGS_WASM"
dpkg-query -W -f='\${Package}\t\${Version}\n' emscripten clang-21 lld-21 binaryen python3.14 libpython3.14-dev >toolchain.txt
emcc --version | head -1 >emcc-version.txt
clang-21 --version | head -1 >clang-version.txt

if [ "\$(cat prefix/.stamp 2>/dev/null)" != "\$LIBS_KEY" ]; then
rm -rf prefix zlib-build jpeg-build webp-build src/zlib-*/ src/libjpeg-turbo-*/ src/libwebp-*/
mkdir -p prefix/lib prefix/include
for t in src/*.orig.tar.*; do tar -xf "\$t" -C src; done

# zlib: the library's .c files into a static archive
Z=\$(ls -d src/zlib-*/ | head -1)
mkdir -p zlib-build
for f in adler32 compress crc32 deflate gzclose gzlib gzread gzwrite infback inffast inflate inftrees trees uncompr zutil; do
    emcc \$CFLAGS_WASM -DHAVE_UNISTD_H -DHAVE_STDARG_H -c "\$Z/\$f.c" -o zlib-build/\$f.o
done
emar rcs prefix/lib/libz.a zlib-build/*.o
cp "\$Z/zlib.h" "\$Z/zconf.h" prefix/include/

# libjpeg-turbo: static, no SIMD (there is none for wasm), no TurboJPEG API
J=\$(ls -d src/libjpeg-turbo-*/ | head -1)
emcmake cmake -S "\$J" -B jpeg-build -DCMAKE_INSTALL_PREFIX=\$PREFIX -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS_RELEASE="-DNDEBUG" -DCMAKE_C_FLAGS="\$CFLAGS_WASM" -DENABLE_SHARED=0 \
    -DENABLE_STATIC=1 -DWITH_SIMD=0 -DWITH_TURBOJPEG=0 -DCMAKE_POSITION_INDEPENDENT_CODE=ON >jpeg-cmake.log
cmake --build jpeg-build -j2 --target jpeg-static >jpeg-build.log
cp jpeg-build/libjpeg.a prefix/lib/
cp "\$J/src/jpeglib.h" "\$J/src/jmorecfg.h" "\$J/src/jerror.h" jpeg-build/jconfig.h prefix/include/ 2>/dev/null \
    || cp "\$J/jpeglib.h" "\$J/jmorecfg.h" "\$J/jerror.h" jpeg-build/jconfig.h prefix/include/

# libwebp: static, no threads (Pyodide has none), no SIMD, no tools
W=\$(ls -d src/libwebp-*/ | head -1)
emcmake cmake -S "\$W" -B webp-build -DCMAKE_INSTALL_PREFIX=\$PREFIX -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS_RELEASE="-DNDEBUG" -DCMAKE_C_FLAGS="\$CFLAGS_WASM" -DBUILD_SHARED_LIBS=OFF \
    -DWEBP_USE_THREAD=OFF -DWEBP_ENABLE_SIMD=OFF -DWEBP_BUILD_ANIM_UTILS=OFF -DWEBP_BUILD_CWEBP=OFF \
    -DWEBP_BUILD_DWEBP=OFF -DWEBP_BUILD_GIF2WEBP=OFF -DWEBP_BUILD_IMG2WEBP=OFF -DWEBP_BUILD_VWEBP=OFF \
    -DWEBP_BUILD_WEBPINFO=OFF -DWEBP_BUILD_WEBPMUX=OFF -DWEBP_BUILD_EXTRAS=OFF -DWEBP_BUILD_FUZZTEST=OFF \
    -DWEBP_BUILD_LIBWEBPMUX=ON >webp-cmake.log
cmake --build webp-build -j2 >webp-build.log
cmake --install webp-build >/dev/null
echo "\$LIBS_KEY" >prefix/.stamp
fi

# Python headers: sid's, with pyconfig.h describing Pyodide's interpreter instead of x86_64
mkdir -p include
cp -r /usr/include/python3.14 include/python3.14
python3.14 - <<'PY'
import importlib.util, pathlib, re
src = pathlib.Path("/usr/include/x86_64-linux-gnu/python3.14/pyconfig.h").read_text()
names = dict.fromkeys(re.findall(r"^(?:#define|/\* #undef) ([A-Za-z_][A-Za-z0-9_]*)", src, re.M))
path = next(pathlib.Path("/build/sysconfig").glob("_sysconfigdata_*.py"))
spec = importlib.util.spec_from_file_location("sc", path)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
v = mod.build_time_vars
out = ["/* pyconfig.h for Pyodide's CPython (wasm32-emscripten), from its _sysconfigdata */",
       "#ifndef Py_PYCONFIG_H", "#define Py_PYCONFIG_H"]
for n in names:
    val = v.get(n, 0)
    out.append(f"/* #undef {n} */" if val in (0, "") else f"#define {n} {val}")
out += ["#endif", ""]
pathlib.Path("/build/include/python3.14/pyconfig.h").write_text("\n".join(out))
PY

# Pillow from its PyPI sdist, with its own setuptools backend
python3.14 -m venv venv
venv/bin/pip install -q --disable-pip-version-check --no-index --find-links dl --require-hashes --no-deps -r pins.txt
(cd src && echo "$PILLOW_SDIST_SHA256  pillow-$PILLOW_VERSION.tar.gz" | sha256sum -c --quiet)
tar -xzf src/pillow-$PILLOW_VERSION.tar.gz -C src
cd src/pillow-$PILLOW_VERSION
# Only the wasm libraries are seen: pkg-config is pointed at them (the chroot's own zlib.pc
# would add -I/usr/include, glibc's headers), and each library's root is named.
env CC=emcc CXX=em++ AR=emar ARFLAGS=rcs LDSHARED="emcc \$LDFLAGS_SIDE" \
    PKG_CONFIG_LIBDIR=\$PREFIX/lib/pkgconfig PKG_CONFIG_PATH= \
    ZLIB_ROOT=\$PREFIX JPEG_ROOT=\$PREFIX WEBP_ROOT=\$PREFIX \
    CFLAGS="-I/build/include/python3.14 -I\$PREFIX/include \$CFLAGS_WASM" CPPFLAGS="" \
    LDFLAGS="-L\$PREFIX/lib -lsharpyuv" MAX_CONCURRENCY=2 \
    _PYTHON_SYSCONFIGDATA_NAME=\$(basename /build/sysconfig/_sysconfigdata_*.py .py) \
    _PYTHON_HOST_PLATFORM=$PLAT PYTHONPATH=/build/sysconfig \
    /build/venv/bin/python -c "
import _custom_build.backend as b
opts = {k: 'enable' for k in ('zlib', 'jpeg', 'webp')}
opts.update({k: 'disable' for k in ('tiff', 'freetype', 'raqm', 'lcms', 'jpeg2000', 'imagequant', 'xcb', 'avif')})
opts['platform-guessing'] = 'disable'
print(b.build_wheel('/build/out', opts))" >/build/pillow-build.log 2>&1 || { tail -40 /build/pillow-build.log; exit 1; }
EOF

log "building zlib, libjpeg-turbo, libwebp and Pillow $PILLOW_VERSION in $CHROOT"
mounted=""
cleanup() { for m in $mounted; do umount "$CHROOT/$m" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
for m in proc dev; do mount --bind "/$m" "$CHROOT/$m"; mounted="$m $mounted"; done
# A clean environment: nothing of the host's (pip's index settings, compilers) leaks in
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb chroot "$CHROOT" /bin/sh /build/inner.sh
cleanup; mounted=""; trap - EXIT INT TERM

# --- 3. The wheel and its record --------------------------------------------------------------
# Checked (imports against pyodide.asm.wasm) before anything in wheels/ is replaced.
WHEEL=$(ls "$BUILD"/out/pillow-"$PILLOW_VERSION"-*.whl)
python3 "$ROOT/scripts/pillow_wheel_record.py" --wheel "$WHEEL" --build "$BUILD" \
    --cflags "$CFLAGS_WASM" --ldflags "$LDFLAGS_SIDE" \
    --pyodide-wasm "$ROOT/node_modules/pyodide/pyodide.asm.wasm" --out "$BUILD/out/pillow-wasm.json"
mkdir -p "$OUT"
cp "$WHEEL" "$BUILD/out/pillow-wasm.json" "$OUT/"
log "wrote $OUT/$(basename "$WHEEL")"
