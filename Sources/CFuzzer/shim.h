// libFuzzer's driver entry point (compiler-rt's FuzzerInterface.h has no installed header).
// Linked only in the fuzzing build (-sanitize=fuzzer); see Sources/capdeck-fuzz.
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
