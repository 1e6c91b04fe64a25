// The declaration in include/fuzzer_driver.h is the whole of this target; libFuzzer provides the function.
#include "fuzzer_driver.h"
