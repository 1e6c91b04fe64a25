// libFuzzer's driver, called from the executable's own main (SwiftPM names the executable's entry point, so
// libFuzzer's main is not the one that runs).
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
