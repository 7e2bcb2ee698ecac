/* Compiled, syntax only, by the parallel-portable test: src/parallel.h as a build for a CPU
 * with neither the x86 nor the Arm spin hint sees it (its portable branch must stand too). */
#include <sched.h>
#include <stdatomic.h>

/* Every system header is in; from here on this file looks like a build for another CPU. */
#undef __x86_64__
#undef __i386__
#undef __aarch64__
#include "parallel.h"
