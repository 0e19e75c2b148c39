// Prints the kernel workload's trace hash for a seed, so that a test can
// compare two separate processes.
#include <cstdio>
#include <cstdlib>

#include "tests/kernel/workload.h"

int main(int argc, char** argv) {
  const std::uint64_t seed = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 42;
  std::printf("%s\n", aether::sim::hash_hex(aether::sim::testing::run_kernel_workload(seed)).c_str());
  return 0;
}
