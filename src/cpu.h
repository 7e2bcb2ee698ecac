/* What the host CPU can do: ISA features (CPUID + XGETBV on x86, getauxval on aarch64), caches,
 * name. Detected once; the only process-wide state of the library. */
#ifndef TFE_CPU_H
#define TFE_CPU_H

#include "tfenc.h"

typedef struct tfe_cpu_info {
    char name[64];                /* brand string, or "unknown" */
    int isa[TFE_ISA_COUNT];       /* 1 when the host (and OS register state) supports the ISA */
    int avx512_vnni, avx512_bf16; /* extra x86 features, reported only */
    int cores;                    /* online logical CPUs */
    long l1d, l2, l3;             /* data cache sizes in bytes (per core for l1d/l2) */
} tfe_cpu_info;

const tfe_cpu_info *tfe_cpu(void);

/* Parses a TFENC_ISA-style value; returns TFE_ISA_AUTO for NULL/empty and -2 for unknown. */
int tfe_isa_parse(const char *s);
/* The cap from the TFENC_ISA environment variable (warns once on stderr for unknown values). */
tfe_isa tfe_isa_env_cap(void);

#endif
