#!/usr/bin/env bash
# The Java API on the GPU machine (no JDK there): a jlinked JDK 25 runtime and the compiled classes
# travel with the call. Prepare here (after tools/device/build_cuda.sh and a Maven test-compile):
#   jlink --add-modules java.base --strip-debug --no-man-pages --no-header-files --compress=zip-9 --output .jdk
#   tar cJf .devpack/jdk.tar.xz .jdk; cp <junit-jupiter-api, opentest4j jars> .devpack/
# carry [".devpack", ".device/bin/libchela.so", "java/target/classes", "java/target/test-classes"]; run there:
#   bash tools/device/java_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
[ -d .device/lib ] || { mkdir -p .device && tar xJf .devpack/lib.tar.xz -C .device; }
[ -d .jdk ] || tar xJf .devpack/jdk.tar.xz
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
CP=java/target/classes:java/target/test-classes:$(ls .devpack/*.jar | tr '\n' ':')
.jdk/bin/java --enable-native-access=ALL-UNNAMED -Dchela.library.path="$PWD/.device/bin/libchela.so" \
    -cp "$CP" dev.chela4j.GpuSmoke
