// chela-checkpoint-samples <dir> [--fuzz]
//   default: writes every sample checkpoint as <dir>/<bad|good>/<name>/{config.json,model.safetensors}
//            plus <dir>/bad/<name>/expected.txt (the status name and the message fragment)
//            and the cross-language op vectors in <dir>/vectors/
//   --fuzz:  writes every sample as one libFuzzer seed file <dir>/<name>
#include "support/bad_checkpoints.h"
#include "support/vectors.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: chela-checkpoint-samples <dir> [--fuzz]\n");
        return 2;
    }
    const std::string dir = argv[1];
    const bool fuzz = argc > 2 && std::strcmp(argv[2], "--fuzz") == 0;
    std::filesystem::create_directories(dir);
    auto bad = chela::test::bad_checkpoints();
    auto good = chela::test::good_checkpoints();
    for (auto* set : {&bad, &good})
        for (const auto& s : *set) {
            const std::string kind = s.status == CHELA_OK ? "good" : "bad";
            if (fuzz) {
                const auto bytes = chela::test::fuzz_input(s);
                std::ofstream(dir + "/" + kind + "_" + s.name, std::ios::binary)
                    .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
            } else {
                const std::string d = dir + "/" + kind + "/" + s.name;
                chela::test::write_sample(d, s);
                if (s.status != CHELA_OK)
                    std::ofstream(d + "/expected.txt") << chela_status_name(s.status) << "\n" << s.needle << "\n";
            }
        }
    if (!fuzz) chela::test::write_vectors(dir + "/vectors");
    std::printf("wrote %zu bad and %zu good samples to %s\n", bad.size(), good.size(), dir.c_str());
    return 0;
}
