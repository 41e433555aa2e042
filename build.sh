#!/usr/bin/env bash
# Chela4J build driver. On a fresh Debian machine it installs what it needs (when run as root
# with apt-get), builds libchela in Release, and runs what you ask:
#
#   ./build.sh run     set-up + build + the main job on the CPU backend
#   ./build.sh test    build + every test: native (CTest), Java (JUnit), the native tests again
#                      under -fsanitize=address,undefined, and 60 s of the checkpoint fuzzer
#   ./build.sh bench   build + chela-bench at the reference shape (see BENCHMARKS.md)
#   ./build.sh asan    only the sanitizer pass;   ./build.sh fuzz [seconds]   only the fuzzer
#   ./build.sh build   only the Release build
#
# Environment: CHELA_QUICK=1 skips the sanitizer and fuzz passes of `test` (local loops only;
# CI always runs everything). JOBS=N sets build parallelism (default: nproc).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="$ROOT/build"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
cd "$ROOT"

say() { printf 'chela: %s\n' "$*"; }
die() { printf 'chela: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- prerequisites

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

APT_UPDATED=0
# ensure_pkgs "why" pkg...: installs missing Debian packages when possible, else one line each.
ensure_pkgs() {
    local why="$1"; shift
    local missing=()
    for p in "$@"; do have_pkg "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing ${missing[*]} ($why)"
        if [ $APT_UPDATED = 0 ]; then
            DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
            APT_UPDATED=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
            || die "apt-get could not install ${missing[*]} ($why)"
    else
        for p in "${missing[@]}"; do say "missing prerequisite: Debian package $p ($why): apt-get install $p"; done
        return 1
    fi
}

native_prereqs() {
    ensure_pkgs "native build" cmake make g++ pkg-config libopenblas-dev libkissfft-dev libgtest-dev \
        || die "install the packages listed above, then run ./build.sh again"
}

fuzz_prereqs() {
    ensure_pkgs "libFuzzer build" clang-16 libclang-rt-16-dev libfuzzer-16-dev \
        || die "the fuzz pass needs clang-16 with libFuzzer (packages listed above)"
}

# Picks a JDK >= 22: JAVA_HOME if it qualifies, else the newest under /usr/lib/jvm.
java_major() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1; }
select_jdk() {
    local cand best="" best_v=0 v
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
        v=$(java_major "$JAVA_HOME"); v=${v%%.*}
        if [ "${v:-0}" -ge 22 ]; then echo "$JAVA_HOME"; return 0; fi
    fi
    for cand in /usr/lib/jvm/*; do
        [ -x "$cand/bin/javac" ] || continue
        v=$(java_major "$cand"); v=${v%%.*}
        if [ "${v:-0}" -gt "$best_v" ]; then best_v=$v; best=$cand; fi
    done
    if [ "$best_v" -ge 22 ]; then echo "$best"; return 0; fi
    return 1
}

java_prereqs() {
    JDK="$(select_jdk)" || { say "missing prerequisite: a JDK >= 22 (set JAVA_HOME or install one under /usr/lib/jvm)"; return 1; }
    export JAVA_HOME="$JDK"
    export PATH="$JAVA_HOME/bin:$PATH"
    ensure_pkgs "Java build" maven || return 1
    say "JDK: $JAVA_HOME"
}

# One line on whether the CUDA backend was built, as CMake decided it.
report_cuda() {
    grep -h "^-- chela: " "$1/configure.log" | sed 's/^-- //' || true
}

# ---------------------------------------------------------------- builds

# cmake_build <dir> <cmake args...>
cmake_build() {
    local dir="$1"; shift
    mkdir -p "$dir"
    cmake -S "$ROOT" -B "$dir" "$@" >"$dir/configure.log" 2>&1 || { cat "$dir/configure.log"; die "cmake configure failed ($dir)"; }
    cmake --build "$dir" -j "$JOBS" || die "build failed ($dir)"
}

build_release() {
    native_prereqs
    mkdir -p "$BUILD"
    cmake_build "$BUILD" -DCMAKE_BUILD_TYPE=Release
    report_cuda "$BUILD"
}

run_ctest() {
    local dir="$1"
    (cd "$dir" && ctest --output-on-failure -j "$JOBS") || die "native tests failed ($dir)"
}

java_tests() {
    [ -f "$ROOT/java/pom.xml" ] || { say "no java/ project yet: Java tests skipped"; return 0; }
    java_prereqs || die "Java tests need the prerequisites above"
    stage_java_bundle
    "$BUILD/chela-checkpoint-samples" "$BUILD/samples" >/dev/null
    (cd "$ROOT/java" && mvn -B -q -Dchela.library.path="$BUILD/libchela.so" \
        -Dchela.samples.dir="$BUILD/samples" verify) || die "Java tests failed"
}

# JMH: the Java API's overhead over the same native call (java/src/test/.../CallOverheadBenchmark).
java_jmh() {
    java_prereqs || die "the JMH benchmark needs the Java prerequisites above"
    (cd "$ROOT/java" && mvn -B -q -DskipTests test-compile dependency:build-classpath \
        -Dmdep.includeScope=test -Dmdep.outputFile=target/bench-classpath.txt) || die "JMH build failed"
    java --enable-native-access=ALL-UNNAMED -Dchela.library.path="$BUILD/libchela.so" \
        -cp "$ROOT/java/target/test-classes:$ROOT/java/target/classes:$(cat "$ROOT/java/target/bench-classpath.txt")" \
        org.openjdk.jmh.Main CallOverheadBenchmark
}

# Puts the real libchela.so file (not the symlink) and its SHA-256 where the pom bundles them.
stage_java_bundle() {
    local dst="$ROOT/java/target/native-bundle/native/linux-x86_64"
    mkdir -p "$dst"
    cp -L "$BUILD/libchela.so" "$dst/libchela.so"
    (cd "$dst" && sha256sum libchela.so > libchela.so.sha256)
}

asan_pass() {
    native_prereqs
    mkdir -p "$BUILD-asan"
    cmake_build "$BUILD-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHELA_SANITIZE=ON
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run_ctest "$BUILD-asan"
}

fuzz_pass() {
    local seconds="${1:-60}"
    native_prereqs
    fuzz_prereqs
    mkdir -p "$BUILD-fuzz"
    CC=clang-16 CXX=clang++-16 cmake_build "$BUILD-fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHELA_FUZZ=ON
    local corpus="$BUILD-fuzz/corpus"
    rm -rf "$corpus" && mkdir -p "$corpus"
    "$BUILD-fuzz/chela-checkpoint-samples" "$corpus" --fuzz || die "could not write the fuzz seed corpus"
    say "fuzzing the checkpoint loader for ${seconds}s from $(ls "$corpus" | wc -l) seed files"
    (cd "$BUILD-fuzz" && "$BUILD-fuzz/chela-fuzz-checkpoint" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 "$corpus" 2>&1 | tail -n 25) \
        || die "the fuzzer found a crash, hang or sanitizer report (see above and $BUILD-fuzz)"
    say "fuzz: no crash, hang or sanitizer report in ${seconds}s"
}

# The main job: the Java CLI generates text from the shipped byte-level LM (models/bytelm) on the
# CPU backend and prints prefill and decode tokens/s; arguments after `run` go to `chela generate`
# (e.g. ./build.sh run --prompt "import os" --tokens 500). Without a JDK >= 22 it falls back to the
# native demo binary and says so.
main_job() {
    if java_prereqs; then
        stage_java_bundle
        (cd "$ROOT/java" && mvn -B -q -DskipTests package) || die "Java build failed"
        say "main job: java -jar java/target/chela.jar generate --model models/bytelm (CPU backend)"
        java -jar "$ROOT/java/target/chela.jar" generate --model "$ROOT/models/bytelm" "$@"
    else
        say "main job: no JDK >= 22, running the native demo instead"
        "$BUILD/chela-demo" "$BUILD/demo-model" --batch 2 --tokens 2048
    fi
}

cmd="${1:-test}"
shift || true
case "$cmd" in
    build) build_release ;;
    run) build_release; main_job "$@" ;;
    test)
        build_release
        run_ctest "$BUILD"
        java_tests
        if [ "${CHELA_QUICK:-0}" = 1 ] && [ "${CI:-}" != true ]; then
            say "CHELA_QUICK=1: sanitizer and fuzz passes skipped"
        else
            asan_pass
            fuzz_pass 60
        fi
        say "all tests passed"
        ;;
    asan) asan_pass ;;
    fuzz) fuzz_pass "${1:-60}" ;;
    bench)
        build_release
        "$BUILD/chela-bench" --op la --B 1 --H 1 --L 8192 --e 128 --f 1024 "$@"
        "$BUILD/chela-bench" --op conv --B 1 --L 8192 --d 1024 "$@"
        "$BUILD/chela-bench" --op layer --B 1 --L 4096 --d 1024 --e 128 --f 2048 --no-naive "$@"
        java_jmh
        ;;
    *) die "unknown command '$cmd' (run, test, bench, build, asan, fuzz)" ;;
esac
