/* What the host CPU can do: ISA features (CPUID + XGETBV on x86, getauxval on aarch64), caches,
 * name. Detected once; the only process-wide state of the library. */
#ifndef TFE_CPU_H
#define TFE_CPU_H

#include "tfenc.h"

typedef struct tfe_cpu_info {
    char name[64];                /* brand string, or "unknown" */
    int isa[TFE_ISA_COUNT];       /* 1 when the host (and OS register state) supports the ISA
                                     (AMX: tfe_cpu_amx_enable must also succeed) */
    int avx512_vnni, avx512_bf16; /* extra x86 features, reported only */
    int cores;                    /* online logical CPUs */
    long l1d, l2, l3;             /* data cache sizes in bytes (per core for l1d/l2) */
} tfe_cpu_info;

const tfe_cpu_info *tfe_cpu(void);

/* Asks Linux, once per process, for the AMX tile data (ARCH_REQ_XCOMP_PERM); 1 when granted.
 * Only when an AMX kernel may run (tfe_isa_supported(TFE_ISA_AMX)), never merely because the
 * CPU has AMX: the permission makes the process's signal frames ~11 KiB larger, which a host
 * with small alternate signal stacks may not afford; a TFENC_ISA cap below amx never asks. */
int tfe_cpu_amx_enable(void);

/* Parses a TFENC_ISA-style value; returns TFE_ISA_AUTO for NULL/empty and -2 for unknown. */
int tfe_isa_parse(const char *s);
/* The cap from the TFENC_ISA environment variable (warns once on stderr for unknown values). */
tfe_isa tfe_isa_env_cap(void);

#endif
