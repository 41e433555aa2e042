#!/usr/bin/env bash
# The Java API on the GPU machine (no JDK there): a jlinked JDK 25 runtime and the compiled classes
# travel with the call. Prepare here (after tools/device/build_cuda.sh and a Maven test-compile):
#   jlink --add-modules java.base,java.logging,java.management,jdk.management,jdk.unsupported \
#         --strip-debug --no-man-pages --no-header-files --compress=zip-0 --output .jdk
#   tar cf - .jdk | xz -9e > .devpack/jdk.tar.xz   (13 MB; xz packs uncompressed modules best)
#   cp <junit-jupiter-api, junit-platform-commons, opentest4j, jmh-core, jopt-simple, commons-math3 jars> .devpack/
# carry [".devpack", "java/target/classes", "java/target/test-classes"] (.devpack/bin.tar.xz holds
# libchela.so); run there:
#   bash tools/device/java_gpu.sh                 # GpuSmoke: the GPU Java tests without a launcher
#   bash tools/device/java_gpu.sh jmh ARGS...     # org.openjdk.jmh.Main ARGS (e.g. ModelForwardBenchmark -p ...)
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/device/device_env.sh
[ -d .jdk ] || tar xJf .devpack/jdk.tar.xz
CP=java/target/classes:java/target/test-classes:$(ls .devpack/*.jar | tr '\n' ':')
JAVA=(.jdk/bin/java --enable-native-access=ALL-UNNAMED -Dchela.library.path="$PWD/.device/bin/libchela.so"
      -Dchela.repo.root="$PWD" -cp "$CP")
if [ "${1:-}" = jmh ]; then
  shift
  # The forked benchmark JVM gets the same library path.
  exec "${JAVA[@]}" org.openjdk.jmh.Main -jvmArgsAppend "--enable-native-access=ALL-UNNAMED -Dchela.library.path=$PWD/.device/bin/libchela.so" "$@"
fi
exec "${JAVA[@]}" dev.chela4j.GpuSmoke
