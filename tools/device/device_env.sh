# Sourced (not run) by the device scripts, from the repo root on the GPU machine: unpacks what
# tools/device/build_cuda.sh packed into .devpack (the libraries and binaries travel xz-compressed)
# unless .device already holds them, and points the loader at them and at a cuFFT (libchela loads
# it at run time: the toolkit's or PyTorch's copy). Sets BIN, LD_LIBRARY_PATH and the data folders
# the native tests read.
mkdir -p .device
for part in lib bin; do
  [ -d ".device/$part" ] || [ ! -f ".devpack/$part.tar.xz" ] || tar xJf ".devpack/$part.tar.xz" -C .device
done
BIN=.device/bin
CUFFT_DIR=$(dirname "$(find /usr/local/cuda*/lib64 /usr/local/cuda*/targets /opt /usr/lib -name 'libcufft.so.1*' 2>/dev/null | head -1)" 2>/dev/null)
export LD_LIBRARY_PATH=$PWD/.device/lib${CUFFT_DIR:+:$CUFFT_DIR}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export CHELA_GOLDEN_DIR=$PWD/tests/golden CHELA_MODELS_DIR=$PWD/models
